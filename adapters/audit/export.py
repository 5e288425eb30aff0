"""Export of the sealed log to a self-contained file, and its independent replay.

``export`` writes JSON Lines: a header (format, ledger id, algorithm), one line
per event in log order (position, aggregate id, version, event name, recorded
time, actor, the payload exactly as stored, and its seal link), and a last
line with the final checkpoint. ``replay`` needs no database: it checks every
link of the chain (and, if given, a checkpoint kept outside), decodes every
event through the domain's own event classes, replays the aggregates in
memory with the domain's own ``evolve`` functions, recomputes every payout from
the terms copied into the policy year, and reports limits and claims.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Literal

import orjson
from eventsourcing.persistence import JSONTranscoder, Notification, StoredEvent
from pydantic import BaseModel, ConfigDict, ValidationError

from adapters.audit.seal import (
    ALGORITHM,
    Checkpoint,
    CheckpointFile,
    Expectations,
    SealedLog,
    SealError,
    first_problem,
    genesis,
    link,
    payload_of,
    recorded_time,
    tampered,
    verify,
)
from domain.authority import Authority
from domain.claim import Claim, ClaimStatus, PayoutIssued
from domain.errors import PayoutRefused
from domain.events import LedgerEvent
from domain.ids import aggregate_kind, incident_id_of, policy_year_id
from domain.incident import Incident
from domain.ledger.mapper import PydanticEventMapper
from domain.money import Yen
from domain.payout import calculate_payout
from domain.policy_year import PolicyYear
from domain.replay import evolve_any
from projections.rows import claim_from_state, year_rows

EXPORT_FORMAT = "claims-ledger-export"


class ExportError(Exception):
    """An export file that cannot be read; names the line and why."""


class ExportTampered(ExportError):
    """An export whose chain does not hold: names the position."""


class Header(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["claims-ledger-export"]
    version: Literal[1]
    algorithm: Literal["sha256-chain-v1"]
    ledger_id: str


class ExportedEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    position: int
    aggregate_id: str
    version: int
    event: str
    recorded_at: str
    actor: str | None
    payload: str
    seal: str


class Trailer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checkpoint: Checkpoint
    events: int


def export(log: SealedLog, out: IO[bytes], to: int | None = None,
           progress: Callable[[int], None] | None = None) -> Trailer:
    """Write the log (up to position ``to``) with its seal links, each checked as
    ``seal verify`` checks it: ``ExportTampered`` names the first position
    where the log does not match its seal (the caller discards what was
    written)."""
    ledger_id = log.ledger_id()
    out.write(orjson.dumps(Header(format=EXPORT_FORMAT, version=1, algorithm=ALGORITHM,
                                  ledger_id=ledger_id).model_dump()) + b"\n")

    def write(event: Notification, chained: bytes) -> None:
        state = payload_of(event)
        out.write(orjson.dumps({
            "position": event.id, "aggregate_id": str(event.originator_id),
            "version": event.originator_version, "event": event.topic,
            "recorded_at": recorded_time(state), "actor": _actor(state),
            "payload": _text(state, event.id), "seal": chained.hex(),
        }) + b"\n")

    report = verify(log, progress=progress, to=to, on_event=write)
    if report.finding is not None:
        raise ExportTampered(tampered(report))
    head = report.head_hash or genesis(ledger_id).hex()
    trailer = Trailer(checkpoint=Checkpoint(position=report.intact_to, hash=head,
                                            sealed_at=_last_sealed_at(log, report.intact_to)),
                      events=report.events)
    out.write(orjson.dumps(trailer.model_dump()) + b"\n")
    return trailer


def _text(state: bytes, position: int) -> str:
    try:
        return state.decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"position {position}: the payload is not plain JSON (enciphered?)"
        raise ExportError(msg) from exc


def _actor(state: bytes) -> str | None:
    try:
        value = orjson.loads(state).get("actor")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _last_sealed_at(log: SealedLog, position: int) -> str:
    stamps = [c.sealed_at for c in log.select_checkpoints() if c.position <= position]
    return stamps[-1] if stamps else ""


# replay ----------------------------------------------------------------------


@dataclass
class Replay:
    """What a replay of an export found: the figures, and the chain's head."""

    ledger_id: str
    position: int = 0
    events: int = 0
    head: str = ""
    policies: dict[str, Any] = field(default_factory=dict)
    years: dict[str, PolicyYear] = field(default_factory=dict)
    claims: dict[str, Claim] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    authorities: dict[str, Authority] = field(default_factory=dict)
    discrepancies: list[str] = field(default_factory=list)

    def limits(self) -> list[dict[str, Any]]:
        """Per policy year and coverage, in the limits read model's shape."""
        open_claims = Counter((c.policy_id, c.policy_year, str(c.coverage))
                              for c in self.claims.values() if c.status is ClaimStatus.OPEN)
        by_year: dict[tuple[str, int], list[Claim]] = {}
        for claim in self.claims.values():
            by_year.setdefault((claim.policy_id, claim.policy_year), []).append(claim)
        rows = []
        for year in self.years.values():
            for row in year_rows(year, by_year.get((year.policy_id, year.year), [])):
                row["claims_open"] = open_claims[(row["policy_id"], row["policy_year"],
                                                  row["coverage"])]
                rows.append(row)
        return sorted(rows, key=lambda r: (r["policy_id"], r["policy_year"], r["coverage"]))

    def claim_rows(self) -> list[dict[str, Any]]:
        return [claim_from_state(c) for c in sorted(self.claims.values(),
                                                    key=lambda c: c.claim_id)]

    def summary(self) -> dict[str, Any]:
        by_status = Counter(str(c.status) for c in self.claims.values())
        return {
            "claims": len(self.claims), "by_status": dict(sorted(by_status.items())),
            "payouts": sum(len(c.payouts) for c in self.claims.values()),
            "paid": sum(int(c.paid) for c in self.claims.values()),
        }


