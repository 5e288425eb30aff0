"""The decisions on a filed claim: re-assessment, exclusions and their
withdrawal, payouts and reversals, closing, withdrawal and reopening.

Each is a pure function of the states it reads and the command, and returns the
events to append. A claim of an incident (``domain/incident.py``) also writes
the incident's record whenever the loss it counts or what it is paid changes,
in the same commit, so the incident's deductible and limit hold across its
claims.
"""

from __future__ import annotations

from domain import incident as incident_module
from domain.claim.events import (
    ClaimClosed,
    ClaimReopened,
    ClaimWithdrawn,
    DenialWithdrawn,
    ExclusionApplied,
    LossAssessed,
    PartialExclusionApplied,
    PayoutIssued,
    PayoutReversed,
)
from domain.claim.state import Claim, ClaimStatus, HoldStatus
from domain.claim.state import next_fields as _claim_fields
from domain.commands import (
    ApplyExclusion,
    AssessLoss,
    CloseClaim,
    IssuePayout,
    ReopenClaim,
    ReversePayout,
    WithdrawClaim,
    WithdrawDenial,
)
from domain.errors import ClaimDenied, ClaimNotOpen, InvalidCommand, NotFound, RuleViolated
from domain.events import EventStamp, LedgerEvent
from domain.incident import Incident
from domain.money import ZERO, Yen
from domain.payout import PayoutBreakdown, calculate_payout, payable_for_incident
from domain.policy_year import AnnualLimitDrawn, AnnualLimitRestored, PolicyYear
from domain.terms import Wording, term_set


def require_open(claim: Claim) -> None:
    if claim.status is ClaimStatus.DENIED:
        raise ClaimDenied.of(
            "claim_id",
            "claim_not_denied",
            f"claim {claim.claim_id} is denied under exclusion {claim.exclusion}",
        )
    if claim.status is not ClaimStatus.OPEN:
        raise ClaimNotOpen.of(
            "claim_id", "claim_open", f"claim {claim.claim_id} is {claim.status}"
        )


def require_no_holds(claim: Claim, doing: str) -> None:
    """Payouts awaiting approval are approved or rejected before the claim ends."""
    pending = [h.payout_id for h in claim.holds if h.status is HoldStatus.PENDING]
    if pending:
        raise RuleViolated.of(
            "claim_id", "no_pending_holds",
            f"payouts {', '.join(pending)} await approval on claim {claim.claim_id}; "
            f"approve or reject them before {doing} it")


def deny(claim: Claim, wording: Wording, reason: str, stamp: EventStamp) -> ExclusionApplied:
    """The ledger's own denial of ``claim`` under ``wording`` (a rule or exclusion)."""
    return ExclusionApplied(
        **_claim_fields(claim, stamp),
        exclusion=wording.code,
        wording_ja=wording.ja,
        wording_en=wording.en,
        reason=reason,
    )


def _counted(
    claim: Claim, incident: Incident | None, stamp: EventStamp, *, loss: Yen,
    claim_event: str, field: str,
) -> list[LedgerEvent]:
    """The incident's record of the loss ``claim`` now counts (nothing for a claim
    that is its own incident)."""
    if incident is None:
        return []
    return incident_module.count_loss(incident, stamp, claim_id=claim.claim_id, loss=loss,
                                      claim_event=claim_event, field=field)


def assess_loss(
    claim: Claim, command: AssessLoss, stamp: EventStamp, incident: Incident | None = None
) -> list[LedgerEvent]:
    require_open(claim)
    if command.loss_amount == claim.loss:
        raise RuleViolated.of(
            "loss_amount", "loss_changed", f"the assessed loss is already {claim.loss}"
        )
    if command.loss_amount < claim.excluded:
        raise RuleViolated.of(
            "loss_amount",
            "excluded_within_loss",
            f"{claim.excluded} of the loss is excluded; the loss cannot be less",
        )
    loss_left = command.loss_amount - claim.excluded
    counted = _counted(claim, incident, stamp, loss=loss_left, claim_event="LossAssessed",
                       field="loss_amount")
    _check_paid_and_held(claim, incident, loss_left, "loss_amount",
                         f"a loss of {command.loss_amount}")
    return [
        LossAssessed(
            **_claim_fields(claim, stamp),
            loss_before=claim.loss,
            loss_amount=command.loss_amount,
            reason=command.reason,
        ),
        *counted,
    ]


