"""The read side of a ledger: catch the read models up, rebuild them, read them.

One code path applies events to every read model, on every backend: read the
log in pages with the library's ``select_notifications``, decode each event once,
let each projection apply the page to its tables, and record the projection's
tracking row in the same transaction. Where the log and the read database are
both SQLite files, SQLite computes the audit trail's rows of each page from the
log by itself, in the same transaction (see ``audit_trail.insert_from_log``).
A crash or a kill between pages loses nothing and applies nothing twice; a
second projector racing over the same events finds the tracking moved on and
re-reads from there.

``rebuild`` builds a projection from position 0 into a new generation of tables
(resuming one left half-built), adds the indexes, and switches readers to it in
one transaction.

No event stops the read side. Each projection writes its part of a page in a
savepoint; if computing or writing it fails (an event that cannot be decoded,
is not of its class's shape, or holds a value the database refuses), its
events are applied again in halves of the page until the one event it cannot
apply is found. That projection then stops just before that event (its tracking
is the position before it), the stall is recorded (``Stall``, in
``projection_stalls``), and the other projections go on. Reads of a stalled
generation raise ``Stalled``; every later catch-up tries that one event again
(cheaply) and carries on from there once it applies.
"""

from __future__ import annotations

import os
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from eventsourcing.persistence import IntegrityError, PersistenceError, Tracking
from eventsourcing.postgres import PostgresDatastore
from sqlalchemy import URL, Connection, select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.schema import CreateTable

from domain.ids import aggregate_kind
from domain.ledger import Ledger
from projections import audit_trail, claims, limits
from projections.audit_trail import AuditQuery, AuditTrailProjection
from projections.base import Fact, Projection, decoded
from projections.claims import ClaimsProjection
from projections.limits import LimitsProjection
from projections.pages import (
    Page,
    Producers,
    collector_paused,
    pages,
    plain_postgres,
    plain_sqlite,
    readable_facts,
    stored_events,
)
from projections.store import (
    Generations,
    ReadStore,
    Stall,
    clear_stall,
    generations,
    lock,
    one_line,
    open_store,
    printable,
    reading_state,
    record_stall,
    set_generations,
    stalls,
)
from projections.tracking import SQLTrackingRecorder

PROJECTIONS: dict[str, Projection] = {
    p.name: p for p in (LimitsProjection(), ClaimsProjection(), AuditTrailProjection())
}
PAGE_SIZE = 20_000
"""Events per page (and per transaction of the writer). A rebuild of a
1,206,339-event log ran 1.05x as fast with 20,000 as with 10,000, and no faster
with 40,000; a page in hand costs each helper about 20 MB."""
WORKERS = 2
PARALLEL_FROM = 50_000
CACHE_KIB = 16_384
"""SQLite's page cache for the connection that writes pages (the default is 2 MiB)."""
CHECKPOINT_PAGES = 10_000
"""WAL pages between checkpoints of that connection (SQLite's default is 1,000):
fewer, larger checkpoints write a page changed by several transactions once."""

Progress = Callable[[int, int], None]
"""Called with (events applied so far, events to apply in all)."""


class NotBuilt(Exception):
    """A read model cannot answer: it has no complete generation yet, or (``Stalled``)
    it is built only up to an event it cannot apply."""


class Stalled(NotBuilt):
    """Read models stopped at an event they cannot apply (see ``Stall``)."""

    def __init__(self, found: list[Stall]) -> None:
        self.stalls = found
        super().__init__("; ".join(str(s) for s in found)
                         + " (`claims-ledger status` lists every stall)")


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


def tracking_name(name: str, generation: int) -> str:
    return f"{name}:g{generation}"


