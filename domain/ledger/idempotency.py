"""The ledger's side of idempotency: a command id is applied once.

A command that carries a ``command_id`` is saved with its record
(``CommandAccepted``, see ``domain/command_record.py``) in the same commit as
its own events. A retry finds the record and gets the first outcome back; a
different command under the same id is refused. A command without an id whose
save failed is looked for in the log under the id the ledger gave it, in case
an earlier try had committed but its answer was lost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from eventsourcing.persistence import ApplicationRecorder, EventStore, StoredEvent

from domain.command_record import CommandAccepted, CommandRecord, fingerprint
from domain.command_record import project as project_record
from domain.commands import Command
from domain.errors import IdempotencyConflict
from domain.events import EventStamp, LedgerEvent
from domain.ids import command_record_id
from domain.ledger.batch_cache import StateCache
from domain.ledger.outcome import AppendedEvent, Outcome


@runtime_checkable
class ReadsFirstEvents(Protocol):
    """A recorder that reads the first event of many records in one query (the
    sealing recorders can): how a batch looks up its command ids."""

    def first_events(self, originator_ids: list[str]) -> list[StoredEvent]: ...


def content(command: Command) -> dict[str, Any]:
    """What a command id stands for: the command without its id."""
    return command.model_dump(mode="json", exclude={"command_id"})


def replay_of(command: Command, record: CommandRecord | None) -> Outcome | None:
    """The first outcome of ``command``'s id if it was applied before (None if
    not); a different command under that id is refused."""
    assert command.command_id is not None
    if record is None:
        return None
    accepted = record.accepted
    if accepted.fingerprint != fingerprint(content(command)):
        raise IdempotencyConflict.of(
            "command_id",
            "same_command_same_id",
            f"command id {command.command_id} was already used for a different "
            f"{accepted.command['command']} command",
        )
    return Outcome(
        command=command.command,
        command_id=command.command_id,
        replayed=True,
        events=tuple(AppendedEvent(position=None, **e) for e in accepted.events),
        result=accepted.result,
    )


def acceptance(command: Command, stamp: EventStamp, events: list[LedgerEvent],
               result: dict[str, Any]) -> CommandAccepted:
    """The record of ``command`` (which carries an id), saved with its events."""
    assert command.command_id is not None
    recorded = content(command)
    return CommandAccepted(
        **stamp.fields(command_record_id(command.command_id), 1),
        command=recorded,
        fingerprint=fingerprint(recorded),
        events=[
            {
                "aggregate_id": e.originator_id,
                "version": e.originator_version,
                "event": e.event_name,
            }
            for e in events
        ],
        result=result,
    )


def committed(events: EventStore[str], first: LedgerEvent, command_id: str) -> bool:
    """Whether the event a save tried to append first is already stored, under
    ``command_id``: then the command is in the log already."""
    stored = list(events.get(
        first.originator_id, gt=first.originator_version - 1,
        lte=first.originator_version))
    return bool(stored) and getattr(stored[0], "command_id", None) == command_id


def read_records(commands: Sequence[Command], states: dict[str, Any], cache: StateCache,
                 recorder: ApplicationRecorder,
                 decode: Callable[[StoredEvent], LedgerEvent]) -> None:
    """Put the record of every command id in a batch into the batch's view
    (``states``), read from the log in one query. A record is immutable, so one
    the cache holds is taken as it is; the cache's word that a record is absent
    is not, since another process may have written it since."""
    wanted = []
    for command in commands:
        if command.command_id is None:
            continue
        aggregate_id = command_record_id(command.command_id)
        if aggregate_id in states:
            continue
        found, cached = cache.get(aggregate_id)
        if found and cached is not None:
            states[aggregate_id] = cached
            continue
        states[aggregate_id] = None
        wanted.append(aggregate_id)
    if not wanted:
        return
    if isinstance(recorder, ReadsFirstEvents):
        stored = recorder.first_events(wanted)
    else:
        stored = [e for i in wanted for e in recorder.select_events(i, lte=1)]
    for event in stored:
        record = project_record(None, [decode(event)])
        assert record is not None
        states[record.id] = record
