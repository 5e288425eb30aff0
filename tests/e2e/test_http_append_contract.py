"""The append contract over HTTP: only a JSON object is a command, a batch's key
leaves room for the ids it derives, one command the ledger cannot serve fails
alone, and a retry after the server restarts gets the first outcome."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.builders import attach, file_data_media, pay
from tests.support import serving
from tests.support.databases import BACKENDS, fresh_db


@pytest.fixture(scope="module", params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("contract")
    with fresh_db(request.param, folder) as db:
        yield db, folder


@pytest.fixture(scope="module")
def api(database: tuple[str, Path]) -> Iterator[httpx.Client]:
    db, folder = database
    with serving.server(db, folder, "svc") as (url, tokens), httpx.Client(
            base_url=url, timeout=60,
            headers={"Authorization": f"Bearer {tokens['appender']}"}) as client:
        yield client


def _id() -> str:
    return uuid.uuid4().hex[:10]


def _head(api: httpx.Client) -> int:
    return int(api.get("/health").json()["log_head"])


def _rule(response: httpx.Response, status: int) -> tuple[str | None, str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    violation = response.json()["violations"][0]
    return violation["field"], violation["rule"]


def _enrolled(api: httpx.Client) -> str:
    policy = f"P{_id()}"
    assert api.post("/commands", json=attach(policy)).status_code == 201
    return policy


def test_a_json_string_holding_a_command_is_not_a_command(api: httpx.Client):
    policy = _enrolled(api)
    claim = f"C{_id()}"
    api.post("/commands", json=file_data_media(claim, policy_id=policy))
    head = _head(api)
    as_text = json.dumps(pay(claim))
    key = f"k-{_id()}"
    for _ in range(2):  # sent twice with one key: it must not pay twice, nor once
        response = api.post("/commands", json=as_text, headers={"Idempotency-Key": key})
        assert _rule(response, 400) == (None, "json_object")
    for body in (b'["a list"]', b"7", b"null", b"true"):
        assert _rule(api.post("/commands", content=body), 400) == (None, "json_object")
    batch = api.post("/commands/batch", json={"commands": [as_text, as_text]},
                     headers={"Idempotency-Key": f"b-{_id()}"})
    results = batch.json()["results"]
    assert [(r["ok"], r["status"], r["problem"]["violations"][0]["rule"]) for r in results] == [
        (False, 400, "json_object")] * 2
    assert _head(api) == head


def test_a_batch_key_leaves_room_for_the_ids_it_derives(api: httpx.Client):
    policy = _enrolled(api)
    commands = [file_data_media(f"C{_id()}", policy_id=policy, loss=150_000)
                for _ in range(12)]
    head = _head(api)
    too_long = "k" * 61
    response = api.post("/commands/batch", json={"commands": commands},
                        headers={"Idempotency-Key": too_long})
    assert _rule(response, 400) == ("Idempotency-Key", "batch_key_length")
    assert _head(api) == head
    longest = f"{_id()}{'k' * 50}"  # 60 characters: KEY.999 is a valid id of 64
    results = api.post("/commands/batch", json={"commands": commands},
                       headers={"Idempotency-Key": longest}).json()["results"]
    assert [r["ok"] for r in results] == [True] * 12
    assert results[11]["outcome"]["command_id"] == f"{longest}.11"
    bad = api.post("/commands/batch", json={"commands": commands},
                   headers={"Idempotency-Key": "no spaces allowed"})
    assert _rule(bad, 400) == ("Idempotency-Key", "identifier_format")


def test_a_command_the_ledger_cannot_serve_fails_alone_in_its_batch(api: httpx.Client):
    head = _head(api)
    far = attach(f"P{_id()}", service_start="9999-12-31", firewall_applied_on="9999-12-31")
    good = attach(f"P{_id()}")
    results = api.post("/commands/batch", json={"commands": [far, good]}).json()["results"]
    assert [r["ok"] for r in results] == [False, True]
    assert results[0]["status"] == 422
    assert {(v["field"], v["rule"]) for v in results[0]["problem"]["violations"]} == {
        ("service_start", "date_range"), ("firewall_applied_on", "date_range")}
    assert _head(api) == head + len(results[1]["outcome"]["events"])
    single = api.post("/commands", json={**far, "policy_id": f"P{_id()}"})
    assert _rule(single, 422)[1] == "date_range"


def test_server_generated_command_ids_are_not_guessable(api: httpx.Client):
    policy = _enrolled(api)
    given = [api.post("/commands", json=file_data_media(f"C{_id()}", policy_id=policy,
                                                         loss=150_000)).json()["command_id"]
             for _ in range(3)]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in given)
    # neither a counter nor a shared prefix: nothing of one id tells the next
    assert len({i[:16] for i in given}) == 3
    assert all(abs(int(b, 16) - int(a, 16)) > 1 << 64 for a, b in itertools.pairwise(given))


def test_a_retry_after_the_server_restarts_gets_the_first_outcome(
    database: tuple[str, Path], tmp_path: Path,
):
    db, _ = database
    key = f"k-{_id()}"
    claim = f"C{_id()}"

    def send(body: dict[str, Any]) -> tuple[httpx.Response, int]:
        with serving.server(db, tmp_path, f"r{_id()}") as (url, tokens), httpx.Client(
                base_url=url, timeout=60,
                headers={"Authorization": f"Bearer {tokens['appender']}"}) as client:
            return (client.post("/commands", json=body, headers={"Idempotency-Key": key}),
                    _head(client))

    with serving.server(db, tmp_path, "setup") as (url, tokens):
        auth = {"Authorization": f"Bearer {tokens['appender']}"}
        policy = f"P{_id()}"
        httpx.post(f"{url}/commands", json=attach(policy), headers=auth, timeout=60)
        httpx.post(f"{url}/commands", json=file_data_media(claim, policy_id=policy),
                   headers=auth, timeout=60)
    first, head = send(pay(claim))
    again, head_after = send(pay(claim))  # another server process: nothing cached
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == {**first.json(), "replayed": True}
    assert again.headers["idempotent-replayed"] == "true"
    assert head_after == head
    other, _ = send(pay(claim, amount=100_000))
    assert _rule(other, 409) == ("command_id", "same_command_same_id")
