"""A policy year and an incident as their own events tell them, at each of a
claim's draws, restorations, holds and releases: what an explanation checks a
payout's (or a hold's) recorded figures against.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain import incident as incident_module
from domain.claim import ClaimFiled
from domain.events import LedgerEvent
from domain.incident import Incident, IncidentDrawn, IncidentRestored
from domain.policy_year import (
    AnnualLimitDrawn,
    AnnualLimitHeld,
    AnnualLimitReleased,
    AnnualLimitRestored,
    CoverageAttached,
)

YearChange = AnnualLimitDrawn | AnnualLimitRestored | AnnualLimitHeld | AnnualLimitReleased
_KINDS: dict[type, tuple[str, int]] = {
    AnnualLimitDrawn: ("drawn", -1), AnnualLimitRestored: ("restored", 1),
    AnnualLimitHeld: ("held", -1), AnnualLimitReleased: ("released", 1)}
"""Each change of the annual remaining: its key and its sign (the remaining is
the limit less what is paid and what is held)."""


class YearRecord:
    """The policy year's coverage as its own events tell it, up to each draw,
    restoration, hold and release (keyed by kind, claim and payout)."""

    def __init__(self, year_events: Sequence[LedgerEvent], claim: ClaimFiled) -> None:
        self.attached = next(
            (e for e in year_events if isinstance(e, CoverageAttached)
             and e.coverage == claim.coverage), None)
        self.remaining_before: dict[tuple[str, str, str], int] = {}
        self.recorded: dict[tuple[str, str, str], YearChange] = {}
        remaining = self.attached.annual_limit if self.attached else 0
        for e in year_events:
            if isinstance(e, YearChange) and e.coverage == claim.coverage:
                kind, sign = _KINDS[type(e)]
                key = (kind, e.claim_id, e.payout_id)
                self.remaining_before[key] = remaining
                self.recorded[key] = e
                remaining += sign * e.amount


class IncidentRecord:
    """The incident's record as its own events tell it, before each of the
    claim's draws and restorations (nothing for a claim that is its own
    incident)."""

    def __init__(self, incident_events: Sequence[LedgerEvent], claim: ClaimFiled) -> None:
        self.incident_id = claim.incident_id
        self.before: dict[tuple[str, str], Incident] = {}
        self.recorded: dict[tuple[str, str], IncidentDrawn | IncidentRestored] = {}
        state: Incident | None = None
        for e in incident_events:
            if isinstance(e, IncidentDrawn | IncidentRestored) and state is not None and \
                    e.claim_id == claim.claim_id:
                key = ("drawn" if isinstance(e, IncidentDrawn) else "restored", e.payout_id)
                self.before[key] = state
                self.recorded[key] = e
            state = incident_module.evolve(state, e)

