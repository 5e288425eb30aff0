"""Read model: remaining annual limits per policy, policy year and coverage.

One row per (policy, year, coverage): the period of cover and the limits copied
in by ``CoverageAttached`` (the period's end moved by ``CoverPeriodChanged``),
paid (drawn by payouts, net of reversals), reversed (the total restored by
reversals), held (by payouts requested and awaiting approval:
``AnnualLimitHeld`` adds, ``AnnualLimitReleased`` subtracts), remaining
(annual limit − paid − held), the claims open against it, and the position of
the last event that changed the row.

And the year's case reserves (支払備金): reserved (the sum of the reserves of
its claims of the coverage, kept per claim in ``case_reserves``), incurred (paid
+ reserved), whether the reserves exceed what remains of the limit
(``reserves_exceed_remaining``: they never block a payment, so they can), and
how many of its claims have no reserve (``unreserved``: claims filed before
reserves were kept, until one is set; ``reserved`` leaves them out).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
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

from projections import case_reserves
from projections.base import Fact
from projections.store import execute_many, insert_rows

NAME = "limits"
_OPENED = {"ClaimFiled", "DenialWithdrawn", "ClaimReopened"}
_CLOSED = {"ExclusionApplied", "ClaimClosed", "ClaimWithdrawn"}
Key = tuple[str, int, str]
_DRAWS = {"AnnualLimitDrawn": (1, 0, 0), "AnnualLimitRestored": (-1, 1, 0),
          "AnnualLimitHeld": (0, 0, 1), "AnnualLimitReleased": (0, 0, -1)}
"""What a year's event of an amount adds to paid, reversed and held, per yen."""
_RELEVANT = {"CoverageAttached", "CoverPeriodChanged", "ReserveSet", "PayoutIssued",
             *_DRAWS, *_OPENED, *_CLOSED}


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
        Column("held", BigInteger, nullable=False),
        Column("reserved", BigInteger, nullable=False),
        Column("incurred", BigInteger, nullable=False),
        Column("unreserved", Integer, nullable=False),
        Column("reserves_exceed_remaining", Boolean, nullable=False),
        sqlite_with_rowid=False,
    )


# Where the figures are in a new row (in the table's column order) and in a
# delta (what a batch adds to a stored row: paid, reversed, held, reserved,
# unreserved, claims open, then the last position, the new period end, the key).
_PAID, _REVERSED, _HELD, _RESERVED, _UNRESERVED, _OPEN = range(6)
_ROW = (9, 10, 14, 15, 17, 12)
"""Where each figure (``_PAID`` … ``_OPEN``) is in a new row."""
_DELTA = (0, 1, 2, 3, 4, 5)
"""Where each figure is in a delta."""
_ROW_POSITION, _ROW_PERIOD_END, _DELTA_POSITION, _DELTA_PERIOD_END = 13, 4, 6, 7


class LimitsProjection:
    name = NAME
    schema_version = 3
    events: frozenset[str] | None = frozenset(_RELEVANT)

    def tables(self, generation: int) -> list[Table]:
        return [_table(generation), case_reserves.table(generation)]

    def indexes(self, generation: int, dialect: str) -> list[Index]:
        return []

    def changes(self, facts: list[Fact]) -> Changes:
        """New rows (``CoverageAttached``, with the rest of the batch folded in),
        for rows already stored what the batch adds to them, and the reserves of
        the claims it touches."""
        created: dict[Key, list[Any]] = {}
        deltas: dict[Key, list[Any]] = {}
        reserves = case_reserves.Batch()
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
                    fact.position, 0, 0, 0, 0, False,
                ]
                continue
            row = created.get(key)
            if row is not None:
                at, position, period_end = _ROW, _ROW_POSITION, _ROW_PERIOD_END
            else:
                row = deltas.get(key)
                if row is None:
                    row = deltas[key] = [0, 0, 0, 0, 0, 0, 0, None, *key]
                at, position, period_end = _DELTA, _DELTA_POSITION, _DELTA_PERIOD_END
            row[position] = fact.position
            if name in _DRAWS:
                amount = s["amount"]
                paid, reversed_, held = _DRAWS[name]
                row[at[_PAID]] += paid * amount
                row[at[_REVERSED]] += reversed_ * amount
                row[at[_HELD]] += held * amount
            elif name == "CoverPeriodChanged":
                row[period_end] = s["period_end"]
            elif name == "ReserveSet":
                row[at[_RESERVED]] += s["change"]
                if s["reserve_before"] is None:
                    row[at[_UNRESERVED]] -= 1
                reserves.set(s["claim_id"], key, s["reserve"])
            elif name == "PayoutIssued":
                row[at[_RESERVED]] -= reserves.erode(s["claim_id"], key, s["amount"])
            else:
                row[at[_OPEN]] += 1 if name in _OPENED else -1
                if name == "ClaimFiled":
                    row[at[_UNRESERVED]] += 1
                    # (a filing stored without its claim id, by a writer outside
                    # the ledger, is counted as open claims count it)
                    if s.get("claim_id") is not None:
                        reserves.file(s["claim_id"], key)
        for row in created.values():
            _derive(row)
        return list(created.values()), list(deltas.values()), reserves.changes()

    def write(self, conn: Connection, generation: int, changes: Changes) -> None:
        table = _table(generation)
        created, updated, reserves = changes
        insert_rows(conn, table, created)
        eroded = case_reserves.write(conn, generation, reserves)
        # A claim stored before the batch has its year stored before it too, and
        # the payout touched the year's row: it has a delta.
        by_key = {(d[8], d[9], d[10]): d for d in updated}
        for key, amount in eroded.items():
            by_key[key][_DELTA[_RESERVED]] -= amount
        execute_many(conn, _update_sql(table.name), [_update_params(d) for d in updated])


Changes = tuple[list[list[Any]], list[list[Any]], Any]


def _derive(row: list[Any]) -> None:
    """A new row's remaining, incurred and flag, from its figures."""
    paid, held, reserved = row[_ROW[_PAID]], row[_ROW[_HELD]], row[_ROW[_RESERVED]]
    annual_limit, remaining, incurred, flag = 8, 11, 16, 18  # (the table's columns)
    row[remaining] = row[annual_limit] - paid - held
    row[incurred] = paid + reserved
    row[flag] = reserved > row[remaining]


def _update_params(d: list[Any]) -> tuple[Any, ...]:
    """The parameters of ``_update_sql`` for a delta."""
    paid, reversed_, held, reserved, unreserved, opened, position, period_end = d[:8]
    return (paid, reversed_, held, reserved, unreserved, paid, held, paid, reserved,
            reserved, paid, held, opened, position, period_end, d[8], d[9], d[10])


@cache
def _update_sql(table: str) -> str:
    # Every expression reads the row as it was before the statement.
    return (f'UPDATE "{table}" SET paid = paid + ?, reversed = reversed + ?, '
            "held = held + ?, reserved = reserved + ?, unreserved = unreserved + ?, "
            "remaining = remaining - ? - ?, incurred = incurred + ? + ?, "
            "reserves_exceed_remaining = (reserved + ? > remaining - ? - ?), "
            "claims_open = claims_open + ?, last_position = ?, "
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
