"""What a projection is: a named read model that applies facts from the log.

A ``Fact`` is one stored event as plain data (its name, position, recorded
time and upcast fields), decoded once per page and given to every projection.
A projection owns its tables for a given generation. It turns a batch of facts
into changes (plain data, without the database), then writes them inside the
caller's transaction; the job that feeds it records tracking in the same
transaction. Changes are plain data so that they can be computed in one process
and written in another.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import orjson

if TYPE_CHECKING:
    from sqlalchemy import Connection, Index, Table


@dataclass(slots=True)
class Fact:
    position: int
    name: str
    state: dict[str, Any]
    """The event's fields, upcast to the current version."""
    recorded_at: str
    """The recorded time as fixed-width UTC text (see ``recorded_time``)."""


def decoded(stored: Iterable[tuple[int, str, int, str, bytes]]) -> list[Fact]:
    """Facts of stored events given as (position, aggregate id, version, name,
    JSON as stored): parsed and upcast to their class's current version."""
    from domain.ledger.mapper import PydanticEventMapper  # (not for a read that decodes none)

    upcast = PydanticEventMapper.upcast_state
    loads = orjson.loads  # a little faster than pydantic's parser, the same values
    found = []
    for position, originator_id, version, name, data in stored:
        state = upcast(name, loads(data), originator_id, version)
        found.append(Fact(position, name, state, recorded_time(state["timestamp"])))
    return found


def recorded_time(value: str | datetime) -> str:
    """A recorded time as fixed-width UTC text, so text order is time order."""
    if isinstance(value, str) and value.endswith("Z"):
        # The shapes the ledger's events store: whole seconds or microseconds.
        if len(value) == 20:
            return value[:-1] + ".000000Z"
        if len(value) == 27:
            return value
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Projection(Protocol):
    name: str
    schema_version: int
    """Raise it when the tables change: the read model is then rebuilt."""
    events: frozenset[str] | None
    """The names of the events it reads (only those are decoded for it), or
    None for every event."""

    def tables(self, generation: int) -> list[Table]:
        """The tables of one generation (created empty by a build)."""

    def indexes(self, generation: int, dialect: str) -> list[Index]:
        """Secondary indexes, created when a build finishes (``dialect``: the read
        database's SQLAlchemy dialect name)."""

    def changes(self, facts: list[Fact]) -> Any:
        """What a batch of facts, in log order, changes in the tables: plain data
        (lists, tuples, numbers, text), computed without the database."""

    def write(self, conn: Connection, generation: int, changes: Any) -> None:
        """Write ``changes`` to the tables of ``generation``."""
