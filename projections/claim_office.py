"""The claims read model's tables of the claims office's work on a claim: its
payouts requested for approval (holds) and the money recovered on it.

Per hold: the amount held, who requested it, when (recorded time and
position), the day it is due, its status (``pending``; ``issued`` at once
within the requester's authority; ``approved``; ``rejected``), who resolved it
and at which position. The pending ones, across every policy, are a work
queue (``pending``). Per recovery: its kind, amount, counterparty, and the
insured's and the insurer's shares (保険法25条2項), with when it was recorded.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    select,
)
from sqlalchemy.sql import Select

from projections.base import Fact
from projections.store import execute_many, insert_rows

PENDING = "pending"
EVENTS = frozenset({"PayoutRequested", "PayoutApproved", "PayoutRejected", "RecoveryRecorded"})
_RESOLVED = {"PayoutApproved": "approved", "PayoutRejected": "rejected"}


@cache
def tables(generation: int) -> tuple[Table, Table]:
    metadata = MetaData()
    holds = Table(
        f"rm_claim_holds_g{generation}",
        metadata,
        Column("claim_id", String(64), primary_key=True),
        Column("payout_id", String(64), primary_key=True),
        Column("policy_id", String(64), nullable=False),
        Column("amount", BigInteger, nullable=False),
        Column("requested_by", Text, nullable=False),
        Column("requested_at", String(32), nullable=False),
        Column("requested_position", BigInteger, nullable=False),
        Column("due_on", String(10), nullable=True),
        Column("status", String(16), nullable=False),
        Column("resolved_by", Text, nullable=True),
        Column("resolved_position", BigInteger, nullable=True),
    )
    recoveries = Table(
        f"rm_claim_recoveries_g{generation}",
        metadata,
        Column("claim_id", String(64), primary_key=True),
        Column("recovery_id", String(64), primary_key=True),
        Column("kind", String(32), nullable=False),
        Column("amount", BigInteger, nullable=False),
        Column("counterparty", Text, nullable=False),
        Column("insured_share", BigInteger, nullable=False),
        Column("insurer_share", BigInteger, nullable=False),
        Column("recorded_at", String(32), nullable=False),
        Column("recorded_position", BigInteger, nullable=False),
    )
    return holds, recoveries


def indexes(generation: int) -> list[Index]:
    """The work queue's index: only the pending holds, in request order."""
    holds, _ = tables(generation)
    pending = holds.c.status == PENDING
    return [Index(f"ix_rm_claim_holds_g{generation}_pending", holds.c.requested_position,
                  sqlite_where=pending, postgresql_where=pending)]


Changes = tuple[list[list[Any]], list[list[Any]], list[list[Any]]]


class Batch:
    """The holds and recoveries a batch of facts records: new rows (with the
    batch's resolutions folded in), and resolutions of holds stored before it."""

    def __init__(self) -> None:
        self.holds: dict[tuple[str, str], list[Any]] = {}
        self.resolved: list[list[Any]] = []
        self.recoveries: list[list[Any]] = []

    def apply(self, fact: Fact) -> None:
        s = fact.state
        name = fact.name
        if name == "PayoutRequested":
            within = s["within_authority"]
            self.holds[(s["claim_id"], s["payout_id"])] = [
                s["claim_id"], s["payout_id"], s["policy_id"], s["amount"], s["actor"],
                fact.recorded_at, fact.position, s.get("due_on"),
                "issued" if within else PENDING, s["actor"] if within else None,
                fact.position if within else None,
            ]
        elif name == "RecoveryRecorded":
            self.recoveries.append([
                s["claim_id"], s["recovery_id"], s["kind"], s["amount"], s["counterparty"],
                s["insured_share"], s["insurer_share"], fact.recorded_at, fact.position])
        else:
            status = _RESOLVED[name]
            row = self.holds.get((s["claim_id"], s["payout_id"]))
            if row is None:
                self.resolved.append([status, s["actor"], fact.position, s["claim_id"],
                                      s["payout_id"]])
            else:
                row[8:11] = [status, s["actor"], fact.position]

    def changes(self) -> Changes:
        return list(self.holds.values()), self.resolved, self.recoveries


def write(conn: Connection, generation: int, changes: Changes) -> None:
    holds_t, recoveries_t = tables(generation)
    holds, resolved, recoveries = changes
    insert_rows(conn, holds_t, holds)
    execute_many(conn, _resolve_sql(holds_t.name), resolved)
    insert_rows(conn, recoveries_t, recoveries)


@cache
def _resolve_sql(table: str) -> str:
    return (f'UPDATE "{table}" SET status = ?, resolved_by = ?, resolved_position = ? '
            "WHERE claim_id = ? AND payout_id = ?")


@cache
def _reads(generation: int) -> tuple[Select[Any], Select[Any], Select[Any]]:
    """The statements of a claim's holds and recoveries, and of the pending holds."""
    holds, recoveries = tables(generation)
    claim = bindparam("claim_id", type_=String(64))
    return (
        select(*(c for c in holds.c if c.name != "policy_id"))
        .where(holds.c.claim_id == claim).order_by(holds.c.requested_position),
        select(recoveries).where(recoveries.c.claim_id == claim)
        .order_by(recoveries.c.recorded_position),
        select(holds.c.claim_id, holds.c.policy_id, holds.c.payout_id, holds.c.amount,
               holds.c.requested_by, holds.c.requested_at, holds.c.due_on)
        .where(holds.c.status == PENDING).order_by(holds.c.requested_position),
    )


def read(conn: Connection, generation: int, claim_id: str
         ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A claim's holds and recoveries, each in the order they were recorded."""
    holds, recoveries, _ = _reads(generation)
    return ([dict(r._mapping) for r in conn.execute(holds, {"claim_id": claim_id})],
            [dict(r._mapping) for r in conn.execute(recoveries, {"claim_id": claim_id})])


def pending(conn: Connection, generation: int) -> list[dict[str, Any]]:
    """Every hold awaiting approval, across every policy, oldest request first."""
    return [dict(r._mapping) for r in conn.execute(_reads(generation)[2])]