class ReadModels:
    def __init__(self, ledger: Ledger, store: ReadStore, page_size: int = PAGE_SIZE,
                 workers: int = WORKERS, parallel_from: int = PARALLEL_FROM,
                 sql_audit: bool = True) -> None:
        self.ledger = ledger
        self.store = store
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

    def close(self) -> None:
        self.store.close()

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
        for name in _names(names):
            state = self._state(name)
            projection = PROJECTIONS[name]
            if state.active is None or state.schema_version != projection.schema_version:
                builds.append((projection, self._start_build(projection, restart=False)))
            else:
                current.append((projection, state.active))
        applied, stalled = self._run(current + builds, progress)
        for projection, generation in builds:
            if projection.name not in stalled:
                self._finish_build(projection, generation)
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
        builds = [(PROJECTIONS[n], self._start_build(PROJECTIONS[n], restart))
                  for n in _names(names)]
        applied, stalled = self._run(builds, progress)
        for projection, generation in builds:
            if projection.name not in stalled:
                self._finish_build(projection, generation)
        if stalled:
            raise Stalled(list(stalled.values()))
        return applied

    def _start_build(self, projection: Projection, restart: bool) -> int:
        with self.store.writer.begin() as conn:
            lock(conn, f"state:{projection.name}")
            state = generations(conn, projection.name)
            if state.building is not None and not restart:
                return state.building
            if state.building is not None:
                self._drop(conn, projection, state.building)
            generation = state.newest + 1
            for table in projection.tables(generation):
                table.drop(conn, checkfirst=True)
                # The table alone: its indexes are created when the build is
                # complete (an Index object also names its table, and
                # ``table.create`` would create it now).
                conn.execute(CreateTable(table))
            self.tracking.forget(conn, tracking_name(projection.name, generation))
            set_generations(conn, projection.name, Generations(
                state.active, generation, state.schema_version))
            return generation

    def _finish_build(self, projection: Projection, generation: int) -> None:
        with self.store.writer.begin() as conn:
            if self.store.is_sqlite:
                conn.exec_driver_sql("PRAGMA threads=2")  # sort for each index on 2 cores
            for index in projection.indexes(generation, conn.dialect.name):
                index.create(conn, checkfirst=True)
        with self.store.writer.begin() as conn:
            lock(conn, f"state:{projection.name}")
            state = generations(conn, projection.name)
            # Keep the generation readers used until now (a reader may have just
            # looked it up); drop the ones before it.
            for old in range(1, state.active or 0):
                self._drop(conn, projection, old)
            set_generations(conn, projection.name, Generations(
                generation, None, projection.schema_version))

    def _drop(self, conn: Connection, projection: Projection, generation: int) -> None:
        for table in reversed(projection.tables(generation)):
            table.drop(conn, checkfirst=True)
        self.tracking.forget(conn, tracking_name(projection.name, generation))
        clear_stall(conn, projection.name, generation)

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
        names = {p.name: tracking_name(p.name, g) for p, g in targets}
        generation = {p.name: g for p, g in targets}
        projections = {p.name: p for p, _ in targets}
        with self.store.reader.connect() as conn:
            positions = {name: self.tracking.position(conn, names[name]) or 0 for name in names}
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
        stalled: dict[str, Stall] = {}
        try:
            with collector_paused(), self.store.writer.connect() as conn:
                if self.store.is_sqlite:
                    conn.exec_driver_sql(f"PRAGMA cache_size=-{CACHE_KIB}")
                    conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
                    conn.commit()
                log_table = None if log is None else _attach(conn, *log)

                def write(page: Page, due: list[str], careful: bool) -> None:
                    """``page`` for the projections ``due``, in one transaction;
                    ``careful``: each in savepoints, down to the event it cannot apply."""
                    with conn.begin():
                        for name in due:  # (before writing: racing projectors stop here)
                            self.tracking.expect(conn, names[name], positions[name] or None)
                        for name in due:
                            stall = self._apply(conn, projections[name], generation[name],
                                                page, positions[name], log_table, careful)
                            last = page.last if stall is None else stall.position - 1
                            if last > positions[name]:
                                self.tracking.record(conn, Tracking(names[name], last),
                                                     after=positions[name] or None)
                            if stall is not None:
                                stalled[name] = stall
                                if recorded.get(name) != stall:
                                    record_stall(conn, stall)
                            elif name in recorded:
                                clear_stall(conn, name, generation[name])

                for page in source:
                    # Each projection with events in the page that is not stalled.
                    due = [n for n in projections if n not in stalled and (
                        n in page.changes or (n == audit_trail.NAME and log_table is not None
                                              and page.last > positions[n]))]
                    # Written as it is, without savepoints (on SQLite a savepoint
                    # copies each page it changes: a rebuild took ~1.1x as long); a
                    # page that fails is written again, carefully.
                    careful = any(page.changes.get(n, ()) is None for n in due)
                    try:
                        write(page, due, careful)
                    except IntegrityError:
                        raise  # another projector moved a tracking position
                    except Exception as exc:
                        if careful:
                            raise
                        _raise_if_down(conn, exc)
                        write(page, due, careful=True)
                    for name in due:
                        positions[name] = page.last
                        if name not in stalled:
                            recorded.pop(name, None)
                    applied += page.count
                    if progress is not None:
                        progress(applied, max(head - start, applied))
        finally:
            if producers is not None:
                producers.close()
        return applied, stalled

    def _apply(self, conn: Connection, projection: Projection, generation: int, page: Page,
               after: int, log_table: str | None, careful: bool) -> Stall | None:
        """Write ``projection``'s part of ``page`` (its events after ``after``). Not
        ``careful``: as it is (an error is raised). ``careful``: in a savepoint,
        and if that fails, its events again in halves of halves up to the one it
        cannot apply; the stall there (None: all applied)."""
        if not careful:
            if projection.name == audit_trail.NAME and log_table is not None:
                audit_trail.insert_from_log(conn, generation, log_table, after, page.last)
            else:
                projection.write(conn, generation, page.changes[projection.name])
            return None
        try:
            with conn.begin_nested():
                if projection.name == audit_trail.NAME and log_table is not None:
                    audit_trail.insert_from_log(conn, generation, log_table, after, page.last)
                elif page.changes[projection.name] is None:
                    raise _Unapplied
                else:
                    projection.write(conn, generation, page.changes[projection.name])
            return None
        except Exception as exc:
            _raise_if_down(conn, exc)
        facts, unreadable = readable_facts(self.ledger, projection, after, page.last)
        failed = _bisect(conn, projection, generation, facts)
        if failed is not None:
            position, event, error = failed[0].position, failed[0].name, failed[1]
        elif unreadable is not None:
            position, event, error = unreadable
        else:
            return None
        return Stall(projection.name, generation, position, printable(event)[:128],
                     one_line(error))

    def _log_for_sql(self) -> tuple[str | None, str] | None:
        """Where SQL on the read database's connection can read the log's events to
        compute the audit trail from them, if it can: the SQLite file to attach
        (None on PostgreSQL) and the events table. It can when the log stores
        its JSON as is and the two are SQLite files, or the same PostgreSQL
        database."""
        if not self.sql_audit:
            return None
        sqlite = plain_sqlite(self.ledger)
        if sqlite is not None and self.store.is_sqlite:
            pool = sqlite.datastore.pool
            path = pool.db_name
            if pool.is_sqlite_memory_mode or not os.path.isfile(path):
                return None
            return path, sqlite.events_table_name
        postgres = plain_postgres(self.ledger)
        if postgres is not None and _same_database(postgres.datastore, self.store.writer.url):
            return None, f'"{postgres.datastore.schema}"."{postgres.events_table_name}"'
        return None

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

    @contextmanager
    def _reading(self, name: str, *, single: bool = False, stalled: bool = False
                 ) -> Iterator[tuple[Connection, int]]:
        """A connection to read ``name`` and its active generation. ``single``:
        for a read of one statement after the generation's (a generation stays
        readable after the switch to the next one, until the switch after). A
        stalled generation raises ``Stalled`` (unless ``stalled``: for checks)."""
        engine = self.store.single if single else self.store.reader
        with engine.connect() as conn, conn.begin():
            active, stall = reading_state(conn, name)
            if stall is not None and not stalled:
                raise Stalled([stall])
            if active is None:
                msg = f"the {name} read model is not built yet: run `claims-ledger project`"
                raise NotBuilt(msg)
            yield conn, active

    def limits(self, policy_id: str | None = None) -> list[dict[str, Any]]:
        with self._reading(limits.NAME, single=True) as (conn, generation):
            return limits.read(conn, generation, policy_id)

    def policies(self, prefix: str = "", after: str = "", limit: int = 20
                 ) -> list[dict[str, Any]]:
        """The limits rows of up to ``limit`` policies whose id starts with
        ``prefix``, in id order after the cursor ``after``."""
        with self._reading(limits.NAME) as (conn, generation):
            return limits.read_policies(conn, generation, prefix, after, limit)

    def claim(self, claim_id: str) -> dict[str, Any] | None:
        with self._reading(claims.NAME, single=True) as (conn, generation):
            return claims.read(conn, generation, claim_id)

    def audit(self, query: AuditQuery) -> list[dict[str, Any]]:
        """A page of the audit trail. Each row with its event as the log stores it
        (``payload``, read from the log by position) and what a page shows of
        it (``audit_trail.details``); the payload None and no details if the
        log no longer holds that position, which ``seal verify`` reports as
        tampering."""
        with self._reading(audit_trail.NAME) as (conn, generation):
            rows = audit_trail.read(conn, generation, query)
        stored = stored_events(self.ledger, [r["position"] for r in rows])
        return [_shown(row, stored.get(row["position"])) for row in rows]

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