def _check_paid_and_held(claim: Claim, incident: Incident | None, loss_left: Yen,
                         field: str, doing: str) -> None:
    """A decision that leaves ``loss_left`` counted must leave payable what is
    paid and held on the claim (for a claim of an incident, with the part of the
    incident's deductible the claims filed before it do not take)."""
    deductible = claim.deductible if incident is None else incident.deductible.less(
        incident.deductible_taken_before(claim.claim_id))
    payable = payable_for_incident(loss_left, deductible, claim.per_incident_limit)
    if payable < claim.paid + claim.held:
        raise RuleViolated.of(
            field,
            "payable_not_below_paid",
            f"{doing} makes {payable} payable, less than the {claim.paid} already paid"
            + _and_held(claim) + "; reverse payouts (or reject requests) first",
        )


def apply_exclusion(
    claim: Claim, command: ApplyExclusion, stamp: EventStamp,
    incident: Incident | None = None,
) -> list[LedgerEvent]:
    require_open(claim)
    coverage = term_set(claim.terms_version).coverage(claim.coverage)
    wording = coverage.exclusion(command.exclusion)
    if wording is None:
        raise InvalidCommand.of(
            "exclusion",
            "exclusion_of_coverage",
            f"{command.exclusion!r} is not an exclusion of {claim.coverage}; "
            f"expected one of: {', '.join(e.code for e in coverage.exclusions)}",
        )
    if command.amount is not None:
        return _exclude_part(claim, wording, command, command.amount, stamp, incident)
    if claim.paid > 0:
        raise RuleViolated.of(
            "exclusion",
            "nothing_paid",
            f"{claim.paid} is paid on the claim; reverse the payouts before "
            "denying it",
        )
    require_no_holds(claim, "denying")
    return [
        deny(claim, wording, command.reason, stamp),
        *_counted(claim, incident, stamp, loss=ZERO, claim_event="ExclusionApplied",
                  field="exclusion"),
    ]


def _and_held(claim: Claim) -> str:
    return f" and {claim.held} held for approval" if claim.held else ""


def _exclude_part(claim: Claim, wording: Wording, command: ApplyExclusion, amount: Yen,
                  stamp: EventStamp, incident: Incident | None) -> list[LedgerEvent]:
    """Exclude ``amount`` of the loss: the exclusions of a claim add up to at most
    its assessed loss, and never leave less payable than is already paid (for a
    claim of an incident, the incident counts the loss left, and no claim of it
    may be left paid more than its share)."""
    if amount == 0:
        raise RuleViolated.of("amount", "positive_amount", "must be more than 0")
    total = claim.excluded + amount
    if total > claim.loss:
        raise RuleViolated.of(
            "amount",
            "excluded_within_loss",
            f"{total} excluded in all would be more than the assessed loss of {claim.loss}"
            + (f" ({claim.excluded} is excluded already)" if claim.excluded else ""),
        )
    counted = _counted(claim, incident, stamp, loss=claim.loss - total,
                       claim_event="PartialExclusionApplied", field="amount")
    _check_paid_and_held(claim, incident, claim.loss - total, "amount",
                         f"excluding {amount}")
    return [
        PartialExclusionApplied(
            **_claim_fields(claim, stamp),
            exclusion=wording.code,
            wording_ja=wording.ja,
            wording_en=wording.en,
            reason=command.reason,
            amount=amount,
            excluded_total=total,
        ),
        *counted,
    ]


def withdraw_denial(
    claim: Claim, command: WithdrawDenial, stamp: EventStamp,
    incident: Incident | None = None,
) -> list[LedgerEvent]:
    """The claim is open again; a claim of an incident counts its loss there
    again (as a denial made it count nothing)."""
    if claim.status is not ClaimStatus.DENIED or claim.exclusion is None:
        raise RuleViolated.of(
            "claim_id", "claim_denied",
            f"claim {claim.claim_id} is {claim.status}: it has no denial to withdraw",
        )
    return [DenialWithdrawn(**_claim_fields(claim, stamp), exclusion=claim.exclusion,
                            reason=command.reason),
            *_counted(claim, incident, stamp, loss=claim.loss_after_exclusion,
                      claim_event="DenialWithdrawn", field="claim_id")]


def reopen_claim(claim: Claim, command: ReopenClaim, stamp: EventStamp) -> list[LedgerEvent]:
    """Only a closed claim is reopened: a denied one is opened again by
    withdrawing its denial, and a withdrawn one was the customer's own act."""
    if claim.status is not ClaimStatus.CLOSED:
        hint = {ClaimStatus.DENIED: "; withdraw its denial instead (withdraw_denial)",
                ClaimStatus.WITHDRAWN: "; the customer withdrew it: file a new claim"}
        raise RuleViolated.of(
            "claim_id", "claim_closed",
            f"claim {claim.claim_id} is {claim.status}, not closed"
            + hint.get(claim.status, ""),
        )
    return [ClaimReopened(**_claim_fields(claim, stamp), reason=command.reason)]


