"""Payouts requested for approval (holds): decided as a payout is, issued at once
within the requester's authority, otherwise held against the claim and its
year, so that paid + held never exceed the year's annual limit nor what the
claim makes payable; a claim with a hold awaiting approval does not end.

Each test: given commands, when a command, then events or a refusal naming the
field and rule (and nothing appended)."""

from __future__ import annotations

import pytest

from domain.claim import HoldStatus, PayoutIssued, PayoutRequested
from domain.errors import ClaimNotOpen, PayoutRefused, RuleViolated
from domain.policy_year import AnnualLimitDrawn, AnnualLimitHeld
from tests.builders import (
    assess,
    attach,
    authorize,
    close,
    end_service,
    exclude,
    exclude_part,
    file_data_media,
    file_liability,
    incident_data_media,
    pay,
    request,
    withdraw,
)
from tests.harness import Harness, data_media_year, paid_and_held

CLERK = "clerk"
"""Pays alone up to 100,000."""


@pytest.fixture
def filed(h: Harness) -> Harness:
    """Claim C1: a loss of 800,000, so 700,000 payable after the deductible."""
    h.given(attach(), file_data_media(loss=800_000), authorize(CLERK, pay_up_to=100_000))
    return h


# Deciding a request ----------------------------------------------------------


def test_a_request_is_decided_as_a_payout_is(filed: Harness):
    requested, held = filed.then_events(request(), actor=CLERK)
    assert isinstance(requested, PayoutRequested) and isinstance(held, AnnualLimitHeld)
    b = requested.breakdown
    assert (b.loss, b.deductible, b.payable_on_claim, b.annual_remaining_before,
            b.amount) == (800_000, 100_000, 700_000, 1_000_000, 700_000)
    assert (requested.amount, held.amount, held.remaining_before, held.remaining_after) == (
        700_000, 700_000, 1_000_000, 300_000)


def test_a_request_is_capped_by_the_per_incident_limit(filed: Harness):
    filed.given(file_liability(loss=3_000_000))
    requested, _ = filed.then_events(request("L1"), actor=CLERK)
    assert requested.amount == 2_500_000  # type: ignore[attr-defined]


def test_a_request_is_capped_by_what_remains_of_the_annual_limit(filed: Harness):
    filed.given(file_data_media("C2", loss=900_000), pay("C2"))  # 800,000 paid
    requested, _ = filed.then_events(request(), actor=CLERK)
    assert requested.amount == 200_000  # type: ignore[attr-defined]


def test_a_request_of_a_loss_within_the_deductible_is_refused(filed: Harness):
    filed.given(file_data_media("C2", loss=100_000))
    filed.then_refused(request("C2"), PayoutRefused, "loss_amount", "deductible",
                       actor=CLERK)


def test_a_request_within_the_requester_s_authority_is_issued_in_one_commit(
    filed: Harness,
):
    events = filed.then_events(request(amount=100_000), actor=CLERK)
    assert [type(e) for e in events] == [PayoutRequested, PayoutIssued, AnnualLimitDrawn]
    assert events[0].within_authority and events[0].pay_up_to == 100_000  # type: ignore[attr-defined]
    assert len({e.command_id for e in events}) == 1
    assert paid_and_held(filed) == (100_000, 0)
    assert filed.ledger.get_claim("C1").hold("payout-1").status is HoldStatus.ISSUED  # type: ignore[union-attr]


def test_a_request_above_the_requester_s_authority_is_held(filed: Harness):
    events = filed.then_events(request(amount=100_001), actor=CLERK)
    assert [type(e) for e in events] == [PayoutRequested, AnnualLimitHeld]
    assert not events[0].within_authority  # type: ignore[attr-defined]
    assert paid_and_held(filed) == (0, 100_001)
    year = data_media_year(filed)
    assert (year.held, year.drawn, year.remaining) == (100_001, 0, 899_999)


def test_a_request_by_an_actor_without_authority_waits(filed: Harness):
    (requested, _) = filed.then_events(request(amount=1), actor="newcomer")
    assert not requested.within_authority and requested.pay_up_to == 0  # type: ignore[attr-defined]
    assert filed.ledger.get_claim("C1").hold("payout-1").status is HoldStatus.PENDING  # type: ignore[union-attr]


def test_a_request_answers_its_hold_and_what_it_holds(filed: Harness):
    result = filed.when(request(amount=300_000), actor=CLERK).result
    assert (result["payout_id"], result["hold"], result["held_amount"], result["amount"],
            result["held"], result["paid"]) == ("payout-1", "pending", 300_000, 300_000,
                                                300_000, 0)


