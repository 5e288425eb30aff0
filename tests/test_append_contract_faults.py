"""The append contract under crashes: a command sent with an id is applied
exactly once, and every answer to it, first or retried, is its first outcome.

Clients send payouts, interim payouts, reversals of their own payouts and
re-assessments over HTTP while the server is killed (SIGKILL, once SIGTERM) and
started again on the same database and port; `claims-ledger apply` is killed
part-way through a file and run again on it. Whatever was not seen answered is
sent again with the same ids. Afterwards the log holds each command once, every
answer agrees with it, no annual limit was ever overdrawn, and `verify` and
`seal verify` pass.

Run alone: `pytest tests/test_append_contract_faults.py`. Each run draws a
seed, printed with any failure; `FAULT_SEED=N` runs that seed again.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from adapters.storage import open_ledger
from domain.command_record import CommandAccepted
from domain.commands import parse_command
from domain.errors import LedgerError
from domain.ledger import Outcome
from domain.policy_year import AnnualLimitDrawn, AnnualLimitRestored, CoverageAttached
from tests.builders import assess, attach, file_data_media, file_liability, pay, reverse
from tests.support.serving import Served

CLIENTS = 12
POLICIES = 4
STOPS = (signal.SIGKILL, signal.SIGKILL, signal.SIGKILL, signal.SIGTERM)
MAX_STEPS = 200
"""Requests of new commands per client, at most (the load stops sooner)."""
LOAD_SECONDS = 60
"""The load phase ends by then whatever happens; every request gives up after
``LOAD_SECONDS + 30``."""
APPLY_KILLS = 3


def seed_of_run() -> int:
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
                    command_id = event.originator_id.removeprefix("command:")
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


def cli(db: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "adapters.cli", "--db", db, *args],
                          capture_output=True, text=True, timeout=120)


def audit_problems(db: str) -> list[str]:
    """`project`, `verify` and `seal verify` on the log, each of which must exit 0."""
    problems = []
    for args in (("project",), ("verify",), ("seal", "verify")):
        done = cli(db, *args)
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


# HTTP: clients against a server that is killed and started again -------------


class Load:
    """What the clients share: the server, every answer, and the killer's news."""

    def __init__(self, served: Served, seed: int) -> None:
        self.served, self.seed = served, seed
        self.lock = threading.Lock()
        self.answers: dict[str, list[Answer]] = {}
        self.bodies: dict[str, dict[str, Any]] = {}
        """Each command id's command (without its id)."""
        self.reuses: list[tuple[str, Answer]] = []
        self.unanswered: Counter[str] = Counter()
        """Requests not answered, by why (transport errors, 5xx statuses)."""
        self.odd: list[str] = []
        """Answers no request should get (500, a traceback)."""
        self.answered = 0
        self.generation = 0
        self.stop = threading.Event()
        """No new commands: finish the one in hand (until answered)."""
        self.abandon = threading.Event()
        """The test has failed: stop at once."""
        self.give_up = time.monotonic() + LOAD_SECONDS + 30
        self.errors: list[str] = []

    def record(self, command_id: str, body: dict[str, Any], answer: Answer) -> None:
        with self.lock:
            self.answers.setdefault(command_id, []).append(answer)
            self.bodies.setdefault(command_id, body)
            self.answered += 1


