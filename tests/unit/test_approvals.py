"""Approving and rejecting a held payout: only another actor than the requester,
whose authority covers it; approval issues the held amount (or less, the rest
released in the same event), rejection releases it; a hold resolves once.

Each test: given commands, when a command, then events or a refusal naming the
field and rule (and nothing appended)."""

from __future__ import annotations

import pytest

from domain.claim import HoldStatus, PayoutApproved, PayoutIssued, PayoutRejected
from domain.errors import HoldResolved, NotAuthorized, NotFound, PayoutRefused, RuleViolated
from domain.incident import IncidentDrawn
from domain.policy_year import AnnualLimitDrawn, AnnualLimitReleased
from tests.builders import (
    approve,
    attach,
    authorize,
    file_data_media,
    file_liability,
    incident_liability,
    pay,
    reject,
    request,
)
from tests.harness import Harness, data_media_year, paid_and_held

CLERK, MANAGER, SUPERVISOR, DIRECTOR = "clerk", "manager", "supervisor", "director"


@pytest.fixture
def held(h: Harness) -> Harness:
    """Claim C1 (800,000 loss): the clerk requested its 700,000, held for approval;
    the manager may approve up to 1,000,000, the supervisor up to 500,000."""
    h.given(attach(), file_data_media(loss=800_000), authorize(CLERK, pay_up_to=100_000),
            authorize(MANAGER, approve_up_to=1_000_000),
            authorize(SUPERVISOR, pay_up_to=500_000, approve_up_to=500_000))
    h.given(request(), actor=CLERK)
    return h


# Approval ----------------------------------------------------------------------


def test_approval_issues_the_held_payout_in_one_commit(held: Harness):
    events = held.then_events(approve(), actor=MANAGER)
    assert [type(e) for e in events] == [PayoutApproved, AnnualLimitReleased, PayoutIssued,
                                         AnnualLimitDrawn]
    assert len({e.command_id for e in events}) == 1
    approved, released, issued, drawn = events
    assert (approved.actor, approved.requested_by, approved.approve_up_to,  # type: ignore[attr-defined]
            approved.held, approved.amount, approved.released) == (  # type: ignore[attr-defined]
        MANAGER, CLERK, 1_000_000, 700_000, 700_000, 0)
    assert released.amount == issued.amount == drawn.amount == 700_000  # type: ignore[attr-defined]
    assert paid_and_held(held) == (700_000, 0)
    year = data_media_year(held)
    assert (year.drawn, year.held, year.remaining) == (700_000, 0, 300_000)


def test_approving_less_releases_the_rest_in_the_same_event(held: Harness):
    approved, _, issued, _ = held.then_events(approve(amount=500_000), actor=MANAGER)
    assert (approved.amount, approved.released, issued.amount) == (  # type: ignore[attr-defined]
        500_000, 200_000, 500_000)
    assert paid_and_held(held) == (500_000, 0)
    assert data_media_year(held).remaining == 500_000


def test_approving_more_than_is_held_is_refused(held: Harness):
    held.then_refused(approve(amount=700_001), RuleViolated, "amount", "within_hold",
                      actor=MANAGER)


def test_approving_nothing_is_refused(held: Harness):
    held.then_refused(approve(amount=0), RuleViolated, "amount", "positive_amount",
                      actor=MANAGER)


def test_the_requester_cannot_approve_their_own_request(held: Harness):
    held.given(authorize(CLERK, pay_up_to=100_000, approve_up_to=1_000_000))
    held.then_refused(approve(), NotAuthorized, "actor", "another_approver", actor=CLERK)


def test_an_approval_above_the_approver_s_authority_is_refused(held: Harness):
    held.then_refused(approve(), NotAuthorized, "actor", "approval_authority",
                      actor=SUPERVISOR)


def test_approving_part_of_a_hold_needs_authority_over_the_whole_hold(held: Harness):
    """Approving less releases the rest: a decision on the whole hold, as a
    rejection is."""
    held.then_refused(approve(amount=500_000), NotAuthorized, "actor",
                      "approval_authority", actor=SUPERVISOR)


def test_an_actor_without_authority_approves_nothing(held: Harness):
    held.then_refused(approve(amount=1), NotAuthorized, "actor", "approval_authority",
                      actor="newcomer")


def test_an_unknown_hold_is_not_found(held: Harness):
    held.then_refused(approve(payout_id="payout-9"), NotFound, "payout_id", "hold_exists",
                      actor=MANAGER)