def test_a_request_on_a_closed_claim_is_refused(filed: Harness):
    filed.given(close())
    filed.then_refused(request(), ClaimNotOpen, "claim_id", "claim_open", actor=CLERK)


# What is held is used --------------------------------------------------------


def test_what_is_held_on_a_claim_cannot_be_requested_again(filed: Harness):
    filed.given(request(), actor=CLERK)
    filed.then_refused(request(), PayoutRefused, "amount", "payable_on_claim", actor=CLERK)


def test_what_is_held_on_a_claim_cannot_be_paid_by_a_direct_payout(filed: Harness):
    filed.given(request(amount=500_000), actor=CLERK)
    filed.then_refused(pay(amount=200_001), PayoutRefused, "amount", "payable_on_claim")
    (issued, _) = filed.then_events(pay())
    assert issued.amount == 200_000  # type: ignore[attr-defined]
    assert paid_and_held(filed) == (200_000, 500_000)


def test_what_is_held_in_a_year_cannot_be_paid_on_another_claim(filed: Harness):
    filed.given(file_data_media("C2", loss=900_000), request(), actor=CLERK)  # 700,000 held
    (issued, _) = filed.then_events(pay("C2"))
    assert issued.amount == 300_000  # type: ignore[attr-defined]
    filed.given(file_data_media("C3", loss=900_000))
    filed.then_refused(request("C3"), PayoutRefused, "amount", "annual_limit", actor=CLERK)
    year = data_media_year(filed)
    assert year.drawn + year.held == year.annual_limit


def test_what_is_held_in_one_coverage_leaves_the_other_s_limit_alone(filed: Harness):
    filed.given(request(), actor=CLERK)
    liability = filed.ledger.get_policy_year("P1", 1).coverage("it_liability")  # type: ignore[arg-type]
    assert (liability.held, liability.remaining) == (0, 5_000_000)


# A claim with a hold awaiting approval ----------------------------------------


def test_a_claim_with_a_pending_hold_cannot_be_closed(filed: Harness):
    filed.given(request(), actor=CLERK)
    filed.then_refused(close(), RuleViolated, "claim_id", "no_pending_holds")


def test_a_claim_with_a_pending_hold_cannot_be_withdrawn(filed: Harness):
    filed.given(request(), actor=CLERK)
    filed.then_refused(withdraw(), RuleViolated, "claim_id", "no_pending_holds")


def test_a_claim_with_a_pending_hold_cannot_be_wholly_excluded(filed: Harness):
    filed.given(request(), actor=CLERK)
    filed.then_refused(exclude(), RuleViolated, "claim_id", "no_pending_holds")


def test_cover_cannot_end_before_a_claim_with_a_pending_hold(filed: Harness):
    filed.given(request(), actor=CLERK)
    filed.then_refused(end_service(on="2024-05-31"), RuleViolated, "service_end",
                       "no_payouts_outside_cover")


def test_a_reassessment_below_what_is_paid_and_held_is_refused(filed: Harness):
    filed.given(request(amount=500_000), actor=CLERK)  # 600,000 payable from 700,000 on
    filed.then_refused(assess(loss=599_999), RuleViolated, "loss_amount",
                       "payable_not_below_paid")
    filed.given(assess(loss=600_000))


def test_a_partial_exclusion_below_what_is_paid_and_held_is_refused(filed: Harness):
    filed.given(file_liability(loss=1_800_000), request("L1", amount=1_000_000), actor=CLERK)
    filed.then_refused(exclude_part(amount=500_001), RuleViolated, "amount",
                       "payable_not_below_paid")


def test_a_reassessment_of_a_claim_of_an_incident_below_what_is_held_is_refused(
    filed: Harness,
):
    filed.given(incident_data_media("C2", loss=300_000), request("C2"), actor=CLERK)
    assert paid_and_held(filed, "C2") == (0, 200_000)  # the incident's deductible taken
    filed.then_refused(assess("C2", loss=199_999), RuleViolated, "loss_amount",
                       "payable_not_below_paid")


def test_a_claim_whose_holds_are_resolved_can_be_closed(filed: Harness):
    filed.given(request(amount=100_000), actor=CLERK)  # issued at once
    filed.given(close())
    assert str(filed.ledger.get_claim("C1").status) == "closed"


# Payouts without holds ---------------------------------------------------------


def test_issue_payout_keeps_paying_at_once_whoever_asks(filed: Harness):
    events = filed.then_events(pay(), actor="newcomer")
    assert [type(e) for e in events] == [PayoutIssued, AnnualLimitDrawn]
    assert paid_and_held(filed) == (700_000, 0)
