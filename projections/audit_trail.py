"""Read model: the audit trail, one row per event in log order.

Each row holds what auditors filter by: position, recorded time, actor, the
aggregate's id and version, the event type, and the policy and claim the event
concerns. Auditors query it by policy, claim, actor, event type and
recorded-time range, a page at a time by position (a cursor, never an offset).

The rest of what a page shows (the command id, the policy year and coverage,
the business dates, the amount, and the annual-limit balance before and after)
is computed by ``details`` from the event itself, which a page reads from the
log by position when it is read (``ReadModels.audit``), exactly as the log
stores it; the aggregate's kind comes from its id. Neither the event nor those figures are copied
here: the copy was most of a rebuild's work, and the log stays the only place
that holds them.

When the log is a SQLite file and so is the read database, or the read models
are in the log's PostgreSQL database, the rows are computed by the database
itself, straight from the log's JSON (``insert_from_log``), with no Python
object per event; elsewhere by ``row``. Both give the same rows (tests compare
them on the same logs, and on events of any shape). The SQL reads the stored
JSON as the current version of the event, so events of a class with upcasters
are left to ``row`` (and on PostgreSQL, recorded times of other shapes than the
ledger's own).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    select,
)
from sqlalchemy.sql import Select

from domain.ids import aggregate_kind
from projections.base import Fact, decoded, recorded_time
from projections.store import insert_rows

NAME = "audit_trail"
_DATES = ("service_start", "service_end", "firewall_applied_on", "cover_start", "cancelled_on",
          "period_start", "period_end", "incident_date", "claim_made_on", "notified_on",
          "cover_date", "due_on", "effective_on")
_AMOUNTS = {"ReserveSet": "reserve", "PayoutRejected": "released"}
"""The field that is an event's amount when it is not ``amount`` (a claim's
filing and re-assessment: ``loss_amount``): the reserve set, the hold released."""


@cache
def _table(generation: int) -> Table:
    return Table(
        f"rm_audit_g{generation}",
        MetaData(),
        # INTEGER on SQLite: the position is the rowid, so no second B-tree.
        Column("position", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
               autoincrement=False),
        Column("recorded_at", String(32), nullable=False),
        Column("actor", String(128), nullable=False),
        Column("aggregate_id", String(160), nullable=False),
        Column("version", Integer, nullable=False),
        Column("event_type", String(64), nullable=False),
        Column("policy_id", String(64), nullable=True),
        Column("claim_id", String(64), nullable=True),
    )


def row(fact: Fact) -> tuple[Any, ...]:
    """The audit row of one event, in the table's column order."""
    s = fact.state
    source = _source(fact)
    return (fact.position, fact.recorded_at, s["actor"], s["originator_id"],
            s["originator_version"], fact.name, source.get("policy_id"), source.get("claim_id"))


def _source(fact: Fact) -> dict[str, Any]:
    """Where an event names its policy, year, claim and coverage: a command's
    record names them in the command it accepted."""
    command = fact.state.get("command") if fact.name == "CommandAccepted" else None
    return command if isinstance(command, dict) else fact.state


def details(fact: Fact | None) -> dict[str, Any]:
    """What a page shows of an event besides its row: the command id, the policy
    year and coverage it concerns, its business dates, its amount (for a
    reserve, the reserve set; for a rejected request, the hold released), and
    the annual-limit balance before and after (for payouts and the draws,
    restorations, holds and releases of a year's limit). None (an event the
    log no longer holds): none of them."""
    if fact is None:
        return {"command_id": None, "policy_year": None, "coverage": None,
                "business_dates": {}, "amount": None, "balance_before": None,
                "balance_after": None}
    s = fact.state
    name = fact.name
    before = after = None
    if name == "PayoutIssued":
        before = s["breakdown"]["annual_remaining_before"]
        after = s["breakdown"]["annual_remaining_after"]
    elif "remaining_before" in s:
        before, after = s["remaining_before"], s["remaining_after"]
    source = _source(fact)
    return {
        "command_id": s["command_id"],
        "policy_year": source.get("policy_year"),
        "coverage": source.get("coverage"),
        "business_dates": {k: s[k] for k in _dates(name) if s.get(k)},
        "amount": (s.get(_AMOUNTS[name]) if name in _AMOUNTS
                   else s.get("amount", s.get("loss_amount"))),
        "balance_before": before,
        "balance_after": after,
    }


