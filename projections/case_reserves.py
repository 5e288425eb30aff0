"""The case reserves the limits read model sums: each claim's reserve, by its
policy, year and coverage, in a table of the limits read model's generation.

A ``ReserveSet`` sets a claim's reserve (its ``change`` is what the year's
``reserved`` moves by); a ``PayoutIssued`` erodes it by its amount, never below
0, and only for a claim that has one (a claim filed before reserves were kept
has none until one is set: ``reserve`` is null). How much a payout erodes
depends on the reserve before it, which for a claim stored by an earlier batch
is read when the batch is written (``write``): the batch's changes carry, per
such claim, the payouts it cannot yet weigh (``pending``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import BigInteger, Column, Connection, Integer, MetaData, String, Table, select

from projections.store import chunks, execute_many, insert_rows

Key = tuple[str, int, str]

_RESERVE = 4
"""In a claim filed in the batch (a whole row): its reserve."""
_PENDING, _SET, _VALUE = 4, 5, 6
"""In a stored claim's change: the payouts before any reserve set in the batch
(their erosion depends on the stored reserve), whether the batch sets the
reserve, and the reserve the batch leaves (if it sets one)."""


@cache
def table(generation: int) -> Table:
    return Table(
        f"rm_limit_reserves_g{generation}",
        MetaData(),
        Column("claim_id", String(64), primary_key=True),
        Column("policy_id", String(64), nullable=False),
        Column("policy_year", Integer, nullable=False),
        Column("coverage", String(32), nullable=False),
        Column("reserve", BigInteger, nullable=True),
        sqlite_with_rowid=False,
    )


class Batch:
    """The reserves of the claims a batch touches, folded as its facts come: the
    rows of the claims filed in it, and what it changes in the claims stored
    before it."""

    def __init__(self) -> None:
        self.filed: dict[str, list[Any]] = {}
        self.stored: dict[str, list[Any]] = {}

    def file(self, claim_id: str, key: Key) -> None:
        self.filed[claim_id] = [claim_id, *key, None]

    def set(self, claim_id: str, key: Key, reserve: int) -> None:
        row = self.filed.get(claim_id)
        if row is not None:
            row[_RESERVE] = reserve
            return
        change = self._stored(claim_id, key)
        change[_SET], change[_VALUE] = True, reserve

    def erode(self, claim_id: str, key: Key, amount: int) -> int:
        """What a payout of ``amount`` takes off the claim's reserve, if the batch
        knows the reserve before it (0 for a claim without one); else 0 now, and
        it is weighed by ``write``."""
        row = self.filed.get(claim_id)
        if row is None:
            change = self._stored(claim_id, key)
            if not change[_SET]:
                change[_PENDING] += amount
                return 0
            row, at = change, _VALUE
        else:
            at = _RESERVE
        reserve: int | None = row[at]
        if reserve is None:
            return 0
        eroded = min(reserve, amount)
        row[at] = reserve - eroded
        return eroded

    def _stored(self, claim_id: str, key: Key) -> list[Any]:
        change = self.stored.get(claim_id)
        if change is None:
            change = self.stored[claim_id] = [claim_id, *key, 0, False, None]
        return change

    def changes(self) -> tuple[list[list[Any]], list[list[Any]]]:
        return list(self.filed.values()), list(self.stored.values())


def write(conn: Connection, generation: int, changes: tuple[list[list[Any]], list[list[Any]]]
          ) -> dict[Key, int]:
    """Write the batch's reserves; what the payouts the batch could not weigh
    took off the stored reserves, by policy, year and coverage (to subtract
    from ``reserved``)."""
    t = table(generation)
    filed, stored = changes
    insert_rows(conn, t, filed)
    pending = {c[0]: c for c in stored if c[_PENDING]}
    eroded: dict[Key, int] = {}
    for chunk in chunks(sorted(pending), 500):
        query = select(t.c.claim_id, t.c.reserve).where(t.c.claim_id.in_(chunk))
        for claim_id, reserve in conn.execute(query):
            change = pending[claim_id]
            if reserve is None:
                continue
            key = (change[1], change[2], change[3])
            eroded[key] = eroded.get(key, 0) + min(reserve, change[_PENDING])
    execute_many(conn, _update_sql(t.name), [
        (c[_SET], c[_VALUE], c[_PENDING], c[_PENDING], c[0]) for c in stored])
    return eroded


@cache
def _update_sql(name: str) -> str:
    return (f'UPDATE "{name}" SET reserve = CASE WHEN ? THEN ? WHEN reserve IS NULL THEN NULL '
            "WHEN reserve > ? THEN reserve - ? ELSE 0 END WHERE claim_id = ?")
