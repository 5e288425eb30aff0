"""Read model: remaining annual limits per policy, policy year and coverage.

One row per (policy, year, coverage): the limits copied in by
``CoverageAttached``, paid (drawn by payouts, net of reversals), reversed (the
total restored by reversals), remaining (annual limit − paid), the claims open
against it, and the position of the last event that changed the row.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    func,
    select,
    tuple_,
)

from projections.base import Fact
from projections.store import as_rows, chunks, insert_rows

NAME = "limits"
_OPENED, _CLOSED = {"ClaimFiled"}, {"ExclusionApplied", "ClaimClosed", "ClaimWithdrawn"}
Key = tuple[str, int, str]


@cache
def _table(generation: int) -> Table:
    return Table(
        f"rm_limits_g{generation}",
        MetaData(),
        Column("policy_id", String(64), primary_key=True),
        Column("policy_year", Integer, primary_key=True),
        Column("coverage", String(32), primary_key=True),
        Column("period_start", String(10), nullable=False),
        Column("period_end", String(10), nullable=False),
        Column("terms_version", String(32), nullable=False),
        Column("per_incident_limit", BigInteger, nullable=False),
        Column("deductible", BigInteger, nullable=False),
        Column("annual_limit", BigInteger, nullable=False),
        Column("paid", BigInteger, nullable=False),
        Column("reversed", BigInteger, nullable=False),
        Column("remaining", BigInteger, nullable=False),
        Column("claims_open", Integer, nullable=False),
        Column("last_position", BigInteger, nullable=False),
    )


class LimitsProjection:
    name = NAME
    schema_version = 1

    def tables(self, generation: int) -> list[Table]:
        return [_table(generation)]

    def indexes(self, generation: int) -> list[Index]:
        return []

    def apply(self, conn: Connection, generation: int, facts: list[Fact]) -> None:
        table = _table(generation)
        rows: dict[Key, dict[str, Any]] = {}
        created: set[Key] = set()
        wanted = {_key(f.state) for f in facts if f.name != "CoverageAttached" and _relevant(f)}
        if wanted:
            keys = (table.c.policy_id, table.c.policy_year, table.c.coverage)
            for chunk in chunks(sorted(wanted), 300):
                for found in conn.execute(select(table).where(tuple_(*keys).in_(chunk))):
                    rows[(found.policy_id, found.policy_year, found.coverage)] = dict(
                        found._mapping)
        for fact in facts:
            if not _relevant(fact):
                continue
            s = fact.state
            key = _key(s)
            if fact.name == "CoverageAttached":
                rows[key] = {
                    "policy_id": s["policy_id"], "policy_year": s["policy_year"],
                    "coverage": s["coverage"], "period_start": s["period_start"],
                    "period_end": s["period_end"], "terms_version": s["terms_version"],
                    "per_incident_limit": s["per_incident_limit"], "deductible": s["deductible"],
                    "annual_limit": s["annual_limit"], "paid": 0, "reversed": 0,
                    "remaining": s["annual_limit"], "claims_open": 0,
                    "last_position": fact.position,
                }
                created.add(key)
                continue
            row = rows[key]
            if fact.name == "AnnualLimitDrawn":
                row["paid"] += s["amount"]
                row["remaining"] -= s["amount"]
            elif fact.name == "AnnualLimitRestored":
                row["paid"] -= s["amount"]
                row["reversed"] += s["amount"]
                row["remaining"] += s["amount"]
            elif fact.name in _OPENED:
                row["claims_open"] += 1
            else:
                row["claims_open"] -= 1
            row["last_position"] = fact.position
        if not rows:
            return
        existing = [k for k in rows if k not in created]
        keys = (table.c.policy_id, table.c.policy_year, table.c.coverage)
        for chunk in chunks(existing, 300):
            conn.execute(table.delete().where(tuple_(*keys).in_(chunk)))
        insert_rows(conn, table, as_rows(table, list(rows.values())))


def _relevant(fact: Fact) -> bool:
    return fact.name in ("CoverageAttached", "AnnualLimitDrawn", "AnnualLimitRestored") or (
        fact.name in _OPENED or fact.name in _CLOSED
    )


def _key(state: dict[str, Any]) -> Key:
    return (state["policy_id"], state["policy_year"], state["coverage"])


def read(conn: Connection, generation: int, policy_id: str | None) -> list[dict[str, Any]]:
    table = _table(generation)
    query = select(table).order_by(table.c.policy_id, table.c.policy_year, table.c.coverage)
    if policy_id is not None:
        query = query.where(table.c.policy_id == policy_id)
    return [dict(r._mapping) for r in conn.execute(query)]


def read_policies(conn: Connection, generation: int, prefix: str, after: str,
                  limit: int) -> list[dict[str, Any]]:
    """Every row of the first ``limit`` policies, in id order, whose id starts
    with ``prefix`` (case-sensitive) and comes after ``after`` (a cursor)."""
    table = _table(generation)
    ids = (select(table.c.policy_id).distinct()
           .where(table.c.policy_id > after, table.c.policy_id >= prefix)
           .order_by(table.c.policy_id).limit(limit))
    if prefix:
        ids = ids.where(func.substr(table.c.policy_id, 1, len(prefix)) == prefix)
    chosen = [r.policy_id for r in conn.execute(ids)]
    if not chosen:
        return []
    query = (select(table).where(table.c.policy_id.in_(chosen))
             .order_by(table.c.policy_id, table.c.policy_year, table.c.coverage))
    return [dict(r._mapping) for r in conn.execute(query)]
