"""What the crash tests of the append contract check: every answer a client was
given, what the log holds afterwards, and the problems between the two (a
command stored twice, an answer that disagrees with the log, an annual limit
overdrawn), with `project`, `verify` and `seal verify` passing on the log."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.storage import open_ledger
from domain.command_record import CommandAccepted
from domain.ids import command_id_in
from domain.policy_year import AnnualLimitDrawn, AnnualLimitRestored, CoverageAttached

POLICIES = 4
"""Policies the commands are spread over."""


def seed_of_run() -> int:
    """The run's seed (``FAULT_SEED``, or a fresh one), printed to replay a failure."""
    seed = int(os.environ.get("FAULT_SEED") or random.SystemRandom().randrange(10**6))
    print(f"FAULT_SEED={seed}")
    return seed


# What was answered, and what the log holds ------------------------------------


@dataclass(frozen=True)
class Answer:
    """One answer a client saw for one command id."""

    how: str
    """How it was asked: `first`, `retry` (after an answer was lost), `again`
    (a deliberate re-send after a restart), `final` (the last pass) or a run of
    `apply`."""
    ok: bool
    replayed: bool = False
    events: tuple[tuple[str, int, str, int | None], ...] = ()
    result: Any = None
    refusal: str = ""
    """For a refused command: its status and `field:rule` of each violation."""

    @classmethod
    def of_outcome(cls, how: str, outcome: dict[str, Any]) -> Answer:
        return cls(how, True, outcome["replayed"],
                   tuple((e["aggregate_id"], e["version"], e["event"], e["position"])
                         for e in outcome["events"]), outcome["result"])

    @classmethod
    def of_problem(cls, how: str, status: int, problem: dict[str, Any]) -> Answer:
        rules = ",".join(f"{v.get('field')}:{v.get('rule')}"
                         for v in problem.get("violations", []))
        return cls(how, False, refusal=f"{status} {rules or problem.get('detail')}")

    def __str__(self) -> str:
        if not self.ok:
            return f"{self.how}: {self.refusal}"
        return (f"{self.how}: ok replayed={self.replayed} "
                f"events={[(a, v, p) for a, v, _, p in self.events]}")


@dataclass
class Log:
    """The stored log, read back: each command's record and events."""

    records: dict[str, list[tuple[int, CommandAccepted]]] = field(default_factory=dict)
    stamped: dict[str, set[tuple[str, int]]] = field(default_factory=dict)
    """The events (not records) stored under each command id."""
    positions: dict[tuple[str, int], int] = field(default_factory=dict)
    overdrawn: list[str] = field(default_factory=list)
    head: int = 0

    @classmethod
    def read(cls, db: str) -> Log:
        log = cls()
        limits: dict[tuple[str, str], int] = {}
        drawn: Counter[tuple[str, str]] = Counter()
        ledger = open_ledger(db)
        try:
            for n in ledger.notifications():
                event = ledger.decode(n)
                key = (event.originator_id, event.originator_version)
                log.positions[key] = n.id
                log.head = n.id
                if isinstance(event, CommandAccepted):
                    command_id = command_id_in(event.originator_id)
                    log.records.setdefault(command_id, []).append((n.id, event))
                    continue
                log.stamped.setdefault(event.command_id, set()).add(key)
                if isinstance(event, CoverageAttached):
                    limits[event.originator_id, event.coverage] = int(event.annual_limit)
                elif isinstance(event, AnnualLimitDrawn | AnnualLimitRestored):
                    year = (event.originator_id, event.coverage)
                    sign = 1 if isinstance(event, AnnualLimitDrawn) else -1
                    drawn[year] += sign * int(event.amount)
                    if drawn[year] > limits[year] or event.remaining_after < 0:
                        log.overdrawn.append(
                            f"{year[0]} {year[1]}: {drawn[year]:,} drawn of "
                            f"{limits[year]:,} at position {n.id}")
        finally:
            ledger.close()
        return log

    def outcome(self, command_id: str) -> tuple[tuple[str, int, str, int | None], ...]:
        """The events the command's record lists, at their positions in the log."""
        record = self.records[command_id][0][1]
        return tuple((e["aggregate_id"], e["version"], e["event"],
                      self.positions.get((e["aggregate_id"], e["version"])))
                     for e in record.events)


