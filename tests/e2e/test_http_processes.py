"""The append contract with several server processes (`serve --processes 2` on
PostgreSQL), each with its own group commit: payouts from many clients on
both processes never overdraw a policy year, a retry answered by the other
process gets the first outcome byte for byte (also when both get it at once),
a bad command fails alone, and the read models both processes catch up agree
with the log."""

from __future__ import annotations

import http.client
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.storage import open_ledger
from tests.builders import attach, file_data_media, pay
from tests.support.append_contract import audit_problems
from tests.support.databases import fresh_db
from tests.support.serving import Served

ANNUAL_LIMIT = 1_000_000  # data_media, per policy year


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("processes")
    with fresh_db("postgresql", folder) as db:
        server = Served(db, folder, "procs", processes=2)
        server.start()
        try:
            yield server
        finally:
            server.stop()
        assert not server.tracebacks()
        assert audit_problems(db) == []


class Connection:
    """One keep-alive connection to the server, and the process that holds it."""

    def __init__(self, served: Served, role: str = "appender") -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
        self.conn.connect()
        assert self.conn.sock is not None
        self.process = served.process_of(self.conn.sock)
        self.headers = {"Authorization": f"Bearer {served.tokens[role]}",
                        "Content-Type": "application/json"}

    def send(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data = None if body is None else (body if isinstance(body, bytes)
                                          else json.dumps(body).encode())
        self.conn.request(method, path, data, self.headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def command(self, body: Any) -> tuple[int, dict[str, Any]]:
        status, data = self.send("POST", "/commands", body)
        return status, json.loads(data)


def one_on_each(served: Served, count: int = 1, role: str = "appender") -> list[Connection]:
    """``count`` connections held by each of the server's two processes."""
    by_process: dict[int, list[Connection]] = {}
    for _ in range(200):
        conn = Connection(served, role)
        held = by_process.setdefault(conn.process, [])
        if len(held) < count:
            held.append(conn)
        else:
            conn.conn.close()
        if len(by_process) == 2 and all(len(c) == count for c in by_process.values()):
            return [c for pair in zip(*by_process.values(), strict=True) for c in pair]
    raise AssertionError(f"200 connections reached {len(by_process)} server process(es)")


def decided(conn: Connection, command: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The command's answer, sent again with its id while other writers kept
    winning the race (``409 retries_exhausted`` stored nothing)."""
    for _ in range(20):
        status, answer = conn.command(command)
        if (status, _rule(answer) if status == 409 else "") != (409, "retries_exhausted"):
            return status, answer
    raise AssertionError(f"{command['command_id']}: 20 times retries_exhausted")


def _id() -> str:
    return uuid.uuid4().hex[:10]


def _rule(answer: dict[str, Any]) -> str:
    return str(answer["violations"][0]["rule"])


def _head(conn: Connection) -> int:
    return int(json.loads(conn.send("GET", "/health")[1])["log_head"])


def logged(db: str, command_ids: set[str]) -> dict[str, list[list[Any]]]:
    """The events in the log of each of ``command_ids`` (aggregate, version,
    position), as an outcome lists them: without the command's idempotency
    record, which must be there once. (Positions are not counted from the
    log's head: on PostgreSQL a write that lost a race leaves a gap.)"""
    ledger = open_ledger(db)
    try:
        found: dict[str, list[list[Any]]] = {}
        for n in ledger.notifications():
            event = ledger.decode(n)
            if event.originator_id in {f"command:{c}" for c in command_ids}:
                assert event.originator_version == 1, event
            elif event.command_id in command_ids:
                found.setdefault(event.command_id, []).append(
                    [event.originator_id, event.originator_version, n.id])
        return found
    finally:
        ledger.close()


def _listed(outcome: dict[str, Any]) -> list[list[Any]]:
    return [[e["aggregate_id"], e["version"], e["position"]] for e in outcome["events"]]


def _run(work: list[Any]) -> None:
    threads = [threading.Thread(target=w) for w in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


@pytest.mark.postgres
@pytest.mark.many_connections
def test_payouts_from_clients_on_both_processes_never_overdraw_the_year(served: Served):
    conns = one_on_each(served, 6)
    policy = f"P{_id()}"
    assert conns[0].command(attach(policy))[0] == 201
    claims = [f"C{_id()}" for _ in range(24)]  # each payable 200,000: 4.8M asked of 1M
    for n, claim in enumerate(claims):
        filing = file_data_media(claim, policy_id=policy, loss=300_000)
        assert conns[n % len(conns)].command(filing)[0] == 201
    answers: list[tuple[int, dict[str, Any]]] = []

    def client(conn: Connection, mine: list[str]) -> None:
        for claim in mine:
            command = {**pay(claim), "command_id": f"pay-{claim}"}
            answers.append(decided(conn, command))

    _run([lambda c=c, n=n: client(c, claims[n::len(conns)]) for n, c in enumerate(conns)])
    paid = sum(a["result"]["amount"] for s, a in answers if s == 201)
    assert paid == ANNUAL_LIMIT
    assert {(s, _rule(a)) for s, a in answers if s != 201} == {(422, "annual_limit")}
    for conn in one_on_each(served, role="auditor"):  # each process's read models agree
        status, body = conn.send("GET", f"/policies/{policy}/limits")
        row = next(r for r in json.loads(body) if r["coverage"] == "data_media")
        assert (status, row["paid"], row["remaining"]) == (200, paid, 0)


@pytest.mark.postgres
@pytest.mark.many_connections
def test_a_retry_answered_by_the_other_process_gets_the_first_outcome(served: Served):
    first, other = one_on_each(served)
    assert first.process != other.process
    policy = f"P{_id()}"
    assert first.command(attach(policy))[0] == 201
    claim = f"C{_id()}"
    assert first.command(file_data_media(claim, policy_id=policy))[0] == 201
    command = {**pay(claim, amount=70_000), "command_id": f"pay-{claim}"}
    status, original = first.send("POST", "/commands", command)
    head = _head(first)
    retried = [other.send("POST", "/commands", command), first.send("POST", "/commands", command)]
    assert retried[0] == retried[1]  # byte for byte, whichever process answers
    assert retried[0][0] == status == 201
    assert {**json.loads(retried[0][1]), "replayed": False} == json.loads(original)
    assert _head(first) == _head(other) == head


@pytest.mark.postgres
@pytest.mark.many_connections
def test_the_same_command_sent_to_both_processes_at_once_is_applied_once(served: Served):
    conns = one_on_each(served, 2)
    policy = f"P{_id()}"
    assert conns[0].command(attach(policy))[0] == 201
    claims = [f"C{_id()}" for _ in range(8)]
    for claim in claims:
        assert conns[0].command(file_data_media(claim, policy_id=policy))[0] == 201
    answers: dict[str, list[dict[str, Any]]] = {claim: [] for claim in claims}

    def client(conn: Connection) -> None:
        for claim in claims:
            status, answer = decided(conn, {**pay(claim, amount=10_000),
                                            "command_id": f"twice-{claim}"})
            assert status == 201, answer
            answers[claim].append({**answer, "replayed": False})

    _run([lambda c=c: client(c) for c in conns])
    for claim in claims:
        assert len(answers[claim]) == 4
        assert all(a == answers[claim][0] for a in answers[claim]), answers[claim]  # one
    assert logged(served.db, {f"twice-{c}" for c in claims}) == {  # each applied once
        f"twice-{c}": _listed(answers[c][0]) for c in claims}


@pytest.mark.postgres
@pytest.mark.many_connections
def test_a_bad_command_fails_alone_on_either_process(served: Served):
    conns = one_on_each(served, 3)
    far = attach(f"P{_id()}", service_start="9999-12-31", firewall_applied_on="9999-12-31")
    answers: list[tuple[str, int, Any]] = []
    sent: set[str] = set()

    def client(conn: Connection) -> None:
        for _ in range(4):
            for kind, body in (("good", attach(f"P{_id()}")),
                               ("far", {**far, "command_id": f"bad-{_id()}"}),
                               ("unknown", pay(f"C-none-{_id()}", command_id=f"bad-{_id()}")),
                               ("not json", b"{nope"), ("good", attach(f"P{_id()}"))):
                if isinstance(body, dict) and kind != "good":
                    sent.add(body["command_id"])
                status, data = conn.send("POST", "/commands", body)
                answers.append((kind, status, json.loads(data)))

    _run([lambda c=c: client(c) for c in conns])
    good = [a for kind, status, a in answers if kind == "good" and status == 201]
    assert len(good) == 2 * 4 * len(conns)
    rules = {(kind, status, _rule(a)) for kind, status, a in answers if kind != "good"}
    assert rules == {("far", 422, "date_range"), ("unknown", 404, "claim_exists"),
                     ("not json", 400, "json")}
    assert logged(served.db, {a["command_id"] for a in good} | sent) == {
        a["command_id"]: _listed(a) for a in good}


def test_more_than_one_process_is_refused_on_sqlite(tmp_path: Path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "adapters.cli", "--db",
                           str(tmp_path / "ledger.db"), "serve", "--processes", "2"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--processes 2" in done.stderr and "[one_writer]" in done.stderr


@pytest.mark.parametrize(("value", "problem"), [
    ("0", "at least 1, not '0'"), ("33", "at most 32, not '33'"), ("two", "not 'two'"),
    ("1e9", "at most 32"), ("\x1b[2J", "--processes"),
])
def test_a_number_of_processes_out_of_range_or_not_whole_is_refused_naming_it(
        tmp_path: Path, value: str, problem: str):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "adapters.cli", "--db",
                           str(tmp_path / "ledger.db"), "serve", "--processes", value],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--processes" in done.stderr and problem in done.stderr
    assert not (tmp_path / "ledger.db").exists()  # refused before anything is opened
