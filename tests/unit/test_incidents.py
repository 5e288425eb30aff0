"""One incident, one deductible and one per-incident limit (1事故あたり).

Claims filed with the same ``incident_id`` under one policy and coverage are one
incident: the deductible is taken once from the incident's total loss, and the
per-incident limit caps what all its claims are paid together. A liability
incident's claims are one series (一連の損害賠償請求) and draw on the year of
the first claim made. Each test: given commands, when a command, then events or
a refusal naming the field and rule (and nothing appended)."""

from __future__ import annotations

from typing import Any

import pytest

from domain.claim import PayoutIssued
from domain.commands import parse_command
from domain.errors import InvalidCommand, PayoutRefused, RuleViolated
from domain.explanation import explain
from domain.incident import IncidentDrawn, IncidentOpened, IncidentRestored
from domain.money import Yen
from domain.payout import calculate_payout
from tests.builders import (
    assess,
    attach,
    exclude,
    file_data_media,
    pay,
    reverse,
    withdraw,
)
from tests.builders import incident_data_media as data_media
from tests.builders import incident_liability as liability
from tests.harness import Harness


@pytest.fixture
def enrolled(h: Harness) -> Harness:
    h.given(attach(), attach("P2"))
    return h


def paid(h: Harness, claim_id: str) -> int:
    return int(h.ledger.get_claim(claim_id).paid)


# The two cases of the issue ---------------------------------------------------


def test_two_liability_claims_of_one_incident_are_paid_one_per_incident_limit(
    enrolled: Harness,
):
    # Today: 2,500,000 + 2,500,000. The limit is 2,500,000 per incident.
    enrolled.given(liability("L1"), liability("L2", made_on="2024-07-01"), pay("L1"))
    enrolled.then_refused(pay("L2"), PayoutRefused, "amount", "per_incident_limit")
    assert (paid(enrolled, "L1"), paid(enrolled, "L2")) == (2_500_000, 0)


def test_one_data_media_incident_invoiced_as_two_claims_bears_one_deductible(
    enrolled: Harness,
):
    # Today: 200,000 + 200,000 (a deductible each). 600,000 - 100,000 = 500,000.
    enrolled.given(data_media("C1"), data_media("C2"), pay("C1"), pay("C2"))
    assert paid(enrolled, "C1") + paid(enrolled, "C2") == 500_000


# Filing -----------------------------------------------------------------------


def test_the_first_claim_of_an_incident_opens_it(enrolled: Harness):
    events = enrolled.then_events(data_media("C1"))
    opened = next(e for e in events if isinstance(e, IncidentOpened))
    assert opened.originator_id == "incident:P1:data_media:INC-1"
    assert (opened.incident_date.isoformat(), opened.policy_year, opened.deductible,
            opened.per_incident_limit) == ("2024-06-01", 1, 100_000, 1_000_000)


def test_claims_of_one_incident_must_agree_on_the_incident_date(enrolled: Harness):
    enrolled.given(data_media("C1"))
    enrolled.then_refused(data_media("C2", incident_date="2024-06-02"), RuleViolated,
                          "incident_date", "same_incident_date")


def test_an_incident_id_follows_the_identifier_rules(enrolled: Harness):
    enrolled.then_refused(data_media("C1", incident_id="bad id\n"), InvalidCommand,
                          "incident_id", "identifier_format")


@pytest.mark.parametrize(("value", "rule"), [
    (7, "text"), ("", "identifier_format"), ("INC\x00", "identifier_format"),
    ("I" * 65, "identifier_format"), (["INC-1"], "text"), ("INC 1", "identifier_format"),
])
def test_a_bad_incident_id_is_refused_naming_the_field_and_rule(value: Any, rule: str):
    with pytest.raises(InvalidCommand) as caught:
        parse_command(data_media("C1", incident_id=value))
    assert [(v.field, v.rule) for v in caught.value.violations] == [("incident_id", rule)]


def test_the_same_incident_id_under_another_policy_is_another_incident(enrolled: Harness):
    enrolled.given(data_media("C1"), pay("C1"),
                   data_media("C2", policy_id="P2", loss=300_000), pay("C2"))
    assert (paid(enrolled, "C1"), paid(enrolled, "C2")) == (200_000, 200_000)


def test_the_same_incident_id_under_another_coverage_is_another_incident(
    enrolled: Harness,
):
    enrolled.given(data_media("C1", loss=3_000_000), pay("C1"),
                   liability("L1", incident_date="2024-06-02"), pay("L1"))
    assert (paid(enrolled, "C1"), paid(enrolled, "L1")) == (1_000_000, 2_500_000)


def test_a_claim_without_an_incident_id_is_its_own_incident(enrolled: Harness):
    enrolled.given(file_data_media("C1", loss=300_000), file_data_media("C2", loss=300_000),
                   pay("C1"), pay("C2"))
    assert (paid(enrolled, "C1"), paid(enrolled, "C2")) == (200_000, 200_000)


def test_a_liability_series_draws_on_the_year_of_its_first_claim(enrolled: Harness):
    enrolled.given(liability("L1", made_on="2025-03-20"),
                   liability("L2", made_on="2025-04-10"))
    assert enrolled.ledger.get_claim("L2").policy_year == 1
    assert enrolled.ledger.get_claim("L1").policy_year == 1


# Payouts ----------------------------------------------------------------------