def _lines(path: str) -> Iterator[tuple[int, bytes]]:
    try:
        with Path(path).open("rb") as f:
            yield from enumerate(f, start=1)
    except OSError as exc:
        msg = f"{path}: cannot read it: {exc.strerror}"
        raise ExportError(msg) from exc


def _parse(model: type[BaseModel], line: bytes, where: str) -> Any:
    try:
        return model.model_validate_json(line)
    except ValidationError as exc:
        raise ExportError(f"{where}: {first_problem(exc)}") from exc


def replay(path: str, as_of: datetime | None = None, kept: CheckpointFile | None = None,
           progress: Callable[[int], None] | None = None,
           on_event: Callable[[LedgerEvent], None] | None = None) -> Replay:
    """Check the export's chain and replay it through the domain in memory;
    ``on_event`` is given each event replayed (decoded, in log order), for a
    fold of its own (the reserves report)."""
    lines = _lines(path)
    first = next(lines, None)
    if first is None:
        msg = f"{path}: the file is empty: not a claims-ledger export"
        raise ExportError(msg)
    header: Header = _parse(Header, first[1],
                            f"{path} line 1: not a claims-ledger export header")
    if kept is not None and kept.ledger_id != header.ledger_id:
        msg = (f"the checkpoint is of ledger {kept.ledger_id}; the export is of ledger "
               f"{header.ledger_id}")
        raise SealError(msg)
    expected = Expectations([*kept.trail, kept.checkpoint] if kept else [],
                            "the checkpoint kept outside")
    result = Replay(ledger_id=header.ledger_id)
    mapper = PydanticEventMapper(transcoder=JSONTranscoder())
    prev = genesis(header.ledger_id)
    trailer: Trailer | None = None
    for number, line in lines:
        where = f"{path} line {number}"
        if trailer is not None:
            msg = f"{where}: text after the final checkpoint"
            raise ExportError(msg)
        if line.startswith(b'{"checkpoint"'):
            trailer = _parse(Trailer, line, where)
            continue
        item: ExportedEvent = _parse(ExportedEvent, line, where)
        if item.position <= result.position:
            msg = (f"{where}: position {item.position} after {result.position}: the events "
                   "are out of order")
            raise ExportError(msg)
        payload = item.payload.encode()
        chained = link(prev, item.position, item.aggregate_id, item.version, item.event,
                       payload)
        if chained.hex() != item.seal:
            msg = (f"{where}: the event at position {item.position} does not match its seal: "
                   "it was edited, or an event before it was removed or inserted")
            raise ExportTampered(msg)
        finding = expected.check(item.position, item.seal)
        if finding is not None:
            raise ExportTampered(f"{where}: {finding.detail}")
        if recorded_time(payload) != item.recorded_at:
            msg = f"{where}: recorded_at {item.recorded_at} is not the payload's own time"
            raise ExportError(msg)
        prev, result.position, result.events = chained, item.position, result.events + 1
        event = _apply(result, mapper, item, as_of, where)
        if event is not None and on_event is not None:
            on_event(event)
        if progress is not None:
            progress(result.events)
    _check_end(path, trailer, result, prev, expected)
    result.head = prev.hex()
    return result


