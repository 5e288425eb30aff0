"""What a batch of commands (or a single command, a batch of one) decides on:
its own view of the records, and the records the last committed batch left,
kept between batches.

``Overlay`` is the records one batch has read and decided so far (per thread):
each command is decided on the state the commands before it left. ``StateCache``
keeps the states a committed batch decided on, so hot records are not read
again for every batch; it follows the log's head to set aside what other
writers changed, to be caught up from the log (see its docstring for why that
is safe).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from eventsourcing.persistence import ApplicationRecorder

from domain.events import LedgerEvent
from domain.ids import aggregate_kind
from domain.replay import evolve_any

Changed = Callable[[int, int], "set[str] | None"]
"""Which records the events at positions ``first``..``last`` changed (None: too
many to say)."""


@runtime_checkable
class ListsChangedRecords(Protocol):
    """A recorder that can say which records a range of positions changed
    without reading the events (the sealing recorders can)."""

    def originator_ids(self, first: int, last: int) -> set[str]: ...


def records_changed(recorder: ApplicationRecorder, first: int, last: int,
                    most: int) -> set[str] | None:
    """The records that the events at positions ``first``..``last`` changed
    (None if there may be more than ``most`` of them)."""
    if last - first >= most:
        return None
    if isinstance(recorder, ListsChangedRecords):
        return recorder.originator_ids(first, last)
    return {str(n.originator_id) for n in recorder.select_notifications(
        first, last - first + 1, stop=last)}


class Overlay(threading.local):
    """Per thread: the records a batch of commands has decided on so far (by
    aggregate id; None: known to be absent). Outside a batch it holds nothing
    and every read goes to the log."""

    states: dict[str, Any] | None = None
    use_cache = False
    assume_absent = True
    """A record a command would create, not known to the view or the cache, is
    taken as absent without a read (see ``Ledger._existing``)."""
    fresh = False
    """Outside a batch: a single command's try on records read afresh."""
    read: set[str]
    """The records the command being decided has read."""
    cached: set[str]
    """Records this batch took from the shared cache and has not changed."""

    def __init__(self) -> None:
        self.read = set()
        self.cached = set()

    def begin(self, *, assume_absent: bool = True, use_cache: bool = True) -> dict[str, Any]:
        """Start a batch's view, empty; records may come from the cache (unless
        not ``use_cache``: then every record is read from the log)."""
        self.states = {}
        self.cached = set()
        self.use_cache = use_cache
        self.assume_absent = assume_absent
        return self.states

    def end(self) -> None:
        self.states = None
        self.use_cache = False

    def get(self, aggregate_id: str, cache: StateCache) -> tuple[bool, Any]:
        """(True, the state) if the batch's view has the record, or the cache has
        it (it then joins the view); (False, None) if it must be read."""
        states = self.states
        if states is None:
            return False, None
        self.read.add(aggregate_id)
        if aggregate_id in states:
            return True, states[aggregate_id]
        if self.use_cache:
            found, cached = cache.get(aggregate_id)
            if found:
                states[aggregate_id] = cached
                self.cached.add(aggregate_id)
                return True, cached
        return False, None

    def base(self, aggregate_id: str, cache: StateCache) -> Any:
        """A committed state of a record about to be read from the log, so that
        only the events after it are read (None: all of them). In a batch, one
        the cache set aside; in a view without the cache, or a single command's
        fresh try, any the cache holds; none for reads outside commands (they
        replay the log)."""
        if self.states is not None and self.use_cache:
            return cache.behind(aggregate_id)
        return cache.known(aggregate_id) if self.fresh or self.states is not None else None

    def put(self, aggregate_id: str, state: Any) -> None:
        """A record read from the log joins the batch's view (if in a batch)."""
        if self.states is not None:
            self.states[aggregate_id] = state

    def refresh(self, read: Callable[[str], Any]) -> bool:
        """Read again (with ``read``) the records the command being decided took
        from the cache; say whether any had changed (the fresh ones join the
        view)."""
        states = self.states
        assert states is not None
        changed = False
        for aggregate_id in self.read & self.cached:
            fresh = read(aggregate_id)
            if fresh != states.get(aggregate_id):
                states[aggregate_id] = fresh
                changed = True
        return changed

    def remember(self, events: list[LedgerEvent], evolved: dict[str, Any]) -> None:
        """Fold a planned command's events into the batch's view (taking as they
        are the records its decision ``evolved`` already)."""
        states = self.states
        assert states is not None
        for event in events:
            aggregate_id = event.originator_id
            # Changed here from now on: a stale base shows as a conflict at save.
            self.cached.discard(aggregate_id)
            if aggregate_id in evolved:
                states[aggregate_id] = evolved[aggregate_id]
            else:
                evolve_any(states, event)


