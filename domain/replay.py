"""Replay by kind: the one table from a kind of record to the functions that
fold its events into its state.

Every aggregate's state is its events folded with its own ``evolve`` (one
event) or ``project`` (many, from a state or from nothing); which ones an event
needs follows from its aggregate id (``domain/ids.py``). Whoever replays the log
(the ledger, the read side's check, the export's replay) finds them here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from typing import Any, NamedTuple

from domain import authority, claim, command_record, incident, policy, policy_year
from domain.events import LedgerEvent
from domain.ids import Kind, aggregate_kind


class Fold(NamedTuple):
    """How one kind of record is replayed."""

    evolve: Callable[[Any, LedgerEvent], Any]
    """The state after one more event (the state before it: None for the first)."""
    project: Callable[[Any, Iterable[LedgerEvent]], Any]
    """The state after the events (None if there are none and no state before)."""


FOLDS: dict[Kind, Fold] = {
    "policy": Fold(policy.evolve, policy.project),
    "policy_year": Fold(policy_year.evolve, policy_year.project),
    "claim": Fold(claim.evolve, claim.project),
    "incident": Fold(incident.evolve, incident.project),
    "authority": Fold(authority.evolve, authority.project),
    "command": Fold(command_record.evolve, command_record.project),
}


def projector_of(aggregate_id: str) -> Callable[[Any, Iterable[LedgerEvent]], Any]:
    """The ``project`` function of the record ``aggregate_id`` names."""
    return FOLDS[aggregate_kind(aggregate_id)].project


def evolve_any(states: MutableMapping[str, Any], event: LedgerEvent) -> Any:
    """Fold ``event`` into its record's state in ``states`` (by aggregate id),
    whatever kind of record it is; return the new state."""
    aggregate_id = event.originator_id
    state = FOLDS[aggregate_kind(aggregate_id)].evolve(states.get(aggregate_id), event)
    states[aggregate_id] = state
    return state
