"""The Claim aggregate: one incident under one coverage, from filing to closing.

A claim is filed against the policy year its coverage's trigger points at (the
incident date for data/media, occurrence basis; the date the third party made
its claim for IT liability, claims-made basis). It is re-assessed, denied by an
exclusion, paid (possibly in interim payouts), corrected by reversal, closed or
withdrawn. Nothing is ever edited or deleted: every change is a new event.
Each decision below is a pure function of the states it reads and the command.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from domain.commands import (
    ApplyExclusion,
    AssessLoss,
    CloseClaim,
    FileClaim,
    IssuePayout,
    ReversePayout,
    WithdrawClaim,
)
from domain.errors import (
    ClaimDenied,
    ClaimNotOpen,
    InvalidCommand,
    NotFound,
    RuleViolated,
)
from domain.events import EventStamp, LedgerEvent
from domain.money import Yen
from domain.payout import PayoutBreakdown, calculate_payout, payable_for_incident
from domain.policy import Policy, open_year, register_claim
from domain.policy import evolve as evolve_policy
from domain.policy_year import AnnualLimitDrawn, AnnualLimitRestored, PolicyYear
from domain.state import changed
from domain.terms import OUTSIDE_COVER, PRIOR_CAUSE, Coverage, Trigger, Wording, term_set


def claim_id_of(claim_id: str) -> str:
    return f"claim:{claim_id}"


class ClaimStatus(StrEnum):
    OPEN = "open"
    DENIED = "denied"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


class ClaimEvent(LedgerEvent):
    """An event of one claim; it names the claim, its policy, year and coverage, so
    readers of the log need no lookup to place it."""

    claim_id: str
    policy_id: str
    policy_year: int
    coverage: Coverage


class ClaimFiled(ClaimEvent):
    event_name = "ClaimFiled"

    cause: str
    incident_date: date
    claim_made_on: date | None
    loss_amount: Yen
    description: str
    terms_version: str
    deductible: Yen
    per_incident_limit: Yen


class LossAssessed(ClaimEvent):
    event_name = "LossAssessed"

    loss_before: Yen
    loss_amount: Yen
    reason: str | None


class ExclusionApplied(ClaimEvent):
    event_name = "ExclusionApplied"

    exclusion: str
    wording_ja: str
    wording_en: str
    reason: str


class PayoutIssued(ClaimEvent):
    event_name = "PayoutIssued"

    payout_id: str
    amount: Yen
    breakdown: PayoutBreakdown


class PayoutReversed(ClaimEvent):
    event_name = "PayoutReversed"

    payout_id: str
    amount: Yen
    reason: str


class ClaimClosed(ClaimEvent):
    event_name = "ClaimClosed"

    reason: str


class ClaimWithdrawn(ClaimEvent):
    event_name = "ClaimWithdrawn"

    reason: str


@dataclass(frozen=True)
class Payout:
    payout_id: str
    amount: Yen
    breakdown: PayoutBreakdown
    reversed: bool = False


@dataclass(frozen=True)
class Claim:
    id: str
    version: int
    claim_id: str
    policy_id: str
    policy_year: int
    coverage: Coverage
    cause: str
    incident_date: date
    claim_made_on: date | None
    loss: Yen
    description: str
    terms_version: str
    deductible: Yen
    per_incident_limit: Yen
    status: ClaimStatus = ClaimStatus.OPEN
    exclusion: str | None = None
    payouts: tuple[Payout, ...] = ()

    @property
    def paid(self) -> Yen:
        """Paid on the claim, net of reversals."""
        return Yen(sum(p.amount for p in self.payouts if not p.reversed))

    @property
    def payable(self) -> Yen:
        return payable_for_incident(self.loss, self.deductible, self.per_incident_limit)

    def payout(self, payout_id: str) -> Payout | None:
        return next((p for p in self.payouts if p.payout_id == payout_id), None)


def _claim_fields(claim: Claim, stamp: EventStamp) -> dict[str, Any]:
    """The fields every new event of ``claim`` starts with."""
    return {
        **stamp.fields(claim.id, claim.version + 1),
        "claim_id": claim.claim_id,
        "policy_id": claim.policy_id,
        "policy_year": claim.policy_year,
        "coverage": claim.coverage,
    }


def _require_open(claim: Claim) -> None:
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


def trigger_date(policy: Policy, command: FileClaim) -> tuple[str, date]:
    """The field and date that choose the policy year for a new claim."""
    terms = term_set(policy.years[0].terms_version)
    trigger = terms.coverage(command.coverage).trigger
    if trigger is Trigger.CLAIMS_MADE:
        if command.claim_made_on is None:
            raise InvalidCommand.of(
                "claim_made_on",
                "required",
                f"is required for {command.coverage} (claims-made basis)",
            )
        return "claim_made_on", command.claim_made_on
    if command.claim_made_on is not None:
        raise InvalidCommand.of(
            "claim_made_on",
            "claims_made_only",
            f"is only for claims-made coverage; {command.coverage} pays on the "
            "incident date (occurrence basis)",
        )
    return "incident_date", command.incident_date


def deny(claim: Claim, wording: Wording, reason: str, stamp: EventStamp) -> ExclusionApplied:
    """The ledger's own denial of ``claim`` under ``wording`` (a rule or exclusion)."""
    return ExclusionApplied(
        **_claim_fields(claim, stamp),
        exclusion=wording.code,
        wording_ja=wording.ja,
        wording_en=wording.en,
        reason=reason,
    )