def test_an_approval_decides_again_on_what_the_incident_s_other_claims_were_paid(
    held: Harness,
):
    # L1 and L2: one liability incident, 2,500,000 at most for both.
    held.given(incident_liability("L1"), file_liability(
        "L2", loss=1_000_000, incident="2024-06-01", incident_id="INC-1"),
        authorize(DIRECTOR, approve_up_to=5_000_000))
    held.given(request("L1"), actor=CLERK)  # 2,500,000 held
    held.given(pay("L2"))  # 1,000,000 paid meanwhile
    approved, _, issued, _, drawn = held.then_events(approve("L1"), actor=DIRECTOR)
    assert (approved.amount, approved.released, issued.amount) == (  # type: ignore[attr-defined]
        1_500_000, 1_000_000, 1_500_000)
    assert isinstance(drawn, IncidentDrawn) and drawn.paid_after == 2_500_000


def test_an_approval_of_what_the_incident_no_longer_pays_is_refused(held: Harness):
    held.given(incident_liability("L1"), incident_liability("L2"),
               authorize(DIRECTOR, approve_up_to=5_000_000))
    held.given(request("L1"), actor=CLERK)
    held.given(pay("L2"))  # the incident's 2,500,000 paid on L2
    held.then_refused(approve("L1"), PayoutRefused, "amount", "per_incident_limit",
                      actor=DIRECTOR)
    held.given(reject("L1"), actor=DIRECTOR)
    assert paid_and_held(held, "L1") == (0, 0)


# Rejection ---------------------------------------------------------------------


def test_rejection_releases_the_hold(held: Harness):
    rejected, released = held.then_events(reject(), actor=MANAGER)
    assert isinstance(rejected, PayoutRejected) and isinstance(released, AnnualLimitReleased)
    assert (rejected.requested_by, rejected.released, rejected.approve_up_to,
            released.amount) == (CLERK, 700_000, 1_000_000, 700_000)
    assert paid_and_held(held) == (0, 0)
    year = data_media_year(held)
    assert (year.held, year.remaining) == (0, 1_000_000)


def test_the_requester_cannot_reject_their_own_request(held: Harness):
    held.then_refused(reject(), NotAuthorized, "actor", "another_approver", actor=CLERK)


def test_a_rejection_above_the_rejecter_s_authority_is_refused(held: Harness):
    held.then_refused(reject(), NotAuthorized, "actor", "approval_authority",
                      actor=SUPERVISOR)


def test_what_a_rejection_releases_can_be_paid_again(held: Harness):
    held.given(reject(), actor=MANAGER)
    (issued, _) = held.then_events(pay())
    assert issued.amount == 700_000  # type: ignore[attr-defined]


# A hold resolves once ----------------------------------------------------------


def test_an_approved_hold_cannot_be_approved_again(held: Harness):
    held.given(approve(), actor=MANAGER)
    refused = held.then_refused(approve(), HoldResolved, "payout_id", "hold_pending",
                                actor=SUPERVISOR)
    assert "approved by manager" in str(refused)


def test_an_approved_hold_cannot_be_rejected(held: Harness):
    held.given(approve(), actor=MANAGER)
    held.then_refused(reject(), HoldResolved, "payout_id", "hold_pending", actor=MANAGER)


def test_a_rejected_hold_cannot_be_approved(held: Harness):
    held.given(reject(), actor=MANAGER)
    held.then_refused(approve(), HoldResolved, "payout_id", "hold_pending", actor=MANAGER)


def test_a_hold_issued_at_once_cannot_be_approved(held: Harness):
    held.given(file_data_media("C2"))
    held.given(request("C2", amount=100_000), actor=SUPERVISOR)  # issued at once
    assert held.ledger.get_claim("C2").hold("payout-1").status is HoldStatus.ISSUED  # type: ignore[union-attr]
    held.then_refused(approve("C2"), HoldResolved, "payout_id",
                      "hold_pending", actor=MANAGER)


def test_a_resolved_hold_is_resolved_by_whoever_resolved_it(held: Harness):
    held.given(approve(), actor=MANAGER)
    hold = held.ledger.get_claim("C1").hold("payout-1")
    assert hold is not None and (hold.status, hold.resolved_by) == (HoldStatus.APPROVED,
                                                                    MANAGER)


def test_an_approved_payout_is_reversed_as_any_payout(held: Harness):
    held.given(approve(), actor=MANAGER)
    held.given({"command": "reverse_payout", "claim_id": "C1", "payout_id": "payout-1",
                "reason": "paid in error"})
    assert paid_and_held(held) == (0, 0)
    assert data_media_year(held).remaining == 1_000_000
