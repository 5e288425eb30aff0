"""The read side of a ledger: catch the read models up, rebuild them, read them
(the reads of read models as they are, and whether they are caught up, are
``reading``'s; this adds the reads that need the log's events).

One code path applies events to every read model, on every backend: read the
log in pages (``feed``), decode each event once, let each projection apply the
page to its tables, and record the projection's tracking row in the same
transaction (``writer``). Where the log and the read database are both SQLite
files, SQLite computes the audit trail's rows of each page from the log by
itself, in the same transaction (see ``audit_trail.insert_from_log``). A crash
or a kill between pages loses nothing and applies nothing twice; a second
projector racing over the same events finds the tracking moved on and re-reads
from there.

``rebuild`` builds a projection from position 0 into a new generation of tables
(resuming one left half-built), adds the indexes, and switches readers to it in
one transaction (``builds``).

No event stops the read side: a projection that cannot apply an event stops
just before it (see ``writer``) and the others go on. Reads of a stalled
generation raise ``Stalled``; every later catch-up tries that one event again
(cheaply) and carries on from there once it applies.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import IntegrityError, PersistenceError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from domain.ledger import Ledger
from domain.ledger.collector import collector_paused
from projections import audit_trail, registry
from projections.audit_trail import AuditQuery
from projections.base import Projection
from projections.builds import finish_build, start_build
from projections.feed import Page, Producers, pages
from projections.log import _same_database as _same_database
from projections.log import attach, log_for_sql, stored_events
from projections.reading import NotBuilt as NotBuilt
from projections.reading import Reads
from projections.reading import Stalled as Stalled
from projections.registry import PROJECTIONS as PROJECTIONS
from projections.store import (
    Generations,
    ReadStore,
    Stall,
    clear_stall,
    generations,
    open_store,
    stalls,
    tracking_name,
)
from projections.tracking import SQLTrackingRecorder
from projections.writer import PageWriter

PAGE_SIZE = 20_000
"""Events per page (and per transaction of the writer): larger pages are no
faster, and each helper holds one in memory (see docs/performance.md)."""
WORKERS = 2
PARALLEL_FROM = 50_000
CACHE_KIB = 16_384
"""SQLite's page cache for the connection that writes pages (the default is 2 MiB)."""
CHECKPOINT_PAGES = 10_000
"""WAL pages between checkpoints of that connection (SQLite's default is 1,000):
fewer, larger checkpoints write a page changed by several transactions once."""

Progress = Callable[[int, int], None]
"""Called with (events applied so far, events to apply in all)."""


@dataclass(frozen=True)
class Status:
    name: str
    active: int | None
    building: int | None
    position: int
    head: int
    stall: Stall | None = None
    """The stall of the active generation (or, when none is active or it has
    none, of the one being built)."""

    @property
    def lag(self) -> int:
        return self.head - self.position


