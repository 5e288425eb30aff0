"""The append contract while the server crashes: a command sent with an id is
applied exactly once, and every answer to it, first or retried, is its first
outcome.

Clients send payouts, interim payouts, reversals of their own payouts and
re-assessments over HTTP while the server is killed (SIGKILL, once SIGTERM) and
started again on the same database and port. Whatever was not seen answered is
sent again with the same ids. Afterwards the log holds each command once, every
answer agrees with it, no annual limit was ever overdrawn, and `verify` and
`seal verify` pass.

Run alone: `pytest tests/e2e/test_append_contract_server_crashes.py`. Each run
draws a seed, printed with any failure; `FAULT_SEED=N` runs that seed again.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from adapters.storage import open_ledger
from domain.commands import parse_command
from domain.ledger import Outcome
from tests.builders import assess, attach, file_data_media, file_liability, pay, reverse
from tests.support.append_contract import (
    POLICIES,
    Answer,
    Log,
    audit_problems,
    contract_problems,
    different,
    failure,
    seed_of_run,
)
from tests.support.serving import Served

CLIENTS = 12
STOPS = (signal.SIGKILL, signal.SIGKILL, signal.SIGKILL, signal.SIGTERM)
MAX_STEPS = 200
"""Requests of new commands per client, at most (the load stops sooner)."""
LOAD_SECONDS = 60
"""The load phase ends by then whatever happens; every request gives up after
``LOAD_SECONDS + 30``."""


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