class Client(threading.Thread):
    """One internal service: commands on its own claims, each with its own id,
    single or in batches; every request not answered is sent again as it was."""

    def __init__(self, n: int, load: Load) -> None:
        super().__init__(name=f"client-{n}", daemon=True)
        self.n, self.load = n, load
        self.rng = random.Random(f"{load.seed}-{n}")
        self.claims = [f"D{n}a", f"D{n}b", f"L{n}"]
        self.payouts: list[tuple[str, str]] = []
        """Payouts of this client's claims, not yet reversed (claim, payout id)."""
        self.accepted: list[str] = []
        self.made = self.batches = 0
        self.generation = 0
        self.http = httpx.Client(
            base_url=load.served.url, timeout=httpx.Timeout(15, connect=3),
            headers={"Authorization": f"Bearer {load.served.tokens['appender']}"})

    def run(self) -> None:
        try:
            for _ in range(MAX_STEPS):
                if self.load.stop.is_set():
                    break
                if self.generation != self.load.generation:
                    self.generation = self.load.generation
                    self.again_after_restart()
                if self.rng.random() < 0.35:
                    self.batch([self.new_command() for _ in range(self.rng.randint(2, 4))])
                else:
                    self.single(self.new_command())
        except Exception as exc:  # reported by the test, with the seed
            self.load.errors.append(f"{self.name}: {type(exc).__name__}: {exc}")
        finally:
            self.http.close()

    def new_command(self) -> tuple[str, dict[str, Any]]:
        self.made += 1
        command_id = f"c{self.n}-{self.made}"
        claim = self.rng.choice(self.claims)
        draw = self.rng.random()
        if draw < 0.25 and self.payouts:
            claim, payout_id = self.payouts.pop(self.rng.randrange(len(self.payouts)))
            return command_id, reverse(claim, payout_id)
        if draw < 0.35:
            base = 1_800_000 if claim.startswith("L") else 600_000
            return command_id, assess(claim, base + 10_000 * self.rng.randrange(60))
        if draw < 0.65:
            return command_id, pay(claim)
        return command_id, pay(claim, amount=1_000 * self.rng.randrange(10, 300))

    def post(self, path: str, body: dict[str, Any], headers: dict[str, str]
             ) -> tuple[httpx.Response, bool]:
        """Send until answered (not a transport error, 5xx, or a conflict that
        says to try again); the answer, and whether an answer was lost."""
        lost = False
        while True:
            if time.monotonic() > self.load.give_up or self.load.abandon.is_set():
                raise TimeoutError(f"{path} {body} was never answered")
            try:
                response = self.http.post(path, json=body, headers=headers)
            except httpx.TransportError as exc:
                lost = True
                self.load.unanswered[type(exc).__name__] += 1
            else:
                if "Traceback" in response.text:
                    self.load.odd.append(f"{path}: a traceback: {response.text[:500]}")
                if response.status_code >= 500:
                    lost = True
                    self.load.unanswered[str(response.status_code)] += 1
                    if response.status_code != 503:
                        self.load.odd.append(f"{path} {body}: {response.status_code} "
                                             f"{response.text[:300]}")
                elif not _try_again(response):
                    return response, lost
            time.sleep(self.rng.uniform(0.05, 0.2))

    def single(self, item: tuple[str, dict[str, Any]], how: str = "") -> Answer:
        command_id, command = item
        body = dict(command)
        if self.rng.random() < 0.5:
            body["command_id"] = command_id  # as well as the header: the same id
        response, lost = self.post("/commands", body, {"Idempotency-Key": command_id})
        how = how or ("retry" if lost else "first")
        if response.status_code == 201:
            answer = Answer.of_outcome(how, response.json())
        else:
            answer = Answer.of_problem(how, response.status_code, response.json())
        self.answered(command_id, command, answer)
        return answer

    def batch(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        """A batch; with an Idempotency-Key, its first command goes without an id
        of its own (so it is `KEY.0`)."""
        self.batches += 1
        headers, commands = {}, [{**c, "command_id": i} for i, c in items]
        if self.rng.random() < 0.5:
            key = f"c{self.n}-b{self.batches}"
            headers["Idempotency-Key"] = key
            items[0] = (f"{key}.0", items[0][1])
            commands[0] = items[0][1]
        response, lost = self.post("/commands/batch", {"commands": commands}, headers)
        how = "retry" if lost else "first"
        assert response.status_code == 200, response.text
        for (command_id, command), result in zip(items, response.json()["results"],
                                                 strict=True):
            if result["ok"]:
                answer = Answer.of_outcome(how, result["outcome"])
            else:
                answer = Answer.of_problem(how, result["status"], result["problem"])
            self.answered(command_id, command, answer)

    def answered(self, command_id: str, command: dict[str, Any], answer: Answer) -> None:
        self.load.record(command_id, command, answer)
        if answer.ok and answer.how in ("first", "retry"):
            self.accepted.append(command_id)
            if command["command"] == "issue_payout":
                self.payouts.append((command["claim_id"], answer.result["payout_id"]))

    def again_after_restart(self) -> None:
        """After a restart: send again one or two commands answered before it
        (the same content: their first outcome must come back); the first two
        clients also reuse an id for a different command (refused: 409)."""
        for command_id in self.rng.sample(self.accepted, min(2, len(self.accepted))):
            self.single((command_id, self.load.bodies[command_id]), how="again")
        if self.n < 2 and self.accepted:
            command_id = self.rng.choice(self.accepted)
            changed = different(self.load.bodies[command_id])
            response, _ = self.post("/commands", changed, {"Idempotency-Key": command_id})
            body = response.json()
            answer = (Answer.of_outcome("reuse", body) if response.status_code == 201
                      else Answer.of_problem("reuse", response.status_code, body))
            self.load.reuses.append((command_id, answer))


def _try_again(response: httpx.Response) -> bool:
    """A conflict that applied nothing and says to try again (concurrent writers
    outlasted the retries), for one command or any of a batch's."""
    if response.status_code == 409:
        problems = [response.json()]
    elif response.status_code == 200 and "results" in response.text:
        problems = [r["problem"] for r in response.json()["results"] if not r["ok"]]
    else:
        return False
    return any(v.get("rule") == "retries_exhausted"
               for p in problems for v in p.get("violations", []))


def different(command: dict[str, Any]) -> dict[str, Any]:
    """The same kind of command with other content."""
    if command["command"] == "issue_payout":
        return {**command, "amount": command.get("amount", 50_000) + 1_000}
    if command["command"] == "assess_loss":
        return {**command, "loss_amount": command["loss_amount"] + 10_000}
    return {**command, "reason": "a different reason"}


def given_policies_with_open_claims(db: str) -> None:
    """Policies with contested years: per policy year, the data/media claims can
    pay 4.2 times the annual limit and the liability claims 1.2 times."""
    commands = [attach(f"P{p}", command_id=f"setup-P{p}") for p in range(POLICIES)]
    for n in range(CLIENTS):
        policy = f"P{n % POLICIES}"
        commands += [
            file_data_media(f"D{n}a", policy_id=policy, command_id=f"setup-D{n}a"),
            file_data_media(f"D{n}b", policy_id=policy, incident="2024-09-01",
                            command_id=f"setup-D{n}b"),
            file_liability(f"L{n}", policy_id=policy, loss=2_300_000,
                           command_id=f"setup-L{n}"),
        ]
    ledger = open_ledger(db)
    try:
        results = ledger.execute_many([parse_command(c) for c in commands], actor="setup")
    finally:
        ledger.close()
    assert all(isinstance(r, Outcome) for r in results), results


def final_pass(load: Load, log: Log) -> None:
    """Send every command that is stored or was answered ok once more, in
    batches and alone: each must come back as its first outcome."""
    stored = set(log.records) - {i for i in log.records if i.startswith("setup-")}
    again = sorted((stored | {i for i, seen in load.answers.items() if any(a.ok for a in seen)})
                   & load.bodies.keys())
    rng = random.Random(load.seed)
    rng.shuffle(again)
    alone, grouped = again[:20], again[20:]
    with httpx.Client(base_url=load.served.url, timeout=60, headers={
            "Authorization": f"Bearer {load.served.tokens['appender']}"}) as http:
        for command_id in alone:
            response = http.post("/commands", json=load.bodies[command_id],
                                 headers={"Idempotency-Key": command_id})
            body = response.json()
            load.record(command_id, load.bodies[command_id],
                        Answer.of_outcome("final", body) if response.status_code == 201
                        else Answer.of_problem("final", response.status_code, body))
        for start in range(0, len(grouped), 50):
            ids = grouped[start:start + 50]
            response = http.post("/commands/batch", json={"commands": [
                {**load.bodies[i], "command_id": i} for i in ids]})
            assert response.status_code == 200, response.text
            for command_id, result in zip(ids, response.json()["results"], strict=True):
                load.record(command_id, load.bodies[command_id],
                            Answer.of_outcome("final", result["outcome"]) if result["ok"]
                            else Answer.of_problem("final", result["status"], result["problem"]))


def test_commands_sent_while_the_server_crashes_are_applied_once_and_every_retry_gets_the_first_outcome(  # noqa: E501
    db_url: str, tmp_path: Path,
):
    # Given policies with open claims, and a server on them
    seed = seed_of_run()
    rng = random.Random(seed)
    db = db_url
    given_policies_with_open_claims(db)
    served = Served(db, tmp_path, names="svc")
    served.start()
    load = Load(served, seed)
    clients = [Client(n, load) for n in range(CLIENTS)]
    # When clients send commands while the server is killed and started again
    try:
        for client in clients:
            client.start()
        stops = list(STOPS)
        rng.shuffle(stops)
        ends = time.monotonic() + LOAD_SECONDS
        for stop in stops:
            wait_for_answers(load, rng.randint(5, 60), ends)
            time.sleep(rng.uniform(0, 0.05))
            served.stop(stop)
            served.start()
            load.generation += 1
        wait_for_answers(load, 30, ends)
        load.stop.set()
        for client in clients:
            client.join(timeout=max(1, load.give_up - time.monotonic()))
        # Then every command stored or answered ok, sent once more, is its first outcome
        final_pass(load, Log.read(db))
    finally:
        load.abandon.set()
        if served.proc is not None:
            served.stop()
    # Then each command is in the log once, and every answer is its first outcome
    log = Log.read(db)
    problems = list(load.errors) + contract_problems(log, load.answers)
    problems += [f"{i}: a different command under a used id was answered {a}, not "
                 f"409 same_command_same_id" for i, a in load.reuses
                 if a.refusal != "409 command_id:same_command_same_id"]
    problems += log.overdrawn + load.odd + audit_problems(db)
    if tracebacks := served.tracebacks():
        problems.append(f"the server printed a traceback: {tracebacks[-3000:]}")
    lost = sum(s[0].how == "retry" and s[0].replayed for s in load.answers.values())
    print(f"{len(load.answers)} command ids; {lost} stored with the first answer lost; "
          f"{len(load.reuses)} ids reused; requests not answered: {dict(load.unanswered)}")
    assert not problems, failure(seed, problems, tmp_path)
    assert len(log.records) > 2 * CLIENTS and load.reuses and load.unanswered, (
        f"FAULT_SEED={seed}: the load was too light to prove anything")


def wait_for_answers(load: Load, count: int, ends: float) -> None:
    """Until the clients have been answered ``count`` more times (or the load's
    time is up)."""
    target = load.answered + count
    while load.answered < target and time.monotonic() < ends:
        time.sleep(0.01)


# apply: a file of commands, killed part-way and run again on it ---------------


def commands_file(rng: random.Random, reference_db: str
                  ) -> tuple[list[dict[str, Any]], list[Outcome | LedgerError]]:
    """A file of commands that all carry ids, and what each does when the file
    is applied once without a crash (decided in order on a ledger of its own).

    Enrolments and filings, then payouts, interim payouts, reversals and
    re-assessments that the rules accept where they stand (a refused command is
    not recorded, so a re-run decides it again, on a log that later lines may
    have changed), and a few that every run refuses whatever the log holds: a
    reversal of a payout no claim has, a payout on a claim never filed, and ids
    used before for another command."""
    ledger = open_ledger(reference_db)
    commands: list[dict[str, Any]] = []
    expected: list[Outcome | LedgerError] = []

    def add(command: dict[str, Any], refused: bool = False) -> Outcome | None:
        try:
            result = ledger.execute(parse_command(command), actor="reference")
        except LedgerError as exc:
            if refused:
                commands.append(command)
                expected.append(exc)
            return None
        assert not refused, command
        commands.append(command)
        expected.append(result)
        return result

    claims: list[str] = []
    try:
        for p in range(POLICIES):
            add(attach(f"Q{p}", command_id=f"enrol-Q{p}"))
        for p in range(POLICIES):
            for k in range(4):
                claims.append(f"E{p}-{k}")
                add(file_data_media(claims[-1], policy_id=f"Q{p}", incident=f"2024-0{k + 5}-01",
                                    command_id=f"file-{claims[-1]}"))
            for k in range(2):
                claims.append(f"F{p}-{k}")
                add(file_liability(claims[-1], policy_id=f"Q{p}", loss=2_300_000,
                                   command_id=f"file-{claims[-1]}"))
        payouts: dict[str, list[str]] = {c: [] for c in claims}
        for n in range(400):
            claim, draw, command_id = rng.choice(claims), rng.random(), f"op-{n}"
            if draw < 0.02:
                add(reverse(claim, "payout-99", command_id=command_id), refused=True)
            elif draw < 0.04:
                add(pay(f"NONE-{n}", command_id=command_id), refused=True)
            elif draw < 0.06 and len(commands) > 40:
                used = rng.choice(commands[7 * POLICIES:])
                add(different(used), refused=True)
            elif draw < 0.3 and payouts[claim]:
                payout_id = payouts[claim].pop(rng.randrange(len(payouts[claim])))
                add(reverse(claim, payout_id, command_id=command_id))
            elif draw < 0.4:
                base = 1_800_000 if claim.startswith("F") else 600_000
                add(assess(claim, base + 10_000 * rng.randrange(60), command_id=command_id))
            else:
                amount = None if draw < 0.65 else 1_000 * rng.randrange(10, 300)
                if (outcome := add(pay(claim, amount, command_id=command_id))) is not None:
                    payouts[claim].append(outcome.result["payout_id"])
    finally:
        ledger.close()
    return commands, expected


def apply_run(db: str, path: Path, workers: int, log: Path, kill_after: int | None,
              rng: random.Random) -> tuple[int, list[dict[str, Any]]]:
    """`claims-ledger apply --json` on the file; with ``kill_after``, it and its
    workers are killed (SIGKILL) soon after that many lines are reported. Its
    exit status and the lines it reported."""
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "adapters.cli", "--db", db, "--actor", "apply-test",
             "apply", str(path), "--json", "--batch", "8", "--workers", str(workers)],
            stdout=subprocess.PIPE, stderr=err, start_new_session=True)
    assert proc.stdout is not None
    lines: queue.SimpleQueue[bytes] = queue.SimpleQueue()

    def read(stdout: IO[bytes]) -> None:
        for line in stdout:
            lines.put(line)
        lines.put(b"")  # the end

    threading.Thread(target=read, args=(proc.stdout,), daemon=True).start()
    reported: list[dict[str, Any]] = []
    deadline = time.monotonic() + 90
    try:
        while (line := lines.get(timeout=max(0.1, deadline - time.monotonic()))):
            if line.endswith(b"\n"):  # a line cut short by the kill was not reported
                reported.append(json.loads(line))
            if kill_after is not None and len(reported) == kill_after:
                time.sleep(rng.uniform(0, 0.03))
                kill_group(proc)
    except queue.Empty:
        kill_group(proc)
        proc.wait(timeout=30)
        raise AssertionError(f"apply did not finish in 90 s: {log.read_text()[-2000:]}") from None
    return proc.wait(timeout=30), reported


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a process started in a session of its own, and its workers."""
    with contextlib.suppress(ProcessLookupError):  # it had ended
        os.killpg(proc.pid, signal.SIGKILL)


def rules(violations: list[dict[str, Any]]) -> str:
    return ",".join(f"{v['field']}:{v['rule']}" for v in violations)


def brief(outcome: dict[str, Any]) -> str:
    """A line's outcome in a few words: refused by which rules, or its events."""
    if not outcome.get("ok", True):
        return f"refused {rules(outcome['violations'])}"
    return (f"ok{' replayed' if outcome['replayed'] else ''} "
            f"{[(e['aggregate_id'], e['version'], e['event']) for e in outcome['events']]}")


