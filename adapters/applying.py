"""Applying a JSON Lines file of commands (``claims-ledger apply``): ``batch``
commands to a commit, in this process or split by policy over worker
processes, every line's result reported in the file's order.

With workers, each worker process opens a ledger of its own on the same
database and group-commits its share of the file. Every command of a policy
goes to the same worker, and a claim's commands go with the policy the claim
was filed under, so each policy's commands are decided and stored in the
file's order. A command that names a claim or a command id that a command on
another worker named before it waits until that worker has committed
everything it was given. Commands of different policies may therefore be
stored in another order than the file's; each is still atomic on its own and
reported only after its commit.
"""

from __future__ import annotations

import json
import marshal
import multiprocessing
import os
import queue
import signal
import threading
import traceback
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe
from typing import Any

import orjson
from eventsourcing.persistence import PersistenceError

from adapters.console import Progress, yen
from adapters.seal_store import SealedPostgresRecorder, SealedSQLiteRecorder
from adapters.storage import StorageError, open_ledger
from domain.claim import claim_id_of
from domain.commands import Command, check_actor, parse_command
from domain.errors import LedgerError, Violation
from domain.ledger import Ledger, Outcome

Result = dict[str, Any]
Render = Callable[[Result], str]


def error_json(error: LedgerError) -> dict[str, Any]:
    return {
        "error": type(error).__name__,
        "message": str(error),
        "violations": error.violations_json(),
    }


def line_result(number: int, result: Outcome | LedgerError) -> Result:
    """One line's result as ``apply --json`` prints it."""
    if isinstance(result, LedgerError):
        return {"line": number, "ok": False, **error_json(result)}
    return {"line": number, "ok": True, **result.as_json()}


def _storage_failed(number: int, cause: Exception) -> Result:
    return {"line": number, "ok": False, "error": "StorageUnavailable",
            "message": str(cause), "violations": []}


def describe(outcome: Result) -> str:
    """One line about an applied command, from its outcome as JSON."""
    r = outcome["result"]
    command = outcome["command"]
    if command == "attach_coverage":
        text = (f"policy {r['policy_id']} enrolled, year 1 "
                f"{r['period_start']}..{r['period_end']}")
    elif command in ("end_service", "cancel_firewall_option"):
        text = (f"policy {r['policy_id']} cover {r['cover_start']}..{r['cover_end']}"
                + (f", denied {', '.join(r['denied'])}" if r["denied"] else ""))
    elif command == "issue_payout":
        text = (f"claim {r['claim_id']} {r['payout_id']} paid {yen(r['amount'])} "
                f"(annual remaining {yen(r['breakdown']['annual_remaining_after'])})")
    elif command == "reverse_payout":
        text = f"claim {r['claim_id']} {r['payout_id']} of {yen(r['amount'])} reversed"
    else:
        text = (f"claim {r['claim_id']} {r['status']} (year {r['policy_year']}, loss "
                f"{yen(r['loss_amount'])}, payable {yen(r['payable'])}, paid {yen(r['paid'])}"
                + (f", exclusion {r['exclusion']}" if r["exclusion"] else "") + ")")
    if outcome["replayed"]:
        return text + " [already applied: nothing appended]"
    return text + f" [{', '.join(e['event'] for e in outcome['events'])}]"


def render_json(result: Result) -> str:
    """A line's result for ``apply --json``: one JSON object."""
    return orjson.dumps(result).decode()


def render_text(result: Result) -> str:
    """A line's result for people: what it did, or each rule it broke."""
    if result["ok"]:
        return f"line {result['line']}: ok       {result['command']}: {describe(result)}"
    if not result["violations"]:
        return f"line {result['line']}: failed   {result['message']}"
    lines = []
    for v in result["violations"]:
        name = f"{v['field']}: " if v["field"] else ""
        lines.append(f"line {result['line']}: refused  {name}{v['message']} [{v['rule']}]")
    return "\n".join(lines)


class StoppedAt(Exception):
    """The database failed part-way through ``apply``: the lines reported before
    the failure were applied or refused as reported, this line was not applied,
    nor any line not reported (re-running a file whose commands carry command
    ids applies each of them once)."""

    def __init__(self, line: int, cause: Exception, *, reported_after: bool = False) -> None:
        rest = ("lines after it were applied only where reported as applied"
                if reported_after else "nor any after it")
        super().__init__(f"the database failed at line {line}, which was not applied "
                         f"({rest}): {cause}")
        self.line = line