def test_the_deductible_falls_on_the_claims_filed_first(enrolled: Harness):
    enrolled.given(data_media("C1", loss=50_000), data_media("C2"))
    issued, *_ = enrolled.then_events(pay("C2"))
    assert isinstance(issued, PayoutIssued)
    b = issued.breakdown
    assert (b.deductible_taken_by_others, b.loss_after_deductible, b.amount) == (
        50_000, 250_000, 250_000)


def test_a_claim_of_an_incident_is_never_paid_more_than_its_own_loss(enrolled: Harness):
    enrolled.given(data_media("C1", loss=50_000), data_media("C2"))
    enrolled.then_refused(pay("C1"), PayoutRefused, "loss_amount", "deductible")


def test_a_payout_draws_on_the_incident_and_its_breakdown_shows_the_other_claims(
    enrolled: Harness,
):
    enrolled.given(liability("L1", loss_amount=1_800_000),
                   liability("L2", loss_amount=2_000_000), pay("L1"))
    events = enrolled.then_events(pay("L2"))
    issued = next(e for e in events if isinstance(e, PayoutIssued))
    drawn = next(e for e in events if isinstance(e, IncidentDrawn))
    b = issued.breakdown
    assert (b.deductible_taken_by_others, b.incident_paid_by_others) == (300_000, 1_500_000)
    assert (b.payable_for_incident, b.amount) == (1_000_000, 1_000_000)
    assert (drawn.originator_id, drawn.amount, drawn.paid_before, drawn.paid_after) == (
        "incident:P1:it_liability:INC-1", 1_000_000, 1_500_000, 2_500_000)


def test_a_reversal_restores_the_incident_room(enrolled: Harness):
    enrolled.given(liability("L1"), liability("L2"), pay("L1"))
    events = enrolled.then_events(reverse("L1"))
    assert any(isinstance(e, IncidentRestored) and e.amount == 2_500_000 for e in events)
    enrolled.given(pay("L2"))
    assert paid(enrolled, "L2") == 2_500_000


def test_withdrawing_a_claim_that_took_the_deductible_is_refused_while_others_rely_on_it(
    enrolled: Harness,
):
    enrolled.given(data_media("C1", loss=50_000), data_media("C2"), pay("C2"))
    enrolled.then_refused(withdraw("C1"), RuleViolated, "claim_id", "incident_not_overpaid")
    enrolled.then_refused(exclude("C1"), RuleViolated, "exclusion", "incident_not_overpaid")
    enrolled.then_refused(assess("C1", loss=10_000), RuleViolated, "loss_amount",
                          "incident_not_overpaid")


def test_a_reassessed_loss_changes_what_the_incident_pays(enrolled: Harness):
    enrolled.given(data_media("C1"), data_media("C2"), pay("C1"), assess("C2", loss=900_000),
                   pay("C2"))
    assert paid(enrolled, "C1") + paid(enrolled, "C2") == 1_000_000


def test_explain_shows_what_the_other_claims_took(enrolled: Harness):
    enrolled.given(data_media("C1"), data_media("C2"), pay("C1"), pay("C2"))
    ledger = enrolled.ledger
    claim_events = list(ledger.events.get("claim:C2"))
    year_events = list(ledger.events.get("policy:P1:year:1"))
    incident_events = list(ledger.events.get("incident:P1:data_media:INC-1"))
    for lang, words in (("ja", ("同一事故", "100,000円", "200,000円")),
                        ("en", ("incident INC-1", "100,000 yen", "200,000 yen"))):
        told = explain(claim_events, year_events, lang, incident_events)  # type: ignore[arg-type]
        assert not told.mismatches, told.text()
        payout = next(line for line in told.lines if line.kind == "payout")
        for word in words:
            assert word in told.text(), (word, told.text())
        assert payout.figures["deductible_taken_by_others"] == 100_000
        assert payout.figures["incident_paid_by_others"] == 200_000


# The pure rule ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("loss", "taken", "others", "paid_before", "amount"),
    [
        (300_000, 0, 0, 0, 200_000),  # the first claim bears the deductible
        (300_000, 100_000, 200_000, 0, 300_000),  # the earlier claims took all of it
        (300_000, 50_000, 0, 0, 250_000),  # they took part of it
        (900_000, 100_000, 200_000, 0, 800_000),  # the incident's limit binds
        (900_000, 100_000, 200_000, 500_000, 300_000),  # less what the claim was paid
    ],
)
def test_the_payout_rule_shares_one_deductible_and_one_limit(
    loss: int, taken: int, others: int, paid_before: int, amount: int,
):
    breakdown = calculate_payout(
        loss=Yen(loss), deductible=Yen(100_000), per_incident_limit=Yen(1_000_000),
        paid_before=Yen(paid_before), annual_limit=Yen(1_000_000),
        annual_remaining=Yen(1_000_000), deductible_taken_by_others=Yen(taken),
        incident_paid_by_others=Yen(others))
    assert breakdown.amount == amount


def test_a_claim_alone_is_paid_as_before_and_its_breakdown_stored_as_before():
    breakdown = calculate_payout(
        loss=Yen(800_000), deductible=Yen(100_000), per_incident_limit=Yen(1_000_000),
        paid_before=Yen(0), annual_limit=Yen(1_000_000), annual_remaining=Yen(1_000_000))
    assert breakdown.amount == 700_000
    stored = breakdown.model_dump_json()
    assert "by_others" not in stored and "requested" in stored
