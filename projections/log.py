"""Raw reads of the ``eventsourcing`` library's events table, for the read side.

Where the log is the library's SQLite table with each event's JSON stored as is,
its rows are read with plain SQL, without building a ``Notification`` per row;
elsewhere through the recorder's ``select_notifications``. Also here: where SQL on
the read database's own connection can read the log (``log_for_sql``, ``attach``),
so that the database computes the audit trail's rows by itself.
"""

from __future__ import annotations

import os
import urllib.parse
from typing import cast

from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder
from sqlalchemy import URL, Connection

from domain.ledger import Ledger
from domain.ledger.mapper import PydanticEventMapper
from projections import audit_trail
from projections.base import Fact, Projection, decoded
from projections.store import ReadStore

Row = tuple[int, str, int, str, bytes | None]
"""A stored event: (position, aggregate id, version, name, JSON or None)."""

_LAST = 2**63 - 1
_NEAR = 64
"""Positions at most this far apart are read with one range query (the events
between them are read and dropped)."""


def _stores_plain_json(ledger: Ledger) -> bool:
    """Whether the log stores each event's JSON as is (no cipher, no compression)."""
    return not (ledger.mapper.cipher or ledger.mapper.compressor)


def plain_sqlite(ledger: Ledger) -> SQLiteApplicationRecorder | None:
    """The log's recorder if it is the library's SQLite table with the JSON stored
    as is, so that its rows can be read with plain SQL; else None."""
    recorder = ledger.recorder
    if isinstance(recorder, SQLiteApplicationRecorder) and _stores_plain_json(ledger):
        return recorder
    return None


def plain_postgres(ledger: Ledger) -> PostgresApplicationRecorder | None:
    """The same for the library's PostgreSQL table."""
    recorder = ledger.recorder
    if isinstance(recorder, PostgresApplicationRecorder) and _stores_plain_json(ledger):
        return recorder
    return None


def stored_rows(ledger: Ledger, after: int, limit: int, stop: int | None,
                names: frozenset[str] | None) -> list[Row]:
    """The stored events as (position, aggregate id, version, name, JSON), the
    JSON None for an event whose name is not in ``names`` (None: every name)."""
    mapper = ledger.mapper
    assert isinstance(mapper, PydanticEventMapper)
    sqlite = plain_sqlite(ledger)
    if sqlite is not None:
        # The library's own query, without building a Notification per row.
        state = "state" if names is None else (
            f"CASE WHEN topic IN ({', '.join('?' * len(names))}) THEN state END")
        with sqlite.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT rowid, originator_id, originator_version, topic, {state} "
                      f"FROM {sqlite.events_table_name} WHERE rowid > ? AND rowid <= ? "
                      "ORDER BY rowid LIMIT ?", (*(names or ()), after, stop or _LAST, limit))
            return cast(list[Row], c.fetchall())
    return [(n.id, str(n.originator_id), n.originator_version, n.topic,
             mapper.stored_json(n) if names is None or n.topic in names else None)
            for n in ledger.recorder.select_notifications(after + 1, limit, stop=stop)]


def facts(ledger: Ledger, after: int, limit: int, stop: int | None = None) -> list[Fact]:
    """Up to ``limit`` events after position ``after`` (up to ``stop``), decoded."""
    return decoded(cast(list[tuple[int, str, int, str, bytes]],
                        stored_rows(ledger, after, limit, stop, None)))


def readable_facts(ledger: Ledger, projection: Projection, after: int, last: int
                   ) -> tuple[list[Fact], tuple[int, str, Exception] | None]:
    """The events after ``after`` up to ``last`` that ``projection`` reads, decoded
    one by one, up to the first that cannot be decoded; and that one (its
    position, name and error), if any."""
    names = None if projection.events is None else frozenset(projection.events)
    found: list[Fact] = []
    for row in stored_rows(ledger, after, last - after, last, names):
        if row[4] is None:
            continue
        try:
            found.extend(decoded([cast(tuple[int, str, int, str, bytes], row)]))
        except Exception as exc:
            return found, (row[0], row[3], exc)
    return found, None


def stored_events(ledger: Ledger, positions: list[int]) -> dict[int, bytes]:
    """The JSON of the events at ``positions``, exactly as stored (deciphered and
    decompressed); a position with no event is left out."""
    mapper = ledger.mapper
    assert isinstance(mapper, PydanticEventMapper)
    recorder = ledger.recorder
    wanted = sorted(set(positions))
    found: dict[int, bytes] = {}
    sqlite = plain_sqlite(ledger)
    if sqlite is not None:
        with sqlite.datastore.transaction(commit=False) as c:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                c.execute(f"SELECT rowid, state FROM {sqlite.events_table_name} "
                          f"WHERE rowid IN ({', '.join('?' * len(chunk))})", chunk)
                # (bytes as the library stores them; text if someone wrote text there)
                found.update((row[0], row[1].encode() if isinstance(row[1], str)
                              else bytes(row[1])) for row in c.fetchall())
        return found
    runs: list[list[int]] = []
    for position in wanted:
        if runs and position - runs[-1][1] <= _NEAR:
            runs[-1][1] = position
        else:
            runs.append([position, position])
    keep = set(wanted)
    for first, last in runs:
        for n in recorder.select_notifications(first, last - first + 1, stop=last):
            if n.id in keep:
                found[n.id] = mapper.stored_json(n)
    return found


def log_for_sql(ledger: Ledger, store: ReadStore) -> tuple[str | None, str] | None:
    """Where SQL on the read database's connection can read the log's events to
    compute the audit trail from them, if it can: the SQLite file to attach
    (None on PostgreSQL) and the events table. It can when the log stores
    its JSON as is and the two are SQLite files, or the same PostgreSQL
    database."""
    sqlite = plain_sqlite(ledger)
    if sqlite is not None and store.is_sqlite:
        pool = sqlite.datastore.pool
        path = pool.db_name
        if pool.is_sqlite_memory_mode or not os.path.isfile(path):
            return None
        return path, sqlite.events_table_name
    postgres = plain_postgres(ledger)
    if postgres is not None and _same_database(postgres.datastore, store.writer.url):
        return None, f'"{postgres.datastore.schema}"."{postgres.events_table_name}"'
    return None


def _same_database(log: PostgresDatastore, read: URL) -> bool:
    """Whether the read models are in the log's PostgreSQL database, read by the
    same role (as both are configured: the same host, port, database and user;
    another role may not be allowed to read the log's table)."""
    kwargs = log.pool.kwargs
    assert isinstance(kwargs, dict)
    return (read.get_backend_name() == "postgresql"
            and (read.host, read.port or 5432, read.database, read.username)
            == (kwargs["host"], int(kwargs["port"]), kwargs["dbname"], kwargs["user"]))


def attach(conn: Connection, log_path: str | None, events_table: str) -> str:
    """Make the log's events table readable on ``conn`` (outside a transaction),
    and give the name to read it by. A log in another file is attached read-only,
    so the writer's transactions never take the log's write lock. On
    PostgreSQL (no file) the table is in the same database already."""
    if log_path is None:
        return events_table
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    audit_trail.register_functions(dbapi)
    read_db = conn.engine.url.database or ""
    if os.path.isfile(read_db) and os.path.samefile(read_db, log_path):
        return f'"{events_table}"'
    uri = "file:" + urllib.parse.quote(os.path.abspath(log_path)) + "?mode=ro"
    dbapi.execute("ATTACH DATABASE ? AS ledger_log", (uri,))
    return f'ledger_log."{events_table}"'
