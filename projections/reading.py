"""Reading the read models: each read on its active generation (refused while
that is stalled or not built yet), and whether every read model has applied
the log up to a position, told in two cheap statements.

Nothing here reads the log, decodes an event or applies one: a command that
reads read models already caught up (the common case) imports only this and
the tables; catching up, rebuilding and the reads that need the log's events
are ``read_models``'.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from projections import claim_office, claims, limits
from projections.registry import PROJECTIONS
from projections.store import (
    ReadStore,
    Stall,
    generations,
    positions,
    reading_state,
    stalls,
    tracking_name,
)


class NotBuilt(Exception):
    """A read model cannot answer: it has no complete generation yet, or (``Stalled``)
    it is built only up to an event it cannot apply."""


class Stalled(NotBuilt):
    """Read models stopped at an event they cannot apply (see ``Stall``)."""

    def __init__(self, found: list[Stall]) -> None:
        self.stalls = found
        super().__init__("; ".join(str(s) for s in found)
                         + " (`claims-ledger status` lists every stall)")


class Reads:
    """The read models of one read database, to read as they are."""

    def __init__(self, store: ReadStore) -> None:
        self.store = store

    def close(self) -> None:
        self.store.close()

    def caught_up(self, head: int) -> bool:
        """Whether a catch-up to the log position ``head`` would apply nothing:
        every read model has an active generation, built for its current
        schema, not stalled, that has applied the log up to ``head``. False
        when the database cannot tell (a table missing, say): catch up then."""
        try:
            with self.store.reader.connect() as conn, conn.begin():
                states = {name: generations(conn, name) for name in PROJECTIONS}
                if any(s.active is None or s.schema_version != PROJECTIONS[n].schema_version
                       for n, s in states.items()):
                    return False
                recorded, reached = stalls(conn), positions(conn)
        except SQLAlchemyError:
            return False
        return all((name, s.active) not in recorded
                   and reached.get(tracking_name(name, s.active or 0), 0) >= head
                   for name, s in states.items())

    @contextmanager
    def _reading(self, name: str, *, single: bool = False, stalled: bool = False,
                 snapshot: bool = False) -> Iterator[tuple[Connection, int]]:
        """A connection to read ``name`` and its active generation. ``single``:
        for a read of one statement after the generation's (a generation stays
        readable after the switch to the next one, until the switch after).
        ``snapshot``: for several statements that must see one snapshot (a
        SQLite transaction always does; on PostgreSQL, REPEATABLE READ). A
        stalled generation raises ``Stalled`` (unless ``stalled``: for checks)."""
        engine = self.store.single if single else self.store.reader
        with engine.connect() as conn:
            if snapshot and conn.dialect.name == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                active, schema, stall = reading_state(conn, name)
                if stall is not None and not stalled:
                    raise Stalled([stall])
                if active is None:
                    msg = f"the {name} read model is not built yet: run `claims-ledger project`"
                    raise NotBuilt(msg)
                if schema != PROJECTIONS[name].schema_version:
                    msg = (f"the {name} read model was built for an older schema: it is "
                           "rebuilt by the next catch-up (`claims-ledger project`)")
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
        with self._reading(claims.NAME, snapshot=True) as (conn, generation):
            return claims.read(conn, generation, claim_id)

    def pending_holds(self) -> list[dict[str, Any]]:
        """Every payout awaiting approval, across every policy, oldest first."""
        with self._reading(claims.NAME, single=True) as (conn, generation):
            return claim_office.pending(conn, generation)
