"""The seal: a hash chain over the event log, and its verification.

Each stored event gets a link: SHA-256 over the previous link, its position,
aggregate id, version, event name, recorded time and the payload bytes exactly
as stored. The first link chains to a genesis hash made from the ledger's own
random id, so a checkpoint of one ledger never matches another. Links are
written by the sealing recorders (``adapters.storage.sealed_recorders``) in the same
transaction as the events, so every committed event is sealed at commit: an
event without a link was written outside the ledger. Checkpoints (position,
hash, time) are recorded about every ``CHECKPOINT_EVERY`` events and by
``claims-ledger seal``; an auditor keeps a checkpoint file outside the system.

``verify`` recomputes the chain from the stored events and names the first
position where anything was edited, deleted, inserted, reordered or truncated.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, Protocol

import orjson
from eventsourcing.persistence import Notification
from pydantic import BaseModel, ConfigDict, ValidationError

ALGORITHM = "sha256-chain-v1"
CHECKPOINT_EVERY = 1000
PAGE = 2000


class SealError(Exception):
    """Bad input to the seal tools (an unreadable or foreign checkpoint)."""


def first_problem(exc: ValidationError) -> str:
    """The first thing wrong with a file's content, with where it is."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where + ': ' if where else ''}{first['msg']}"


def genesis(ledger_id: str) -> bytes:
    """The hash the first link chains to: the ledger's own."""
    return hashlib.sha256(f"claims-ledger seal v1\x00{ledger_id}".encode()).digest()


_TIMESTAMP_FIRST = b'{"timestamp":"'


def recorded_time(payload: bytes) -> str:
    """The recorded time (``timestamp``) of a stored payload, as stored."""
    if payload.startswith(_TIMESTAMP_FIRST):  # the ledger's own events: no parse needed
        end = payload.find(b'"', len(_TIMESTAMP_FIRST))
        if end > 0:
            return payload[len(_TIMESTAMP_FIRST):end].decode()
    try:
        value = orjson.loads(payload).get("timestamp", "")
    except (orjson.JSONDecodeError, AttributeError):
        return ""  # an enciphered payload: its bytes are chained all the same
    return value if isinstance(value, str) else ""


def link(prev: bytes, position: int, aggregate_id: str, version: int, event_name: str,
         payload: bytes) -> bytes:
    """The link of one stored event, chained to ``prev``: SHA-256 over ``prev``,
    position and version (8 bytes each, big-endian), then the aggregate id, the
    event name, the recorded time and the payload, each preceded by its length
    (8 bytes)."""
    return chain(prev, [(position, aggregate_id, version, event_name, payload)])[-1]


def chain(prev: bytes, events: Iterable[tuple[int, str, int, str, bytes]]) -> list[bytes]:
    """The links of stored events (position, aggregate id, version, event name,
    payload) one after another, the first chained to ``prev`` (see ``link``)."""
    links = []
    sha256, header, length = hashlib.sha256, _HEADER.pack, _LENGTH.pack
    start = len(_TIMESTAMP_FIRST)
    for position, aggregate_id, version, event_name, payload in events:
        aggregate = aggregate_id.encode()
        name = event_name.encode()
        end = payload.find(b'"', start) if payload.startswith(_TIMESTAMP_FIRST) else -1
        recorded = payload[start:end] if end > 0 else recorded_time(payload).encode()
        prev = sha256(b"".join((
            prev, header(position, version, len(aggregate)), aggregate,
            length(len(name)), name, length(len(recorded)), recorded,
            length(len(payload)), payload,
        ))).digest()
        links.append(prev)
    return links


_HEADER = struct.Struct(">QQQ")
_LENGTH = struct.Struct(">Q")


def payload_of(n: Notification) -> bytes:
    """The stored payload's bytes (a row edited by hand may hold text instead)."""
    state: bytes | str = n.state
    return state.encode() if isinstance(state, str) else bytes(state)


