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
from projections.read_models import ReadModels
from projections.store import one_line, printable


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
            if event.event_name in ("ClaimFiled", "ExclusionApplied", "ClaimClosed",
                                    "ClaimWithdrawn", "DenialWithdrawn", "ClaimReopened"):
                key = (event.policy_id, event.policy_year, str(event.coverage))
                self.limit_touched[key] = position
            payout_id = str(getattr(event, "payout_id", ""))
            if event.event_name == "PayoutIssued":
                self.payout_positions[(event.claim_id, payout_id)] = [position, None]
            elif event.event_name == "PayoutReversed":
                self.payout_positions[(event.claim_id, payout_id)][1] = position
        elif kind == "policy_year":
            assert isinstance(event, PolicyYearEvent)
            evolve_any(self.years, event)
            coverage = str(getattr(event, "coverage"))  # noqa: B009 (all year events have one)
            self.limit_touched[(event.policy_id, event.policy_year, coverage)] = position
        elif kind == "policy":
            evolve_any(self.policies, event)

    def limits_rows(self) -> list[dict[str, Any]]:
        open_claims: dict[tuple[str, int, str], int] = {}
        for claim in self.claims.values():
            if claim.status is ClaimStatus.OPEN:
                key = (claim.policy_id, claim.policy_year, str(claim.coverage))
                open_claims[key] = open_claims.get(key, 0) + 1
        rows = []
        for year in self.years.values():
            for c in year.coverages:
                key = (year.policy_id, year.year, str(c.coverage))
                rows.append({
                    "policy_id": year.policy_id, "policy_year": year.year,
                    "coverage": str(c.coverage), "period_start": year.period_start.isoformat(),
                    "period_end": year.period_end.isoformat(), "terms_version": c.terms_version,
                    "per_incident_limit": int(c.per_incident_limit),
                    "deductible": int(c.deductible), "annual_limit": int(c.annual_limit),
                    "paid": int(c.drawn), "reversed": int(c.reversed),
                    "remaining": int(c.remaining), "claims_open": open_claims.get(key, 0),
                    "last_position": self.limit_touched[key],
                })
        return rows

    def claims_rows(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        claims, payouts = [], []
        for aid, c in self.claims.items():
            position, updated = self.claim_touched[aid]
            claims.append({
                "claim_id": c.claim_id, "policy_id": c.policy_id, "policy_year": c.policy_year,
                "coverage": str(c.coverage), "cause": c.cause,
                "incident_date": c.incident_date.isoformat(),
                "claim_made_on": c.claim_made_on.isoformat() if c.claim_made_on else None,
                "description": c.description, "status": str(c.status),
                "loss_amount": int(c.loss), "deductible": int(c.deductible),
                "per_incident_limit": int(c.per_incident_limit), "payable": int(c.payable),
                "paid": int(c.paid), "exclusion": c.exclusion, "terms_version": c.terms_version,
                "filed_at": self.claim_filed_at[aid], "updated_at": updated,
                "version": c.version, "last_position": position,
                "excluded": int(c.excluded),
                "notified_on": c.notified_on.isoformat() if c.notified_on else None,
                "channel": c.channel, "notice_time_barred": c.notice_time_barred,
                "incident_id": c.incident_id,
            })
            for p in c.payouts:
                issued, reversed_at = self.payout_positions[(c.claim_id, p.payout_id)]
                payouts.append({
                    "claim_id": c.claim_id, "payout_id": p.payout_id, "amount": int(p.amount),
                    "reversed": p.reversed, "breakdown": p.breakdown.model_dump(mode="json"),
                    "issued_position": issued, "reversed_position": reversed_at,
                })
        return claims, payouts


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
        position, tables = models.snapshot(status.name)
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
                problems.extend(_compare(
                    "limits", rows["rm_limits"], replay.limits_rows(),
                    lambda r: (r["policy_id"], r["policy_year"], r["coverage"])))
            elif name == "claims":
                claims, payouts = replay.claims_rows()
                stored = [{**c, "description": text_of(c["description"])}
                          for c in rows["rm_claims"]]
                problems.extend(_compare("claim", stored, claims, lambda r: r["claim_id"]))
                actual_payouts = [{**p, "breakdown": json.loads(p["breakdown"])}
                                  for p in rows["rm_claim_payouts"]]
                problems.extend(_compare(
                    "payout", actual_payouts, payouts,
                    lambda r: (r["claim_id"], r["payout_id"]),
                    ["amount", "reversed", "breakdown", "issued_position", "reversed_position"]))
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