def shown(row: dict[str, Any], data: bytes | None) -> dict[str, Any]:
    """An audit row as a page shows it, from the row and its event's JSON (an event
    rewritten out of its class's shape shows as stored, with no figures: ``seal
    verify`` reports it)."""
    payload = None if data is None else orjson.loads(data)
    try:
        found = details(None if data is None else decoded([(
            row["position"], row["aggregate_id"], row["version"], row["event_type"], data)])[0])
    except (KeyError, TypeError, AttributeError):
        found = details(None)
    return {
        "position": row["position"], "recorded_at": row["recorded_at"], "actor": row["actor"],
        "command_id": found["command_id"], "aggregate_type": aggregate_kind(row["aggregate_id"]),
        "aggregate_id": row["aggregate_id"], "version": row["version"],
        "event_type": row["event_type"], "policy_id": row["policy_id"],
        "policy_year": found["policy_year"], "claim_id": row["claim_id"],
        "coverage": found["coverage"], "business_dates": found["business_dates"],
        "amount": found["amount"], "balance_before": found["balance_before"],
        "balance_after": found["balance_after"],
        "payload": payload,
    }


@cache
def _dates(name: str) -> tuple[str, ...]:
    """The business dates an event of this name can carry, in ``_DATES`` order."""
    from domain.events import event_class  # (the model's classes: only once a row has an event)

    try:
        fields = event_class(name).model_fields
    except KeyError:
        return _DATES
    return tuple(k for k in _DATES if k in fields)


def insert_from_log(conn: Connection, generation: int, log_table: str,
                    after: int, last: int) -> None:
    """Insert the rows of the log's events after position ``after`` up to ``last``,
    computed by the database from ``log_table`` (the library's events table,
    readable on the same connection), but for events of a class with upcasters
    (and on PostgreSQL, recorded times of other shapes): those are read, upcast
    and computed by ``row``. On SQLite, ``recorded_time`` must be registered on
    the connection (``register_functions``)."""
    from domain.events import event_class, event_names  # (catching up, not reading)

    upcast = tuple(n for n in event_names() if event_class(n).class_version > 1)
    table = _table(generation)
    if conn.dialect.name == "postgresql":
        # One statement inserts the rows it can compute and returns the others.
        stored = conn.exec_driver_sql(
            _insert_from_log_postgres(table.name, log_table, upcast), (after, last)).all()
    else:
        conn.exec_driver_sql(_insert_from_log_sql(table.name, log_table, upcast), (after, last))
        if not upcast:
            return
        marks = ", ".join("?" * len(upcast))
        stored = conn.exec_driver_sql(
            f"SELECT rowid, originator_id, originator_version, topic, state FROM {log_table} "
            f"WHERE rowid > ? AND rowid <= ? AND topic IN ({marks})", (after, last, *upcast)
        ).all()
    insert_rows(conn, table, [row(f) for f in decoded(tuple(r) for r in stored)])


def register_functions(dbapi_connection: Any) -> None:
    """The Python function ``insert_from_log`` calls for a recorded time of a shape
    other than the ledger's own (whole seconds or microseconds, in UTC)."""
    dbapi_connection.create_function("recorded_time", 1, recorded_time, deterministic=True)


@cache
def _insert_from_log_sql(table: str, log_table: str, upcast: tuple[str, ...]) -> str:
    # Each expression mirrors ``row`` (and ``recorded_time``).
    ts = "json_extract(s, '$.timestamp')"
    columns = [
        "rowid",
        # (27 or 20 characters, the last a Z: one reading of the JSON to test it)
        f"CASE WHEN {ts} GLOB '{'?' * 26}Z' THEN {ts} "
        f"WHEN {ts} GLOB '{'?' * 19}Z' THEN substr({ts}, 1, 19) || '.000000Z' "
        f"ELSE recorded_time({ts}) END",
        "json_extract(s, '$.actor')",
        "originator_id",
        "originator_version",
        "topic",
        *(f"CASE WHEN topic = 'CommandAccepted' AND json_type(s, '$.command') = 'object' "
          f"THEN json_extract(s, '$.command.{k}') ELSE json_extract(s, '$.{k}') END"
          for k in ("policy_id", "claim_id")),
    ]
    skip = "".join(f" AND topic != '{name}'" for name in upcast)
    return (f'INSERT INTO "{table}" SELECT {", ".join(columns)} FROM '
            f"(SELECT rowid, originator_id, originator_version, topic, "
            f"CAST(state AS TEXT) AS s FROM {log_table} WHERE rowid > ? AND rowid <= ?{skip})")


