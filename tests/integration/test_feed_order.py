"""The feed on PostgreSQL: an insert into the log takes the library's lock on
the events table, so ids are handed out in commit order and a reader that
resumes after the last position it saw never skips one that commits later;
and a reader waiting for the next event is woken by the commit's NOTIFY."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import psycopg
import pytest

from adapters.service import feed, log_watch
from adapters.storage import open_ledger
from domain.commands import parse_command
from tests.builders import attach
from tests.support.databases import PG_URL, fresh_db


@pytest.mark.postgres
def test_an_append_waits_for_the_events_table_lock_so_commit_order_is_position_order(
        tmp_path: Path):
    with fresh_db("postgresql", tmp_path) as db:
        ledger = open_ledger(db)
        try:
            ledger.execute(parse_command(attach("P0")), actor="tester")
            recorder = ledger.recorder
            table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'  # type: ignore[attr-defined]
            appended = threading.Event()

            def append() -> None:
                ledger.execute(parse_command(attach("P1")), actor="tester")
                appended.set()

            # given a transaction holding ROW SHARE on the events table (it
            # conflicts with the library's EXCLUSIVE lock, not with a plain insert)
            with psycopg.connect(PG_URL) as other:
                other.execute(f"LOCK TABLE {table} IN ROW SHARE MODE")
                writer = threading.Thread(target=append)
                writer.start()
                # when a command appends, then the append waits for the lock
                assert not appended.wait(1.5), "the insert took no table lock"
            # and goes on once the lock is released
            writer.join(timeout=30)
            assert appended.is_set()
        finally:
            ledger.close()


@pytest.mark.postgres
def test_a_waiting_reader_wakes_at_the_commit_by_notify_not_at_its_next_poll(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # given a reader waiting after the head, whose watch reads the head only
    # every 30 s unless PostgreSQL announces a commit
    monkeypatch.setattr(log_watch, "LISTENED", 30.0)
    monkeypatch.setattr(log_watch, "POLL", 30.0)
    with fresh_db("postgresql", tmp_path) as db:
        ledger = open_ledger(db)
        try:
            ledger.execute(parse_command(attach("P0")), actor="tester")
            head = feed.head(ledger)
            watch = log_watch.LogWatch(ledger)

            async def wait_while_appending() -> float:
                waiting = asyncio.create_task(watch.wait(head, 20))
                await asyncio.sleep(0.5)  # the watch is listening
                started = time.monotonic()
                await asyncio.to_thread(ledger.execute, parse_command(attach("P1")),
                                        actor="tester")
                await waiting
                return time.monotonic() - started

            # when a command commits, then the reader is woken at once
            assert asyncio.run(wait_while_appending()) < 5
        finally:
            ledger.close()
