"""Applying a JSON Lines file of commands (``claims-ledger apply``): ``batch``
commands to a commit, in this process or split by policy over worker
processes, every line's result reported in the file's order.

With workers, each worker process opens a ledger of its own on the same
database and group-commits its share of the file. Every command of a policy
goes to the same worker, and a claim's commands go with the policy the claim
was filed under, so each policy's commands are decided and stored in the
file's order. A command that names a claim or a command id that a command on
another worker named before it waits until that worker has committed
everything it was given. A ``set_authority`` waits until every command before
it is committed, and a command decided on the actor's authority (a payout
requested, approved or rejected) after it waits until it is committed.
Commands of different policies may therefore be stored in another order than
the file's; each is still atomic on its own and reported only after its commit.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import nullcontext

from eventsourcing.persistence import PersistenceError

from adapters.apply.job import Interrupt, Progress, StoppedAt, parse, text_of
from adapters.apply.pool import Pool
from adapters.apply.results import Render, Result, error_json, line_result, storage_failed
from adapters.apply.router import Router, worker_of
from domain.commands import Command, check_actor
from domain.errors import LedgerError
from domain.ledger import Ledger, Outcome

__all__ = [
    "MAX_WORKERS", "Progress", "Render", "Result", "StoppedAt", "Workers", "apply_lines",
    "default_workers", "error_json", "line_result", "worker_of",
]

MAX_WORKERS = 32
"""The most worker processes ``apply`` starts when asked: each is a Python
process with a ledger of its own, and beyond one per core they only take turns
at the database's write lock."""


def default_workers() -> int:
    """Worker processes ``apply`` starts for a long file: one per core this
    process may run on, at most 4."""
    return min(len(os.sched_getaffinity(0)), 4)


def apply_lines(
    ledger: Ledger, lines: Iterator[str], actor: str,
    on_result: Callable[[Result], None], progress: Progress, batch: int = 1,
    dry_run: bool = False,
) -> int:
    """Apply one command per line in this process, ``batch`` commands to a
    commit; report every line in order. Returns how many lines were refused.
    A ``dry_run`` decides every line as a real run would, all on one running
    view (``Ledger.dry_run``), appends nothing, and marks each result."""
    with ledger.dry_run() if dry_run else nullcontext(ledger.execute_many) as run:
        return _apply(run, lines, actor, on_result, progress, batch, dry_run)


def _apply(run: Callable[..., list[Outcome | LedgerError]], lines: Iterator[str],
           actor: str, on_result: Callable[[Result], None], progress: Progress,
           batch: int, dry_run: bool) -> int:
    refused = done = 0
    chunk: list[tuple[int, Command | LedgerError]] = []

    def flush() -> None:
        nonlocal refused, done
        parsed = [(n, c) for n, c in chunk if not isinstance(c, LedgerError)]
        try:
            outcomes = iter(run([c for _, c in parsed], actor=actor) if parsed else [])
        except PersistenceError as exc:
            progress.finish()
            first = chunk[0][0]
            on_result(storage_failed(first, exc))
            raise StoppedAt(first, exc) from exc
        for number, item in chunk:
            result = line_result(
                number, item if isinstance(item, LedgerError) else next(outcomes))
            if dry_run:
                result["dry_run"] = True
            refused += not result["ok"]
            on_result(result)
            done += 1
        progress(done, progress.total)
        chunk.clear()

    with Interrupt().installed() as interrupt:
        for number, raw in enumerate(lines, start=1):
            line = text_of(raw)
            if line is None:
                continue
            chunk.append((number, parse(line)))
            if len(chunk) >= batch:
                flush()
                if interrupt.requested:
                    break
        else:
            if chunk:
                flush()
        progress.finish()
        if interrupt.requested:
            raise KeyboardInterrupt
    return refused


class Workers:
    """Worker processes for ``apply``, each with a ledger of its own on ``db``,
    applying ``batch`` commands to a commit as ``actor`` and rendering each
    line's result with ``render``. Use as a context manager: the processes stop
    when it exits."""

    def __init__(self, db: str, actor: str, *, workers: int, batch: int,
                 render: Render) -> None:
        check_actor(actor)
        self.batch, self.actor = batch, actor
        self.pool = Pool(db, actor, batch, render, workers)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *_: object) -> None:
        self.pool.close()

    def apply(self, ledger: Ledger, lines: Iterator[str], write: Callable[[str], None],
              progress: Progress) -> int:
        """Apply one command per line; ``write`` each line's rendered result in
        file order. ``ledger`` (on the same database) is read to find which
        policy a claim named by the file belongs to. Returns how many lines
        were refused."""
        with Interrupt().installed() as interrupt:
            return Router(ledger, self.pool, self.batch, self.actor, write, progress,
                          interrupt).run(lines)

