"""Read model: remaining annual limits per policy, policy year and coverage.

One row per (policy, year, coverage): the period of cover and the limits copied
in by ``CoverageAttached`` (the period's end moved by ``CoverPeriodChanged``),
paid (drawn by payouts, net of reversals), reversed (the total restored by
reversals), remaining (annual limit − paid), the claims open against it, and
the position of the last event that changed the row.
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
    bindparam,
    func,
    select,
)
from sqlalchemy.sql import Select

from projections.base import Fact
from projections.store import execute_many, insert_rows

NAME = "limits"
_OPENED = {"ClaimFiled", "DenialWithdrawn", "ClaimReopened"}
_CLOSED = {"ExclusionApplied", "ClaimClosed", "ClaimWithdrawn"}
Key = tuple[str, int, str]
_RELEVANT = {"CoverageAttached", "AnnualLimitDrawn", "AnnualLimitRestored",
             "CoverPeriodChanged", *_OPENED, *_CLOSED}


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
        sqlite_with_rowid=False,
    )


class LimitsProjection:
    name = NAME
    schema_version = 2
    events: frozenset[str] | None = frozenset(_RELEVANT)

    def tables(self, generation: int) -> list[Table]:
        return [_table(generation)]

    def indexes(self, generation: int, dialect: str) -> list[Index]:
        return []

    def changes(self, facts: list[Fact]) -> Changes:
        """New rows (``CoverageAttached``, with the rest of the batch folded in),
        and for rows already stored, what the batch adds to them."""
        created: dict[Key, list[Any]] = {}
        deltas: dict[Key, list[Any]] = {}
        for fact in facts:
            name = fact.name
            if name not in _RELEVANT:
                continue
            s = fact.state
            key = (s["policy_id"], s["policy_year"], s["coverage"])
            if name == "CoverageAttached":
                created[key] = [
                    s["policy_id"], s["policy_year"], s["coverage"], s["period_start"],
                    s["period_end"], s["terms_version"], s["per_incident_limit"],
                    s["deductible"], s["annual_limit"], 0, 0, s["annual_limit"], 0,
                    fact.position,
                ]
                continue
            paid = reversed_ = opened = 0
            period_end = None
            if name == "AnnualLimitDrawn":
                paid = s["amount"]
            elif name == "AnnualLimitRestored":
                paid, reversed_ = -s["amount"], s["amount"]
            elif name == "CoverPeriodChanged":
                period_end = s["period_end"]
            else:
                opened = 1 if name in _OPENED else -1
            row = created.get(key)
            if row is not None:
                row[_PAID] += paid
                row[_PAID + 1] += reversed_
                row[_PAID + 2] -= paid
                row[_PAID + 3] += opened
                row[_PAID + 4] = fact.position
                if period_end is not None:
                    row[_PERIOD_END] = period_end
                continue
            delta = deltas.get(key)
            if delta is None:
                deltas[key] = [paid, reversed_, paid, opened, fact.position, period_end, *key]
            else:
                delta[0] += paid
                delta[1] += reversed_
                delta[2] += paid
                delta[3] += opened
                delta[4] = fact.position
                if period_end is not None:
                    delta[5] = period_end
        return list(created.values()), list(deltas.values())

    def write(self, conn: Connection, generation: int, changes: Changes) -> None:
        table = _table(generation)
        created, updated = changes
        insert_rows(conn, table, created)
        execute_many(conn, _update_sql(table.name), updated)


Changes = tuple[list[list[Any]], list[list[Any]]]
_PAID = 9
"""Where ``paid`` is in a row (``reversed``, ``remaining``, ``claims_open`` and
``last_position`` follow it)."""
_PERIOD_END = 4


@cache
def _update_sql(table: str) -> str:
    return (f'UPDATE "{table}" SET paid = paid + ?, reversed = reversed + ?, '
            "remaining = remaining - ?, claims_open = claims_open + ?, last_position = ?, "
            "period_end = COALESCE(?, period_end) "
            "WHERE policy_id = ? AND policy_year = ? AND coverage = ?")


@cache
def _reads(generation: int) -> tuple[Select[Any], Select[Any]]:
    """The queries of ``read`` (every policy; one policy), built once: SQLAlchemy
    then reuses their compiled form without building the statement and its
    cache key again."""
    table = _table(generation)
    every = select(table).order_by(table.c.policy_id, table.c.policy_year, table.c.coverage)
    return every, every.where(table.c.policy_id == bindparam("policy_id"))


def read(conn: Connection, generation: int, policy_id: str | None) -> list[dict[str, Any]]:
    every, one = _reads(generation)
    rows = (conn.execute(every) if policy_id is None
            else conn.execute(one, {"policy_id": policy_id}))
    return [dict(r._mapping) for r in rows]


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