def file_claim(
    policy: Policy, command: FileClaim, stamp: EventStamp, today: date
) -> list[LedgerEvent]:
    """Decide ``file_claim``: pick the year (opening it if new), file, record the
    claim on its policy, and deny it at once where the terms do not cover it: a
    date of cover outside cover, or (where the terms have it) a cause before
    the cover start."""
    for field, day in (("incident_date", command.incident_date),
                       ("claim_made_on", command.claim_made_on)):
        if day is not None and day > today:
            raise RuleViolated.of(field, "not_in_future", f"{day} is after today ({today})")
    if command.claim_made_on is not None and command.claim_made_on < command.incident_date:
        raise RuleViolated.of(
            "claim_made_on",
            "dates_in_order",
            f"the claim was made on {command.claim_made_on}, before the incident "
            f"on {command.incident_date}",
        )
    field, day = trigger_date(policy, command)
    year = policy.year_of(day)
    events: list[LedgerEvent] = []
    period = policy.opened(year)
    if period is None:
        events = open_year(policy, year, stamp)
        policy = evolve_policy(policy, events[0])
        period = policy.opened(year)
        assert period is not None
    terms = term_set(period.terms_version)
    coverage = terms.coverage(command.coverage)
    if terms.cause(command.cause) is None:
        raise InvalidCommand.of(
            "cause",
            "known_cause",
            f"unknown cause {command.cause!r}; expected one of: "
            f"{', '.join(c.code for c in terms.causes)}",
        )
    aggregate_id = claim_id_of(command.claim_id)
    events.append(
        ClaimFiled(
            **stamp.fields(aggregate_id, 1),
            claim_id=command.claim_id,
            policy_id=policy.policy_id,
            policy_year=year,
            coverage=command.coverage,
            cause=command.cause,
            incident_date=command.incident_date,
            claim_made_on=command.claim_made_on,
            loss_amount=command.loss_amount,
            description=command.description,
            terms_version=terms.version,
            deductible=coverage.deductible,
            per_incident_limit=coverage.per_incident_limit,
        )
    )
    events.append(register_claim(policy, command.claim_id, command.coverage, year, day, stamp))
    filed = evolve(None, events[-2])
    prior = coverage.exclusion(PRIOR_CAUSE)
    if not policy.covers(day):
        events.append(deny(filed, OUTSIDE_COVER, f"{field} {day} is outside cover "
                           f"({_cover_text(policy)})", stamp))
    elif prior is not None and command.incident_date < policy.cover_start:
        events.append(deny(
            filed, prior, f"the cause ({command.incident_date}) predates the first policy "
            f"year, which began {policy.cover_start}", stamp))
    return events


def _cover_text(policy: Policy) -> str:
    end = policy.cover_end
    return f"from {policy.cover_start} to {end}" if end else f"from {policy.cover_start}"


def assess_loss(claim: Claim, command: AssessLoss, stamp: EventStamp) -> list[LedgerEvent]:
    _require_open(claim)
    if command.loss_amount == claim.loss:
        raise RuleViolated.of(
            "loss_amount", "loss_changed", f"the assessed loss is already {claim.loss}"
        )
    payable = payable_for_incident(
        command.loss_amount, claim.deductible, claim.per_incident_limit
    )
    if payable < claim.paid:
        raise RuleViolated.of(
            "loss_amount",
            "payable_not_below_paid",
            f"a loss of {command.loss_amount} makes {payable} payable, less than the "
            f"{claim.paid} already paid; reverse payouts first",
        )
    return [
        LossAssessed(
            **_claim_fields(claim, stamp),
            loss_before=claim.loss,
            loss_amount=command.loss_amount,
            reason=command.reason,
        )
    ]


