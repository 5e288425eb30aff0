"""Payouts in two phases: requested and held, then approved or rejected.

``request_payout`` decides the amount exactly as ``issue_payout`` does and holds
it against the claim and its policy year: paid + held never exceed what is
payable on the claim, nor the year's annual limit (the year records the hold,
``AnnualLimitHeld``, so its optimistic concurrency guards both as it guards
payouts). Within the requester's own authority (``domain/authority.py``) the
payout is issued in the same commit. Otherwise the hold waits for another actor
whose authority covers it: ``approve_payout`` issues it (or less: the rest is
released in the same event), ``reject_payout`` releases it. The approver's
authority in force is copied into the event. A hold resolves once: the claim's
version guards it, so of two approvers racing, one wins and the other is told.
At approval the payout is decided again with the hold released, so a payout of
an incident whose other claims were paid meanwhile is issued for what is still
payable.
"""

from __future__ import annotations

from domain.authority import Authority
from domain.claim.decisions import payout_breakdown, payout_events, require_open
from domain.claim.events import PayoutApproved, PayoutRejected, PayoutRequested
from domain.claim.state import Claim, Hold, HoldStatus, evolve, next_fields
from domain.errors import HoldResolved, NotAuthorized, NotFound, RuleViolated
from domain.events import EventStamp, LedgerEvent
from domain.incident import Incident
from domain.office_commands import ApprovePayout, RejectPayout, RequestPayout
from domain.policy_year import AnnualLimitHeld, AnnualLimitReleased, PolicyYear
from domain.policy_year import evolve as evolve_year


def request_payout(claim: Claim, year: PolicyYear, command: RequestPayout,
                   stamp: EventStamp, authority: Authority,
                   incident: Incident | None = None) -> list[LedgerEvent]:
    require_open(claim)
    breakdown = payout_breakdown(claim, year, incident, command.amount)
    payout_id = claim.next_payout_id
    within = breakdown.amount <= authority.pay_up_to
    requested = PayoutRequested(
        **next_fields(claim, stamp), payout_id=payout_id, amount=breakdown.amount,
        breakdown=breakdown, pay_up_to=authority.pay_up_to, within_authority=within,
        due_on=command.due_on)
    if within:
        return [requested, *payout_events(evolve(claim, requested), year, payout_id,
                                          breakdown, stamp, incident)]
    remaining = year.coverage(claim.coverage).remaining
    return [requested, AnnualLimitHeld(
        **stamp.fields(year.id, year.version + 1), policy_id=year.policy_id,
        policy_year=year.year, coverage=claim.coverage, claim_id=claim.claim_id,
        payout_id=payout_id, amount=breakdown.amount, remaining_before=remaining,
        remaining_after=remaining - breakdown.amount)]


def pending(claim: Claim, payout_id: str) -> Hold:
    """The claim's hold ``payout_id``, awaiting approval."""
    hold = claim.hold(payout_id)
    if hold is None:
        raise NotFound.of("payout_id", "hold_exists",
                          f"claim {claim.claim_id} has no payout {payout_id} requested")
    if hold.status is not HoldStatus.PENDING:
        by = f" by {hold.resolved_by}" if hold.resolved_by else ""
        raise HoldResolved.of("payout_id", "hold_pending",
                              f"payout {payout_id} is already {hold.status}{by}")
    return hold


def check_approver(hold: Hold, approver: Authority, actor: str) -> None:
    """Another actor than the requester, whose authority covers the whole hold
    (approving less releases the rest: a decision on all of it, as a rejection
    is)."""
    if actor == hold.requested_by:
        raise NotAuthorized.of(
            "actor", "another_approver",
            f"{actor} requested payout {hold.payout_id}: another actor must decide on it")
    if hold.amount > approver.approve_up_to:
        raise NotAuthorized.of(
            "actor", "approval_authority",
            f"{actor} may approve up to {approver.approve_up_to}; payout {hold.payout_id} "
            f"is {hold.amount}")


def _release(claim: Claim, year: PolicyYear, hold: Hold, stamp: EventStamp) -> LedgerEvent:
    remaining = year.coverage(claim.coverage).remaining
    return AnnualLimitReleased(
        **stamp.fields(year.id, year.version + 1), policy_id=year.policy_id,
        policy_year=year.year, coverage=claim.coverage, claim_id=claim.claim_id,
        payout_id=hold.payout_id, amount=hold.amount, remaining_before=remaining,
        remaining_after=remaining + hold.amount)


def approve_payout(claim: Claim, year: PolicyYear, command: ApprovePayout,
                   stamp: EventStamp, approver: Authority,
                   incident: Incident | None = None) -> list[LedgerEvent]:
    hold = pending(claim, command.payout_id)
    require_open(claim)
    asked = hold.amount if command.amount is None else command.amount
    if asked == 0:
        raise RuleViolated.of("amount", "positive_amount", "must be more than 0")
    if asked > hold.amount:
        raise RuleViolated.of("amount", "within_hold",
                              f"{asked} is more than the {hold.amount} held")
    check_approver(hold, approver, stamp.actor)
    available = payout_breakdown(claim, year, incident, None, releasing=hold.amount).amount
    breakdown = payout_breakdown(claim, year, incident, min(asked, available),
                                 releasing=hold.amount)
    approved = PayoutApproved(
        **next_fields(claim, stamp), payout_id=hold.payout_id,
        requested_by=hold.requested_by, held=hold.amount, amount=breakdown.amount,
        released=hold.amount - breakdown.amount, approve_up_to=approver.approve_up_to,
        reason=command.reason)
    released = _release(claim, year, hold, stamp)
    issued = payout_events(evolve(claim, approved), evolve_year(year, released),
                           hold.payout_id, breakdown, stamp, incident)
    return [approved, released, *issued]


def reject_payout(claim: Claim, year: PolicyYear, command: RejectPayout,
                  stamp: EventStamp, approver: Authority) -> list[LedgerEvent]:
    hold = pending(claim, command.payout_id)
    check_approver(hold, approver, stamp.actor)
    return [PayoutRejected(**next_fields(claim, stamp), payout_id=hold.payout_id,
                           requested_by=hold.requested_by, released=hold.amount,
                           approve_up_to=approver.approve_up_to, reason=command.reason),
            _release(claim, year, hold, stamp)]