def link_of(prev: bytes, n: Notification) -> bytes:
    return link(prev, n.id, str(n.originator_id), n.originator_version, n.topic,
                payload_of(n))


class Checkpoint(BaseModel):
    """The chain's hash at one position, and when it was recorded."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    position: int
    hash: str
    sealed_at: str


class CheckpointFile(BaseModel):
    """What an auditor keeps outside the system: the ledger's id, the last
    checkpoint and the trail of earlier ones (so a rewritten seal is located)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["claims-ledger-seal-checkpoint"] = "claims-ledger-seal-checkpoint"
    algorithm: Literal["sha256-chain-v1"] = "sha256-chain-v1"
    ledger_id: str
    checkpoint: Checkpoint
    trail: list[Checkpoint]

    @classmethod
    def read(cls, path: str) -> CheckpointFile:
        try:
            text = Path(path).read_bytes()
        except OSError as exc:
            msg = f"--checkpoint {path}: cannot read it: {exc.strerror}"
            raise SealError(msg) from exc
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            msg = (f"--checkpoint {path}: not a claims-ledger checkpoint file "
                   f"({first_problem(exc)})")
            raise SealError(msg) from exc

    def write(self, path: str) -> None:
        Path(path).write_text(json.dumps(self.model_dump(), indent=2) + "\n")


class Finding(BaseModel):
    """The first thing found wrong: where, what kind, and in words."""

    position: int
    first_position: int
    kind: Literal["edited", "deleted", "inserted", "truncated", "rewritten"]
    detail: str


class SealReport(BaseModel):
    ledger_id: str
    events: int
    intact_to: int
    head_hash: str | None
    checked_against: str | None
    finding: Finding | None

    @property
    def ok(self) -> bool:
        return self.finding is None


def tampered(report: SealReport) -> str:
    """What ``seal verify`` says of a log that does not match its seal, in a line."""
    f = report.finding
    assert f is not None
    return (f"TAMPERED at position {f.position:,} ({f.kind}): {f.detail}; the log is intact "
            f"up to position {report.intact_to:,}")


class SealedLog(Protocol):
    """What the sealing recorders offer the seal tools."""

    def ledger_id(self) -> str: ...
    def select_links(self, after: int, limit: int) -> list[tuple[int, bytes]]: ...
    def select_checkpoints(self) -> list[Checkpoint]: ...
    def select_notifications(self, start: int | None, limit: int, stop: int | None = None,
                             topics: Any = (), *, inclusive_of_start: bool = True
                             ) -> Any: ...
    def seal_tail(self) -> tuple[int, Checkpoint | None]: ...
    def max_notification_id(self) -> int | None: ...


def _pages(fetch: Callable[[int], list[Any]], key: Callable[[Any], int]) -> Iterator[Any]:
    after = 0
    while True:
        page = fetch(after)
        yield from page
        if len(page) < PAGE:
            return
        after = key(page[-1])


def events_of(log: SealedLog) -> Iterator[Notification]:
    return _pages(lambda after: list(log.select_notifications(after + 1, PAGE)),
                  lambda n: n.id)


def links_of(log: SealedLog) -> Iterator[tuple[int, bytes]]:
    return _pages(lambda after: log.select_links(after, PAGE), lambda r: r[0])


def checkpoint_file(log: SealedLog) -> CheckpointFile:
    """The checkpoint file of the last recorded checkpoint, with its trail."""
    trail = log.select_checkpoints()
    if not trail:
        msg = "the log has no checkpoint yet: run `claims-ledger seal` first"
        raise SealError(msg)
    return CheckpointFile(ledger_id=log.ledger_id(), checkpoint=trail[-1], trail=trail[:-1])


