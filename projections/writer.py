"""Writing pages into the read models' tables, each page in one transaction with
the tracking rows of the projections it concerns.

No event stops the read side. A page is first written as it is; if computing or
writing a projection's part fails (an event that cannot be decoded, is not of
its class's shape, or holds a value the database refuses), the page is written
again with each projection in a savepoint, and the events of the one that fails
are applied again in halves of halves until the one event it cannot apply is
found. That projection then stops just before that event (its tracking is the
position before it), the stall is recorded (``Stall``, in
``projection_stalls``), and the other projections go on.
"""

from __future__ import annotations

from eventsourcing.persistence import IntegrityError, Tracking
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from domain.ledger import Ledger
from projections import audit_trail
from projections.base import Fact, Projection
from projections.feed import Page
from projections.log import readable_facts
from projections.store import (
    Stall,
    clear_stall,
    one_line,
    printable,
    record_stall,
    tracking_name,
)
from projections.tracking import SQLTrackingRecorder


class PageWriter:
    """Writes one catch-up's pages on ``conn`` for its targets (a projection and
    the generation it fills), from their tracking ``positions``, which it moves
    on as it writes (the caller's dict: the pages read in this process filter by
    it). ``stalled`` holds each target that stopped at an event it cannot apply."""

    def __init__(self, ledger: Ledger, tracking: SQLTrackingRecorder, conn: Connection,
                 targets: list[tuple[Projection, int]], positions: dict[str, int],
                 recorded: dict[str, Stall], log_table: str | None) -> None:
        self.ledger = ledger
        self.tracking = tracking
        self.conn = conn
        self.names = {p.name: tracking_name(p.name, g) for p, g in targets}
        self.generation = {p.name: g for p, g in targets}
        self.projections = {p.name: p for p, _ in targets}
        self.positions = positions
        self.recorded = recorded
        """The stalls recorded before, by read model (cleared as they are passed)."""
        self.log_table = log_table
        """The log's events table readable on ``conn``: the database computes the
        audit trail's rows from it (``audit_trail.insert_from_log``)."""
        self.stalled: dict[str, Stall] = {}

    def write(self, page: Page) -> None:
        """Write ``page`` for each projection with events in it that is not
        stalled. It is written as it is, without savepoints (on SQLite a
        savepoint copies each page it changes); a page that fails is written
        again, carefully. Raises ``IntegrityError`` if another projector moved a
        tracking position."""
        due = [n for n in self.projections if n not in self.stalled and (
            n in page.changes or (n == audit_trail.NAME and self.log_table is not None
                                  and page.last > self.positions[n]))]
        careful = any(page.changes.get(n, ()) is None for n in due)
        try:
            self._write(page, due, careful)
        except IntegrityError:
            raise  # another projector moved a tracking position
        except Exception as exc:
            if careful:
                raise
            _raise_if_down(self.conn, exc)
            self._write(page, due, careful=True)
        for name in due:
            self.positions[name] = page.last
            if name not in self.stalled:
                self.recorded.pop(name, None)

    def _write(self, page: Page, due: list[str], careful: bool) -> None:
        """``page`` for the projections ``due``, in one transaction; ``careful``:
        each in savepoints, down to the event it cannot apply."""
        conn, positions, names = self.conn, self.positions, self.names
        with conn.begin():
            for name in due:  # (before writing: racing projectors stop here)
                self.tracking.expect(conn, names[name], positions[name] or None)
            for name in due:
                stall = self._apply(self.projections[name], self.generation[name], page,
                                    positions[name], careful)
                last = page.last if stall is None else stall.position - 1
                if last > positions[name]:
                    self.tracking.record(conn, Tracking(names[name], last),
                                         after=positions[name] or None)
                if stall is not None:
                    self.stalled[name] = stall
                    if self.recorded.get(name) != stall:
                        record_stall(conn, stall)
                elif name in self.recorded:
                    clear_stall(conn, name, self.generation[name])

    def _apply(self, projection: Projection, generation: int, page: Page, after: int,
               careful: bool) -> Stall | None:
        """Write ``projection``'s part of ``page`` (its events after ``after``). Not
        ``careful``: as it is (an error is raised). ``careful``: in a savepoint,
        and if that fails, its events again in halves of halves up to the one it
        cannot apply; the stall there (None: all applied)."""
        conn, log_table = self.conn, self.log_table
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


class _Unapplied(Exception):
    """A page's changes that could not be computed (see ``feed.read_page``)."""


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