def payout_breakdown(claim: Claim, year: PolicyYear, incident: Incident | None,
                     requested: Yen | None, *, releasing: Yen = ZERO) -> PayoutBreakdown:
    """The payout rule on the claim's, its year's and its incident's figures
    (what payouts awaiting approval hold is taken as used); ``releasing``: the
    amount of a hold being approved, released first."""
    in_force = year.coverage(claim.coverage)
    shared = {} if incident is None else {
        "deductible_taken_by_others": incident.deductible_taken_before(claim.claim_id),
        "incident_paid_by_others": incident.paid_by_others(claim.claim_id),
    }
    return calculate_payout(
        loss=claim.loss,
        excluded=claim.excluded,
        deductible=claim.deductible,
        per_incident_limit=claim.per_incident_limit,
        paid_before=claim.paid,
        held_before=claim.held - releasing,
        annual_limit=in_force.annual_limit,
        annual_remaining=in_force.remaining + releasing,
        requested=requested,
        **shared,
    )


def payout_events(claim: Claim, year: PolicyYear, payout_id: str,
                  breakdown: PayoutBreakdown, stamp: EventStamp,
                  incident: Incident | None) -> list[LedgerEvent]:
    """Pay ``breakdown.amount``: the claim's payout, the year's draw on its
    annual limit and, for a claim of an incident, the incident's."""
    drawn = [] if incident is None else [incident_module.draw(
        incident, stamp, claim_id=claim.claim_id, payout_id=payout_id,
        amount=breakdown.amount)]
    return [
        PayoutIssued(
            **_claim_fields(claim, stamp),
            payout_id=payout_id,
            amount=breakdown.amount,
            breakdown=breakdown,
        ),
        AnnualLimitDrawn(
            **stamp.fields(year.id, year.version + 1),
            policy_id=year.policy_id,
            policy_year=year.year,
            coverage=claim.coverage,
            claim_id=claim.claim_id,
            payout_id=payout_id,
            amount=breakdown.amount,
            remaining_before=breakdown.annual_remaining_before,
            remaining_after=breakdown.annual_remaining_after,
        ),
        *drawn,
    ]


def issue_payout(
    claim: Claim, year: PolicyYear, command: IssuePayout, stamp: EventStamp,
    incident: Incident | None = None,
) -> list[LedgerEvent]:
    require_open(claim)
    breakdown = payout_breakdown(claim, year, incident, command.amount)
    return payout_events(claim, year, claim.next_payout_id, breakdown, stamp, incident)


def reverse_payout(
    claim: Claim, year: PolicyYear, command: ReversePayout, stamp: EventStamp,
    incident: Incident | None = None,
) -> list[LedgerEvent]:
    payout = claim.payout(command.payout_id)
    if payout is None:
        raise NotFound.of(
            "payout_id",
            "payout_exists",
            f"claim {claim.claim_id} has no payout {command.payout_id}",
        )
    if payout.reversed:
        raise RuleViolated.of(
            "payout_id",
            "not_reversed",
            f"payout {payout.payout_id} is already reversed",
        )
    remaining = year.coverage(claim.coverage).remaining
    return [
        PayoutReversed(
            **_claim_fields(claim, stamp),
            payout_id=payout.payout_id,
            amount=payout.amount,
            reason=command.reason,
        ),
        AnnualLimitRestored(
            **stamp.fields(year.id, year.version + 1),
            policy_id=year.policy_id,
            policy_year=year.year,
            coverage=claim.coverage,
            claim_id=claim.claim_id,
            payout_id=payout.payout_id,
            amount=payout.amount,
            remaining_before=remaining,
            remaining_after=remaining + payout.amount,
        ),
        *([] if incident is None else [incident_module.restore(
            incident, stamp, claim_id=claim.claim_id, payout_id=payout.payout_id,
            amount=payout.amount)]),
    ]


def close_claim(claim: Claim, command: CloseClaim, stamp: EventStamp) -> list[LedgerEvent]:
    require_open(claim)
    require_no_holds(claim, "closing")
    return [ClaimClosed(**_claim_fields(claim, stamp), reason=command.reason)]


def withdraw_claim(
    claim: Claim, command: WithdrawClaim, stamp: EventStamp,
    incident: Incident | None = None,
) -> list[LedgerEvent]:
    require_open(claim)
    if claim.paid > 0:
        raise RuleViolated.of(
            "claim_id",
            "nothing_paid",
            f"{claim.paid} is paid on the claim; reverse the payouts before "
            "withdrawing it",
        )
    require_no_holds(claim, "withdrawing")
    return [
        ClaimWithdrawn(**_claim_fields(claim, stamp), reason=command.reason),
        *_counted(claim, incident, stamp, loss=ZERO, claim_event="ClaimWithdrawn",
                  field="claim_id"),
    ]