def _shown(row: dict[str, Any], data: bytes | None) -> dict[str, Any]:
    """An audit row as a page shows it, from the row and its event's JSON (an event
    rewritten out of its class's shape shows as stored, with no figures: ``seal
    verify`` reports it)."""
    payload = None if data is None else orjson.loads(data)
    try:
        found = audit_trail.details(None if data is None else decoded([(
            row["position"], row["aggregate_id"], row["version"], row["event_type"], data)])[0])
    except (KeyError, TypeError, AttributeError):
        found = audit_trail.details(None)
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


class _Unapplied(Exception):
    """A page's changes that could not be computed (see ``pages.read_page``)."""


def _bisect(conn: Connection, projection: Projection, generation: int, facts: list[Fact]
            ) -> tuple[Fact, Exception] | None:
    """Apply ``facts`` in savepoints, in halves of halves, up to the first one that
    cannot be applied: every fact before it is applied, and it is returned with
    its error (None: all applied)."""
    if not facts:
        return None
    try:
        with conn.begin_nested():
            projection.write(conn, generation, projection.changes(facts))
        return None
    except Exception as exc:
        _raise_if_down(conn, exc)
        if len(facts) == 1:
            return facts[0], exc
    half = len(facts) // 2
    return (_bisect(conn, projection, generation, facts[:half])
            or _bisect(conn, projection, generation, facts[half:]))


def _raise_if_down(conn: Connection, exc: Exception) -> None:
    """Raise ``exc`` again if it is the database going away, not an event."""
    if conn.invalidated or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        raise exc


def _same_database(log: PostgresDatastore, read: URL) -> bool:
    """Whether the read models are in the log's PostgreSQL database, read by the
    same role (as both are configured: the same host, port, database and user;
    another role may not be allowed to read the log's table)."""
    kwargs = log.pool.kwargs
    assert isinstance(kwargs, dict)
    return (read.get_backend_name() == "postgresql"
            and (read.host, read.port or 5432, read.database, read.username)
            == (kwargs["host"], int(kwargs["port"]), kwargs["dbname"], kwargs["user"]))


def _attach(conn: Connection, log_path: str | None, events_table: str) -> str:
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


def _names(names: Iterable[str] | None) -> list[str]:
    chosen = list(names) if names else list(PROJECTIONS)
    unknown = [n for n in chosen if n not in PROJECTIONS]
    if unknown:
        msg = f"unknown read model {', '.join(unknown)}; expected: {', '.join(PROJECTIONS)}"
        raise ValueError(msg)
    return chosen
