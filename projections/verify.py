"""Check the read models against a fresh replay of the log.

The replay folds every event with the domain's own ``evolve`` functions (not the
projections' code), up to the position each read model says it has reached,
and derives the rows each read model should hold. Every row that is missing,
extra or different is reported, field by field. So is a read model behind the
log (after catching up, unless told not to: a stalled one, or a replica), and
an event the replay itself cannot apply (the read models that reached it are
then not compared).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from domain.claim import Claim, ClaimEvent, ClaimStatus
from domain.command_record import CommandAccepted
from domain.events import LedgerEvent
from domain.ids import aggregate_kind
from domain.policy_year import PolicyYear, PolicyYearEvent
from domain.replay import evolve_any
from projections.base import recorded_time
from projections.claims import text_of
from projections.read_models import NotBuilt, ReadModels
from projections.rows import claim_from_state, year_rows
from projections.store import one_line, printable

_TOUCHING_LIMITS = frozenset({"ClaimFiled", "ExclusionApplied", "ClaimClosed", "ClaimWithdrawn",
                              "DenialWithdrawn", "ClaimReopened", "ReserveSet", "PayoutIssued"})
"""The claim events that change their year's limits row (its open claims or
reserves)."""


@dataclass
class _Replay:
    """Aggregates folded from the log, with where each row was last touched."""

    years: dict[str, PolicyYear] = field(default_factory=dict)
    claims: dict[str, Claim] = field(default_factory=dict)
    policies: dict[str, Any] = field(default_factory=dict)
    limit_touched: dict[tuple[str, int, str], int] = field(default_factory=dict)
    claim_touched: dict[str, tuple[int, str]] = field(default_factory=dict)
    claim_filed_at: dict[str, str] = field(default_factory=dict)
    payout_positions: dict[tuple[str, str], list[int | None]] = field(default_factory=dict)
    hold_records: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    """Per hold: when it was requested (recorded time, position), and the
    position that resolved it."""
    recovery_records: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    audit: list[dict[str, Any]] = field(default_factory=list)

    def apply(self, position: int, event: LedgerEvent) -> None:
        aid = event.originator_id
        at = recorded_time(event.timestamp)
        self.audit.append(_audit_row(position, event))
        kind = aggregate_kind(aid)
        if kind == "claim":
            assert isinstance(event, ClaimEvent)
            evolve_any(self.claims, event)
            self.claim_touched[aid] = (position, at)
            self.claim_filed_at.setdefault(aid, at)
            if event.event_name in _TOUCHING_LIMITS:
                key = (event.policy_id, event.policy_year, str(event.coverage))
                self.limit_touched[key] = position
            self._children(position, at, event)
        elif kind == "policy_year":
            assert isinstance(event, PolicyYearEvent)
            evolve_any(self.years, event)
            coverage = str(getattr(event, "coverage"))  # noqa: B009 (all year events have one)
            self.limit_touched[(event.policy_id, event.policy_year, coverage)] = position
        elif kind == "policy":
            evolve_any(self.policies, event)

    def _children(self, position: int, at: str, event: ClaimEvent) -> None:
        """Where a claim's payouts, holds and recoveries were recorded."""
        name = event.event_name
        key = (event.claim_id, str(getattr(event, "payout_id", "")))
        if name == "PayoutIssued":
            self.payout_positions[key] = [position, None]
        elif name == "PayoutReversed":
            self.payout_positions[key][1] = position
        elif name == "PayoutRequested":
            within = getattr(event, "within_authority")  # noqa: B009 (a request has it)
            self.hold_records[key] = [at, position, position if within else None]
        elif name in ("PayoutApproved", "PayoutRejected"):
            self.hold_records[key][2] = position
        elif name == "RecoveryRecorded":
            recovery = str(getattr(event, "recovery_id"))  # noqa: B009 (a recovery has it)
            self.recovery_records[(event.claim_id, recovery)] = (at, position)

    def limits_rows(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The limits rows, and the claims' reserves they sum."""
        open_claims: dict[tuple[str, int, str], int] = {}
        by_year: dict[tuple[str, int], list[Claim]] = {}
        reserves = []
        for claim in self.claims.values():
            key = (claim.policy_id, claim.policy_year, str(claim.coverage))
            if claim.status is ClaimStatus.OPEN:
                open_claims[key] = open_claims.get(key, 0) + 1
            by_year.setdefault(key[:2], []).append(claim)
            reserves.append({"claim_id": claim.claim_id, "policy_id": claim.policy_id,
                             "policy_year": claim.policy_year, "coverage": key[2],
                             "reserve": None if claim.reserve is None else int(claim.reserve)})
        rows = []
        for year in self.years.values():
            for row in year_rows(year, by_year.get((year.policy_id, year.year), [])):
                key = (row["policy_id"], row["policy_year"], row["coverage"])
                row["claims_open"] = open_claims.get(key, 0)
                row["last_position"] = self.limit_touched[key]
                rows.append(row)
        return rows, reserves

    def claims_rows(self) -> dict[str, list[dict[str, Any]]]:
        """The claims read model's rows, by table: claims, payouts, holds and
        recoveries."""
        found: dict[str, list[dict[str, Any]]] = {
            "claim": [], "payout": [], "hold": [], "recovery": []}
        for aid, c in self.claims.items():
            position, updated = self.claim_touched[aid]
            row = claim_from_state(c)
            payouts, holds, recoveries = (row.pop(k) for k in ("payouts", "holds", "recoveries"))
            found["claim"].append({**row, "filed_at": self.claim_filed_at[aid],
                                   "updated_at": updated, "last_position": position})
            for p in payouts:
                issued, reversed_at = self.payout_positions[(c.claim_id, p["payout_id"])]
                found["payout"].append({**p, "claim_id": c.claim_id, "issued_position": issued,
                                        "reversed_position": reversed_at})
            for h in holds:
                at, requested, resolved = self.hold_records[(c.claim_id, h["payout_id"])]
                found["hold"].append({**h, "claim_id": c.claim_id, "policy_id": c.policy_id,
                                      "requested_at": at, "requested_position": requested,
                                      "resolved_position": resolved})
            for r in recoveries:
                at, recorded = self.recovery_records[(c.claim_id, r["recovery_id"])]
                found["recovery"].append({**r, "claim_id": c.claim_id, "recorded_at": at,
                                          "recorded_position": recorded})
        return found


def _audit_row(position: int, event: LedgerEvent) -> dict[str, Any]:
    # A command's record names the policy and claim in the command it accepted.
    names = event.command if isinstance(event, CommandAccepted) else vars(event)
    return {
        "position": position,
        "recorded_at": recorded_time(event.timestamp),
        "actor": event.actor,
        "aggregate_id": event.originator_id,
        "version": event.originator_version,
        "event_type": event.event_name,
        "policy_id": names.get("policy_id"),
        "claim_id": names.get("claim_id"),
    }


def _compare(
    label: str, actual: list[dict[str, Any]], expected: list[dict[str, Any]],
    key: Callable[[dict[str, Any]], Any], fields: list[str] | None = None,
) -> list[str]:
    found = {key(r): r for r in actual}
    wanted = {key(r): r for r in expected}
    problems = []
    for k in sorted(wanted.keys() - found.keys(), key=str):
        problems.append(f"{label} {_show(k)}: missing from the read model")
    for k in sorted(found.keys() - wanted.keys(), key=str):
        problems.append(f"{label} {_show(k)}: in the read model but not in the log")
    for k in sorted(wanted.keys() & found.keys(), key=str):
        want, have = wanted[k], found[k]
        for name in fields or list(want):
            if have.get(name) != want[name]:
                problems.append(
                    f"{label} {_show(k)}: {name} is {have.get(name)!r} in the read model, "
                    f"{want[name]!r} by replay"
                )
    return problems


def _claims_problems(rows: dict[str, list[dict[str, Any]]],
                     wanted: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The claims read model's tables against the replay's rows."""
    stored = [{**c, "description": text_of(c["description"])} for c in rows["rm_claims"]]
    payouts = [{**p, "breakdown": json.loads(p["breakdown"])} for p in rows["rm_claim_payouts"]]
    return [
        *_compare("claim", stored, wanted["claim"], lambda r: r["claim_id"]),
        *_compare("payout", payouts, wanted["payout"],
                  lambda r: (r["claim_id"], r["payout_id"]),
                  ["amount", "reversed", "breakdown", "issued_position", "reversed_position"]),
        *_compare("hold", rows["rm_claim_holds"], wanted["hold"],
                  lambda r: (r["claim_id"], r["payout_id"])),
        *_compare("recovery", rows["rm_claim_recoveries"], wanted["recovery"],
                  lambda r: (r["claim_id"], r["recovery_id"])),
    ]


def _show(key: Any) -> str:
    return "/".join(str(k) for k in key) if isinstance(key, tuple) else str(key)


def verify(models: ReadModels, progress: Callable[[int, int], None] | None = None, *,
           catch_up: bool = True) -> list[str]:
    """Every difference between the read models and a replay of the log: each
    read model behind the log (with ``catch_up``, it is caught up first; a
    stalled one cannot be) and each row that differs at the position it reached."""
    if catch_up:
        models.catch_up()
    problems: list[str] = []
    snapshots: dict[int, list[tuple[str, dict[str, list[dict[str, Any]]]]]] = {}
    for status in models.status():
        if status.stall is not None:
            problems.append(f"{status.name}: stalled: {status.stall}")
        if status.active is None:
            problems.append(f"{status.name}: not built yet")
            continue
        try:
            position, tables = models.snapshot(status.name)
        except NotBuilt as exc:  # (built for an older schema, and not caught up)
            problems.append(f"{status.name}: {exc}")
            continue
        if position < status.head:
            problems.append(f"{status.name}: behind the log: at position {position}, the log "
                            f"at {status.head} ({status.head - position} events not applied)")
        snapshots.setdefault(position, []).append((status.name, tables))
    replay = _Replay()
    ledger = models.ledger
    last = max(snapshots, default=0)

    def check(position: int) -> None:
        """Compare the read models that reached ``position`` or less."""
        reached = [(name, rows) for at in sorted(snapshots) if at <= position
                   for name, rows in snapshots.pop(at)]
        for name, rows in reached:
            if name == "limits":
                limits, reserves = replay.limits_rows()
                problems.extend(_compare(
                    "limits", rows["rm_limits"], limits,
                    lambda r: (r["policy_id"], r["policy_year"], r["coverage"])))
                problems.extend(_compare("limits reserve", rows["rm_limit_reserves"], reserves,
                                         lambda r: r["claim_id"]))
            elif name == "claims":
                problems.extend(_claims_problems(rows, replay.claims_rows()))
            else:
                problems.extend(_compare(
                    "audit position", rows["rm_audit"], replay.audit, lambda r: r["position"]))

    for done, notification in enumerate(ledger.notifications(), start=1):
        if notification.id > last:
            break
        check(notification.id - 1)
        try:
            replay.apply(notification.id, ledger.decode(notification))
        except Exception as exc:
            problems.append(f"position {notification.id} ({printable(notification.topic)}): "
                            f"the replay cannot apply this event: {one_line(exc)}")
            problems.extend(f"{name}: not compared at position {position}: the replay stops "
                            f"before position {notification.id}"
                            for position in sorted(snapshots) for name, _ in snapshots[position])
            return problems
        if progress is not None and done % 1000 == 0:
            progress(done, last)
    check(last)
    return problems
