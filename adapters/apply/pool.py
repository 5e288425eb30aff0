"""The worker processes of ``apply`` and the pipe between the router and each:
the router sends a worker shares of ``(line number, line)``; the worker applies
them in order and answers each share with every line's ``(ok, rendered result)``
(``marshal``-encoded ``(status, payload)`` both ways)."""

from __future__ import annotations

import marshal
import queue
import signal
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from typing import Any

from eventsourcing.persistence import PersistenceError

from adapters.apply.job import parse
from adapters.apply.results import Render, line_result, storage_failed
from adapters.storage import StorageError, open_ledger
from domain.errors import LedgerError
from domain.ledger import Ledger, Outcome
from projections.processes import helper_context


class Pool:
    """The worker processes and a pipe to each."""

    def __init__(self, db: str, actor: str, batch: int, render: Render, n: int) -> None:
        self.render = render
        # The modules a worker runs, and the read side's helpers that catch up after it.
        context = helper_context(__name__, render.__module__, "projections.feed")
        self.pipes: list[Pipe] = []
        self.processes = []
        for _ in range(n):
            mine, theirs = context.Pipe()
            process = context.Process(target=_work, daemon=True,
                                      args=(theirs, db, actor, batch, render))
            process.start()
            theirs.close()
            self.pipes.append(mine)
            self.processes.append(process)
        try:
            for pipe in self.pipes:  # each worker says it opened the ledger
                status, text = self._receive(pipe)
                if status == "storage":
                    raise StorageError(text)
        except BaseException:
            self.close()
            raise

    def send(self, worker: int, share: list[tuple[int, str]]) -> None:
        try:
            self.pipes[worker].send_bytes(marshal.dumps(share))
        except OSError:  # not a closed stdout: the worker is gone
            pipe = self.pipes[worker]
            while pipe.poll(0):
                self._receive(pipe)  # raises with its traceback if it crashed
            msg = "a worker process ended before it was sent all its lines"
            raise RuntimeError(msg) from None

    def receive(self, worker: int) -> tuple[tuple[int, Exception] | None, list[tuple[bool, str]]]:
        """A share's rendered results, and its first line not applied because
        the database failed (with the cause), if any."""
        status, payload = self._receive(self.pipes[worker])
        if status == "failed":
            number, cause, results = payload
            return (number, PersistenceError(cause)), results
        return None, payload

    @staticmethod
    def _receive(pipe: Pipe) -> tuple[str, Any]:
        try:
            status, payload = marshal.loads(pipe.recv_bytes())
        except EOFError:
            msg = "a worker process ended before reporting its lines"
            raise RuntimeError(msg) from None
        if status == "crashed":
            msg = f"a worker process failed:\n{payload}"
            raise RuntimeError(msg)
        return status, payload

    def close(self) -> None:
        for pipe in self.pipes:
            pipe.close()  # a worker stops when its pipe closes
        for process in self.processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()




def _work(pipe: Pipe, db: str, actor: str, batch: int, render: Render) -> None:
    """A worker process: apply each share it is sent, ``batch`` commands to a
    commit, and answer each line's rendered result, until the router closes
    the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the router to handle
    mailbox = _Mailbox(pipe)
    ledger: Ledger | None = None
    try:
        ledger = open_ledger(db)
        mailbox.answer("ready", "")
        shares = _Shares(ledger, actor, batch, render)
        while (share := mailbox.next_share()) is not None:
            mailbox.answer(*shares.apply(share))
    except StorageError as exc:
        mailbox.answer("storage", str(exc))
    except Exception:
        mailbox.answer("crashed", traceback.format_exc())
    finally:
        mailbox.close()
        if ledger is not None:
            ledger.close()


class _Mailbox:
    """A worker's end of its pipe. Shares are received and answers sent by
    threads of their own: the router's send of the next share returns at once
    (a share is larger than the pipe holds, so it would otherwise wait until
    this worker had finished the share before, and the other workers with it),
    and the next share is applied while the router is still busy with another
    worker's answer."""

    def __init__(self, pipe: Pipe) -> None:
        self.pipe = pipe
        self.inbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.closed = threading.Event()
        threading.Thread(target=self._receive, daemon=True).start()
        self.sender = threading.Thread(target=self._send, daemon=True)
        self.sender.start()

    def _receive(self) -> None:
        try:
            while True:
                self.inbox.put(self.pipe.recv_bytes())
        except (EOFError, OSError):
            # The router closed the pipe: it has had every answer it waits for,
            # or it stopped at once (a second Ctrl-C) and shares it sent are
            # not to be applied any more.
            self.closed.set()
            self.inbox.put(None)

    def _send(self) -> None:
        while (data := self.outbox.get()) is not None:
            try:
                self.pipe.send_bytes(data)
            except OSError:
                return  # the router stopped: nobody is listening any more

    def next_share(self) -> list[tuple[int, str]] | None:
        """The next share, or None once the router has closed the pipe."""
        if (received := self.inbox.get()) is None or self.closed.is_set():
            return None
        share: list[tuple[int, str]] = marshal.loads(received)
        return share

    def answer(self, status: str, payload: Any) -> None:
        self.outbox.put(marshal.dumps((status, payload)))

    def close(self) -> None:
        """Send the answers not sent yet, then stop sending."""
        self.outbox.put(None)
        self.sender.join()


@dataclass
class _Shares:
    """Applies a worker's shares. Once the database has failed, nothing more is
    applied (a later line of a policy must not be applied when an earlier one
    was not)."""

    ledger: Ledger
    actor: str
    batch: int
    render: Render
    failure: Exception | None = None

    def apply(self, share: list[tuple[int, str]]) -> tuple[str, Any]:
        """The answer to a share: ``("done", results)``, or ``("failed",
        (first line not applied, cause, results))`` if the database failed."""
        results: list[tuple[bool, str]] = []
        first_failed: int | None = None
        for start in range(0, len(share), self.batch):
            chunk = [(n, parse(line)) for n, line in share[start:start + self.batch]]
            outcomes: Iterator[Outcome | LedgerError] = iter(())
            if self.failure is None:
                try:
                    outcomes = iter(self.ledger.execute_many(
                        [c for _, c in chunk if not isinstance(c, LedgerError)],
                        actor=self.actor))
                except PersistenceError as exc:
                    self.failure = exc
            for number, item in chunk:
                if self.failure is not None and not isinstance(item, LedgerError):
                    first_failed = first_failed or number
                    result = storage_failed(number, self.failure)
                else:
                    result = line_result(
                        number, item if isinstance(item, LedgerError) else next(outcomes))
                results.append((bool(result["ok"]), self.render(result)))
        if first_failed is not None:
            return "failed", (first_failed, str(self.failure), results)
        return "done", results
