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

from domain.claim.events import (
    ClaimClosed,
    ClaimFiled,
    ClaimReopened,
    ClaimWithdrawn,
    DenialWithdrawn,
    ExclusionApplied,
    LossAssessed,
    PartialExclusionApplied,
    PayoutIssued,
    PayoutReversed,
)
from domain.events import LedgerEvent
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
    if isinstance(event, PartialExclusionApplied):
        return changed(state, version=version, excluded=state.excluded + event.amount)
    if isinstance(event, DenialWithdrawn):
        return changed(state, version=version, status=ClaimStatus.OPEN, exclusion=None)
    if isinstance(event, ClaimReopened):
        return changed(state, version=version, status=ClaimStatus.OPEN)
    msg = f"Claim cannot apply {type(event).__name__}"
    raise TypeError(msg)


def project(state: Claim | None, events: Iterable[LedgerEvent]) -> Claim | None:
    for event in events:
        state = evolve(state, event)
    return state