def _check_end(path: str, trailer: Trailer | None, result: Replay, head: bytes,
               expected: Expectations) -> None:
    """The export ends with its final checkpoint, which matches the chain."""
    if trailer is None:
        msg = f"{path}: no final checkpoint: the file was truncated"
        raise ExportError(msg)
    if (trailer.checkpoint.position, trailer.checkpoint.hash) != (result.position, head.hex()):
        msg = (f"{path}: the final checkpoint (position {trailer.checkpoint.position}) does "
               f"not match the chain, which ends at position {result.position}")
        raise ExportError(msg)
    if trailer.events != result.events:
        msg = (f"{path}: the final checkpoint counts {trailer.events} events; the file has "
               f"{result.events}")
        raise ExportError(msg)
    finding = expected.truncated(result.position)
    if finding is not None:
        raise ExportTampered(f"{path}: {finding.detail}")


def _apply(result: Replay, mapper: PydanticEventMapper, item: ExportedEvent,
           as_of: datetime | None, where: str) -> LedgerEvent | None:
    """Replay one exported event; the event replayed (None: a command record, or
    an event after ``as_of``)."""
    kind = aggregate_kind(item.aggregate_id)
    if kind == "command":
        return None
    try:
        decoded = mapper.to_domain_event(StoredEvent(item.aggregate_id, item.version,
                                                     item.event, item.payload.encode()))
    except (ValidationError, ValueError, KeyError) as exc:
        msg = f"{where}: the payload is not a valid {item.event} event: {exc}"
        raise ExportError(msg) from exc
    if not isinstance(decoded, LedgerEvent):
        msg = f"{where}: {item.event!r} is not an event of this ledger"
        raise ExportError(msg)
    event: LedgerEvent = decoded
    if as_of is not None and event.timestamp > as_of:
        return None
    try:
        states: dict[str, Any] = {"policy": result.policies, "policy_year": result.years,
                  "incident": result.incidents, "claim": result.claims,
                  "authority": result.authorities}[kind]
        before = states.get(item.aggregate_id)
        if isinstance(event, PayoutIssued) and before is not None:
            _recompute(result, before, event, item.position)
        evolve_any(states, event)
    except (ValueError, TypeError) as exc:
        msg = f"{where}: cannot replay {item.event} of {item.aggregate_id}: {exc}"
        raise ExportError(msg) from exc
    return event


def _recompute(result: Replay, claim: Claim, event: PayoutIssued, position: int) -> None:
    """Recompute a payout from the terms copied into its policy year, the claim's
    assessed loss and the part of it exclusions took."""
    year = result.years.get(policy_year_id(claim.policy_id,
                                                             claim.policy_year))
    if year is None:
        result.discrepancies.append(f"position {position}: payout {event.payout_id} of "
                                    f"claim {claim.claim_id} has no policy year")
        return
    cover = year.coverage(claim.coverage)
    shared: dict[str, Yen] = {}
    if claim.incident_id is not None:
        incident = result.incidents.get(incident_id_of(
            claim.policy_id, claim.coverage, claim.incident_id))
        if incident is None:
            result.discrepancies.append(f"position {position}: payout {event.payout_id} of "
                                        f"claim {claim.claim_id} has no incident")
            return
        shared = {"deductible_taken_by_others":
                  incident.deductible_taken_before(claim.claim_id),
                  "incident_paid_by_others": incident.paid_by_others(claim.claim_id)}
    try:
        again = calculate_payout(
            loss=claim.loss, deductible=cover.deductible,
            per_incident_limit=cover.per_incident_limit, paid_before=claim.paid,
            annual_limit=cover.annual_limit, annual_remaining=Yen(cover.remaining),
            requested=event.breakdown.requested, excluded=claim.excluded, **shared)
    except PayoutRefused as exc:
        result.discrepancies.append(f"position {position}: payout {event.payout_id} of "
                                    f"claim {claim.claim_id}: the terms refuse it: {exc}")
        return
    if again != event.breakdown or again.amount != event.amount:
        result.discrepancies.append(
            f"position {position}: payout {event.payout_id} of claim {claim.claim_id} "
            f"recorded {int(event.amount):,}, recomputed {int(again.amount):,}")