class ReadModels(Reads):
    """The read models with the log they follow: caught up, rebuilt and read
    (``Reads``), and the reads that need the log's events."""

    def __init__(self, ledger: Ledger, store: ReadStore, page_size: int = PAGE_SIZE,
                 workers: int = WORKERS, parallel_from: int = PARALLEL_FROM,
                 sql_audit: bool = True) -> None:
        super().__init__(store)
        self.ledger = ledger
        self.tracking = SQLTrackingRecorder(store)
        self.page_size = page_size
        self.workers = workers
        """Helper processes that read and compute pages for a long catch-up (this
        process then only writes); 0 or 1 does everything here."""
        self.parallel_from = parallel_from
        """How many events behind the log a catch-up must be to use the helpers."""
        self.sql_audit = sql_audit
        """Let SQLite compute the audit trail from the log where it can (see
        ``audit_trail.insert_from_log``); False: always in Python."""

    @classmethod
    def open(cls, ledger: Ledger, read_db: str) -> ReadModels:
        return cls(ledger, open_store(read_db))

    def head(self) -> int:
        return self.ledger.recorder.max_notification_id() or 0

    def _state(self, name: str) -> Generations:
        with self.store.reader.connect() as conn:
            return generations(conn, name)

    def status(self) -> list[Status]:
        head = self.head()
        found = []
        with self.store.reader.connect() as conn:
            recorded = stalls(conn)
            for name in PROJECTIONS:
                state = generations(conn, name)
                position = 0
                if state.active is not None:
                    position = self.tracking.position(
                        conn, tracking_name(name, state.active)) or 0
                stall = (recorded.get((name, state.active or 0))
                         or recorded.get((name, state.building or 0)))
                found.append(Status(name, state.active, state.building, position, head, stall))
        return found

    def stalls(self) -> list[Stall]:
        """The read models stopped at an event they cannot apply."""
        return [s.stall for s in self.status() if s.stall is not None]

    # Writing ----------------------------------------------------------------

    def catch_up(self, names: Iterable[str] | None = None, progress: Progress | None = None) -> int:
        """Apply every event not yet applied to the active read models, in one pass
        over the log; a read model with no generation yet (or one built for an
        older schema) is built first, and switched to when complete."""
        current, builds = [], []
        for name in registry.names(names):
            state = self._state(name)
            projection = PROJECTIONS[name]
            if state.active is None or state.schema_version != projection.schema_version:
                generation = start_build(self.store, self.tracking, projection, restart=False)
                builds.append((projection, generation))
            else:
                current.append((projection, state.active))
        applied, stalled = self._run(current + builds, progress)
        for projection, generation in builds:
            if projection.name not in stalled:
                finish_build(self.store, self.tracking, projection, generation)
        return applied

    def rebuild(
        self, names: Iterable[str] | None = None, progress: Progress | None = None,
        restart: bool = False,
    ) -> int:
        """Build each projection from position 0 into a new generation and switch
        readers to it; resume a build that was stopped part-way unless ``restart``.
        A build that stops at an event it cannot apply is left unfinished (readers
        keep the generation they had) and raises ``Stalled`` once the others are
        switched."""
        builds = [(PROJECTIONS[n], start_build(self.store, self.tracking, PROJECTIONS[n], restart))
                  for n in registry.names(names)]
        applied, stalled = self._run(builds, progress)
        for projection, generation in builds:
            if projection.name not in stalled:
                finish_build(self.store, self.tracking, projection, generation)
        if stalled:
            raise Stalled(list(stalled.values()))
        return applied

    def _run(self, targets: list[tuple[Projection, int]], progress: Progress | None
             ) -> tuple[int, dict[str, Stall]]:
        """Catch ``targets`` up with the log; the events applied, and the stall of
        each target that stopped at an event it cannot apply. A target stalled
        before is first tried at that event alone: if it still cannot apply it,
        it stays where it is (without reading the log beyond), and the others go
        on."""
        if not targets:
            return 0, {}
        with self.store.reader.connect() as conn:
            recorded = stalls(conn)
        stalled: dict[str, Stall] = {}
        for projection, generation in targets:
            stall = recorded.get((projection.name, generation))
            if stall is None:
                continue
            found = self._retrying([(projection, generation)], None, stall.position)[1]
            stalled |= found
            if not found:  # (also when that event is no longer in the log)
                with self.store.writer.begin() as conn:
                    clear_stall(conn, projection.name, generation)
        applied, found = self._retrying(
            [t for t in targets if t[0].name not in stalled], progress, None)
        return applied, stalled | found

    def _retrying(self, targets: list[tuple[Projection, int]], progress: Progress | None,
                  stop: int | None) -> tuple[int, dict[str, Stall]]:
        if not targets:
            return 0, {}
        for _ in range(100):
            try:
                return self._apply_pages(targets, progress, stop)
            except IntegrityError:
                continue  # another projector moved a tracking position: re-read it
        msg = "other projectors kept moving the tracking positions; try again"
        raise RuntimeError(msg)

    def _apply_pages(self, targets: list[tuple[Projection, int]], progress: Progress | None,
                     stop: int | None) -> tuple[int, dict[str, Stall]]:
        """Read the log after the targets' tracking positions (up to ``stop``) in
        pages, here or in helper processes, and write them (``PageWriter``)."""
        generation = {p.name: g for p, g in targets}
        projections = {p.name: p for p, _ in targets}
        with self.store.reader.connect() as conn:
            positions = {name: self.tracking.position(conn, tracking_name(name, g)) or 0
                         for name, g in generation.items()}
            recorded = {name: stall for (name, g), stall in stalls(conn).items()
                        if generation.get(name) == g}
        start = min(positions.values())
        head = self.head() if stop is None else stop
        log = self._log_for_sql() if audit_trail.NAME in projections else None
        # What Python computes (here or in the helpers); with ``log``, SQLite
        # computes the audit trail's rows from the log by itself.
        computed = {n: p for n, p in projections.items()
                    if log is None or n != audit_trail.NAME}
        parallel = bool(computed) and self.workers > 1 and head - start >= self.parallel_from
        producers = (Producers(self.ledger, computed, positions, self.page_size, self.workers)
                     if parallel else None)
        source: Iterable[Page] = (producers if producers is not None
                                  else pages(self.ledger, computed, positions, self.page_size,
                                             stop))
        applied = 0
        try:
            with collector_paused(), self.store.writer.connect() as conn:
                if self.store.is_sqlite:
                    conn.exec_driver_sql(f"PRAGMA cache_size=-{CACHE_KIB}")
                    conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
                    conn.commit()
                writer = PageWriter(self.ledger, self.tracking, conn, targets, positions,
                                    recorded, None if log is None else attach(conn, *log))
                for page in source:
                    writer.write(page)
                    applied += page.count
                    if progress is not None:
                        progress(applied, max(head - start, applied))
        finally:
            if producers is not None:
                producers.close()
        return applied, writer.stalled

    def _log_for_sql(self) -> tuple[str | None, str] | None:
        """Where SQL on the read database can read the log (``log.log_for_sql``),
        unless ``sql_audit`` is off."""
        return log_for_sql(self.ledger, self.store) if self.sql_audit else None

    def follow(self, interval: float, stop: Callable[[], bool],
               on_applied: Callable[[int], None] | None = None,
               on_error: Callable[[Exception], None] | None = None,
               on_stalls: Callable[[list[Stall]], None] | None = None) -> None:
        """Catch up again and again until ``stop()`` says so. A database that is
        down (either one) is reported and tried again after ``interval``: the job
        resumes by itself, from its tracking position, when it comes back.
        ``on_stalls`` hears the stalled read models whenever they change (an
        empty list: none any more)."""
        reported: list[Stall] = []
        while not stop():
            try:
                applied = self.catch_up()
                if applied and on_applied is not None:
                    on_applied(applied)
                if on_stalls is not None and (found := self.stalls()) != reported:
                    on_stalls(found)
                    reported = found
            except (PersistenceError, SQLAlchemyError) as exc:
                if on_error is not None:
                    on_error(exc)
                time.sleep(interval)
                continue
            if not applied:
                time.sleep(interval)

    # Reading ----------------------------------------------------------------

    def audit(self, query: AuditQuery) -> list[dict[str, Any]]:
        """A page of the audit trail. Each row with its event as the log stores it
        (``payload``, read from the log by position) and what a page shows of
        it (``audit_trail.details``); the payload None and no details if the
        log no longer holds that position, which ``seal verify`` reports as
        tampering."""
        with self._reading(audit_trail.NAME) as (conn, generation):
            rows = audit_trail.read(conn, generation, query)
        stored = stored_events(self.ledger, [r["position"] for r in rows])
        return [audit_trail.shown(row, stored.get(row["position"])) for row in rows]

    def snapshot(self, name: str) -> tuple[int, dict[str, list[dict[str, Any]]]]:
        """The position a read model has reached and every row of its tables, read
        in one transaction (for checks; a stalled read model too)."""
        with self._reading(name, stalled=True) as (conn, generation):
            position = self.tracking.position(conn, tracking_name(name, generation)) or 0
            tables = {}
            for table in PROJECTIONS[name].tables(generation):
                rows = conn.execute(select(table).order_by(*table.primary_key.columns))
                tables[table.name.rsplit("_g", 1)[0]] = [dict(r._mapping) for r in rows]
            return position, tables