def apply_exclusion(
    claim: Claim, command: ApplyExclusion, stamp: EventStamp
) -> list[LedgerEvent]:
    _require_open(claim)
    coverage = term_set(claim.terms_version).coverage(claim.coverage)
    wording = coverage.exclusion(command.exclusion)
    if wording is None:
        raise InvalidCommand.of(
            "exclusion",
            "exclusion_of_coverage",
            f"{command.exclusion!r} is not an exclusion of {claim.coverage}; "
            f"expected one of: {', '.join(e.code for e in coverage.exclusions)}",
        )
    if claim.paid > 0:
        raise RuleViolated.of(
            "exclusion",
            "nothing_paid",
            f"{claim.paid} is paid on the claim; reverse the payouts before "
            "denying it",
        )
    return [
        ExclusionApplied(
            **_claim_fields(claim, stamp),
            exclusion=wording.code,
            wording_ja=wording.ja,
            wording_en=wording.en,
            reason=command.reason,
        )
    ]


def issue_payout(
    claim: Claim, year: PolicyYear, command: IssuePayout, stamp: EventStamp
) -> list[LedgerEvent]:
    _require_open(claim)
    in_force = year.coverage(claim.coverage)
    breakdown = calculate_payout(
        loss=claim.loss,
        deductible=claim.deductible,
        per_incident_limit=claim.per_incident_limit,
        paid_before=claim.paid,
        annual_limit=in_force.annual_limit,
        annual_remaining=in_force.remaining,
        requested=command.amount,
    )
    payout_id = f"payout-{len(claim.payouts) + 1}"
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
    ]


def reverse_payout(
    claim: Claim, year: PolicyYear, command: ReversePayout, stamp: EventStamp
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
    ]


def close_claim(claim: Claim, command: CloseClaim, stamp: EventStamp) -> list[LedgerEvent]:
    _require_open(claim)
    return [ClaimClosed(**_claim_fields(claim, stamp), reason=command.reason)]


def withdraw_claim(
    claim: Claim, command: WithdrawClaim, stamp: EventStamp
) -> list[LedgerEvent]:
    _require_open(claim)
    if claim.paid > 0:
        raise RuleViolated.of(
            "claim_id",
            "nothing_paid",
            f"{claim.paid} is paid on the claim; reverse the payouts before "
            "withdrawing it",
        )
    return [
        ClaimWithdrawn(**_claim_fields(claim, stamp), reason=command.reason)
    ]


def evolve(state: Claim | None, event: LedgerEvent) -> Claim:
    if isinstance(event, ClaimFiled):
        return Claim(
            id=event.originator_id,
            version=event.originator_version,
            claim_id=event.claim_id,
            policy_id=event.policy_id,
            policy_year=event.policy_year,
            coverage=event.coverage,
            cause=event.cause,
            incident_date=event.incident_date,
            claim_made_on=event.claim_made_on,
            loss=event.loss_amount,
            description=event.description,
            terms_version=event.terms_version,
            deductible=event.deductible,
            per_incident_limit=event.per_incident_limit,
        )
    if state is None:
        msg = f"{event.event_name} before the claim was filed"
        raise ValueError(msg)
    version = event.originator_version
    if isinstance(event, LossAssessed):
        return changed(state, version=version, loss=event.loss_amount)
    if isinstance(event, ExclusionApplied):
        return changed(
            state, version=version, status=ClaimStatus.DENIED, exclusion=event.exclusion
        )
    if isinstance(event, PayoutIssued):
        payout = Payout(event.payout_id, event.amount, event.breakdown)
        return changed(state, version=version, payouts=(*state.payouts, payout))
    if isinstance(event, PayoutReversed):
        payouts = tuple(
            changed(p, reversed=True) if p.payout_id == event.payout_id else p
            for p in state.payouts
        )
        return changed(state, version=version, payouts=payouts)
    if isinstance(event, ClaimClosed):
        return changed(state, version=version, status=ClaimStatus.CLOSED)
    if isinstance(event, ClaimWithdrawn):
        return changed(state, version=version, status=ClaimStatus.WITHDRAWN)
    msg = f"Claim cannot apply {type(event).__name__}"
    raise TypeError(msg)


def project(state: Claim | None, events: Iterable[LedgerEvent]) -> Claim | None:
    for event in events:
        state = evolve(state, event)
    return state

