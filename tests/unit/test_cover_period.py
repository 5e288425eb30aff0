"""When cover starts and ends (保険期間).

Cover starts on the later of the service start and the day the firewall option
was applied for, and ends at the end of the earlier of the service's last day
and the option's cancellation. A claim outside cover is filed and denied at
once; moving cover's end is refused over payouts and denies the open claims it
leaves outside, in the same commit. Each test: given commands, when a command,
then events or a refusal naming the field and rule (and nothing appended)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from domain.claim import ExclusionApplied
from domain.errors import ClaimDenied, RuleViolated
from domain.events import EventStamp
from domain.policy import CoverStarted, ServiceEnded, policy_id_of
from domain.policy_year import CoverPeriodChanged
from tests.builders import (
    NOW,
    attach,
    cancel_firewall,
    end_service,
    file_data_media,
    file_liability,
    pay,
    reverse,
)
from tests.harness import Harness

LATE = attach(service_start="2005-01-01", firewall_applied_on="2006-06-01")
"""The issue's policy: service from 2005-01-01, firewall applied for 2006-06-01."""


def cancel(on: str, **over: Any) -> dict[str, Any]:
    return cancel_firewall(on=on, **over)


def status(h: Harness, claim_id: str) -> tuple[str, str | None]:
    claim = h.ledger.get_claim(claim_id)
    return str(claim.status), claim.exclusion


def denial(events: list[Any], claim_id: str) -> ExclusionApplied:
    (denied,) = [e for e in events if isinstance(e, ExclusionApplied)
                 and e.claim_id == claim_id]
    return denied


# When cover starts ------------------------------------------------------------


def test_cover_starts_when_the_firewall_option_was_applied_for_after_the_service_start(
    h: Harness,
):
    events = h.then_events(LATE)
    (started,) = [e for e in events if isinstance(e, CoverStarted)]
    assert started.cover_start == date(2006, 6, 1)
    first = h.ledger.get_policy_year("P1", 1)
    assert (first.period_start, first.period_end) == (date(2006, 6, 1), date(2007, 5, 31))


def test_cover_starts_on_the_service_start_when_the_option_came_first(h: Harness):
    h.given(attach(service_start="2024-04-01", firewall_applied_on="2024-03-01"))
    assert h.ledger.get_policy("P1").cover_start == date(2024, 4, 1)


def test_later_years_start_on_the_cover_starts_anniversaries(h: Harness):
    h.given(LATE, file_data_media(incident="2007-06-01"))
    assert h.ledger.get_claim("C1").policy_year == 2
    assert h.ledger.get_policy_year("P1", 2).period_start == date(2007, 6, 1)


@pytest.mark.parametrize("incident", ["2005-06-01", "2006-05-31"],
                         ids=["in the service's first year", "the day before the option"])
def test_a_data_media_incident_before_cover_is_filed_and_denied_outside_cover(
    h: Harness, incident: str,
):
    h.given(LATE)
    events = h.then_events(file_data_media(incident=incident, loss=800_000))
    assert denial(events, "C1").exclusion == "outside_cover"
    assert "保険期間外" in denial(events, "C1").wording_ja
    assert {e.command_id for e in events} == {events[0].command_id}  # one commit
    h.then_refused(pay("C1"), ClaimDenied, "claim_id", "claim_not_denied")


def test_a_liability_claim_whose_cause_predates_cover_is_denied_under_prior_cause(h: Harness):
    h.given(LATE)
    events = h.then_events(file_liability(incident="2005-09-01", made_on="2006-07-01"))
    denied = denial(events, "L1")
    assert denied.exclusion == "prior_cause"
    assert "2006-06-01" in denied.reason
    h.then_refused(pay("L1"), ClaimDenied, "claim_id", "claim_not_denied")


def test_a_liability_claim_made_before_cover_is_filed_and_denied_outside_cover(h: Harness):
    h.given(LATE)
    events = h.then_events(file_liability(incident="2006-01-10", made_on="2006-03-01"))
    assert denial(events, "L1").exclusion == "outside_cover"
    assert status(h, "L1") == ("denied", "outside_cover")


def test_an_incident_on_the_day_the_option_was_applied_for_is_covered(h: Harness):
    h.given(LATE, file_data_media(incident="2006-06-01"))
    assert h.when(pay("C1")).result["amount"] == 700_000


def test_a_firewall_applied_for_after_the_service_ended_is_refused(h: Harness):
    h.then_refused(attach(service_start="2024-04-01", service_end="2024-12-31",
                          firewall_applied_on="2025-01-10"),
                   RuleViolated, "firewall_applied_on", "within_service")


@pytest.mark.parametrize("field", ["firewall_applied_on", "service_start"])
def test_a_firewall_or_service_start_after_today_is_refused_as_future(h: Harness, field: str):
    h.then_refused(attach(**{field: "2099-01-01"}), RuleViolated, field, "not_in_future")


def test_the_recorded_day_in_japan_is_today_for_business_dates(h: Harness):
    today = NOW.date().isoformat()  # 12:00 in Japan: the same day
    h.when(attach(service_start=today, firewall_applied_on=today))
    assert h.ledger.get_policy("P1").cover_start == NOW.date()


# When cover ends --------------------------------------------------------------


def test_cancelling_the_option_ends_cover_at_the_end_of_that_day(h: Harness):
    h.given(attach(), cancel("2024-09-30"))
    h.given(file_data_media("C1", incident="2024-09-30"))
    events = h.then_events(file_data_media("C2", incident="2024-10-01"))
    assert status(h, "C1") == ("open", None)
    assert denial(events, "C2").exclusion == "outside_cover"
    assert h.ledger.get_policy_year("P1", 1).period_end == date(2024, 9, 30)


