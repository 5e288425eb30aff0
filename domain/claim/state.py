"""A claim's state, how its events change it (``evolve``), and the notice time
bar it reports.

A claim is filed against one policy year and coverage; it is open until it is
denied, closed or withdrawn (a denial can be withdrawn and a closed claim
reopened). What is payable on it follows the payout rule of
``domain/payout.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from domain.claim.events import (
    ClaimClosed,
    ClaimFiled,
    ClaimReopened,
    ClaimWithdrawn,
    DenialWithdrawn,
    ExclusionApplied,
    LossAssessed,
    PartialExclusionApplied,
    PayoutApproved,
    PayoutIssued,
    PayoutRejected,
    PayoutRequested,
    PayoutReversed,
    RecoveryRecorded,
    ReserveSet,
)
from domain.events import EventStamp, LedgerEvent
from domain.money import ZERO, Yen
from domain.payout import PayoutBreakdown, payable_for_incident
from domain.state import changed
from domain.terms import NOTICE_TIME_BAR_YEARS, Coverage


def time_bar_ends(incident: date) -> date:
    """The last day of the time bar (保険法95条) counted from the incident: the
    same day ``NOTICE_TIME_BAR_YEARS`` later, or, with no such day (29
    February), the last day of that month (民法143条)."""
    year = incident.year + NOTICE_TIME_BAR_YEARS
    try:
        return incident.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def notice_time_barred(incident: date, notified_on: date | None) -> bool:
    """Whether a notice on ``notified_on`` came after the time bar ended (a notice
    of unknown date is not flagged)."""
    return notified_on is not None and notified_on > time_bar_ends(incident)


class ClaimStatus(StrEnum):
    OPEN = "open"
    DENIED = "denied"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"



@dataclass(frozen=True)
class Payout:
    payout_id: str
    amount: Yen
    breakdown: PayoutBreakdown
    reversed: bool = False


class HoldStatus(StrEnum):
    PENDING = "pending"
    ISSUED = "issued"
    """Issued at once, within the requester's authority."""
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Hold:
    """A payout requested with ``request_payout``, and how it was resolved."""

    payout_id: str
    amount: Yen
    requested_by: str
    breakdown: PayoutBreakdown
    due_on: date | None = None
    status: HoldStatus = HoldStatus.PENDING
    resolved_by: str | None = None


@dataclass(frozen=True)
class Recovery:
    recovery_id: str
    kind: str
    amount: Yen
    insured_share: Yen
    insurer_share: Yen
    counterparty: str


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
    notified_on: date | None = None
    channel: str | None = None
    excluded: Yen = ZERO
    """The part of the loss that partial exclusions took, in all."""
    incident_id: str | None = None
    reserve: Yen | None = None
    """The case reserve (支払備金); None for a claim filed before reserves were
    kept, until one is set."""
    holds: tuple[Hold, ...] = ()
    recoveries: tuple[Recovery, ...] = ()

    @property
    def held(self) -> Yen:
        """Held by payouts requested and awaiting approval."""
        return Yen(sum(h.amount for h in self.holds if h.status is HoldStatus.PENDING))

    def hold(self, payout_id: str) -> Hold | None:
        return next((h for h in self.holds if h.payout_id == payout_id), None)

    @property
    def next_payout_id(self) -> str:
        """The id of the claim's next payout or request (payout-1, payout-2, …)."""
        ids = {p.payout_id for p in self.payouts} | {h.payout_id for h in self.holds}
        return f"payout-{len(ids) + 1}"

    @property
    def outstanding(self) -> Yen:
        """Still payable: what the payout rule makes payable, less what is paid
        (the most a reserve may be)."""
        return self.payable.less(self.paid)

    @property
    def insurer_recovered(self) -> Yen:
        return Yen(sum(r.insurer_share for r in self.recoveries))

    @property
    def insured_recovered(self) -> Yen:
        return Yen(sum(r.insured_share for r in self.recoveries))

    @property
    def paid(self) -> Yen:
        """Paid on the claim, net of reversals."""
        return Yen(sum(p.amount for p in self.payouts if not p.reversed))

    @property
    def loss_after_exclusion(self) -> Yen:
        return self.loss.less(self.excluded)

    @property
    def payable(self) -> Yen:
        """What the payout rule makes payable on the claim as its own incident; for
        a claim of an incident of several claims, the most it can be paid (its loss
        after exclusions, within the per-incident limit: the incident's deductible
        and limit are shared with its other claims, see ``domain/incident.py``)."""
        deductible = ZERO if self.incident_id is not None else self.deductible
        return payable_for_incident(self.loss_after_exclusion, deductible,
                                    self.per_incident_limit)

    @property
    def notice_time_barred(self) -> bool:
        """The notice came more than 3 years after the incident (unknown: no)."""
        return notice_time_barred(self.incident_date, self.notified_on)

    def payout(self, payout_id: str) -> Payout | None:
        return next((p for p in self.payouts if p.payout_id == payout_id), None)


def next_fields(claim: Claim, stamp: EventStamp) -> dict[str, Any]:
    """The fields the claim's next event starts with."""
    return {
        **stamp.fields(claim.id, claim.version + 1),
        "claim_id": claim.claim_id,
        "policy_id": claim.policy_id,
        "policy_year": claim.policy_year,
        "coverage": claim.coverage,
    }


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
            notified_on=event.notified_on,
            channel=None if event.channel is None else str(event.channel),
            incident_id=event.incident_id,
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
        reserve = None if state.reserve is None else state.reserve.less(event.amount)
        return changed(state, version=version, payouts=(*state.payouts, payout),
                       reserve=reserve)
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
    if isinstance(event, PartialExclusionApplied):
        return changed(state, version=version, excluded=state.excluded + event.amount)
    if isinstance(event, DenialWithdrawn):
        return changed(state, version=version, status=ClaimStatus.OPEN, exclusion=None)
    if isinstance(event, ClaimReopened):
        return changed(state, version=version, status=ClaimStatus.OPEN)
    return _evolve_money(state, version, event)


def _evolve_money(state: Claim, version: int, event: LedgerEvent) -> Claim:
    """Reserves, holds and recoveries."""
    if isinstance(event, ReserveSet):
        return changed(state, version=version, reserve=event.reserve)
    if isinstance(event, PayoutRequested):
        hold = Hold(event.payout_id, event.amount, event.actor, event.breakdown,
                    event.due_on, HoldStatus.ISSUED if event.within_authority
                    else HoldStatus.PENDING, event.actor if event.within_authority else None)
        return changed(state, version=version, holds=(*state.holds, hold))
    if isinstance(event, PayoutApproved | PayoutRejected):
        status = HoldStatus.APPROVED if isinstance(event, PayoutApproved) else HoldStatus.REJECTED
        holds = tuple(changed(h, status=status, resolved_by=event.actor)
                      if h.payout_id == event.payout_id else h for h in state.holds)
        return changed(state, version=version, holds=holds)
    if isinstance(event, RecoveryRecorded):
        recovery = Recovery(event.recovery_id, event.kind, event.amount,
                            event.insured_share, event.insurer_share, event.counterparty)
        return changed(state, version=version, recoveries=(*state.recoveries, recovery))
    msg = f"Claim cannot apply {type(event).__name__}"
    raise TypeError(msg)


def project(state: Claim | None, events: Iterable[LedgerEvent]) -> Claim | None:
    for event in events:
        state = evolve(state, event)
    return state
