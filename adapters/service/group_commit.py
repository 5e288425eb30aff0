"""Group commit: commands from concurrent callers share one commit, so a busy
server writes a batch per commit instead of one command per commit."""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future

from domain.commands import Command
from domain.ledger import Ledger, Outcome


class GroupCommit:
    """Commands from concurrent requests share commits: one writer thread takes
    whatever has queued (up to ``max_batch``) and runs it as one batch with
    ``Ledger.execute_many``. Each request still gets its own outcome or refusal,
    and only after the commit that holds its events."""

    def __init__(self, ledger: Ledger, max_batch: int = 500) -> None:
        self.ledger, self.max_batch = ledger, max_batch
        self._queue: queue.SimpleQueue[tuple[Command, str, Future[Outcome]]] = (
            queue.SimpleQueue())
        threading.Thread(target=self._run, name="group-commit", daemon=True).start()

    def submit(self, command: Command, actor: str) -> Future[Outcome]:
        done: Future[Outcome] = Future()
        self._queue.put((command, actor, done))
        return done

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                results = self.ledger.execute_many([c for c, _, _ in batch],
                                                   actor=[a for _, a, _ in batch])
            except Exception as exc:
                for _, _, done in batch:
                    done.set_exception(exc)
                continue
            for (_, _, done), result in zip(batch, results, strict=True):
                if isinstance(result, Exception):
                    done.set_exception(result)
                else:
                    done.set_result(result)
