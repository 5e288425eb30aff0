"""The seal over the event log: written at commit by the sealing recorders (which
pass the library's own recorder test case), as a hash chain over every field of
each stored event."""

from __future__ import annotations

import hashlib
import tempfile
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.tests.persistence import ApplicationRecorderTestCase

from adapters.audit import seal
from adapters.storage.sealed_recorders import SealedPostgresRecorder, SealedSQLiteRecorder
from tests.support.databases import require_postgres

# The library's own test case, on both sealing recorders ------------------------


class _JoinsTestThreads:
    """The library's concurrency tests tell their reader threads to stop but do
    not wait for them: a reader may still be inside a query when the test
    returns. Closing the datastore under it crashes the process (SQLite), so
    tear-down waits for every thread the test started before it closes."""

    def _remember_threads(self) -> None:
        self._threads_before = set(threading.enumerate())

    def _join_test_threads(self) -> None:
        for thread in set(threading.enumerate()) - self._threads_before:
            if not thread.daemon:
                thread.join(timeout=30)


class TestSealedSQLiteRecorder(_JoinsTestThreads,
                               ApplicationRecorderTestCase[SealedSQLiteRecorder]):
    def setUp(self) -> None:
        self._remember_threads()
        self.folder = tempfile.TemporaryDirectory()
        self.datastore = SQLiteDatastore(str(Path(self.folder.name) / "log.db"))

    def tearDown(self) -> None:
        self._join_test_threads()
        self.datastore.close()
        self.folder.cleanup()

    def create_recorder(self) -> SealedSQLiteRecorder:
        recorder = SealedSQLiteRecorder(self.datastore)
        recorder.create_table()
        return recorder

    def test_concurrent_writers_leave_one_unbroken_chain(self) -> None:
        self.test_concurrent_no_conflicts()
        report = seal.verify(SealedSQLiteRecorder(self.datastore))
        assert report.ok, report.finding
        assert report.events > 100


@pytest.mark.postgres
class TestSealedPostgresRecorder(_JoinsTestThreads,
                                 ApplicationRecorderTestCase[SealedPostgresRecorder]):
    @pytest.fixture(autouse=True)
    def _schema(self, pg_schema: str) -> None:
        self.url = pg_schema

    def setUp(self) -> None:
        self._remember_threads()
        self.datastore: PostgresDatastore | None = None

    def tearDown(self) -> None:
        self._join_test_threads()
        if self.datastore is not None:
            self.datastore.close()

    def create_recorder(self) -> SealedPostgresRecorder:
        require_postgres()
        if self.datastore is None:
            url = urlparse(self.url)
            self.datastore = PostgresDatastore(
                url.path.lstrip("/"), url.hostname or "127.0.0.1", url.port or 5432,
                url.username or "postgres", "", schema=parse_qs(url.query)["schema"][0],
                pool_size=10, max_overflow=10, max_waiting=100)
        recorder = SealedPostgresRecorder(self.datastore, events_table_name="ledger_events")
        recorder.create_table()
        return recorder

    def test_concurrent_writers_leave_one_unbroken_chain(self) -> None:
        self.test_concurrent_no_conflicts()
        report = seal.verify(self.create_recorder())
        assert report.ok, report.finding
        assert report.events > 100


# The chain ---------------------------------------------------------------------

BASE = {"prev": b"\0" * 32, "position": 7, "aggregate_id": "claim:C1", "version": 2,
        "event_name": "PayoutIssued",
        "payload": b'{"timestamp":"2026-01-15T03:00:00Z","amount":700000}'}


@pytest.mark.parametrize("field,value", [
    ("prev", b"\1" * 32), ("position", 8), ("aggregate_id", "claim:C2"), ("version", 3),
    ("event_name", "PayoutReversed"),
    ("payload", b'{"timestamp":"2026-01-15T03:00:00Z","amount":700001}'),
    ("payload", b'{"timestamp":"2026-01-15T03:00:01Z","amount":700000}'),
])
def test_a_link_covers_every_field_of_the_stored_event(field: str, value: Any) -> None:
    assert seal.link(**{**BASE, field: value}) != seal.link(**BASE)


def test_a_link_is_sha256_over_the_documented_layout() -> None:
    """The format auditors recompute from the docs (``sha256-chain-v1``), pinned:
    a faster way of hashing must give the same links as every log sealed before."""
    payload = BASE["payload"]
    recorded = b"2026-01-15T03:00:00Z"

    def sized(data: bytes) -> bytes:
        return len(data).to_bytes(8, "big") + data

    expected = hashlib.sha256(
        BASE["prev"] + BASE["position"].to_bytes(8, "big") + BASE["version"].to_bytes(8, "big")
        + sized(BASE["aggregate_id"].encode()) + sized(BASE["event_name"].encode())
        + sized(recorded) + sized(payload)).digest()
    assert seal.link(**BASE) == expected


def test_fields_cannot_be_shifted_between_each_other_without_changing_the_link() -> None:
    a = seal.link(**{**BASE, "aggregate_id": "claim:C1P", "event_name": "ayoutIssued"})
    assert a != seal.link(**BASE)


@pytest.mark.parametrize("payload,expected", [
    (b'{"timestamp":"2026-01-15T03:00:00Z","actor":"a"}', "2026-01-15T03:00:00Z"),
    (b'{"actor":"a","timestamp":"2026-01-15T03:00:00.123456Z"}', "2026-01-15T03:00:00.123456Z"),
    (b'{ "timestamp" : "2026-01-15T03:00:00Z"}', "2026-01-15T03:00:00Z"),
    (b'{"actor":"a"}', ""), (b"\x00\x01 enciphered", ""), (b'["timestamp"]', ""),
])
def test_the_recorded_time_is_read_from_the_payload_as_stored(payload: bytes,
                                                               expected: str) -> None:
    assert seal.recorded_time(payload) == expected


def test_two_ledgers_start_from_different_genesis_hashes() -> None:
    assert seal.genesis("ledger-a") != seal.genesis("ledger-b")
