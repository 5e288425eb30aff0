"""Sealing recorders: the library's SQLite and PostgreSQL application recorders,
extended to write the seal's links in the same transaction as the events.

The events are inserted exactly as the library does it; then, still inside the
transaction (which holds the log's write lock on both backends), the last link
is read and one link per new event is written, with a checkpoint whenever the
log crosses another ``CHECKPOINT_EVERY`` positions. That bookkeeping is shared
(``sealing``); each recorder here supplies its SQL. The ledger selects them by
``APPLICATION_RECORDER_TOPIC`` (see ``adapters.storage``). Both pass the
library's ``ApplicationRecorderTestCase``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore
from eventsourcing.utils import register_topic
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

from adapters.audit.seal import Checkpoint, SealedLog, SealError
from adapters.storage.sealing import Sealing

SQLITE_TOPIC = "adapters.seal_store:SealedSQLiteRecorder"
POSTGRES_TOPIC = "adapters.seal_store:SealedPostgresRecorder"
"""The topics the ledger's settings name the recorders by: the module they
were first written in, registered below so that they resolve to this one."""


def sealed_log(recorder: object) -> SealedLog:
    """The ledger's recorder as a sealed log, or a ``SealError`` if it does not seal."""
    if isinstance(recorder, SealedSQLiteRecorder | SealedPostgresRecorder):
        return recorder
    msg = f"this ledger's recorder ({type(recorder).__name__}) does not seal its log"
    raise SealError(msg)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _seal_history(log: SealedSQLiteRecorder | SealedPostgresRecorder) -> None:
    """A log that held events before it had a seal (a database from before the
    seal) is sealed when the seal is created, before anything new is appended."""
    if not log.select_links(0, 1) and log.max_notification_id():
        log.seal_tail()


class SealedSQLiteRecorder(Sealing, SQLiteApplicationRecorder):
    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        self.links_table = f"{events_table_name}_seal"
        self.checkpoints_table = f"{events_table_name}_seal_checkpoints"
        self.meta_table = f"{events_table_name}_seal_meta"
        self._ledger_id = None
        super().__init__(datastore, events_table_name)

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {self.links_table} "
            "(position INTEGER PRIMARY KEY, hash BLOB NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.checkpoints_table} "
            "(position INTEGER PRIMARY KEY, hash BLOB NOT NULL, sealed_at TEXT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.meta_table} "
            "(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        ]

    def create_table(self) -> None:
        super().create_table()
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT 1 FROM {self.meta_table} WHERE key = 'ledger_id'")
            if c.fetchone():
                return
        # A transaction that starts with its write waits for the lock; one that
        # read first could not upgrade while another process writes.
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"INSERT OR IGNORE INTO {self.meta_table} VALUES ('ledger_id', ?)",
                      (str(uuid4()),))
        _seal_history(self)

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent],
                       **kwargs: Any) -> Sequence[int] | None:
        """The library's insert, as one ``executemany`` instead of one statement
        per event. The first insert takes SQLite's write lock for the rest of
        the transaction, so the rows get consecutive rowids (SQLite gives a new
        row the largest rowid plus one) ending at ``last_insert_rowid()``."""
        if not stored_events:
            return []
        c.executemany(self.insert_events_statement, [
            (s.originator_id.hex if isinstance(s.originator_id, UUID) else s.originator_id,
             s.originator_version, s.topic, s.state) for s in stored_events])
        c.execute("SELECT last_insert_rowid()")
        last = int(c.fetchone()[0])
        ids = range(last - len(stored_events) + 1, last + 1)
        self._seal(c, list(zip(ids, stored_events, strict=True)), checkpoint=False)
        return list(ids)

    def _last_link(self, c: SQLiteCursor) -> tuple[int, bytes] | None:
        c.execute(f"SELECT position, hash FROM {self.links_table} "
                  "ORDER BY position DESC LIMIT 1")
        row = c.fetchone()
        return (row[0], bytes(row[1])) if row else None

    def _write_links(self, c: SQLiteCursor, links: list[tuple[int, bytes]]) -> None:
        c.executemany(f"INSERT INTO {self.links_table} VALUES (?, ?)", links)

    def _write_checkpoint(self, c: SQLiteCursor, position: int, chained: bytes) -> Checkpoint:
        c.execute(f"INSERT OR IGNORE INTO {self.checkpoints_table} VALUES (?, ?, ?)",
                  (position, chained, _now()))
        c.execute(f"SELECT position, hash, sealed_at FROM {self.checkpoints_table} "
                  "WHERE position = ?", (position,))
        return _checkpoint(c.fetchone())

    def _select_ledger_id(self, c: SQLiteCursor) -> str | None:
        c.execute(f"SELECT value FROM {self.meta_table} WHERE key = 'ledger_id'")
        row = c.fetchone()
        return str(row[0]) if row else None

    def _events_after(self, c: SQLiteCursor, after: int,
                      limit: int) -> list[tuple[int, StoredEvent]]:
        c.execute(f"SELECT rowid, originator_id, originator_version, topic, state "
                  f"FROM {self.events_table_name} WHERE rowid > ? ORDER BY rowid LIMIT ?",
                  (after, limit))
        return [(r[0], StoredEvent(r[1], r[2], r[3], bytes(r[4]))) for r in c.fetchall()]

    def _select_originator_ids(self, c: SQLiteCursor, first: int, last: int) -> set[str]:
        c.execute(f"SELECT originator_id FROM {self.events_table_name} "
                  "WHERE rowid BETWEEN ? AND ?", (first, last))
        return {row[0] for row in c.fetchall()}

    def _select_first_events(self, c: SQLiteCursor,
                             originator_ids: list[str]) -> list[StoredEvent]:
        c.execute(f"SELECT originator_id, originator_version, topic, state "
                  f"FROM {self.events_table_name} WHERE originator_version = 1 AND "
                  f"originator_id IN ({', '.join('?' * len(originator_ids))})", originator_ids)
        return [StoredEvent(r[0], r[1], r[2], bytes(r[3])) for r in c.fetchall()]

    def _select_events_of(self, c: SQLiteCursor,
                          originator_ids: list[str]) -> list[StoredEvent]:
        c.execute(f"SELECT originator_id, originator_version, topic, state "
                  f"FROM {self.events_table_name} WHERE "
                  f"originator_id IN ({', '.join('?' * len(originator_ids))}) "
                  "ORDER BY originator_id, originator_version", originator_ids)
        return [StoredEvent(r[0], r[1], r[2], bytes(r[3])) for r in c.fetchall()]

    def _select_position(self, c: SQLiteCursor, originator_id: str,
                         version: int) -> int | None:
        c.execute(f"SELECT rowid FROM {self.events_table_name} "
                  "WHERE originator_id = ? AND originator_version = ?", (originator_id, version))
        row = c.fetchone()
        return None if row is None else int(row[0])

    def _lock(self, c: SQLiteCursor) -> None:
        # A write first: the transaction then holds SQLite's write lock throughout.
        c.execute(f"UPDATE {self.meta_table} SET value = value WHERE key = 'ledger_id'")

    def select_links(self, after: int, limit: int) -> list[tuple[int, bytes]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT position, hash FROM {self.links_table} WHERE position > ? "
                      "ORDER BY position LIMIT ?", (after, limit))
            return [(row[0], bytes(row[1])) for row in c.fetchall()]

    def select_checkpoints(self) -> list[Checkpoint]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT position, hash, sealed_at FROM {self.checkpoints_table} "
                      "ORDER BY position")
            return [_checkpoint(row) for row in c.fetchall()]


