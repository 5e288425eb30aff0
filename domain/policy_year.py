"""The PolicyYear aggregate: one policy year's coverages and annual limits.

A policy year opens with one ``CoverageAttached`` per coverage, each copying the
terms in force (limits, deductible, trigger, terms version), so the year can be
replayed without looking anything up. It is the consistency boundary for the
annual aggregate: every payout draws on it (``AnnualLimitDrawn``) and every
reversal restores it (``AnnualLimitRestored``), and a payout requested for
approval holds part of it until it is resolved (``AnnualLimitHeld``,
``AnnualLimitReleased``), in the same transaction as the claim's own event,
so optimistic concurrency on this aggregate means no sequence of commands,
concurrent or not, pays and holds more than the year's limit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from domain.events import EventStamp, LedgerEvent
from domain.ids import policy_year_id as policy_year_id  # re-exported (the scheme lives in ids)
from domain.money import ZERO, Yen
from domain.state import changed
from domain.terms import Coverage, TermSet, Trigger


class PolicyYearEvent(LedgerEvent):
    """An event of one policy year; it names the policy and the year."""

    policy_id: str
    policy_year: int


class CoverageAttached(PolicyYearEvent):
    event_name = "CoverageAttached"

    period_start: date
    period_end: date
    coverage: Coverage
    terms_version: str
    per_incident_limit: Yen
    annual_limit: Yen
    deductible: Yen
    trigger: Trigger


class CoverPeriodChanged(PolicyYearEvent):
    """Cover's end moved (the service ended or its end was corrected, or the
    firewall option was cancelled): the year's covered days now end on
    ``period_end`` (the day before ``period_start`` if none of it is covered).
    One per coverage, as ``CoverageAttached``."""

    event_name = "CoverPeriodChanged"

    coverage: Coverage
    period_start: date
    period_end: date
    previous_end: date
    reason: str


class AnnualLimitDrawn(PolicyYearEvent):
    event_name = "AnnualLimitDrawn"

    coverage: Coverage
    claim_id: str
    payout_id: str
    amount: Yen
    remaining_before: Yen
    remaining_after: Yen


class AnnualLimitRestored(PolicyYearEvent):
    event_name = "AnnualLimitRestored"

    coverage: Coverage
    claim_id: str
    payout_id: str
    amount: Yen
    remaining_before: Yen
    remaining_after: Yen


class AnnualLimitHeld(PolicyYearEvent):
    """A payout requested and awaiting approval holds ``amount`` of the year's
    limit (``remaining`` is the limit less what is paid and what is held)."""

    event_name = "AnnualLimitHeld"

    coverage: Coverage
    claim_id: str
    payout_id: str
    amount: Yen
    remaining_before: Yen
    remaining_after: Yen


class AnnualLimitReleased(PolicyYearEvent):
    """A hold resolved: ``amount`` held is released (an approval then draws what
    it issues, in the same commit)."""

    event_name = "AnnualLimitReleased"

    coverage: Coverage
    claim_id: str
    payout_id: str
    amount: Yen
    remaining_before: Yen
    remaining_after: Yen


@dataclass(frozen=True)
class CoverageInForce:
    """One coverage of one policy year: the terms copied in, and what is drawn."""

    coverage: Coverage
    terms_version: str
    per_incident_limit: Yen
    annual_limit: Yen
    deductible: Yen
    trigger: Trigger
    paid: Yen = ZERO
    reversed: Yen = ZERO
    held: Yen = ZERO
    """Held by payouts requested and awaiting approval."""

    @property
    def drawn(self) -> Yen:
        return self.paid - self.reversed

    @property
    def remaining(self) -> Yen:
        """What a new payout or hold may still use: paid + held never exceed the
        annual limit."""
        return self.annual_limit - self.drawn - self.held


@dataclass(frozen=True)
class PolicyYear:
    id: str
    version: int
    policy_id: str
    year: int
    period_start: date
    period_end: date
    coverages: tuple[CoverageInForce, ...]

    def coverage(self, coverage: Coverage) -> CoverageInForce:
        return next(c for c in self.coverages if c.coverage == coverage)

    def _with(self, event: LedgerEvent, updated: CoverageInForce) -> PolicyYear:
        coverages = tuple(
            updated if c.coverage == updated.coverage else c for c in self.coverages
        )
        return changed(self, version=event.originator_version, coverages=coverages)


def attach_coverages(
    stamp: EventStamp,
    *,
    policy_id: str,
    year: int,
    period_start: date,
    period_end: date,
    terms: TermSet,
) -> list[LedgerEvent]:
    """Open a policy year: one ``CoverageAttached`` per coverage of the terms."""
    aggregate_id = policy_year_id(policy_id, year)
    return [
        CoverageAttached(
            **stamp.fields(aggregate_id, version),
            policy_id=policy_id,
            policy_year=year,
            period_start=period_start,
            period_end=period_end,
            coverage=c.coverage,
            terms_version=terms.version,
            per_incident_limit=c.per_incident_limit,
            annual_limit=c.annual_limit,
            deductible=c.deductible,
            trigger=c.trigger,
        )
        for version, c in enumerate(terms.coverages, start=1)
    ]


def change_period(
    year: PolicyYear, period_end: date, reason: str, stamp: EventStamp
) -> list[LedgerEvent]:
    """The year's covered days end on ``period_end``: one event per coverage."""
    return [
        CoverPeriodChanged(
            **stamp.fields(year.id, year.version + n),
            policy_id=year.policy_id,
            policy_year=year.year,
            coverage=c.coverage,
            period_start=year.period_start,
            period_end=period_end,
            previous_end=year.period_end,
            reason=reason,
        )
        for n, c in enumerate(year.coverages, start=1)
    ]


def evolve(state: PolicyYear | None, event: LedgerEvent) -> PolicyYear:
    if isinstance(event, CoverageAttached):
        attached = CoverageInForce(
            coverage=event.coverage,
            terms_version=event.terms_version,
            per_incident_limit=event.per_incident_limit,
            annual_limit=event.annual_limit,
            deductible=event.deductible,
            trigger=event.trigger,
        )
        if state is None:
            return PolicyYear(
                id=event.originator_id,
                version=event.originator_version,
                policy_id=event.policy_id,
                year=event.policy_year,
                period_start=event.period_start,
                period_end=event.period_end,
                coverages=(attached,),
            )
        return changed(
            state,
            version=event.originator_version,
            coverages=(*state.coverages, attached),
        )
    if state is None:
        msg = f"{event.event_name} before the policy year was opened"
        raise ValueError(msg)
    if isinstance(event, AnnualLimitDrawn):
        c = state.coverage(event.coverage)
        return state._with(event, changed(c, paid=c.paid + event.amount))
    if isinstance(event, AnnualLimitRestored):
        c = state.coverage(event.coverage)
        return state._with(event, changed(c, reversed=c.reversed + event.amount))
    if isinstance(event, AnnualLimitHeld):
        c = state.coverage(event.coverage)
        return state._with(event, changed(c, held=c.held + event.amount))
    if isinstance(event, AnnualLimitReleased):
        c = state.coverage(event.coverage)
        return state._with(event, changed(c, held=c.held - event.amount))
    if isinstance(event, CoverPeriodChanged):
        return changed(state, version=event.originator_version, period_end=event.period_end)
    msg = f"PolicyYear cannot apply {type(event).__name__}"
    raise TypeError(msg)


def project(state: PolicyYear | None, events: Iterable[LedgerEvent]) -> PolicyYear | None:
    for event in events:
        state = evolve(state, event)
    return state
