"""What a command did, as the ledger answers it: the events it appended, where
they were stored, and a summary of the result; or the refusal a batch returns
in its place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, SkipValidation

from domain.command_record import CommandAccepted
from domain.commands import Command
from domain.errors import DecisionFailed, LedgerError
from domain.events import LedgerEvent

log = logging.getLogger("claims_ledger.ledger")
R = TypeVar("R")


class AppendedEvent(BaseModel):
    """One event a command appended: its log position (None until found, for a
    replay), its record and version there, and its name."""

    model_config = ConfigDict(frozen=True)

    position: int | None
    aggregate_id: str
    version: int
    event: str


class Outcome(BaseModel):
    """What a command did: the events it appended and a summary of the result.

    ``replayed`` is true when the command id had been applied before: the first
    outcome is returned, with the positions its events were stored at, and
    nothing new is appended."""

    model_config = ConfigDict(frozen=True)

    command: str
    command_id: str
    replayed: bool
    events: tuple[AppendedEvent, ...]
    result: SkipValidation[dict[str, Any]]
    """Built by the ledger itself from decided state, so not validated again."""

    def as_json(self) -> dict[str, Any]:
        """What ``model_dump(mode="json")`` gives, built directly (``result`` is
        already JSON data, and is shared, not copied)."""
        return {"command": self.command, "command_id": self.command_id,
                "replayed": self.replayed,
                "events": [{"position": e.position, "aggregate_id": e.aggregate_id,
                            "version": e.version, "event": e.event} for e in self.events],
                "result": self.result}


class Planned(NamedTuple):
    """A command of a batch, decided and waiting for the batch's commit."""

    slot: int
    """Where its result goes among the batch's."""
    command: Command
    events: list[LedgerEvent]
    result: dict[str, Any]
    command_id: str

    def untried(self) -> Outcome:
        """What it would do in a dry run: its events, never stored, have no
        position."""
        return outcome(self.command, self.command_id, [(None, e) for e in self.events],
                       self.result)


@runtime_checkable
class FindsPositions(Protocol):
    """A recorder that finds the log positions of events by (record, version)
    with the log's own index (the sealing recorders can)."""

    def positions(self, keys: list[tuple[str, int]]) -> dict[tuple[str, int], int]: ...


def outcome(command: Command, command_id: str,
            appended: Sequence[tuple[int | None, LedgerEvent]],
            result: dict[str, Any]) -> Outcome:
    """What a committed command did (its idempotency record is not shown). The
    events go in as plain dicts, which pydantic's compiled validator turns into
    ``AppendedEvent`` faster than ``model_construct`` would in Python."""
    return Outcome(
        command=command.command, command_id=command_id, replayed=False,
        events=[{"position": position, "aggregate_id": e.originator_id,
                 "version": e.originator_version, "event": e.event_name}
                for position, e in appended if not isinstance(e, CommandAccepted)],
        result=result)


def lost_answer(command: Command, command_id: str, events: Sequence[LedgerEvent],
                result: dict[str, Any]) -> Outcome:
    """What a command did whose first try committed but whose answer was lost:
    a replay, its positions still to be found (see ``placed``)."""
    return Outcome(
        command=command.command, command_id=command_id, replayed=True,
        events=tuple(AppendedEvent(position=None, aggregate_id=e.originator_id,
                                   version=e.originator_version, event=e.event_name)
                     for e in events),
        result=result,
    )


def placed(results: Sequence[R | None],
           positions: Callable[[list[tuple[str, int]]], dict[tuple[str, int], int]],
           ) -> list[R]:
    """The results (None left out) with every replayed outcome given the
    positions its events were first stored at, found by ``positions`` in one
    go."""
    keys = [(e.aggregate_id, e.version) for r in results
            if isinstance(r, Outcome) and r.replayed for e in r.events]
    if not keys:
        return [r for r in results if r is not None]
    found = positions(keys)
    done: list[R] = []
    for r in results:
        if isinstance(r, Outcome) and r.replayed:
            r = r.model_copy(update={"events": tuple(
                e.model_copy(update={"position": found.get((e.aggregate_id, e.version))})
                for e in r.events)})
        if r is not None:
            done.append(r)
    return done


def answer(refused: LedgerError) -> LedgerError:
    """A refusal as a batch returns it: an answer, not a crash, so it keeps no
    traceback (whose frames would hold the whole batch alive in a cycle)."""
    refused.__context__ = None
    return refused.with_traceback(None)


def failed(command: Command, failure: Exception) -> LedgerError:
    """A command whose decision failed unexpectedly, as its own refusal: the
    commands beside it in the batch are decided and committed without it."""
    log.error("command %s (%s) could not be decided", command.command_id or "(no id)",
              command.command, exc_info=failure)
    return answer(DecisionFailed.of(
        None, "decidable", f"the ledger could not decide this {command.command} command "
        f"({type(failure).__name__}); nothing was appended for it"))