def _checkpoint(row: Any) -> Checkpoint:
    if isinstance(row, dict):
        row = (row["position"], row["hash"], row["sealed_at"])
    return Checkpoint(position=row[0], hash=bytes(row[1]).hex(), sealed_at=row[2])


class SealedPostgresRecorder(Sealing, PostgresApplicationRecorder):
    def __init__(self, datastore: PostgresDatastore, *,
                 events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        self._ledger_id = None
        schema = Identifier(self.datastore.schema)
        self.links = self._table(schema, f"{events_table_name}_seal")
        self.checkpoints = self._table(schema, f"{events_table_name}_seal_checkpoints")
        self.meta = self._table(schema, f"{events_table_name}_seal_meta")
        self.sql_create_statements += [
            SQL("CREATE TABLE IF NOT EXISTS {0} (position bigint PRIMARY KEY, "
                "hash bytea NOT NULL)").format(self.links),
            SQL("CREATE TABLE IF NOT EXISTS {0} (position bigint PRIMARY KEY, "
                "hash bytea NOT NULL, sealed_at text NOT NULL)").format(self.checkpoints),
            SQL("CREATE TABLE IF NOT EXISTS {0} (key text PRIMARY KEY, "
                "value text NOT NULL)").format(self.meta),
            SQL("INSERT INTO {0} (key, value) VALUES ('ledger_id', gen_random_uuid()::text) "
                "ON CONFLICT (key) DO NOTHING").format(self.meta),
        ]

    def create_table(self) -> None:
        super().create_table()
        _seal_history(self)

    def _table(self, schema: Identifier, name: str) -> Composed:
        self.check_identifier_length(name)
        return SQL("{0}.{1}").format(schema, Identifier(name))

    def _fetch_ids_after_insert_events(self, curs: Cursor[DictRow],
                                       stored_events: Sequence[StoredEvent],
                                       **kwargs: Any) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        assert ids is not None
        self._seal(curs, list(zip(ids, stored_events, strict=True)), checkpoint=False)
        return ids

    def _last_link(self, curs: Cursor[DictRow]) -> tuple[int, bytes] | None:
        curs.execute(SQL("SELECT position, hash FROM {0} ORDER BY position DESC LIMIT 1")
                     .format(self.links), prepare=True)
        row = curs.fetchone()
        return (row["position"], bytes(row["hash"])) if row else None

    def _write_links(self, curs: Cursor[DictRow], links: list[tuple[int, bytes]]) -> None:
        curs.executemany(SQL("INSERT INTO {0} (position, hash) VALUES (%s, %s)")
                         .format(self.links), links)

    def _write_checkpoint(self, curs: Cursor[DictRow], position: int,
                          chained: bytes) -> Checkpoint:
        # One statement, on a cursor of its own: the library inserts in pipeline
        # mode, where a cursor's earlier result (the links' insert, or a first
        # statement here) can reach it after a later execute, and be what its
        # fetch reads.
        with curs.connection.cursor() as own:
            own.execute(SQL("WITH new AS (INSERT INTO {0} VALUES (%s, %s, %s) "
                            "ON CONFLICT DO NOTHING RETURNING position, hash, sealed_at) "
                            "SELECT position, hash, sealed_at FROM new UNION ALL "
                            "SELECT position, hash, sealed_at FROM {0} WHERE position = %s")
                        .format(self.checkpoints), (position, chained, _now(), position))
            return _checkpoint(own.fetchone())

    def _select_ledger_id(self, curs: Cursor[DictRow]) -> str | None:
        curs.execute(SQL("SELECT value FROM {0} WHERE key = 'ledger_id'").format(self.meta))
        row = curs.fetchone()
        return str(row["value"]) if row else None

    def _events_after(self, curs: Cursor[DictRow], after: int,
                      limit: int) -> list[tuple[int, StoredEvent]]:
        table = SQL("{0}.{1}").format(Identifier(self.datastore.schema),
                                      Identifier(self.events_table_name))
        curs.execute(SQL("SELECT notification_id, originator_id, originator_version, topic, "
                         "state FROM {0} WHERE notification_id > %s ORDER BY notification_id "
                         "LIMIT %s").format(table), (after, limit))
        return [(r["notification_id"], StoredEvent(r["originator_id"], r["originator_version"],
                                                   r["topic"], bytes(r["state"])))
                for r in curs.fetchall()]

    def _select_originator_ids(self, curs: Cursor[DictRow], first: int,
                               last: int) -> set[str]:
        table = SQL("{0}.{1}").format(Identifier(self.datastore.schema),
                                      Identifier(self.events_table_name))
        curs.execute(SQL("SELECT originator_id FROM {0} WHERE notification_id "
                         "BETWEEN %s AND %s").format(table), (first, last))
        return {str(r["originator_id"]) for r in curs.fetchall()}

    def _select_first_events(self, curs: Cursor[DictRow],
                             originator_ids: list[str]) -> list[StoredEvent]:
        table = SQL("{0}.{1}").format(Identifier(self.datastore.schema),
                                      Identifier(self.events_table_name))
        curs.execute(SQL("SELECT originator_id, originator_version, topic, state FROM {0} "
                         "WHERE originator_version = 1 AND originator_id = ANY(%s)")
                     .format(table), (originator_ids,))
        return [StoredEvent(str(r["originator_id"]), r["originator_version"], r["topic"],
                            bytes(r["state"])) for r in curs.fetchall()]

    def _select_events_of(self, curs: Cursor[DictRow],
                          originator_ids: list[str]) -> list[StoredEvent]:
        table = SQL("{0}.{1}").format(Identifier(self.datastore.schema),
                                      Identifier(self.events_table_name))
        curs.execute(SQL("SELECT originator_id, originator_version, topic, state FROM {0} "
                         "WHERE originator_id = ANY(%s) "
                         "ORDER BY originator_id, originator_version")
                     .format(table), (originator_ids,))
        return [StoredEvent(str(r["originator_id"]), r["originator_version"], r["topic"],
                            bytes(r["state"])) for r in curs.fetchall()]

    def _select_position(self, curs: Cursor[DictRow], originator_id: str,
                         version: int) -> int | None:
        table = SQL("{0}.{1}").format(Identifier(self.datastore.schema),
                                      Identifier(self.events_table_name))
        curs.execute(SQL("SELECT notification_id FROM {0} WHERE originator_id = %s "
                         "AND originator_version = %s").format(table), (originator_id, version))
        row = curs.fetchone()
        return None if row is None else int(row["notification_id"])

    def _lock(self, curs: Cursor[DictRow]) -> None:
        self._lock_table(curs)

    def select_links(self, after: int, limit: int) -> list[tuple[int, bytes]]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(SQL("SELECT position, hash FROM {0} WHERE position > %s "
                             "ORDER BY position LIMIT %s").format(self.links), (after, limit))
            return [(r["position"], bytes(r["hash"])) for r in curs.fetchall()]

    def select_checkpoints(self) -> list[Checkpoint]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(SQL("SELECT position, hash, sealed_at FROM {0} ORDER BY position")
                         .format(self.checkpoints))
            return [_checkpoint(r) for r in curs.fetchall()]


register_topic(SQLITE_TOPIC, SealedSQLiteRecorder)
register_topic(POSTGRES_TOPIC, SealedPostgresRecorder)