def test_cover_ends_on_the_earlier_of_the_service_end_and_the_cancellation(h: Harness):
    h.given(attach(), end_service(on="2025-01-31"), cancel("2024-12-31"))
    assert h.ledger.get_policy("P1").cover_end == date(2024, 12, 31)


def test_a_cancellation_before_the_option_was_applied_for_is_refused(h: Harness):
    h.given(attach())
    h.then_refused(cancel("2024-03-31"), RuleViolated, "cancelled_on", "dates_in_order")


def test_a_back_dated_end_over_claims_with_payouts_is_refused_naming_them(h: Harness):
    h.given(attach(), file_data_media("C1", incident="2024-06-01"), pay("C1"),
            file_liability("L1", made_on="2024-08-01"), pay("L1"),
            file_data_media("C2", incident="2024-05-01"), pay("C2", amount=100_000))
    error = h.then_refused(end_service(on="2024-05-31", reason="the service ended in May"),
                           RuleViolated, "service_end", "no_payouts_outside_cover")
    assert "C1" in str(error) and "L1" in str(error) and "C2" not in str(error)


def test_a_claim_whose_payouts_are_reversed_no_longer_holds_the_end(h: Harness):
    h.given(attach(), file_data_media("C1", incident="2024-06-01"), pay("C1"), reverse("C1"))
    h.when(end_service(on="2024-05-31"))
    assert status(h, "C1") == ("denied", "outside_cover")


def test_a_cancellation_over_claims_with_payouts_is_refused_naming_them(h: Harness):
    h.given(attach(), file_data_media("C1", incident="2024-06-01"), pay("C1"))
    h.then_refused(cancel("2024-05-31"), RuleViolated, "cancelled_on",
                   "no_payouts_outside_cover")


@pytest.mark.parametrize("move", [end_service(on="2024-05-31"), cancel("2024-05-31")],
                         ids=["end_service", "cancel_firewall_option"])
def test_open_claims_outside_a_new_end_are_denied_in_the_same_commit(
    h: Harness, move: dict[str, Any],
):
    h.given(attach(), file_data_media("C1", incident="2024-05-31"),
            file_data_media("C2", incident="2024-06-01"),
            file_liability("L1", incident="2024-05-01", made_on="2025-05-01"))
    events = h.then_events(move)
    assert {e.command_id for e in events} == {events[0].command_id}
    assert status(h, "C1") == ("open", None)
    assert status(h, "C2") == ("denied", "outside_cover")
    assert status(h, "L1") == ("denied", "outside_cover")
    changed = {(e.policy_year, e.coverage, e.period_end) for e in events
               if isinstance(e, CoverPeriodChanged)}
    assert changed == {(1, "data_media", date(2024, 5, 31)),
                       (1, "it_liability", date(2024, 5, 31)),
                       (2, "data_media", date(2025, 3, 31)),  # the day before it starts
                       (2, "it_liability", date(2025, 3, 31))}


def test_an_end_date_can_be_extended_with_a_reason(h: Harness):
    h.given(attach(), end_service(on="2024-12-31"))
    events = h.then_events(end_service(on="2025-09-30", reason="the end was keyed wrongly"))
    assert [e.event_name for e in events] == [
        "ServiceEndChanged", "CoverPeriodChanged", "CoverPeriodChanged"]
    assert h.ledger.get_policy_year("P1", 1).period_end == date(2025, 3, 31)
    h.given(file_data_media(incident="2025-01-10"))
    assert status(h, "C1") == ("open", None)


def test_a_correction_of_a_recorded_end_needs_a_reason(h: Harness):
    h.given(attach(), end_service(on="2024-12-31"))
    h.then_refused(end_service(on="2025-01-31"), RuleViolated, "reason", "required")


def test_the_same_end_again_is_refused(h: Harness):
    h.given(attach(), end_service(on="2024-12-31"))
    h.then_refused(end_service(on="2024-12-31", reason="again"), RuleViolated, "service_end",
                   "end_changed")


def test_cover_cannot_end_before_it_starts(h: Harness):
    h.given(LATE)
    h.then_refused(end_service(on="2006-05-31"), RuleViolated, "service_end",
                   "cover_not_empty")


def test_a_payout_on_a_claim_outside_cover_is_refused(h: Harness):
    # A log written before cover's end was checked: the service was back-dated
    # over an open claim.
    h.given(attach(), file_data_media("C1", incident="2024-06-01"))
    policy = h.ledger.get_policy("P1")
    stamp = EventStamp(actor="old-code", command_id="old-1", recorded_at=NOW)
    h.ledger.append([ServiceEnded(**stamp.fields(policy_id_of("P1"), policy.version + 1),
                                  policy_id="P1", service_end=date(2024, 5, 31))])
    h.then_refused(pay("C1"), RuleViolated, "claim_id", "outside_cover")


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_denial_outside_cover_is_explained_with_its_wording_and_no_mismatch(
    h: Harness, lang: str,
):
    from adapters.service import reads as views

    h.given(LATE, file_data_media(incident="2005-06-01"))
    explanation = views.explanation(h.ledger, "C1", lang, None)  # type: ignore[arg-type]
    assert explanation.mismatches == []
    assert "outside_cover" in explanation.text()
    assert ("保険期間外" if lang == "ja" else "outside the period of cover") in explanation.text()


def test_terms_print_the_outside_cover_rule_with_its_wording():
    import io

    from adapters.cli import main

    out = io.StringIO()
    assert main(["terms"], out) == 0
    assert "outside_cover" in out.getvalue() and "保険期間外" in out.getvalue()