class _Interrupt:
    """Ctrl-C during ``apply``: the first one asks the job to stop once what it
    has sent to the database is reported (``requested``); a second one stops at
    once."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, *_: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    @contextmanager
    def installed(self) -> Iterator[_Interrupt]:
        if threading.current_thread() is not threading.main_thread():
            yield self  # signals reach the main thread only
            return
        previous = signal.signal(signal.SIGINT, self)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)


def _parse(line: str) -> Command | LedgerError:
    text = line.lstrip()
    try:
        return parse_command(text)
    except LedgerError as exc:
        return _located(text, len(line) - len(text), exc) if exc.rule == "json" else exc


def _located(text: str, indent: int, error: LedgerError) -> LedgerError:
    """A line that is not JSON, refused saying where it breaks (the column in
    the line, counted in characters from 1, ``indent`` blanks before ``text``)
    and why."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"column {indent + exc.colno}: {exc.msg}"
    except (ValueError, RecursionError):
        return error
    else:
        return error  # JSON to Python's parser (NaN, say), not to the command's
    return type(error)(Violation(None, "json", f"is not valid JSON ({where})"))


def _text(raw: str) -> str | None:
    """A line as parsed: without its line break and trailing blanks (leading
    ones stay, so that a column counts from the line's start); None if blank."""
    return raw.rstrip() or None


def apply_lines(
    ledger: Ledger, lines: Iterator[str], actor: str,
    on_result: Callable[[Result], None], progress: Progress, batch: int = 1,
) -> int:
    """Apply one command per line in this process, ``batch`` commands to a
    commit; report every line in order. Returns how many lines were refused."""
    refused = done = 0
    chunk: list[tuple[int, Command | LedgerError]] = []

    def flush() -> None:
        nonlocal refused, done
        parsed = [(n, c) for n, c in chunk if not isinstance(c, LedgerError)]
        try:
            outcomes = iter(ledger.execute_many([c for _, c in parsed], actor=actor)
                            if parsed else [])
        except PersistenceError as exc:
            progress.finish()
            first = chunk[0][0]
            on_result(_storage_failed(first, exc))
            raise StoppedAt(first, exc) from exc
        for number, item in chunk:
            result = line_result(
                number, item if isinstance(item, LedgerError) else next(outcomes))
            refused += not result["ok"]
            on_result(result)
            done += 1
        progress(done, progress.total)
        chunk.clear()

    with _Interrupt().installed() as interrupt:
        for number, raw in enumerate(lines, start=1):
            line = _text(raw)
            if line is None:
                continue
            chunk.append((number, _parse(line)))
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


# With worker processes ------------------------------------------------------

_DEPTH = 4
"""Rounds sent to the workers beyond the one being reported, so that a worker
never waits for the router (2 and 4 measured the same; 16, with each worker
receiving on a thread of its own, no faster)."""


@dataclass
class _Round:
    seq: int
    slots: list[tuple[int, str]] = field(default_factory=list)
    """Per line in file order: the worker applying it, or -1 and the line's
    rendered result if it was refused here."""
    shares: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)


class Workers:
    """Worker processes for ``apply``, each with a ledger of its own on ``db``,
    applying ``batch`` commands to a commit as ``actor`` and rendering each
    line's result with ``render``. Use as a context manager: the processes stop
    when it exits."""

    def __init__(self, db: str, actor: str, *, workers: int, batch: int,
                 render: Render) -> None:
        check_actor(actor)
        self.batch = batch
        self.pool = _Pool(db, actor, batch, render, workers)

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
        with _Interrupt().installed() as interrupt:
            return _Router(ledger, self.pool, self.batch, write, progress, interrupt).run(lines)


