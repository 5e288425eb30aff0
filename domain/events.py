"""What every ledger event is, how events are named, and how they are stored.

Events are frozen pydantic models. Each carries, beside its business facts, who
recorded it (``actor``), under which command (``command_id``) and when
(``timestamp``, the recorded time, UTC). Each concrete event declares a stable
``event_name`` that is stored instead of its Python location, so modules can be
moved without breaking old logs, and a ``class_version``; a stored event of an
older version is upcast with the class's ``upcast_vN_vN+1`` static methods
(how events are stored is ``domain/ledger/mapper.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

_REGISTRY: dict[str, type[LedgerEvent]] = {}


class LedgerEvent(BaseModel):
    """Base of every event the ledger records."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    originator_id: str
    originator_version: int
    timestamp: datetime
    actor: str
    command_id: str

    event_name: ClassVar[str] = ""
    class_version: ClassVar[int] = 1

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        name = cls.__dict__.get("event_name")
        if not name:
            return
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not cls:
            msg = f"event name {name!r} used by {existing} and {cls}"
            raise TypeError(msg)
        _REGISTRY[name] = cls


TEvent = TypeVar("TEvent", bound=LedgerEvent)

EVENT_CLASSES: Mapping[str, type[LedgerEvent]] = _REGISTRY
"""Every event class by the name it is stored under (a read-only view, for the
mapper's lookups)."""


def event_class(name: str) -> type[LedgerEvent]:
    """The event class stored under ``name``."""
    return _REGISTRY[name]


def event_names() -> tuple[str, ...]:
    return tuple(sorted(_REGISTRY))


class EventStamp(BaseModel):
    """Who records events, under which command, and when: the same for every
    event one command appends."""

    model_config = ConfigDict(frozen=True)

    actor: str
    command_id: str
    recorded_at: datetime

    def fields(self, originator_id: str, originator_version: int) -> dict[str, Any]:
        return {
            "originator_id": originator_id,
            "originator_version": originator_version,
            "timestamp": self.recorded_at,
            "actor": self.actor,
            "command_id": self.command_id,
        }
