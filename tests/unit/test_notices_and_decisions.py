"""Notices and decisions are records: when and how the insurer was told (and the
3-year time bar, flagged, never refused), a denial withdrawn, a closed claim
reopened, and an exclusion that applies to part of a loss.

Each test: given commands, when a command, then events or a refusal naming the
field and rule (and nothing appended)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.service import reads as views
from domain import claim as claim_module
from domain.claim import (
    ClaimFiled,
    ClaimReopened,
    DenialWithdrawn,
    PartialExclusionApplied,
    PayoutIssued,
    time_bar_ends,
)
from domain.errors import (
    ClaimNotOpen,
    InvalidCommand,
    PayoutRefused,
    RuleViolated,
    VersionConflict,
)
from domain.policy_year import AnnualLimitDrawn
from tests.builders import (
    AFTER_THREE_YEARS,
    assess,
    attach,
    close,
    exclude,
    exclude_part,
    file_data_media,
    file_liability,
    pay,
    reopen,
    reverse,
    withdraw,
    withdraw_denial,
)
from tests.harness import Harness
from tests.support.stored_events import mapper, stored


@pytest.fixture
def enrolled(h: Harness) -> Harness:
    h.given(attach())
    return h


def claim_of(h: Harness, claim_id: str) -> claim_module.Claim:
    return h.ledger.get_claim(claim_id)


# When and how the insurer was told -------------------------------------------------


def test_a_claim_records_when_and_how_the_insurer_was_told(enrolled: Harness):
    filed, *_ = enrolled.then_events(file_data_media(notified_on="2024-06-03",
                                                     channel="agent"))
    assert isinstance(filed, ClaimFiled)
    assert (filed.notified_on, filed.channel) == (date(2024, 6, 3), "agent")
    claim = claim_of(enrolled, "C1")
    assert (claim.notified_on, claim.channel, claim.notice_time_barred) == (
        date(2024, 6, 3), "agent", False)


def test_a_notice_defaults_to_the_recorded_day_in_japan(enrolled: Harness):
    # 2026-01-15 16:00 UTC is already 16 January in Japan.
    enrolled.clock.now = datetime(2026, 1, 15, 16, 0, tzinfo=UTC)
    filed, *_ = enrolled.then_events(file_data_media())
    assert isinstance(filed, ClaimFiled)
    assert (filed.notified_on, filed.channel) == (date(2026, 1, 16), None)


def test_a_notice_more_than_three_years_after_the_incident_is_flagged_not_refused(
        enrolled: Harness):
    enrolled.clock.now = AFTER_THREE_YEARS
    enrolled.given(file_data_media(notified_on="2027-06-02"), pay("C1"))
    claim = claim_of(enrolled, "C1")
    assert claim.notice_time_barred and claim.paid == 700_000
    ja = views.explanation(enrolled.ledger, "C1", "ja")
    en = views.explanation(enrolled.ledger, "C1", "en")
    (flag_ja,) = [line for line in ja.lines if line.kind == "time_bar"]
    (flag_en,) = [line for line in en.lines if line.kind == "time_bar"]
    assert "保険法95条" in flag_ja.text and "2027年6月1日" in flag_ja.text
    assert "article 95" in flag_en.text and "2027-06-01" in flag_en.text


def test_a_notice_exactly_three_years_after_the_incident_is_not_flagged(enrolled: Harness):
    enrolled.clock.now = AFTER_THREE_YEARS
    enrolled.given(file_data_media(notified_on="2027-06-01"))
    assert not claim_of(enrolled, "C1").notice_time_barred
    lines = views.explanation(enrolled.ledger, "C1", "ja").lines
    assert [line for line in lines if line.kind == "time_bar"] == []


def test_the_time_bar_of_an_incident_on_29_february_ends_on_28_february():
    # 民法143条: with no corresponding day, the period ends on the month's last day.
    assert time_bar_ends(date(2024, 2, 29)) == date(2027, 2, 28)
    assert time_bar_ends(date(2024, 6, 1)) == date(2027, 6, 1)
    assert claim_module.notice_time_barred(date(2024, 2, 29), date(2027, 3, 1))
    assert not claim_module.notice_time_barred(date(2024, 2, 29), date(2027, 2, 28))


@pytest.mark.parametrize("notified_on,error,rule", [
    ("2024-05-31", RuleViolated, "dates_in_order"),   # the day before the incident
    ("2026-01-16", RuleViolated, "not_in_future"),    # the day after today (in Japan)
    ("9999-12-31", InvalidCommand, "date_range"),
    ("2024-6-3", InvalidCommand, "date_format"),
    (20240603, InvalidCommand, "date_format"),
])
def test_a_notice_before_the_incident_after_today_or_absurd_is_refused(
        enrolled: Harness, notified_on: Any, error: type, rule: str):
    enrolled.then_refused(file_data_media(notified_on=notified_on), error, "notified_on", rule)


@pytest.mark.parametrize("channel,rule", [
    ("fax", "allowed_values"), ("", "allowed_values"), (1, "allowed_values"),
    ("agent\n", "allowed_values"),
])
def test_an_unknown_channel_is_refused(enrolled: Harness, channel: Any, rule: str):
    enrolled.then_refused(file_data_media(channel=channel), InvalidCommand, "channel", rule)


def test_a_claim_stored_without_a_notice_date_reads_as_unknown_not_flagged():
    # events_v1.json holds a ClaimFiled as the ledger wrote it before notices.
    v1 = json.loads((Path(__file__).parents[1] / "fixtures" / "events_v1.json").read_text())
    (fixture,) = [f for f in v1 if f["topic"] == "ClaimFiled"]
    assert "notified_on" not in fixture["state"]
    event = mapper().to_domain_event(stored(fixture))
    claim = claim_module.evolve(None, event)
    assert (claim.notified_on, claim.channel, claim.notice_time_barred) == (None, None, False)
    again = json.loads(mapper().to_stored_event(event).state)
    assert again == fixture["state"]


# A denial withdrawn --------------------------------------------------------------


def test_a_wrong_denial_is_withdrawn_and_the_claim_paid(enrolled: Harness):
    enrolled.given(file_data_media(), exclude())
    withdrawn, *_ = enrolled.then_events(withdraw_denial())
    assert isinstance(withdrawn, DenialWithdrawn)
    assert (withdrawn.exclusion, withdrawn.reason) == (
        "natural_disaster", "the exclusion was applied to the wrong claim")
    claim = claim_of(enrolled, "C1")
    assert (claim.status, claim.exclusion) == ("open", None)
    enrolled.given(pay("C1"))
    assert claim_of(enrolled, "C1").paid == 700_000


def test_the_prior_cause_denial_the_ledger_made_can_be_withdrawn(enrolled: Harness):
    enrolled.given(file_liability(incident="2024-03-31", made_on="2024-05-01"),
                   withdraw_denial("L1"), pay("L1"))
    assert claim_of(enrolled, "L1").paid == 1_500_000


@pytest.mark.parametrize("given", [[], [pay("C1")], [close()], [withdraw()]])
def test_only_a_denied_claim_has_a_denial_to_withdraw(enrolled: Harness, given: list):  # type: ignore[type-arg]
    enrolled.given(file_data_media(), *given)
    enrolled.then_refused(withdraw_denial(), RuleViolated, "claim_id", "claim_denied")


def test_a_withdrawn_denial_can_be_denied_again(enrolled: Harness):
    enrolled.given(file_data_media(), exclude(), withdraw_denial())
    enrolled.given(exclude(code="war_or_unrest"))
    assert claim_of(enrolled, "C1").exclusion == "war_or_unrest"


# A closed claim reopened ------------------------------------------------------------


def test_a_returned_transfer_claim_closed_at_0_is_reopened_and_paid(enrolled: Harness):
    enrolled.given(file_data_media(), pay("C1"), close(), reverse("C1"))
    enrolled.then_refused(pay("C1"), ClaimNotOpen, "claim_id", "claim_open")
    reopened, *_ = enrolled.then_events(reopen())
    assert isinstance(reopened, ClaimReopened)
    assert reopened.reason == "the bank transfer was returned"
    events = enrolled.then_events(pay("C1"))
    issued, drawn = events
    assert isinstance(issued, PayoutIssued) and issued.amount == 700_000
    assert isinstance(drawn, AnnualLimitDrawn) and drawn.remaining_after == 300_000


def test_a_reopened_claim_draws_on_its_original_policy_year(enrolled: Harness):
    enrolled.given(file_data_media(incident="2024-06-01"), close())
    enrolled.clock.now = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)  # in policy year 3
    enrolled.given(reopen())
    _, drawn = enrolled.then_events(pay("C1"))
    assert isinstance(drawn, AnnualLimitDrawn) and drawn.policy_year == 1


@pytest.mark.parametrize("given", [[], [exclude()], [withdraw()]])
def test_only_a_closed_claim_is_reopened(enrolled: Harness, given: list):  # type: ignore[type-arg]
    enrolled.given(file_data_media(), *given)
    enrolled.then_refused(reopen(), RuleViolated, "claim_id", "claim_closed")


def test_a_reopened_claim_can_be_closed_again(enrolled: Harness):
    enrolled.given(file_data_media(), close(), reopen(), close())
    assert claim_of(enrolled, "C1").status == "closed"


@pytest.mark.parametrize("decision,command", [(exclude(), withdraw_denial),
                                              (close(), reopen)])
def test_a_decision_on_a_stale_version_is_refused(enrolled: Harness, decision: Any,
                                                  command: Any):
    enrolled.given(file_data_media(), decision)
    enrolled.then_refused(command(expected_version=1), VersionConflict, "expected_version",
                          "current_version")


@pytest.mark.parametrize("command", [withdraw_denial, reopen])
@pytest.mark.parametrize("field,value,rule", [
    ("reason", "", "required"), ("reason", "a\x00b", "printable"),
    ("claim_id", "C 1", "identifier_format"), ("expected_version", 0, "non_negative"),
])
def test_withdrawing_a_denial_and_reopening_take_only_good_input(
        enrolled: Harness, command: Any, field: str, value: Any, rule: str):
    enrolled.given(file_data_media())
    enrolled.then_refused(command(**{field: value}), InvalidCommand, field, rule)


# An exclusion that applies to part of the loss -------------------------------------


def test_a_settlement_partly_excluded_pays_loss_less_excluded_less_deductible(
        enrolled: Harness):
    enrolled.given(file_liability(loss=1_800_000))
    excluded, *_ = enrolled.then_events(exclude_part(amount=500_000))
    assert isinstance(excluded, PartialExclusionApplied)
    assert (excluded.exclusion, excluded.amount, excluded.excluded_total) == (
        "unapproved_settlement", 500_000, 500_000)
    assert "示談" in excluded.wording_ja
    assert claim_of(enrolled, "L1").status == "open"
    issued, _ = enrolled.then_events(pay("L1"))
    assert isinstance(issued, PayoutIssued)
    b = issued.breakdown
    assert (b.loss, b.excluded, b.loss_after_exclusion, b.deductible,
            b.loss_after_deductible, b.amount) == (
        1_800_000, 500_000, 1_300_000, 300_000, 1_000_000, 1_000_000)
    for lang, expected in (
            ("ja", "損害額 1,800,000円 − 一部免責 500,000円 − 免責金額 300,000円 = 1,000,000円"),
            ("en", "loss 1,800,000 yen − excluded 500,000 yen − deductible 300,000 yen = "
                   "1,000,000 yen")):
        explanation = views.explanation(enrolled.ledger, "L1", lang)  # type: ignore[arg-type]
        assert expected in explanation.text() and explanation.mismatches == []


def test_partial_exclusions_add_up_and_never_exceed_the_loss(enrolled: Harness):
    enrolled.given(file_liability(loss=1_800_000), exclude_part(amount=300_000),
                   exclude_part(amount=200_000))
    assert claim_of(enrolled, "L1").excluded == 500_000
    enrolled.then_refused(exclude_part(amount=1_300_001), RuleViolated, "amount",
                          "excluded_within_loss")
    enrolled.given(exclude_part(amount=1_300_000))  # the whole loss: nothing payable
    assert claim_of(enrolled, "L1").payable == 0


def test_a_partial_exclusion_above_the_loss_is_refused(enrolled: Harness):
    enrolled.given(file_liability(loss=1_800_000))
    enrolled.then_refused(exclude_part(amount=1_800_001), RuleViolated, "amount",
                          "excluded_within_loss")


@pytest.mark.parametrize("amount,error,rule", [
    (-1, InvalidCommand, "non_negative"), (1.5, InvalidCommand, "integer_yen"),
    ("500000", InvalidCommand, "integer_yen"), (True, InvalidCommand, "integer_yen"),
    (10**14, InvalidCommand, "maximum"), (0, RuleViolated, "positive_amount"),
])
def test_a_partial_exclusion_amount_is_a_positive_whole_number_of_yen(
        enrolled: Harness, amount: Any, error: type, rule: str):
    enrolled.given(file_liability())
    enrolled.then_refused(exclude_part(amount=amount), error, "amount", rule)


def test_a_partial_exclusion_must_not_leave_a_claim_overpaid(enrolled: Harness):
    enrolled.given(file_liability(loss=1_800_000), pay("L1", amount=1_000_000))
    enrolled.then_refused(exclude_part(amount=500_001), RuleViolated, "amount",
                          "payable_not_below_paid")
    enrolled.given(exclude_part(amount=500_000))  # leaves exactly what is paid
    enrolled.then_refused(pay("L1"), PayoutRefused, "amount", "payable_on_claim")
    enrolled.given(reverse("L1"), exclude_part(amount=100_000), pay("L1"))
    assert claim_of(enrolled, "L1").paid == 900_000


def test_a_loss_cannot_be_reassessed_below_what_is_excluded(enrolled: Harness):
    enrolled.given(file_liability(loss=1_800_000), exclude_part(amount=500_000))
    enrolled.then_refused(assess("L1", loss=499_999), RuleViolated, "loss_amount",
                          "excluded_within_loss")
    enrolled.given(assess("L1", loss=1_000_000), pay("L1"))
    assert claim_of(enrolled, "L1").paid == 200_000


def test_a_partly_excluded_claim_can_still_be_denied_whole(enrolled: Harness):
    enrolled.given(file_liability(), exclude_part(), exclude("L1", "war_or_unrest"))
    assert claim_of(enrolled, "L1").status == "denied"


def test_terms_lists_the_notice_channels_and_the_time_bar_in_japanese():
    import io

    from adapters.cli import main
    out = io.StringIO()
    assert main(["terms"], out) == 0
    text = out.getvalue()
    assert "customer_service" in text and "引受保険代理店" in text and "保険法95条" in text