def contract_problems(log: Log, answers: dict[str, list[Answer]]) -> list[str]:
    """Every way the log and the answers break the contract: a command id stored
    more than once, events stored under an id beside its record, an answer
    that is not the stored outcome (a refusal of a stored command, a success of
    one not stored, other events, positions or result), a retry not marked
    replayed (a replayed answer gives the positions its events were first stored
    at, on every path)."""
    problems: list[str] = []
    for command_id, seen in sorted(answers.items()):
        stored = log.records.get(command_id, [])
        if len(stored) > 1:
            problems.append(f"{command_id}: stored {len(stored)} times, at "
                            f"{[p for p, _ in stored]}")
        listed = {(a, v) for a, v, _, _ in log.outcome(command_id)} if stored else set()
        if log.stamped.get(command_id, set()) != listed:
            problems.append(f"{command_id}: events stored under it "
                            f"{sorted(log.stamped.get(command_id, set()))}, its record "
                            f"lists {sorted(listed)}")
        if not stored:
            problems.extend(f"{command_id}: answered ok, but it is not in the log ({a})"
                            for a in seen if a.ok)
            continue
        position, record = stored[0]
        expected = log.outcome(command_id)
        for number, answer in enumerate(seen, start=1):
            where = f"{command_id} (stored at position {position}), answer {number}"
            if not answer.ok:
                problems.append(f"{where} was a refusal, not its first outcome: {answer}")
                continue
            if answer.events != expected or answer.result != record.result:
                problems.append(f"{where} is not its first outcome: {answer}; stored: "
                                f"{expected} {record.result}")
            if number > 1 and not answer.replayed:
                problems.append(f"{where} applied it again (not replayed): {answer}")
    problems.extend(f"{command_id}: stored, but never sent"
                    for command_id in log.records.keys() - answers.keys()
                    if not command_id.startswith("setup-"))
    return problems


def _cli(db: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "adapters.cli", "--db", db, *args],
                          capture_output=True, text=True, timeout=120)


def audit_problems(db: str) -> list[str]:
    """`project`, `verify` and `seal verify` on the log, each of which must exit 0."""
    problems = []
    for args in (("project",), ("verify",), ("seal", "verify")):
        done = _cli(db, *args)
        if done.returncode != 0:
            problems.append(f"`claims-ledger {' '.join(args)}` exited {done.returncode}: "
                            f"{done.stdout[-1500:]}{done.stderr[-1500:]}")
    return problems


def failure(seed: int, problems: list[str], folder: Path) -> str:
    """The failure message: how many answers went wrong, by how they were asked,
    the first problems in order of weight, and where all of them are written."""
    def weight(problem: str) -> int:
        kinds = ("times, at", "not in the log", "events stored under", " drawn of ",
                 " retry:", " reuse:", " apply-", " again:")
        return next((n for n, kind in enumerate(kinds) if kind in problem), len(kinds))

    ordered = sorted(problems, key=weight)
    (folder / "problems.txt").write_text("\n".join(ordered) + "\n")
    kinds = Counter(m.group(1) for p in ordered
                    if (m := re.search(r" (first|retry|again|final|reuse|apply-\d+):", p)))
    shown = "\n  ".join(ordered[:25])
    return (f"FAULT_SEED={seed}: {len(problems)} problem(s) with the append contract "
            f"(all in {folder / 'problems.txt'}); wrong answers by how they were asked: "
            f"{dict(kinds)}\n  {shown}")


def different(command: dict[str, Any]) -> dict[str, Any]:
    """The same kind of command with other content."""
    if command["command"] == "issue_payout":
        return {**command, "amount": command.get("amount", 50_000) + 1_000}
    if command["command"] == "assess_loss":
        return {**command, "loss_amount": command["loss_amount"] + 10_000}
    return {**command, "reason": "a different reason"}


def rules(violations: list[dict[str, Any]]) -> str:
    return ",".join(f"{v['field']}:{v['rule']}" for v in violations)
