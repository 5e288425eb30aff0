"""Routing ``apply``'s lines to worker processes: each policy's commands to one
worker, a claim's with the policy it was filed under, and a line that names a
claim or command id another worker has in hand only after that worker has
committed it; an actor's authority set only after every line before it is
committed, and a line that reads it only after it is; then every line's result
reported in the file's order."""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from eventsourcing.persistence import PersistenceError

from adapters.apply.job import Interrupt, Progress, StoppedAt, parse, text_of
from adapters.apply.pool import Pool
from adapters.apply.results import line_result
from adapters.storage.sealed_recorders import SealedPostgresRecorder, SealedSQLiteRecorder
from domain.errors import LedgerError
from domain.ids import authority_id_of, claim_id_of, command_record_id
from domain.ledger import Ledger

_DEPTH = 4
"""Rounds sent to the workers beyond the one being reported, so that a worker
never waits for the router."""
_AMBIGUOUS = -1
"""The owner of a claim filed by more than one policy in this file."""
_UNSETTLED = -2
"""A line that must wait until every line before it is reported."""
_READS_AUTHORITY = frozenset({"request_payout", "approve_payout", "reject_payout"})
"""Commands decided on their actor's authority (``set_authority`` changes it)."""


@dataclass
class _Round:
    seq: int
    slots: list[tuple[int, str]] = field(default_factory=list)
    """Per line in file order: the worker applying it, or -1 and the line's
    rendered result if it was refused here."""
    shares: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)


class Router:
    """Reads the file, sends each line to its policy's worker, reports in order."""

    def __init__(self, ledger: Ledger, pool: Pool, batch: int, actor: str,
                 write: Callable[[str], None], progress: Progress, interrupt: Interrupt
                 ) -> None:
        self.ledger, self.pool, self.write, self.progress = ledger, pool, write, progress
        self.authority = authority_id_of(actor)
        """The record of the authority the lines are decided on (all are the
        actor's)."""
        self.interrupt = interrupt
        self.workers = len(pool.pipes)
        self.round_size = batch * self.workers
        self.owner: dict[str, int] = {}
        """The worker of each claim filed in this file (``_AMBIGUOUS`` if filed
        by more than one policy here)."""
        self.last: dict[str, tuple[int, int]] = {}
        """For each claim and command id, and actor's authority set, named by a
        round not yet reported: the worker and round of its last line."""
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
                            self.last.get(key, (worker,))[0] != worker
                            for key in (*keys, *self._reads(data)))):
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
                    item = parse(line)
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
            line = text_of(raw)
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
        (claim and command ids, the authority a ``set_authority`` sets). No
        worker if the line is not a command that names its policy or claim;
        ``_UNSETTLED`` if it sets an authority, or names a claim filed by more
        than one policy in lines not yet reported, unless ``settled`` (all
        lines before it are reported). ``stored``: the workers of claims the
        log held before this round."""
        if not isinstance(data, dict):
            return None, []
        policy, claim, command_id = (data.get("policy_id"), data.get("claim_id"),
                                     data.get("command_id"))
        keys = [command_record_id(command_id)] if isinstance(command_id, str) else []
        if data.get("command") == "set_authority":
            # Lines before it, on any worker, may read the authority it changes.
            name = data.get("actor_name")
            return (0 if settled else _UNSETTLED), [
                *keys, *([authority_id_of(name)] if isinstance(name, str) else [])]
        if isinstance(claim, str):
            keys.append(claim_id_of(claim))
        if isinstance(policy, str) and (data.get("command") == "file_claim"
                                        or not isinstance(claim, str)):
            worker = worker_of(policy, self.workers)
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

    def _reads(self, data: Any) -> tuple[str, ...]:
        """The records a line reads without changing them, that a line on
        another worker may change: the actor's authority, for the commands
        decided on it. (Lines that only read it need not wait for each other.)"""
        if isinstance(data, dict) and data.get("command") in _READS_AUTHORITY:
            return (self.authority,)
        return ()

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
                workers[str(event.originator_id)] = worker_of(policy_id, self.workers)
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


def worker_of(policy_id: str, workers: int) -> int:
    """Which of ``workers`` applies the commands of a policy (the same in every
    run, so that runs of the same file store the same log)."""
    return zlib.crc32(policy_id.encode()) % workers