class StateCache:
    """Records as the last committed batch left them, so hot records are not read
    again for every batch (least recently used go first). Safe under
    concurrency:

    * A decision on a claim, policy year or command record that another writer
      has changed since appends an event at a version that writer already took;
      the save fails as a whole, and the cache is cleared before the commands
      are run again from the database. A refusal (which appends nothing) is
      decided again on fresh reads of the cached records it used, unless
      ``check_head`` found every cached record current when the batch began
      (nobody else had written since the cache's head, or what they changed
      was dropped).
    * A claim's filing reads its policy without writing to it, so a stale policy
      would go unnoticed at save. So the cache remembers the log's last position
      it has accounted for (``head``). A batch that finds the log grown past it
      (another writer, or another process, appended) first drops every record
      that those events changed, read from the log (``check_head``); and a
      commit whose first position does not follow the head checked before it
      drops the records that the events in between changed (``update``). When
      the head is not known (another batch of this ledger committed in between),
      the next batch drops every policy instead, and decides refusals again on
      fresh reads.
    * A record dropped (or cleared) is kept aside as it was (``behind``): a
      committed state, perhaps not the latest. A batch that reads it again reads
      only the events after its version and folds them into it (``Ledger._get``),
      which gives the state a replay from the first event would.
    """

    def __init__(self, maxsize: int) -> None:
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._policies: set[str] = set()
        """The ids of the policies in ``_items`` (dropped together)."""
        self._behind: OrderedDict[str, Any] = OrderedDict()
        """Records dropped from ``_items``, as they were (not None)."""
        self._maxsize = maxsize
        self._lock = threading.Lock()
        self._head: int | None = None

    def check_head(self, head: int, changed: Changed) -> bool:
        """Start a batch on a log whose last position is ``head``; ``changed``
        reads which records the events in a range of positions changed. Say
        whether every record in the cache is now current (the ones others
        changed since the cache's head are set aside); if the cache's head is
        not known, set policies aside and say no."""
        with self._lock:
            if self._head is None or head < self._head:
                self._drop(set(self._policies))
                if self._head is not None:
                    self._behind.clear()  # a log that shrank is not the one they came from
                self._head = head
                return False
            if head > self._head:
                self._drop(changed(self._head + 1, head))
                self._head = head
            return True

    def _drop(self, aggregate_ids: set[str] | None) -> None:
        """Set these records aside (None: all of them)."""
        for aggregate_id in list(self._items) if aggregate_ids is None else aggregate_ids:
            state = self._items.pop(aggregate_id, None)
            self._policies.discard(aggregate_id)
            self._set_aside(aggregate_id, state)

    def _set_aside(self, aggregate_id: str, state: Any) -> None:
        """Keep a record's committed state to catch up from (least recently set
        aside go first)."""
        if state is None:
            return
        self._behind[aggregate_id] = state
        self._behind.move_to_end(aggregate_id)
        if len(self._behind) > self._maxsize:
            self._behind.popitem(last=False)

    def behind(self, aggregate_id: str) -> Any:
        """The record as it was when it was set aside (None if it was not); the
        state caught up from it replaces it with the next ``update``."""
        with self._lock:
            return self._behind.get(aggregate_id)

    def known(self, aggregate_id: str) -> Any:
        """A committed state of the record, current or set aside (None if none)."""
        with self._lock:
            state = self._items.get(aggregate_id)
            return self._behind.get(aggregate_id) if state is None else state

    def get(self, aggregate_id: str) -> tuple[bool, Any]:
        with self._lock:
            if aggregate_id not in self._items:
                return False, None
            self._items.move_to_end(aggregate_id)
            return True, self._items[aggregate_id]

    def update(self, states: dict[str, Any], head: int, positions: list[int],
               changed: Changed) -> None:
        """Keep the states a batch decided on, begun on a log at ``head`` and
        committed at ``positions`` (none if it appended nothing), except the
        records that others changed in between."""
        with self._lock:
            foreign: set[str] | None = set()
            if positions and self._head != head:
                self._head = None  # another batch of ours committed in between
            elif positions:
                if positions[0] != head + 1:
                    foreign = changed(head + 1, positions[0] - 1)
                self._head = positions[-1] if foreign is not None else None
            keep_policies = self._head is not None
            # Read at ``head`` and saved nothing, while another batch of ours moved
            # the cache on: what it read may be older than what the cache holds.
            read_before = not positions and self._head != head
            for aggregate_id, state in states.items():
                if read_before:  # a committed state still, to catch up from
                    if aggregate_id not in self._items:
                        self._set_aside(aggregate_id, state)
                    continue
                self._behind.pop(aggregate_id, None)
                policy = aggregate_kind(aggregate_id) == "policy"
                if (foreign and aggregate_id in foreign) or (policy and not keep_policies):
                    self._items.pop(aggregate_id, None)
                    self._policies.discard(aggregate_id)
                    self._set_aside(aggregate_id, state)
                    continue
                if policy:
                    self._policies.add(aggregate_id)
                self._items[aggregate_id] = state
                self._items.move_to_end(aggregate_id)
            self._drop(foreign)
            while len(self._items) > self._maxsize:
                self._policies.discard(self._items.popitem(last=False)[0])

    def clear(self) -> None:
        """Set every record aside: each is caught up before it is used again."""
        with self._lock:
            self._drop(None)
            self._head = None
