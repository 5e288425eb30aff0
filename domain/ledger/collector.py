"""The process's one policy for Python's cycle collector around bulk work: the
ledger's batches of commands and the read side's runs of pages.

Both make many short-lived objects and no reference cycles: they are freed as
soon as they are dropped. But each of them counts towards the collector's next
pass, and its passes walk every long-lived object again and again (the
ledger's cache, the caller's own data). So the collector is paused while such
work runs, and what is alive when it ends is frozen (``gc.freeze``: later
passes skip it; objects are still freed when dropped). Frozen objects that
become unreachable cycles would wait, so once every ``UNFREEZE_EVERY`` runs
everything goes back to the collector for a full pass. Runs may overlap (the
API's writer thread and a read that catches up): the collector stays off until
the last of them ends, and is then left as it was when the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager


class BatchCollection:
    """The policy; the process shares one (``COLLECTION``), as the collector is
    the process's own."""

    UNFREEZE_EVERY = 50

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._batches = 0
        self._running = 0
        self._was_enabled = False

    @contextmanager
    def batch(self) -> Iterator[None]:
        """The collector paused while one run of bulk work goes on."""
        with self._lock:
            if not self._running:
                self._was_enabled = gc.isenabled()
            self._running += 1
            gc.disable()
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                self._batches += 1
                if self._batches % self.UNFREEZE_EVERY == 0:
                    gc.unfreeze()
                else:
                    gc.freeze()
                if not self._running and self._was_enabled:
                    gc.enable()


COLLECTION = BatchCollection()


def collector_paused() -> AbstractContextManager[None]:
    """The collector paused while pages are read, computed and written (the
    read side's name for one run under the process's policy)."""
    return COLLECTION.batch()