class Expectations:
    """Checkpoints that the recomputed chain must meet, in position order."""

    def __init__(self, checkpoints: list[Checkpoint], source: str) -> None:
        self.pending = sorted(checkpoints, key=lambda c: c.position)
        self.source = source
        self.last_met = 0

    def check(self, position: int, chained: str) -> Finding | None:
        """Called for every event in order with the recomputed hash."""
        if self.pending and self.pending[0].position < position:
            missing = self.pending.pop(0)
            return Finding(
                position=missing.position, first_position=missing.position, kind="deleted",
                detail=f"{self.source} seals an event at position {missing.position}, "
                "which is no longer in the log")
        if self.pending and self.pending[0].position == position:
            expected = self.pending.pop(0)
            if expected.hash != chained:
                return Finding(
                    position=position, first_position=self.last_met + 1, kind="rewritten",
                    detail=f"the log up to position {position} does not match {self.source}: "
                    f"an event between positions {self.last_met + 1} and {position} was "
                    "changed, and the seal rewritten to hide it")
            self.last_met = position
        return None

    def truncated(self, last: int) -> Finding | None:
        if not self.pending:
            return None
        final = self.pending[-1]
        return Finding(
            position=last + 1, first_position=last + 1, kind="truncated",
            detail=f"the log ends at position {last}, but {self.source} seals events up to "
            f"position {final.position}: the tail after {last} was removed")


def verify(log: SealedLog, kept: CheckpointFile | None = None,
           progress: Callable[[int], None] | None = None, *, to: int | None = None,
           on_event: Callable[[Notification, bytes], None] | None = None) -> SealReport:
    """Recompute the chain from the stored events; report the first finding.
    With ``to``, only the events up to that position are checked; ``on_event``
    is given each event found intact, in order, with its link."""
    ledger_id = log.ledger_id()
    if kept is not None and kept.ledger_id != ledger_id:
        msg = (f"the checkpoint is of ledger {kept.ledger_id}; this database holds ledger "
               f"{ledger_id}")
        raise SealError(msg)
    checks = [Expectations(log.select_checkpoints(), "the ledger's own checkpoint table")]
    if kept is not None:
        checks.insert(0, Expectations([*kept.trail, kept.checkpoint],
                                        "the checkpoint kept outside"))
    prev, last, count = genesis(ledger_id), 0, 0
    links = links_of(log)
    sealed = next(links, None)

    def report(finding: Finding | None) -> SealReport:
        intact = last if finding is None else min(last, finding.first_position - 1)
        return SealReport(ledger_id=ledger_id, events=count, intact_to=intact,
                          head_hash=prev.hex() if last else None,
                          checked_against=kept.checkpoint.hash if kept else None,
                          finding=finding)

    for event in events_of(log):
        if to is not None and event.id > to:
            return report(None)
        if sealed is not None and sealed[0] < event.id:
            return report(Finding(
                position=sealed[0], first_position=sealed[0], kind="deleted",
                detail=f"the event sealed at position {sealed[0]} is missing from the log"))
        if sealed is None or sealed[0] > event.id:
            return report(Finding(
                position=event.id, first_position=event.id, kind="inserted",
                detail=f"the event at position {event.id} ({event.topic} of "
                f"{event.originator_id}) was never sealed: it was written outside the "
                "ledger (or before the seal existed: `claims-ledger seal` seals those)"))
        chained = link_of(prev, event)
        if chained != sealed[1]:
            return report(Finding(
                position=event.id, first_position=event.id, kind="edited",
                detail=f"the event at position {event.id} ({event.topic} of "
                f"{event.originator_id}) is not the one sealed there: it was edited, "
                "replaced or moved, or an event before it was removed"))
        for check in checks:
            finding = check.check(event.id, chained.hex())
            if finding is not None:
                return report(finding)
        if on_event is not None:
            on_event(event, chained)
        prev, last, count = chained, event.id, count + 1
        if progress is not None:
            progress(count)
        sealed = next(links, None)
    if sealed is not None:
        return report(Finding(
            position=sealed[0], first_position=sealed[0], kind="truncated",
            detail=f"the log ends at position {last}, but events up to position "
            f"{sealed[0]} and on were sealed: the tail was removed"))
    for check in checks:
        finding = check.truncated(last)
        if finding is not None:
            return report(finding)
    return report(None)