class _Router:
    """Reads the file, sends each line to its policy's worker, reports in order."""

    def __init__(self, ledger: Ledger, pool: _Pool, batch: int,
                 write: Callable[[str], None], progress: Progress, interrupt: _Interrupt
                 ) -> None:
        self.ledger, self.pool, self.write, self.progress = ledger, pool, write, progress
        self.interrupt = interrupt
        self.round_size = batch * len(pool.pipes)
        self.owner: dict[str, int] = {}
        """The worker of each claim filed in this file (``_AMBIGUOUS`` if filed
        by more than one policy here)."""
        self.last: dict[str, tuple[int, int]] = {}
        """For each claim and command id named by a round not yet reported: the
        worker and round of its last line."""
        self.sent: deque[_Round] = deque()
        self.refused = self.done = 0
        self.failed: tuple[int, Exception] | None = None

    def run(self, lines: Iterator[str]) -> int:
        current = _Round(0)
        for block in self._blocks(lines):
            try:
                stored = self._stored_owners(block)
            except PersistenceError as exc:
                self._fail(block[0][0], exc)
                break
            for number, line, data in block:
                try:
                    worker, keys = self._route(data, stored)
                    if worker == _UNSETTLED or (worker is not None and any(
                            self.last.get(key, (worker,))[0] != worker for key in keys)):
                        # It must follow lines not yet reported: wait for all of them.
                        current = self._send(current)
                        self._drain()
                        if self.failed:
                            break
                        worker, keys = self._route(data, stored, settled=True)
                except PersistenceError as exc:
                    current = self._send(current)  # the lines before it go on
                    self._fail(number, exc)
                    break
                if worker is None:
                    item = _parse(line)
                    if isinstance(item, LedgerError):
                        current.slots.append((-1, self.pool.render(line_result(number, item))))
                        continue
                    worker = 0  # a command this router cannot place: any worker decides it
                current.slots.append((worker, ""))
                current.shares.setdefault(worker, []).append((number, line))
                for key in keys:
                    self.last[key] = (worker, current.seq)
                current.keys.extend(keys)
            if self.failed:
                break
            current = self._send(current)
            while len(self.sent) > _DEPTH and not self.failed:
                self._report(self.sent.popleft())
            if self.failed or self.interrupt.requested:
                break
        self._drain()
        self.progress.finish()
        if self.failed:
            number, cause = self.failed
            raise StoppedAt(number, cause, reported_after=True) from cause
        if self.interrupt.requested:
            raise KeyboardInterrupt
        return self.refused

    def _fail(self, number: int, cause: Exception) -> None:
        """Line ``number`` cannot be applied: the database failed."""
        if self.failed is None or number < self.failed[0]:
            self.failed = (number, cause)

    def _blocks(self, lines: Iterator[str]) -> Iterator[list[tuple[int, str, Any]]]:
        """The file's non-empty lines, a round at a time: number, text, and the
        decoded JSON (None if it is not JSON)."""
        block: list[tuple[int, str, Any]] = []
        for number, raw in enumerate(lines, start=1):
            line = _text(raw)
            if line is None:
                continue
            try:
                data = orjson.loads(line.lstrip())
            except orjson.JSONDecodeError:
                data = None
            block.append((number, line, data))
            if len(block) >= self.round_size:
                yield block
                block = []
        if block:
            yield block

    def _route(self, data: Any, stored: dict[str, int], settled: bool = False
               ) -> tuple[int | None, list[str]]:
        """The worker for a line and the records it names besides its policy
        (claim and command ids). No worker if the line is not a command that
        names its policy or claim; ``_UNSETTLED`` if it names a claim filed by
        more than one policy in lines not yet reported (unless ``settled``: all
        lines before it are reported). ``stored``: the workers of claims the
        log held before this round."""
        if not isinstance(data, dict):
            return None, []
        policy, claim, command_id = (data.get("policy_id"), data.get("claim_id"),
                                     data.get("command_id"))
        keys = [f"command:{command_id}"] if isinstance(command_id, str) else []
        if isinstance(claim, str):
            keys.append(f"claim:{claim}")
        if isinstance(policy, str) and (data.get("command") == "file_claim"
                                        or not isinstance(claim, str)):
            worker = self.pool.worker_of(policy)
            if isinstance(claim, str):
                known = self.owner.get(claim)
                if known is None:  # a claim filed before stays its policy's (this is refused)
                    self.owner[claim] = stored.get(claim, worker)
                elif known != worker:
                    self.owner[claim] = _AMBIGUOUS
            return worker, keys
        if not isinstance(claim, str):
            return None, keys
        owner = self.owner.get(claim)
        if owner == _AMBIGUOUS:
            if not settled:
                return _UNSETTLED, keys
            owner = self._stored_owners_of([claim]).get(claim)
            if owner is not None:  # settled: the filing that stood is in the log
                self.owner[claim] = owner
        elif owner is None:
            owner = stored.get(claim)
        return (0 if owner is None else owner), keys

    def _stored_owners(self, block: list[tuple[int, str, Any]]) -> dict[str, int]:
        """The workers of the stored claims that lines of ``block`` name and
        that this file has not filed before it."""
        claims = {data["claim_id"] for _, _, data in block
                  if isinstance(data, dict) and isinstance(data.get("claim_id"), str)}
        return self._stored_owners_of([c for c in claims if c not in self.owner])

    def _stored_owners_of(self, claims: list[str]) -> dict[str, int]:
        """The worker of each claim in ``claims`` that the log holds: the worker
        of the policy it was filed under (read from its first event)."""
        ids = [claim_id_of(c) for c in claims]
        recorder = self.ledger.recorder
        if isinstance(recorder, SealedSQLiteRecorder | SealedPostgresRecorder):
            first = recorder.first_events(ids)
        else:
            first = [e for i in ids for e in recorder.select_events(i, lte=1)]
        workers = {}
        for event in first:
            policy_id = getattr(self.ledger.mapper.to_domain_event(event), "policy_id", None)
            if isinstance(policy_id, str):
                workers[str(event.originator_id)] = self.pool.worker_of(policy_id)
        return {c: workers[i] for c, i in zip(claims, ids, strict=True) if i in workers}

    def _send(self, current: _Round) -> _Round:
        if current.slots:
            for worker, share in current.shares.items():
                self.pool.send(worker, share)
            self.sent.append(current)
            return _Round(current.seq + 1)
        return current

    def _drain(self) -> None:
        while self.sent:
            self._report(self.sent.popleft())

    def _report(self, sent: _Round) -> None:
        answers: dict[int, Iterator[tuple[bool, str]]] = {}
        for worker in sent.shares:
            failed, results = self.pool.receive(worker)
            if failed is not None:
                self._fail(*failed)
            answers[worker] = iter(results)
        for worker, text in sent.slots:
            ok, rendered = (False, text) if worker < 0 else next(answers[worker])
            self.refused += not ok
            self.done += 1
            self.write(rendered)
        for key in sent.keys:
            if self.last.get(key, (None, -1))[1] == sent.seq:
                del self.last[key]
        self.progress(self.done, self.progress.total)


