"""Dry runs over real HTTP: `POST /commands?dry_run=true` and
`POST /commands/batch?dry_run=true` answer what a real run would, and append
nothing (the log's head, the read models and the command ids stay as they were)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.builders import attach, file_data_media, pay
from tests.support import serving
from tests.support.databases import BACKENDS, fresh_db

PROBLEM = "application/problem+json"


@dataclass
class Server:
    url: str
    tokens: dict[str, str]

    def client(self, role: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60,
                            headers={"Authorization": f"Bearer {self.tokens[role]}"})

    def head(self) -> int:
        return int(httpx.get(f"{self.url}/health", timeout=30).json()["log_head"])

    def reads(self, policy: str, claim: str) -> tuple[Any, ...]:
        """What the read models answer of a policy and a claim."""
        with self.client("auditor") as c:
            return (c.get(f"/policies/{policy}/limits").json(),
                    c.get(f"/claims/{claim}").status_code,
                    c.get("/audit", params={"policy_id": policy}).json()["items"])


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("dry-run")
    with fresh_db(request.param, folder) as db, serving.server(db, folder, "dry") as (
            url, tokens):
        yield Server(url, tokens)


def ids() -> str:
    return uuid.uuid4().hex[:10]


def enrolled(server: Server) -> str:
    policy = f"P{ids()}"
    with server.client("appender") as c:
        assert c.post("/commands", json=attach(policy)).status_code == 201
    return policy


def seen(result: dict[str, Any]) -> Any:
    """A batch result but where its events were stored and the ids made up."""
    if not result["ok"]:
        return result["status"], result["problem"]["violations"]
    outcome = result["outcome"]
    return (outcome["command"], outcome["replayed"], outcome["result"],
            [(e["aggregate_id"], e["version"], e["event"]) for e in outcome["events"]])


def test_a_batch_dry_run_answers_what_the_real_run_that_follows_does_and_appends_nothing(
    server: Server,
):
    policy, claim = enrolled(server), f"C{ids()}"
    batch = {"commands": [file_data_media(claim, policy_id=policy),
                          pay(claim, amount=500_000), pay(claim), pay(f"C{ids()}"),
                          {"command": "bogus"}]}
    head, reads = server.head(), server.reads(policy, claim)
    with server.client("appender") as c:
        tried = c.post("/commands/batch", params={"dry_run": "true"}, json=batch)
        assert (tried.status_code, tried.headers["dry-run"]) == (200, "true"), tried.text
        assert tried.json()["dry_run"] is True
        assert (server.head(), server.reads(policy, claim)) == (head, reads)
        real = c.post("/commands/batch", json=batch)
    assert "dry-run" not in real.headers and "dry_run" not in real.json()
    results = tried.json()["results"]
    assert [seen(r) for r in results] == [seen(r) for r in real.json()["results"]]
    assert [r["ok"] for r in results] == [True, True, True, False, False]
    assert results[2]["outcome"]["result"]["amount"] == 200_000  # after the 500,000 before it
    assert {e["position"] for r in results[:3] for e in r["outcome"]["events"]} == {None}


def test_a_dry_run_of_one_command_answers_200_and_the_real_run_201_with_the_same_events(
    server: Server,
):
    policy, claim = enrolled(server), f"C{ids()}"
    command = file_data_media(claim, policy_id=policy)
    head = server.head()
    with server.client("appender") as c:
        tried = c.post("/commands", params={"dry_run": "true"}, json=command)
        assert server.head() == head
        real = c.post("/commands", params={"dry_run": "false"}, json=command)
    assert (tried.status_code, tried.headers["dry-run"], tried.json()["dry_run"]) == (
        200, "true", True)
    assert real.status_code == 201 and "dry_run" not in real.json()
    assert seen({"ok": True, "outcome": tried.json()}) == seen({"ok": True,
                                                               "outcome": real.json()})
    assert server.head() == head + len(real.json()["events"])


def test_a_dry_run_of_a_refused_command_answers_the_refusal_a_real_run_would(
    server: Server,
):
    policy = enrolled(server)
    head = server.head()
    with server.client("appender") as c:
        tried = c.post("/commands", params={"dry_run": "true"}, json=attach(policy))
        real = c.post("/commands", json=attach(policy))
    assert tried.status_code == real.status_code == 409
    assert tried.headers["content-type"] == PROBLEM and tried.headers["dry-run"] == "true"
    body = tried.json()
    assert body.pop("dry_run") is True and body == real.json()
    assert server.head() == head


def test_a_dry_run_of_a_command_id_applied_before_answers_its_first_outcome(
    server: Server,
):
    policy, claim = enrolled(server), f"C{ids()}"
    key = f"pay-{ids()}"
    with server.client("appender") as c:
        c.post("/commands", json=file_data_media(claim, policy_id=policy))
        first = c.post("/commands", json=pay(claim), headers={"Idempotency-Key": key})
        head = server.head()
        tried = c.post("/commands", params={"dry_run": "true"}, json=pay(claim),
                       headers={"Idempotency-Key": key})
        fresh_key = c.post("/commands", params={"dry_run": "true"}, json=pay(claim),
                           headers={"Idempotency-Key": f"{key}-2"})
    assert tried.status_code == 200 and tried.headers["idempotent-replayed"] == "true"
    assert tried.json()["replayed"] and tried.json()["events"] == first.json()["events"]
    assert fresh_key.status_code == 422  # the claim is paid: the new id would be refused
    assert server.head() == head


@pytest.mark.parametrize("query", [
    "dry_run=yes", "dry_run=1", "dry_run=TRUE", "dry_run=", "dry_run=true&dry_run=false",
])
def test_a_dry_run_value_other_than_true_or_false_is_refused_naming_dry_run(
    server: Server, query: str,
):
    policy = enrolled(server)
    head = server.head()
    with server.client("appender") as c:
        for path, body in (("/commands", file_data_media(f"C{ids()}", policy_id=policy)),
                           ("/commands/batch", {"commands": [attach(f"P{ids()}")]})):
            response = c.post(f"{path}?{query}", json=body)
            assert response.status_code == 400, response.text
            assert response.headers["content-type"] == PROBLEM
            assert [(v["field"], v["rule"]) for v in response.json()["violations"]] == [
                ("dry_run", "allowed_values")]
    assert server.head() == head
