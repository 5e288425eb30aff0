"""How far each read model has read the log: the library's tracking, in SQL.

``SQLTrackingRecorder`` is an ``eventsourcing`` ``TrackingRecorder`` over
SQLAlchemy, so a projection can insert its tracking row in the same transaction
as its view rows (``record``). A tracking position is only ever raised: inserting
one at or below the recorded maximum raises the library's ``IntegrityError``,
and ``record`` also checks the position the batch started from, so two
projectors racing over the same events cannot both apply them. Rows below the
maximum are pruned as they are superseded; the maximum is all that is read.
The table is ``store``'s, with the read database's other bookkeeping (a read
that only checks positions needs nothing here).
"""

from __future__ import annotations

from eventsourcing.persistence import IntegrityError, Tracking, TrackingRecorder
from sqlalchemy import Connection, func, select

from projections.store import TRACKING, ReadStore, lock, tracking_table


class SQLTrackingRecorder(TrackingRecorder):
    def __init__(self, store: ReadStore) -> None:
        self.store = store
        with store.writer.begin() as conn:
            lock(conn, "schema")  # processes starting together must not race on DDL
            TRACKING.create_all(conn)

    def insert_tracking(self, tracking: Tracking) -> None:
        with self.store.writer.begin() as conn:
            self.record(conn, tracking)

    def record(
        self, conn: Connection, tracking: Tracking, *, after: int | bool | None = False
    ) -> None:
        """Insert ``tracking`` in the caller's transaction.

        With ``after`` given (a position, or None for "nothing yet"), the recorded
        maximum must still be exactly that, or another projector got there first.
        """
        name = tracking.application_name
        current = self.expect(conn, name, after)
        if current is not None and tracking.notification_id <= current:
            msg = f"{name}: position {tracking.notification_id} is not after {current}"
            raise IntegrityError(msg)
        conn.execute(
            tracking_table.insert().values(
                application_name=name, notification_id=tracking.notification_id
            )
        )
        if current is not None:
            conn.execute(
                tracking_table.delete().where(
                    tracking_table.c.application_name == name,
                    tracking_table.c.notification_id < tracking.notification_id,
                )
            )

    def expect(self, conn: Connection, name: str, after: int | bool | None = False) -> int | None:
        """Lock ``name``'s tracking for the rest of the caller's transaction and give
        its position; with ``after`` given (as ``record`` takes it), the position
        must still be exactly that, or another projector got there first: taken
        before a batch is written, so two projectors never write the same rows."""
        lock(conn, f"tracking:{name}")
        current = self._max(conn, name)
        if after is not False and current != after:
            msg = f"{name}: expected to continue after {after}, but it is at {current}"
            raise IntegrityError(msg)
        return current

    def forget(self, conn: Connection, application_name: str) -> None:
        conn.execute(
            tracking_table.delete().where(tracking_table.c.application_name == application_name)
        )

    def max_tracking_id(self, application_name: str) -> int | None:
        with self.store.reader.connect() as conn:
            return self._max(conn, application_name)

    def position(self, conn: Connection, application_name: str) -> int | None:
        return self._max(conn, application_name)

    @staticmethod
    def _max(conn: Connection, name: str) -> int | None:
        value = conn.execute(
            select(func.max(tracking_table.c.notification_id)).where(
                tracking_table.c.application_name == name
            )
        ).scalar()
        return None if value is None else int(value)

