"""Waking the readers that wait for an event after a position (the feed's
long-poll and its Server-Sent Events), without holding up the event loop.

One thread watches the log while anyone waits, and stops when nobody does. It
reads the head of the log, wakes every waiter whose position it passed, and
pauses: on PostgreSQL until the library's NOTIFY on the events table (sent by
every insert, delivered at its commit) or ``LISTENED`` at most; elsewhere
(SQLite, memory) it polls every ``POLL`` seconds. Writers in other processes
(``claims-ledger apply``, another server) wake the waiters just the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator

from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Identifier

from adapters.service.feed import head
from domain.ledger import Ledger

POLL = 0.02
"""Seconds between two reads of the log's head where nothing announces commits."""
LISTENED = 1.0
"""Longest pause between two reads of the head on PostgreSQL (a NOTIFY ends it)."""

log = logging.getLogger("claims_ledger.feed")

Waiter = tuple[int, asyncio.AbstractEventLoop, "asyncio.Future[None]"]


class LogWatch:
    """Waits, in ``async`` code, for the log to hold an event after a position."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._lock = threading.Lock()
        self._waiters: list[Waiter] = []
        self._watching = False

    async def wait(self, after: int, seconds: float) -> None:
        """Return once an event after ``after`` exists, or ``seconds`` have passed."""
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()
        waiter = (after, loop, woken)
        with self._lock:
            self._waiters.append(waiter)
            if not self._watching:
                self._watching = True
                threading.Thread(target=self._watch, name="log-watch", daemon=True).start()
        try:
            await asyncio.wait_for(woken, seconds)
        except TimeoutError:
            pass
        finally:
            with self._lock, contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    def _watch(self) -> None:
        try:
            with self._pauses() as pause:
                while self._wake_passed():
                    pause()
        except Exception:
            log.exception("the feed's watch on the log failed; waiters wait out their time")
            with self._lock:
                self._watching = False

    def _wake_passed(self) -> bool:
        """Wake the waiters the head has passed; whether any still wait (if not,
        the watch stops)."""
        try:
            top = head(self._ledger)
        except Exception as exc:  # the database is down: waiters wait out their time
            log.warning("the feed cannot read the head of the log: %s", exc)
            top = -1
        with self._lock:
            due = [w for w in self._waiters if top > w[0]]
            self._waiters = [w for w in self._waiters if top <= w[0]]
            self._watching = bool(self._waiters)
        for _, loop, woken in due:
            with contextlib.suppress(RuntimeError):  # its loop has closed
                loop.call_soon_threadsafe(_wake, woken)
        return self._watching

    @contextlib.contextmanager
    def _pauses(self) -> Iterator[Callable[[], None]]:
        """The pause between two reads of the head, for this log."""
        recorder = self._ledger.recorder
        if not isinstance(recorder, PostgresApplicationRecorder):
            yield lambda: time.sleep(POLL)
            return
        with recorder.datastore.get_connection() as conn:
            conn.execute(SQL("LISTEN {0}").format(Identifier(recorder.channel_name)))

            def pause() -> None:
                for _ in conn.notifies(timeout=LISTENED, stop_after=1):
                    pass

            try:
                yield pause
            finally:
                conn.execute(SQL("UNLISTEN {0}").format(Identifier(recorder.channel_name)))


def _wake(woken: asyncio.Future[None]) -> None:
    if not woken.done():
        woken.set_result(None)