_AMBIGUOUS = -1
_UNSETTLED = -2


MAX_WORKERS = 32
"""The most worker processes ``apply`` starts when asked: each is a Python
process with a ledger of its own, and beyond one per core they only take turns
at the database's write lock."""


def default_workers() -> int:
    """Worker processes ``apply`` starts for a long file: one per core this
    process may run on, at most 4."""
    return min(len(os.sched_getaffinity(0)), 4)


def worker_of(policy_id: str, workers: int) -> int:
    """Which of ``workers`` applies the commands of a policy (the same in every
    run, so that runs of the same file store the same log)."""
    return zlib.crc32(policy_id.encode()) % workers


class _Pool:
    """The worker processes and a pipe to each."""

    def __init__(self, db: str, actor: str, batch: int, render: Render, n: int) -> None:
        self.render = render
        context = multiprocessing.get_context("spawn")  # no inherited connections
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

    def worker_of(self, policy_id: str) -> int:
        return worker_of(policy_id, len(self.pipes))

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
    commit, and answer each line's rendered result. Once the database has
    failed, nothing more is applied (a later line of a policy must not be
    applied when an earlier one was not). Shares are received and answers sent
    by threads of their own: the router's send of the next share returns at
    once (a share is larger than the pipe holds, so it would otherwise wait
    until this worker had finished the share before, and the other workers
    with it), and the next share is applied while the router is still busy
    with another worker's answer."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the router to handle
    inbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
    outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()

    closed = threading.Event()

    def receive() -> None:
        try:
            while True:
                inbox.put(pipe.recv_bytes())
        except (EOFError, OSError):
            # The router closed the pipe: it has had every answer it waits for,
            # or it stopped at once (a second Ctrl-C) and shares it sent are
            # not to be applied any more.
            closed.set()
            inbox.put(None)

    def send() -> None:
        while (data := outbox.get()) is not None:
            try:
                pipe.send_bytes(data)
            except OSError:
                return  # the router stopped: nobody is listening any more

    threading.Thread(target=receive, daemon=True).start()
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    ledger: Ledger | None = None
    try:
        ledger = open_ledger(db)
        outbox.put(marshal.dumps(("ready", "")))
        failure: Exception | None = None
        while True:
            if (received := inbox.get()) is None or closed.is_set():
                return
            share = marshal.loads(received)
            results: list[tuple[bool, str]] = []
            first_failed: int | None = None
            for start in range(0, len(share), batch):
                chunk = [(n, _parse(line)) for n, line in share[start:start + batch]]
                outcomes: Iterator[Outcome | LedgerError] = iter(())
                if failure is None:
                    try:
                        outcomes = iter(ledger.execute_many(
                            [c for _, c in chunk if not isinstance(c, LedgerError)],
                            actor=actor))
                    except PersistenceError as exc:
                        failure = exc
                for number, item in chunk:
                    if failure is not None and not isinstance(item, LedgerError):
                        first_failed = first_failed or number
                        result = _storage_failed(number, failure)
                    else:
                        result = line_result(
                            number, item if isinstance(item, LedgerError) else next(outcomes))
                    results.append((bool(result["ok"]), render(result)))
            if first_failed is not None:
                assert failure is not None
                outbox.put(marshal.dumps(("failed", (first_failed, str(failure), results))))
            else:
                outbox.put(marshal.dumps(("done", results)))
    except StorageError as exc:
        outbox.put(marshal.dumps(("storage", str(exc))))
    except Exception:
        outbox.put(marshal.dumps(("crashed", traceback.format_exc())))
    finally:
        outbox.put(None)
        sender.join()
        if ledger is not None:
            ledger.close()