def _comparable(outcome: dict[str, Any]) -> dict[str, Any]:
    """A line's outcome without what depends on when it was stored."""
    kept = {k: v for k, v in outcome.items() if k not in ("replayed", "line", "ok")}
    if "events" in kept:
        kept["events"] = [{k: v for k, v in e.items() if k != "position"}
                          for e in kept["events"]]
    return kept


@pytest.mark.parametrize("workers", [1, 2])
def test_apply_killed_part_way_and_run_again_applies_each_command_once_with_its_first_outcome(
    db_url: str, tmp_path: Path, workers: int,
):
    # Given a file of commands that all carry ids
    seed = seed_of_run()
    rng = random.Random(seed)
    commands, expected = commands_file(rng, str(tmp_path / "reference.db"))
    path = tmp_path / "commands.jsonl"
    path.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in commands))
    ids = [c["command_id"] for c in commands]
    first_of_id = {i: n for n, i in reversed(list(enumerate(ids, start=1)))}
    # When apply is killed part-way through it, a few times, and run again until it completes
    answers: dict[str, list[Answer]] = {}
    problems: list[str] = []
    for run in range(1, APPLY_KILLS + 2):
        kill_after = rng.randint(1, len(commands) * 9 // 10) if run <= APPLY_KILLS else None
        before = Log.read(db_url)
        code, reported = apply_run(db_url, path, workers, tmp_path / f"apply-{run}.log",
                                   kill_after, rng)
        # Then each run reports every line it reached applied, or replayed, with the
        # first outcome (a line reusing an earlier line's id: refused, every time)
        how = f"apply-{run}"
        for line in reported:
            number = line["line"]
            problems += line_problems(f"{ids[number - 1]} (line {number}) {how}", line,
                                      expected[number - 1], before)
            if first_of_id[ids[number - 1]] == number:
                answers.setdefault(ids[number - 1], []).append(
                    Answer.of_outcome(how, line) if line["ok"] else Answer.of_problem(
                        how, 422, {"violations": line["violations"], "detail": line["message"]}))
        if kill_after is not None and code == -signal.SIGKILL:
            continue
        refused = any(isinstance(e, LedgerError) for e in expected)
        if code != (1 if refused else 0):
            problems.append(f"the last run exited {code}: "
                            f"{(tmp_path / f'apply-{run}.log').read_text()[-2000:]}")
        break
    # And the run that completed reported every line once
    if [line["line"] for line in reported] != list(range(1, len(commands) + 1)):
        problems.append(f"the last run reported lines {[r['line'] for r in reported][:20]}…, "
                        f"not each of the {len(commands)} once")
    # And each command is in the log once, no annual limit overdrawn, the audits pass
    log = Log.read(db_url)
    problems += contract_problems(log, answers)
    problems += log.overdrawn + audit_problems(db_url)
    print(f"{len(commands)} lines, {run} runs, {len(log.records)} commands stored")
    assert not problems, failure(seed, problems, tmp_path)


def line_problems(where: str, line: dict[str, Any], first: Outcome | LedgerError,
                  before: Log) -> list[str]:
    """How a line's reported result differs from its first outcome (``first``);
    ``before``: the log when the run began (a command stored in it is replayed)."""
    if isinstance(first, LedgerError):
        if line["ok"] or line["violations"] != first.violations_json():
            return [f"{where}: {brief(line)}, not its first outcome: refused "
                    f"{rules(first.violations_json())}"]
        return []
    if not line["ok"] or _comparable(line) != _comparable(first.as_json()):
        return [f"{where}: {brief(line)}, not its first outcome: {brief(first.as_json())}"]
    if line["replayed"] != (line["command_id"] in before.records):
        return [f"{where}: replayed is {line['replayed']} for a command "
                f"{'' if line['replayed'] else 'already '}stored before the run"]
    return []
