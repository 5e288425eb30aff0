"""The seal's chain bookkeeping, the same on SQLite and PostgreSQL: link events
just inserted to the last link, checkpoint when the log crosses another
``CHECKPOINT_EVERY`` positions, seal a tail written before the seal, and the
reads the ledger makes through its recorder. Each recorder in
``sealed_recorders`` supplies the SQL and the write lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent

from adapters.audit.seal import CHECKPOINT_EVERY, PAGE, Checkpoint, SealError, chain, genesis


def _chain(prev: bytes, events: Sequence[tuple[int, StoredEvent]]) -> list[tuple[int, bytes]]:
    links = chain(prev, [(position, str(e.originator_id), e.originator_version, e.topic, e.state)
                         for position, e in events])
    return [(position, h) for (position, _), h in zip(events, links, strict=True)]


def _crosses(before: int, after: int) -> bool:
    return after // CHECKPOINT_EVERY > before // CHECKPOINT_EVERY


class Sealing:
    """The chain's bookkeeping, the same on both backends; each recorder in
    ``sealed_recorders`` supplies the SQL (the ``_``-prefixed primitives) and
    its write lock."""

    datastore: Any
    _ledger_id: str | None = None

    def _last_link(self, c: Any) -> tuple[int, bytes] | None:
        raise NotImplementedError

    def _write_links(self, c: Any, links: list[tuple[int, bytes]]) -> None:
        raise NotImplementedError

    def _write_checkpoint(self, c: Any, position: int, chained: bytes) -> Checkpoint:
        """Record a checkpoint unless one is there; return the one stored."""
        raise NotImplementedError

    def _select_ledger_id(self, c: Any) -> str | None:
        raise NotImplementedError

    def _events_after(self, c: Any, after: int, limit: int) -> list[tuple[int, StoredEvent]]:
        raise NotImplementedError

    def _lock(self, c: Any) -> None:
        """Take the log's write lock for the rest of the transaction."""
        raise NotImplementedError

    def _select_originator_ids(self, c: Any, first: int, last: int) -> set[str]:
        raise NotImplementedError

    def _select_first_events(self, c: Any, originator_ids: list[str]) -> list[StoredEvent]:
        raise NotImplementedError

    def first_events(self, originator_ids: list[str]) -> list[StoredEvent]:
        """The first event of each of these records that the log holds, in one
        query per 500 records."""
        found: list[StoredEvent] = []
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(originator_ids), 500):
                found += self._select_first_events(c, originator_ids[start:start + 500])
        return found

    def _select_events_of(self, c: Any, originator_ids: list[str]) -> list[StoredEvent]:
        raise NotImplementedError

    def events_of(self, originator_ids: list[str]) -> list[StoredEvent]:
        """Every event of each of these records, in order of record and version,
        in one query per 500 records (a batch's reads ahead)."""
        found: list[StoredEvent] = []
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(originator_ids), 500):
                found += self._select_events_of(c, originator_ids[start:start + 500])
        return found

    def originator_ids(self, first: int, last: int) -> set[str]:
        """The ids of the records that the events at positions ``first`` to
        ``last`` changed (for the ledger's cache: without reading the events)."""
        with self.datastore.transaction(commit=False) as c:
            return self._select_originator_ids(c, first, last)

    def _select_position(self, c: Any, originator_id: str, version: int) -> int | None:
        raise NotImplementedError

    def positions(self, keys: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """The log positions of the events with these (record id, version) keys,
        read with the log's own index of them; a key with no event is left out
        (for a replayed command's outcome)."""
        found: dict[tuple[str, int], int] = {}
        with self.datastore.transaction(commit=False) as c:
            for key in keys:
                position = self._select_position(c, *key)
                if position is not None:
                    found[key] = position
        return found

    def _seal(self, c: Any, events: list[tuple[int, StoredEvent]],
              checkpoint: bool) -> Checkpoint | None:
        """Link ``events`` (just inserted, in the same transaction) to the chain;
        record a checkpoint if asked, or if the log crossed another
        ``CHECKPOINT_EVERY`` positions."""
        last = self._last_link(c)
        before, prev = last if last else (0, genesis(self._read_ledger_id(c)))
        links = _chain(prev, events)
        if links:
            self._write_links(c, links)
        end, head = links[-1] if links else (before, prev)
        if end and (checkpoint or _crosses(before, end)):
            return self._write_checkpoint(c, end, head)
        return None

    def _read_ledger_id(self, c: Any) -> str:
        if self._ledger_id is None:
            found = self._select_ledger_id(c)
            if found is None:
                msg = "this database has no seal: open it once with write access"
                raise SealError(msg)
            self._ledger_id = found
        return self._ledger_id

    def ledger_id(self) -> str:
        with self.datastore.transaction(commit=False) as c:
            return self._read_ledger_id(c)

    def seal_tail(self) -> tuple[int, Checkpoint | None]:
        """Seal events after the last link (a log from before the seal, or rows
        written outside the ledger) and record a checkpoint at the end of the log."""
        sealed = 0
        with self.datastore.transaction(commit=True) as c:
            self._lock(c)
            last = self._last_link(c)
            after = last[0] if last else 0
            while True:
                events = self._events_after(c, after, PAGE)
                final = len(events) < PAGE
                checkpoint = self._seal(c, events, checkpoint=final)
                sealed += len(events)
                if final:
                    return sealed, checkpoint
                after = events[-1][0]
