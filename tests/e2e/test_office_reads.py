"""The reads of reserves, holds and recoveries as users meet them: the CLI's
``limits`` and ``claim`` (table and ``--json``) in a real process, and the API's
``GET /policies/{id}/limits`` and ``GET /claims/{id}``, whose answers are what
the OpenAPI document says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent

from adapters.storage import persistence_env
from domain.commands import parse_command
from projections.rows import ClaimRow, LimitsRow, ReplayedClaimRow
from tests.builders import approve, attach, file_data_media, pay, recover, reject, request
from tests.builders import authorize as authority
from tests.e2e.test_openapi import _Validator, documented
from tests.harness import make_ledger
from tests.integration.test_fixture_log import LOG
from tests.support.api import Api
from tests.support.cli import cli, jsonl

STEPS: list[tuple[str, list[dict[str, Any]]]] = [
    ("operator", [attach(), authority("clerk", 0, 0), authority("manager", 0, 1_000_000),
                  file_data_media("C1")]),
    ("clerk", [request("C1", 500_000, due_on="2026-02-27")]),
    ("manager", [approve("C1", amount=400_000)]),
    ("clerk", [request("C1", 300_000)]),
]
"""C1: 700,000 payable (its initial reserve); 400,000 of a 500,000 request paid,
then 300,000 requested and held: held 300,000, remaining 300,000, reserved
300,000."""


@pytest.fixture
def db(db_url: str) -> str:
    for actor, commands in STEPS:
        run = cli("--db", db_url, "--actor", actor, "apply", "-", "--json",
                  stdin=jsonl(*commands))
        assert run.returncode == 0, run.stdout + run.stderr
    return db_url


def test_limits_show_what_is_held_and_reserved_as_json_and_as_a_table(db: str):
    rows = json.loads(cli("--db", db, "limits", "--policy", "P1", "--json").stdout)
    data = next(r for r in rows if (r["policy_year"], r["coverage"]) == (1, "data_media"))
    assert {k: data[k] for k in ("paid", "held", "remaining", "reserved", "incurred",
                                 "unreserved", "reserves_exceed_remaining")} == {
        "paid": 400_000, "held": 300_000, "remaining": 300_000, "reserved": 300_000,
        "incurred": 700_000, "unreserved": 0, "reserves_exceed_remaining": False}

    table = cli("--db", db, "limits", "--policy", "P1").stdout.splitlines()
    assert table[0].split()[:9] == ["policy", "year", "period", "coverage", "annual", "limit",
                                    "paid", "reversed", "held"]
    row = next(line for line in table if "data_media" in line and " 1 " in line)
    assert "300,000" in row and "700,000" in row and "reserves > remaining" not in row
    assert not any("unreserved: claims filed before" in line for line in table)


def test_a_year_whose_reserves_exceed_what_remains_is_flagged(db: str):
    run = cli("--db", db, "--actor", "manager", "apply", "-", "--json",
              stdin=jsonl(reject("C1", "payout-2"), file_data_media("C2", loss=1_000_000),
                          pay("C2")))
    assert run.returncode == 0, run.stdout
    rows = json.loads(cli("--db", db, "limits", "--policy", "P1", "--json").stdout)
    data = next(r for r in rows if (r["policy_year"], r["coverage"]) == (1, "data_media"))
    # C2's 900,000 payable was paid only the 600,000 left: C2 keeps 300,000 reserved
    assert (data["remaining"], data["reserved"], data["reserves_exceed_remaining"]) == (
        0, 600_000, True)
    table = cli("--db", db, "limits", "--policy", "P1").stdout
    assert "reserves > remaining" in table


def test_a_claim_shows_its_reserve_holds_and_recoveries(db: str):
    run = cli("--db", db, "--actor", "manager", "apply", "-", "--json",
              stdin=jsonl(approve("C1", "payout-2"), recover("C1", 150_000)))
    assert run.returncode == 0, run.stdout

    data = json.loads(cli("--db", db, "claim", "C1", "--json").stdout)
    then = json.loads(cli("--db", db, "claim", "C1", "--as-of", "2099-12-31", "--json").stdout)
    table = cli("--db", db, "claim", "C1").stdout

    assert (data["reserve"], data["held"], data["recovered"], data["insured_recovered"]) == (
        0, 0, 50_000, 100_000)
    assert [(h["payout_id"], h["status"], h["requested_by"], h["resolved_by"], h["due_on"])
            for h in data["holds"]] == [
        ("payout-1", "approved", "clerk", "manager", "2026-02-27"),
        ("payout-2", "approved", "clerk", "manager", None)]
    assert [(r["kind"], r["insured_share"], r["insurer_share"]) for r in data["recoveries"]] \
        == [("subrogation", 100_000, 50_000)]
    assert ClaimRow.model_validate(data) and ReplayedClaimRow.model_validate(then)
    assert [h["status"] for h in then["holds"]] == ["approved", "approved"]
    assert then["recoveries"][0]["counterparty"] == "株式会社加害者"
    assert "reserve             0" in table
    assert "payout-2  300,000  clerk" in table and "株式会社加害者" in table
    verified = cli("--db", db, "verify")
    assert verified.returncode == 0, verified.stdout


def test_claims_of_a_log_written_before_reserves_read_as_having_none(tmp_path: Path):
    db = str(tmp_path / "old.db")
    ledger = make_ledger(persistence_env(db))
    events = [json.loads(line) for line in LOG.read_text(encoding="utf-8").splitlines()[1:-1]]
    ledger.recorder.insert_events([
        StoredEvent(e["aggregate_id"], e["version"], e["event"], e["payload"].encode())
        for e in events])
    ledger.close()

    data = json.loads(cli("--db", db, "claim", "C-DEMO-4", "--json").stdout)
    claim = cli("--db", db, "claim", "C-DEMO-4").stdout
    limits = cli("--db", db, "limits", "--policy", "P-DEMO-1").stdout

    assert (data["reserve"], data["holds"], data["recoveries"]) == (None, [], [])
    assert "reserve             none (filed before reserves were kept)" in claim
    assert "unreserved: claims filed before reserves were kept have no reserve" in limits
    verified = cli("--db", db, "verify")
    assert verified.returncode == 0, verified.stdout


def test_the_apis_reads_show_holds_and_reserves_as_documented(api_on_each_backend: Api):
    api = api_on_each_backend  # policy P1 and claim C1 (700,000 payable)
    for command in (authority("clerk", 0, 0), authority("manager", 0, 1_000_000)):
        api.ledger.execute(parse_command(command), actor="operator")
    for actor, command in (("clerk", request("C1", 500_000, due_on="2026-02-27")),
                           ("manager", approve("C1", amount=400_000)),
                           ("clerk", request("C1", 300_000)),
                           ("manager", recover("C1", 100_000))):
        api.ledger.execute(parse_command(command), actor=actor)
    document = api.client.get("/openapi.json").json()
    answers = [
        ("/policies/{policy_id}/limits", api.get("/policies/P1/limits"), LimitsRow),
        ("/policies/{policy_id}/limits", api.get("/policies/P1/limits", as_of="2099-01-01"),
         LimitsRow),
        ("/claims/{claim_id}", api.get("/claims/C1"), ClaimRow),
        ("/claims/{claim_id}", api.get("/claims/C1", as_of="2099-01-01"), ReplayedClaimRow),
    ]
    for path, response, model in answers:
        assert response.status_code == 200, response.text
        schema = documented(document, "GET", path, 200)
        assert [str(e) for e in _Validator(schema).iter_errors(response.json())] == []
        body = response.json()
        for item in body if isinstance(body, list) else [body]:
            assert model.model_validate(item).model_dump(mode="json") == item
    now, then = answers[0][1].json(), answers[1][1].json()
    assert [(r["held"], r["reserved"], r["incurred"]) for r in now] == [
        (r["held"], r["reserved"], r["incurred"]) for r in then]
    assert now[0]["held"] == 300_000
    claim = answers[2][1].json()
    assert [h["status"] for h in claim["holds"]] == ["approved", "pending"]
    assert claim["recoveries"][0]["insurer_share"] == 0  # the insured's loss comes first
