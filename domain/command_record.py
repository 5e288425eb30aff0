"""Idempotency: the record of an accepted command, kept under its command id.

When a command carries a ``command_id``, the ledger appends ``CommandAccepted``
to the aggregate ``command:<id>`` in the same transaction as the command's own
events. A second command with that id finds the record: the same command gets
the first outcome back and nothing is appended; a different command is refused.
Two writers racing with one id collide on version 1 of the record, so at most
one of them is applied.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from domain.events import LedgerEvent


def fingerprint(command: dict[str, Any]) -> str:
    """A digest of the command's content, independent of key order."""
    canonical = json.dumps(command, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class CommandAccepted(LedgerEvent):
    event_name = "CommandAccepted"

    command: dict[str, Any]
    fingerprint: str
    events: list[dict[str, Any]]
    result: dict[str, Any]


@dataclass(frozen=True)
class CommandRecord:
    id: str
    version: int
    accepted: CommandAccepted


def evolve(state: CommandRecord | None, event: LedgerEvent) -> CommandRecord:
    if not isinstance(event, CommandAccepted):
        msg = f"CommandRecord cannot apply {type(event).__name__}"
        raise TypeError(msg)
    return CommandRecord(event.originator_id, event.originator_version, event)


def project(
    state: CommandRecord | None, events: Iterable[LedgerEvent]
) -> CommandRecord | None:
    for event in events:
        state = evolve(state, event)
    return state
