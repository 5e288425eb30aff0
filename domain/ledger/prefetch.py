"""Reading ahead: the records a batch of commands will decide on that neither
its view nor the ledger's cache holds, read from the log in a few queries
instead of one read per record while the commands are decided.

A batch's commands name the records they read: a claim's filing its policy
(and that policy's years), a decision on a claim the claim, and once the claim
is known its policy year, policy and incident. ``read_ahead`` reads those in two
rounds (the named records, then the ones the claims lead to) and puts each
found in the batch's view, as the decide step's own read of it would have.
A record the cache holds (current or set aside) is left to it, and so is one a
command of the batch creates, or one the log does not hold: each is read as
before when a command needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from eventsourcing.persistence import ApplicationRecorder, StoredEvent

from domain.claim import Claim
from domain.commands import AttachCoverage, Command, FileClaim
from domain.events import LedgerEvent
from domain.ids import claim_id_of, incident_id_of, policy_id_of, policy_year_id
from domain.ledger.batch_cache import StateCache
from domain.policy import Policy
from domain.replay import projector_of


@runtime_checkable
class ReadsManyRecords(Protocol):
    """A recorder that reads every event of many records in one query (the
    sealing recorders can), in order of record and version."""

    def events_of(self, originator_ids: list[str]) -> list[StoredEvent]: ...


def read_ahead(commands: Sequence[Command], states: dict[str, Any], cache: StateCache,
               recorder: ApplicationRecorder,
               decode: Callable[[StoredEvent], LedgerEvent]) -> None:
    """Put into the batch's view (``states``) the records its commands will
    read that it must read from the log (see the module's docstring)."""
    if not isinstance(recorder, ReadsManyRecords):
        return
    created: set[str] = set()  # a record is created before any command reads it
    named: dict[str, Any] = {}
    for command in commands:
        if isinstance(command, AttachCoverage):
            created.add(policy_id_of(command.policy_id))
            continue
        if isinstance(command, FileClaim):
            created.add(claim_id_of(command.claim_id))
            aggregate_id = policy_id_of(command.policy_id)
        elif (claim_id := getattr(command, "claim_id", None)) is not None:
            aggregate_id = claim_id_of(claim_id)
        elif (policy_id := getattr(command, "policy_id", None)) is not None:
            aggregate_id = policy_id_of(policy_id)
        else:
            continue
        if aggregate_id not in created and aggregate_id not in named:
            named[aggregate_id] = (states[aggregate_id] if aggregate_id in states
                                   else cache.known(aggregate_id))
    named |= _read([i for i, state in named.items() if state is None and i not in states],
                   states, recorder, decode)
    led = dict.fromkeys(i for state in named.values() for i in _led_to(state))
    _read([i for i in led if i not in states and cache.known(i) is None], states,
          recorder, decode)


def _led_to(state: Any) -> list[str]:
    """The records a command reading ``state`` goes on to read."""
    if isinstance(state, Policy):
        return [policy_year_id(state.policy_id, y.year) for y in state.years]
    if isinstance(state, Claim):
        led = [policy_year_id(state.policy_id, state.policy_year), policy_id_of(state.policy_id)]
        if state.incident_id is not None:
            led.append(incident_id_of(state.policy_id, state.coverage, state.incident_id))
        return led
    return []


def _read(wanted: list[str], states: dict[str, Any], recorder: ReadsManyRecords,
          decode: Callable[[StoredEvent], LedgerEvent]) -> dict[str, Any]:
    """Read these records from the log into ``states``; return those found."""
    if not wanted:
        return {}
    found: dict[str, list[LedgerEvent]] = {}
    for stored in recorder.events_of(wanted):
        found.setdefault(str(stored.originator_id), []).append(decode(stored))
    read = {i: projector_of(i)(None, events) for i, events in found.items()}
    states.update(read)
    return read
