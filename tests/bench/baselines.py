"""The baselines ``make bench`` compares the ledger with: raw inserts and scans of
rows the size of our events on SQLite and PostgreSQL, and the ``eventsourcing``
library's own get-mutate-save loop."""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.parse
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from adapters.storage import persistence_env

ROW = json.dumps({"timestamp": "2026-01-15T03:00:00.123456Z", "actor": "svc-claims",
                  "command_id": uuid.uuid4().hex, "claim_id": "P0000001-C1",
                  "policy_id": "P0000001", "policy_year": 1, "coverage": "data_media",
                  "payout_id": "payout-1", "amount": 700000,
                  "breakdown": {"loss": 800000, "deductible": 100000,
                                "annual_remaining_before": 1000000}}).encode()


def _sqlite(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, "
                 "aggregate TEXT, version INTEGER, topic TEXT, state BLOB)")
    return conn


def raw_insert(folder: Path, rows: int, per_transaction: int) -> float:
    conn = _sqlite(str(folder / "raw.db"))
    started = time.perf_counter()
    for start in range(0, rows, per_transaction):
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO rows (aggregate, version, topic, state) "
                         "VALUES (?, ?, ?, ?)",
                         [(f"claim:{i}", 1, "PayoutIssued", ROW)
                          for i in range(start, min(start + per_transaction, rows))])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return rows / elapsed


def _decode_rate(rows: Iterable[tuple[bytes]]) -> float:
    """Rows per second of reading ``rows`` (each a row's state) and decoding each
    state's JSON."""
    started = time.perf_counter()
    count = 0
    for (state,) in rows:
        json.loads(state)
        count += 1
    return count / (time.perf_counter() - started)


def raw_scan(folder: Path, rows: int) -> float:
    raw_insert(folder, rows, 1000)
    conn = _sqlite(str(folder / "raw.db"))
    rate = _decode_rate(conn.execute("SELECT state FROM rows"))
    conn.close()
    return rate


def _postgres(db: str) -> Any:
    """A connection to the bench's schema in ``db`` (a URL with ``?schema=``), in
    autocommit, with the baselines' table; commits are durable (the server's
    default ``synchronous_commit``)."""
    import psycopg

    url = urllib.parse.urlsplit(db)
    schema = urllib.parse.parse_qs(url.query)["schema"][0]
    conn = psycopg.connect(url._replace(query="").geturl(), autocommit=True)
    conn.execute(f'SET search_path TO "{schema}"')
    conn.execute("CREATE TABLE IF NOT EXISTS rows (id BIGSERIAL PRIMARY KEY, "
                 "aggregate TEXT, version INTEGER, topic TEXT, state BYTEA)")
    return conn


def raw_postgres_insert(db: str, rows: int, per_transaction: int) -> float:
    """``raw_insert`` on PostgreSQL: ``per_transaction`` rows per commit, with the
    driver's ``executemany``."""
    conn = _postgres(db)
    started = time.perf_counter()
    for start in range(0, rows, per_transaction):
        with conn.transaction(), conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO rows (aggregate, version, topic, state) VALUES (%s, %s, %s, %s)",
                [(f"claim:{i}", 1, "PayoutIssued", ROW)
                 for i in range(start, min(start + per_transaction, rows))])
    elapsed = time.perf_counter() - started
    conn.close()
    return rows / elapsed


def raw_postgres_scan(db: str, rows: int) -> float:
    """``raw_scan`` on PostgreSQL: every row read (a server-side cursor, as a
    rebuild pages through the log) and its JSON decoded."""
    raw_postgres_insert(db, rows, 1000)
    conn = _postgres(db)
    with conn.transaction(), conn.cursor(name="scan") as cursor:
        cursor.itersize = 10_000
        rate = _decode_rate(cursor.execute("SELECT state FROM rows"))
    conn.close()
    return rate


class Counter(Aggregate):
    """The library's own style of aggregate, for its naive loop."""

    def __init__(self) -> None:
        self.count = 0

    @event("Incremented")
    def increment(self, by: int) -> None:
        self.count += by


class Naive(Application[Any]):
    pass


def library_naive(db: str, commands: int) -> float:
    """Commands per second of the library's own get-mutate-save loop, with its own
    recorder, on ``db`` (a SQLite file or a PostgreSQL URL)."""
    env = persistence_env(db)
    del env["APPLICATION_RECORDER_TOPIC"]
    app = Naive(env=env)
    ids = []
    for _ in range(50):
        counter = Counter()
        app.save(counter)
        ids.append(counter.id)
    started = time.perf_counter()
    for i in range(commands):
        counter = app.repository.get(ids[i % len(ids)])
        counter.increment(by=1)
        app.save(counter)
    elapsed = time.perf_counter() - started
    app.close()
    return commands / elapsed

