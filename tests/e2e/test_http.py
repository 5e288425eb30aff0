"""The HTTP API over real HTTP: uvicorn in a subprocess on a free loopback port."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.storage import open_ledger
from tests.builders import attach, exclude, file_data_media, file_liability, pay
from tests.support import serving
from tests.support.databases import BACKENDS, fresh_db

PROBLEM = "application/problem+json"


@dataclass
class Server:
    url: str
    db: str
    tokens: dict[str, str]

    def client(self, role: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def head(self) -> int:
        return int(httpx.get(f"{self.url}/health", timeout=30).json()["log_head"])


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("http")
    with fresh_db(request.param, folder) as db, serving.server(db, folder, "svc") as (
            url, tokens):
        yield Server(url, db, tokens)


def ids() -> str:
    return uuid.uuid4().hex[:10]


def enrolled(server: Server) -> str:
    policy = f"P{ids()}"
    with server.client("appender") as c:
        assert c.post("/commands", json=attach(policy)).status_code == 201
    return policy


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["title"] and "Traceback" not in response.text
    return dict(body)


# Auth -------------------------------------------------------------------------

ROUTES = [
    ("POST", "/commands", {"appender"}),
    ("POST", "/commands/batch", {"appender"}),
    ("GET", "/policies/{policy}/limits", {"auditor", "operator"}),
    ("GET", "/claims/{claim}", {"auditor", "operator"}),
    ("GET", "/policies/{policy}/history", {"auditor", "operator"}),
    ("GET", "/claims/{claim}/history", {"auditor", "operator"}),
    ("GET", "/claims/{claim}/explanation", {"auditor", "operator"}),
    ("GET", "/audit", {"auditor", "operator"}),
    ("GET", "/reports/reserves", {"auditor", "operator"}),
    ("POST", "/admin/verify", {"operator"}),
    ("POST", "/admin/rebuild", {"operator"}),
    ("GET", "/authority", {"auditor", "operator"}),
    ("GET", "/authority/{claim}", {"auditor", "operator"}),
    ("PUT", "/authority/{claim}", {"operator"}),
    ("GET", "/feed", {"subscriber", "operator"}),
]


def test_every_route_needs_a_token_of_an_allowed_role(server: Server):
    policy = enrolled(server)
    claim = f"C{ids()}"
    with server.client("appender") as c:
        c.post("/commands", json=file_data_media(claim, policy_id=policy))
    for method, path, allowed in ROUTES:
        path = path.format(policy=policy, claim=claim)
        body: Any = ({"commands": []} if path.endswith("batch")
                     else {"pay_up_to": 1, "approve_up_to": 1} if method == "PUT"
                     else pay(claim, amount=1))
        for role in (None, "appender", "auditor", "operator", "subscriber"):
            with server.client(role) as c:
                response = c.request(method, path, json=body if method != "GET" else None)
            if role is None:
                problem(response, 401)
                assert response.headers["www-authenticate"] == "Bearer"
            elif role in allowed:
                assert response.status_code < 400, (method, path, role, response.text)
            else:
                problem(response, 403)
    with httpx.Client(base_url=server.url,
                      headers={"Authorization": "Bearer not-a-token"}) as c:
        problem(c.get("/audit"), 401)
    assert httpx.get(f"{server.url}/health").status_code == 200


def test_the_actor_is_the_token_name_never_the_body(server: Server):
    policy = enrolled(server)
    with server.client("appender") as c:
        response = c.post("/commands", json={**file_data_media(f"C{ids()}", policy_id=policy),
                                             "actor": "mallory"})
        assert problem(response, 422)["violations"][0]["field"] == "actor"
    with server.client("auditor") as c:
        rows = c.get("/audit", params={"policy_id": policy}).json()["items"]
    assert {r["actor"] for r in rows} == {"svc-appender"}


# Idempotency and concurrency ------------------------------------------------------


def test_a_retry_with_the_same_key_returns_the_first_response_and_appends_nothing(
    server: Server,
):
    policy = enrolled(server)
    claim = f"C{ids()}"
    key = f"k-{ids()}"
    with server.client("appender") as c:
        c.post("/commands", json=file_data_media(claim, policy_id=policy))
        first = c.post("/commands", json=pay(claim), headers={"Idempotency-Key": key})
        head = server.head()
        again = c.post("/commands", json=pay(claim), headers={"Idempotency-Key": key})
        assert server.head() == head
        assert again.status_code == first.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        assert {**again.json(), "replayed": False} == first.json()
        other = c.post("/commands", json=pay(claim, amount=5), headers={"Idempotency-Key": key})
        assert problem(other, 409)["violations"][0]["rule"] == "same_command_same_id"
        mismatch = c.post("/commands", json=pay(claim, command_id="x1"),
                          headers={"Idempotency-Key": "x2"})
        assert problem(mismatch, 400)["violations"][0]["field"] == "command_id"


def test_a_stale_expected_version_is_a_conflict(server: Server):
    policy = enrolled(server)
    claim = f"C{ids()}"
    with server.client("appender") as c:
        c.post("/commands", json=file_data_media(claim, policy_id=policy))
        # version 2: filed, and its initial reserve
        assert c.post("/commands", json=pay(claim, amount=10, expected_version=2)).status_code \
            == 201
        stale = c.post("/commands", json=pay(claim, amount=10, expected_version=2))
        assert problem(stale, 409)["violations"][0]["field"] == "expected_version"


def test_eight_clients_paying_and_filing_at_once_never_overdraw(server: Server):
    policy = enrolled(server)
    accepted: list[dict[str, Any]] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        with server.client("appender") as c:
            for k in range(6):
                claim = f"X{n}-{k}-{ids()}"
                filing = (file_data_media(claim, policy_id=policy, loss=400_000) if k % 2
                          else file_liability(claim, policy_id=policy, loss=2_000_000))
                for command in (filing, pay(claim)):
                    response = c.post("/commands", json=command)
                    assert response.status_code in (201, 409, 422), response.text
                    if response.status_code == 201:
                        with lock:
                            accepted.append(response.json())

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with server.client("auditor") as c:
        limits = c.get(f"/policies/{policy}/limits").json()
    for row in limits:
        assert 0 <= row["paid"] <= row["annual_limit"] and row["remaining"] >= 0
    ledger = open_ledger(server.db)
    logged = {(e.originator_id, e.originator_version): e.command_id
              for n in ledger.notifications() for e in [ledger.decode(n)]
              if e.originator_id.startswith(("claim:X", f"policy:{policy}:year:"))}
    answered = {(e["aggregate_id"], e["version"]): a["command_id"]
                for a in accepted for e in a["events"]}
    year_events = {k: v for k, v in logged.items() if k[0].startswith("policy:")}
    assert {k: v for k, v in logged.items() if k[0].startswith("claim:")} == {
        k: v for k, v in answered.items() if k[0].startswith("claim:")}
    assert all(answered.get(k) == v for k, v in year_events.items() if k[1] > 2)
    assert sum(r["paid"] for r in limits) == sum(
        a["result"].get("amount", 0) for a in accepted if a["command"] == "issue_payout")
    ledger.close()


# Bad input ----------------------------------------------------------------------


def test_each_kind_of_bad_input_is_a_problem_naming_the_rule_and_appends_nothing(
    server: Server,
):
    policy = enrolled(server)
    claim = f"C{ids()}"
    with server.client("appender") as c:
        c.post("/commands", json=file_data_media(claim, policy_id=policy))
        c.post("/commands", json=exclude(claim))
        head = server.head()
        cases = [
            (c.post("/commands", content=b"{not json"), 400, None, "json"),
            (c.post("/commands", json={"command": "file_claim"}), 422, "claim_id", "required"),
            (c.post("/commands", json=pay(claim, amount=-1)), 422, "amount", "non_negative"),
            (c.post("/commands", json=pay(claim, amount=1.5)), 422, "amount", "integer_yen"),
            (c.post("/commands", json={"command": "delete"}), 422, "command",
             "unknown_command"),
            (c.post("/commands", json=pay("NOPE")), 404, "claim_id", "claim_exists"),
            (c.post("/commands", json=file_data_media(claim, policy_id=policy)), 409,
             "claim_id", "new_claim"),
            (c.post("/commands", json=pay(claim)), 422, "claim_id", "claim_not_denied"),
            (c.post("/commands", json=attach(f"Q{ids()}", financial_institution=True)), 422,
             "financial_institution", "not_financial_institution"),
            (c.post("/commands", json=attach(f"Q{ids()}", firewall_applied_on="2099-01-01")),
             422, "firewall_applied_on", "not_in_future"),
        ]
        for response, status, field, rule in cases:
            body = problem(response, status)
            assert (body["violations"][0]["field"], body["violations"][0]["rule"]) == (
                field, rule), body
        too_big = c.post("/commands", content=b"{" + b" " * (2 << 20) + b"}")
        problem(too_big, 413)
        batch = c.post("/commands/batch", json={"commands": "nope"})
        problem(batch, 400)
    assert server.head() == head


# Batches and reads --------------------------------------------------------------------


def test_a_batch_applies_in_order_and_reports_each_command(server: Server):
    policy = enrolled(server)
    claim = f"C{ids()}"
    key = f"b-{ids()}"
    commands = [file_data_media(claim, policy_id=policy), pay(claim, amount=-1), pay(claim)]
    with server.client("appender") as c:
        first = c.post("/commands/batch", json={"commands": commands},
                       headers={"Idempotency-Key": key}).json()["results"]
        again = c.post("/commands/batch", json={"commands": commands},
                       headers={"Idempotency-Key": key}).json()["results"]
    assert [(r["index"], r["ok"]) for r in first] == [(0, True), (1, False), (2, True)]
    assert first[1]["status"] == 422
    assert first[2]["outcome"]["result"]["amount"] == 700_000
    assert [r["ok"] for r in again] == [True, False, True]
    assert again[2]["outcome"]["replayed"] and again[2]["outcome"]["command_id"] == f"{key}.2"


def test_reads_for_auditors_limits_claim_history_and_audit_pages(server: Server):
    policy = enrolled(server)
    claim = f"C{ids()}"
    with server.client("appender") as c:
        c.post("/commands", json=file_data_media(claim, policy_id=policy))
        c.post("/commands", json=pay(claim))
    with server.client("auditor") as c:
        limits = {r["coverage"]: r for r in c.get(f"/policies/{policy}/limits").json()}
        assert (limits["data_media"]["paid"], limits["data_media"]["remaining"]) == (
            700_000, 300_000)
        body = c.get(f"/claims/{claim}").json()
        assert (body["status"], body["paid"], body["payouts"][0]["breakdown"]["deductible"]) \
            == ("open", 700_000, 100_000)
        history = c.get(f"/claims/{claim}/history").json()["items"]
        assert [r["event_type"] for r in history] == ["ClaimFiled", "ReserveSet", "PayoutIssued"]
        pages, after = [], 0
        while True:
            page = c.get("/audit", params={"policy_id": policy, "after": after,
                                           "limit": 3}).json()
            pages.extend(page["items"])
            if page["next_after"] is None:
                break
            after = page["next_after"]
        assert [r["position"] for r in pages] == sorted(r["position"] for r in pages)
        assert len(pages) == 10  # enrolment 5, filing 3 (claim, policy, reserve), payout 2
        then = c.get(f"/claims/{claim}", params={"as_of": "2000-01-01"})
        problem(then, 404)
        problem(c.get("/policies/NOPE/limits"), 404)
        problem(c.get("/audit", params={"from": "yesterday"}), 400)


def test_a_claim_explanation_in_japanese_and_english(server: Server):
    policy = enrolled(server)
    claim = f"C{ids()}"
    with server.client("appender") as c:
        c.post("/commands", json=file_data_media(claim, policy_id=policy, loss=800_000))
        c.post("/commands", json=pay(claim))
    with server.client("auditor") as c:
        ja = c.get(f"/claims/{claim}/explanation").json()
        en = c.get(f"/claims/{claim}/explanation", params={"lang": "en"}).json()
        assert ja["lang"] == "ja" and ja["mismatches"] == []
        assert ("損害額 800,000円 − 免責金額 100,000円 = 700,000円; 1事故限度額 1,000,000円以内; "
                "年間残額 1,000,000円 → 支払額 700,000円, 残額 300,000円") in ja["text"]
        assert "loss 800,000 yen − deductible 100,000 yen = 700,000 yen" in en["text"]
        assert [line["kind"] for line in en["lines"]] == ["filed", "reserve", "payout", "summary"]
        problem(c.get(f"/claims/{claim}/explanation", params={"lang": "fr"}), 400)
        problem(c.get("/claims/NOPE/explanation"), 404)
        problem(c.get(f"/claims/{claim}/explanation", params={"as_of": "soon"}), 400)


def test_health_reports_each_read_models_lag(server: Server):
    enrolled(server)
    body = httpx.get(f"{server.url}/health").json()
    assert body["status"] == "ok"
    assert {r["name"] for r in body["read_models"]} == {"limits", "claims", "audit_trail"}
    assert all(r["lag"] >= 0 for r in body["read_models"])


def test_operators_verify_and_rebuild(server: Server):
    enrolled(server)
    with server.client("operator") as c:
        assert c.post("/admin/verify").json() == {"ok": True, "differences": []}
        rebuilt = c.post("/admin/rebuild", params={"read_models": ["limits"]}).json()
        assert rebuilt["rebuilt"] == ["limits"]
        problem(c.post("/admin/rebuild", params={"read_models": ["nope"]}), 422)


def test_the_openapi_document_has_an_example_for_every_command(server: Server):
    document = httpx.get(f"{server.url}/openapi.json").json()
    examples = document["paths"]["/commands"]["post"]["requestBody"]["content"][
        "application/json"]["examples"]
    assert set(examples) == {"attach_coverage", "end_service", "file_claim", "assess_loss",
                             "apply_exclusion", "issue_payout", "reverse_payout",
                             "close_claim", "withdraw_claim", "withdraw_denial",
                             "reopen_claim", "cancel_firewall_option", "set_reserve",
                             "request_payout", "approve_payout", "reject_payout",
                             "record_recovery", "set_authority"}
    assert "Command" in document["components"]["schemas"]


@pytest.mark.parametrize("role", ["appender", "operator"])
def test_schemathesis_finds_no_server_error(server: Server, role: str, tmp_path: Path):
    run = subprocess.run(
        [str(Path(sys.executable).parent / "schemathesis"), "run",
         f"{server.url}/openapi.json", "--checks", "not_a_server_error",
         "--header", f"Authorization: Bearer {server.tokens[role]}",
         "--max-examples", "15", "--seed", "1", "--phases", "examples,coverage,fuzzing",
         # A feed request may wait up to a minute for an event that never comes:
         # its hostile queries are tests/e2e/test_feed.py's.
         "--exclude-path", "/feed",
         "--report", "junit", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
