"""The event feed: the log's events in position order, each as it is stored,
for the services around the ledger (the payment run, accounting, notices), with
the cursor to resume from; the HTTP API (``GET /feed``, and Server-Sent Events)
and ``claims-ledger feed`` show the same items.

The position is the log's own notification id. A reader that resumes after
the last position it saw never skips an event that commits later: on SQLite
one writer commits at a time, and on PostgreSQL the library locks the events
table on every insert, so positions become visible in commit order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from adapters.service.times import MAX_POSITION
from domain.events import event_names
from domain.ledger import Ledger
from domain.ledger.mapper import PydanticEventMapper

MAX_LIMIT = 1000
"""Most items one page may hold."""
MAX_WAIT = 60.0
"""Longest a request may ask to be held open waiting for an event (seconds)."""


class BadFeedQuery(ValueError):
    """A feed argument refused: ``field`` and ``rule`` name it."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(f"{field}: {message} [{rule}]")
        self.field, self.rule, self.message = field, rule, message


def event_types(text: str | None) -> tuple[str, ...]:
    """The event names of a ``types`` argument (comma-separated; none: every
    event), each one the ledger records, or ``BadFeedQuery``."""
    if text is None:
        return ()
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",")))
    known = set(event_names())
    unknown = [n for n in names if n not in known]
    if unknown:
        raise BadFeedQuery("types", "known_event_type",
                           f"{', '.join(repr(n) for n in unknown)} is not an event the ledger "
                           "records (see the OpenAPI document for the names)")
    return names


@dataclass(frozen=True)
class FeedPage:
    items: list[dict[str, Any]]
    next_after: int
    """The position to ask for events after, to go on from this page: its last
    item's, or (a page not full) the head of the log when it was read, so a
    reader of a few event types does not read the others again."""

    def as_json(self) -> dict[str, Any]:
        return {"items": self.items, "next_after": self.next_after}


def head(ledger: Ledger) -> int:
    """The position of the last event in the log (0 when it is empty)."""
    return ledger.recorder.max_notification_id() or 0


def page(ledger: Ledger, after: int, limit: int, types: tuple[str, ...] = ()) -> FeedPage:
    """Up to ``limit`` events after position ``after``, in position order
    (only those named in ``types``, if given)."""
    mapper = ledger.mapper
    assert isinstance(mapper, PydanticEventMapper)
    if after >= MAX_POSITION:  # nothing can follow the last position
        return FeedPage([], after)
    # Read before the events: every position up to it has committed.
    top = head(ledger)
    notifications = ledger.recorder.select_notifications(after + 1, limit, topics=types)
    items = [item(n.id, str(n.originator_id), n.originator_version, n.topic,
                  mapper.stored_json(n)) for n in notifications]
    last = items[-1]["position"] if items else after
    return FeedPage(items, last if len(items) == limit else max(last, top, after))


def item(position: int, aggregate_id: str, version: int, name: str,
         stored: bytes) -> dict[str, Any]:
    """One event of the feed: where it is, who recorded it, when and under which
    command, and its payload exactly as the log stores it (its JSON; text if the
    stored bytes are not JSON)."""
    try:
        payload: Any = orjson.loads(stored)
    except orjson.JSONDecodeError:
        payload = stored.decode("utf-8", errors="replace")
    fields = payload if isinstance(payload, dict) else {}
    return {"position": position, "aggregate_id": aggregate_id, "version": version,
            "event": name, "recorded_at": fields.get("timestamp"),
            "actor": fields.get("actor"), "command_id": fields.get("command_id"),
            "payload": payload}