@cache
def _insert_from_log_postgres(table: str, log_table: str, upcast: tuple[str, ...]) -> str:
    # PostgreSQL: each event's JSON is parsed once (into jsonb, in a materialized
    # step) and each expression mirrors ``row``. Events of a class with
    # upcasters, and recorded times of other shapes than the ledger's own (whole
    # seconds or microseconds, in UTC), are returned to be computed by ``row``.
    upcast_names = ", ".join(f"'{name}'" for name in upcast)
    in_python = " OR ".join([
        *([f"topic IN ({upcast_names})"] if upcast else []),
        "jsonb_typeof(s->'timestamp') IS DISTINCT FROM 'string'",
        "right(s->>'timestamp', 1) <> 'Z'",
        "length(s->>'timestamp') NOT IN (20, 27)",
    ])
    columns = [
        "position",
        "CASE WHEN length(ts) = 27 THEN ts ELSE left(ts, 19) || '.000000Z' END",
        "s->>'actor'",
        "originator_id",
        "originator_version",
        "topic",
        "src->>'policy_id'",
        "src->>'claim_id'",
    ]
    return (
        "WITH parsed AS MATERIALIZED ("
        "SELECT notification_id AS position, originator_id, originator_version, topic, state, "
        "s, s->>'timestamp' AS ts, "
        "CASE WHEN topic = 'CommandAccepted' AND jsonb_typeof(s->'command') = 'object' "
        "THEN s->'command' ELSE s END AS src, "
        f"{in_python} AS in_python "
        "FROM (SELECT notification_id, originator_id, originator_version, topic, state, "
        "convert_from(state, 'UTF8')::jsonb AS s "
        f"FROM {log_table} WHERE notification_id > %s AND notification_id <= %s "
        "OFFSET 0) AS stored), "  # (OFFSET 0: not merged into the step above, so parsed once)
        f'computed AS (INSERT INTO "{table}" SELECT {", ".join(columns)} '
        "FROM parsed WHERE NOT in_python) "
        "SELECT position, originator_id, originator_version, topic, state FROM parsed "
        "WHERE in_python ORDER BY position"
    )


class AuditTrailProjection:
    name = NAME
    schema_version = 7
    events: frozenset[str] | None = None  # every event

    def tables(self, generation: int) -> list[Table]:
        return [_table(generation)]

    @cache  # noqa: B019 (one instance; the index objects per generation and dialect)
    def indexes(self, generation: int, dialect: str) -> list[Index]:
        """Each filter's index, in position order within a value. On SQLite the
        position is the rowid, which every index entry ends with already: naming
        it again would store it twice."""
        t = _table(generation)
        prefix = f"ix_rm_audit_g{generation}"
        then = () if dialect == "sqlite" else (t.c.position,)
        # Only the rows that name a claim are in the claim's index (~60% of them
        # in a workload's log): a query by claim implies ``claim_id IS NOT NULL``.
        named = t.c.claim_id.is_not(None)
        return [
            Index(f"{prefix}_policy", t.c.policy_id, *then),
            Index(f"{prefix}_claim", t.c.claim_id, *then, sqlite_where=named,
                  postgresql_where=named),
            Index(f"{prefix}_actor", t.c.actor, *then),
            Index(f"{prefix}_type", t.c.event_type, *then),
            Index(f"{prefix}_recorded", t.c.recorded_at),
        ]

    def changes(self, facts: list[Fact]) -> list[tuple[Any, ...]]:
        return [row(f) for f in facts]

    def write(self, conn: Connection, generation: int, changes: list[tuple[Any, ...]]) -> None:
        insert_rows(conn, _table(generation), changes)


@dataclass(frozen=True)
class AuditQuery:
    policy_id: str | None = None
    claim_id: str | None = None
    actor: str | None = None
    event_type: str | None = None
    recorded_from: str | None = None
    recorded_to: str | None = None
    after: int = 0
    limit: int = 1000


def page_query(generation: int, q: AuditQuery) -> Select[Any]:
    """The statement that reads one page of ``q``: the rows after the cursor
    ``q.after``, in position order."""
    t = _table(generation)
    query = select(t).where(t.c.position > q.after).order_by(t.c.position).limit(q.limit)
    if q.policy_id is not None:
        query = query.where(t.c.policy_id == q.policy_id)
    if q.claim_id is not None:
        query = query.where(t.c.claim_id == q.claim_id)
    if q.actor is not None:
        query = query.where(t.c.actor == q.actor)
    if q.event_type is not None:
        query = query.where(t.c.event_type == q.event_type)
    if q.recorded_from is not None:
        query = query.where(t.c.recorded_at >= q.recorded_from)
    if q.recorded_to is not None:
        query = query.where(t.c.recorded_at <= q.recorded_to)
    return query


def read(conn: Connection, generation: int, q: AuditQuery) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(page_query(generation, q))]
