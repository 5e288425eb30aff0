"""No event in the log blinds the read side.

An event a read model cannot apply (written by older code, or straight into the
events table: no contract, no domain) stops that read model just before it,
names it everywhere (reads, /health, status, verify, rebuild, project), and
leaves the other read models and the earlier data working. Text the database
cannot hold as it is, but a read model can keep exactly, is kept exactly.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent
from fastapi.testclient import TestClient

from adapters.cli import main
from adapters.http import Service, create_app
from adapters.service.auth import Tokens
from adapters.service.token_file import new_token
from adapters.storage import persistence_env
from domain.commands import parse_command
from domain.ledger import Ledger
from projections.claims import ClaimsProjection
from projections.read_models import PROJECTIONS, ReadModels, Stalled
from projections.store import open_store
from projections.verify import verify
from tests.builders import attach, file_data_media, pay
from tests.harness import make_ledger

PROBLEM = "application/problem+json"


def append_raw(ledger: Ledger, aggregate_id: str, version: int, name: str,
               payload: dict[str, Any]) -> int:
    """Store an event as a writer straight into the events table would: nothing
    checks it. Its position in the log."""
    positions = ledger.recorder.insert_events([StoredEvent(
        originator_id=aggregate_id, originator_version=version, topic=name,
        state=json.dumps(payload).encode())])
    assert positions is not None
    return positions[0]


def claim_filed(claim_id: str, **over: Any) -> dict[str, Any]:
    """A ClaimFiled event's stored fields, as the ledger writes them."""
    return {"timestamp": "2026-01-15T03:00:00.000000Z", "actor": "older-code",
            "command_id": f"raw-{claim_id}", "claim_id": claim_id, "policy_id": "P1",
            "policy_year": 1, "coverage": "data_media", "cause": "virus",
            "incident_date": "2024-06-01", "claim_made_on": None, "loss_amount": 800_000,
            "description": "written without the contract", "deductible": 100_000,
            "per_incident_limit": 1_000_000, "terms_version": "2006-05", **over}


def without_claim_id() -> dict[str, Any]:
    payload = claim_filed("C9")
    del payload["claim_id"]
    return payload


def execute(ledger: Ledger, *commands: dict[str, Any]) -> None:
    for command in commands:
        ledger.execute(parse_command(command), actor="t")


@dataclass
class Broken:
    """A log whose claims read model cannot apply the event at ``position``."""

    db: str
    ledger: Ledger
    models: ReadModels
    position: int


@pytest.fixture
def broken(db_url: str) -> Iterator[Broken]:
    """Given a claim paid and the read models built, then a ClaimFiled without
    its claim id (not of its class's shape), then another claim filed and paid."""
    ledger = make_ledger(persistence_env(db_url))
    models = ReadModels(ledger, open_store(db_url))
    execute(ledger, attach(), file_data_media("C1"), pay("C1"))
    models.catch_up()
    position = append_raw(ledger, "claim:C9", 1, "ClaimFiled", without_claim_id())
    execute(ledger, file_data_media("C2", loss=300_000), pay("C2"))
    yield Broken(db_url, ledger, models, position)
    models.close()
    ledger.close()


def cli(*args: str, db: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["--db", db, *args], out)
    return code, out.getvalue()


# The read models --------------------------------------------------------------


@pytest.mark.parametrize("helpers", [False, True], ids=["in-process", "helper-processes"])
def test_a_read_model_stops_just_before_an_event_it_cannot_apply_and_the_others_go_on(
        broken: Broken, helpers: bool):
    models = broken.models
    if helpers:  # pages read and computed in helper processes, 2 events a page
        models.workers, models.parallel_from, models.page_size = 2, 0, 2
    head = models.head()

    models.catch_up()  # does not raise

    status = {s.name: s for s in models.status()}
    claims = status["claims"]
    assert claims.position == broken.position - 1
    assert claims.stall is not None
    assert (claims.stall.position, claims.stall.event) == (broken.position, "ClaimFiled")
    assert "KeyError" in claims.stall.error and "\n" not in claims.stall.error
    for name in ("limits", "audit_trail"):
        assert (status[name].position, status[name].stall) == (head, None)
    paid = [r["paid"] for r in models.limits("P1") if r["coverage"] == "data_media"]
    assert paid == [700_000 + 200_000]  # C2's payout, after the event, too


def test_reads_of_a_stalled_read_model_name_it_and_other_reads_still_answer(broken: Broken):
    models = broken.models
    models.catch_up()

    with pytest.raises(Stalled) as stalled:
        models.claim("C1")

    message = str(stalled.value)
    assert "claims" in message and f"position {broken.position}" in message
    assert "ClaimFiled" in message and "\n" not in message
    assert [r["paid"] for r in models.limits("P1") if r["coverage"] == "data_media"] == [
        900_000]


def test_a_stalled_read_model_is_tried_again_and_carries_on_once_it_can_apply_the_event(
        db_url: str, monkeypatch: pytest.MonkeyPatch):
    ledger = make_ledger(persistence_env(db_url))
    models = ReadModels(ledger, open_store(db_url))
    execute(ledger, attach(), file_data_media("C1"))
    models.catch_up()
    original = ClaimsProjection.changes

    def failing(self: ClaimsProjection, facts: list[Any]) -> Any:
        if any(f.name == "PayoutIssued" for f in facts):
            raise RuntimeError("a bug in this version")
        return original(self, facts)

    monkeypatch.setattr(ClaimsProjection, "changes", failing)
    execute(ledger, pay("C1"), file_data_media("C2"))
    models.catch_up()
    assert [s.event for s in models.stalls()] == ["PayoutIssued"]

    monkeypatch.setattr(ClaimsProjection, "changes", original)  # the fixed version
    models.catch_up()

    assert models.stalls() == []
    assert models.claim("C1")["paid"] == 700_000  # type: ignore[index]
    assert models.claim("C2") is not None
    assert verify(models) == []
    models.close()
    ledger.close()


def test_an_event_of_an_unknown_name_stalls_only_the_audit_trail(db_url: str):
    ledger = make_ledger(persistence_env(db_url))
    models = ReadModels(ledger, open_store(db_url))
    execute(ledger, attach())
    position = append_raw(ledger, "claim:CX", 1, "NoSuchEvent", {"anything": 1})
    execute(ledger, file_data_media("C1"))

    models.catch_up()

    assert [(s.name, s.position, s.event) for s in models.stalls()] == [
        ("audit_trail", position, "NoSuchEvent")]
    assert models.claim("C1") is not None
    problems = verify(models)
    assert f"audit_trail: stalled: the audit_trail read model stopped at position " \
           f"{position - 1}" in "\n".join(problems)
    assert any(p.startswith(f"position {position} (NoSuchEvent): the replay cannot apply")
               for p in problems)
    models.close()
    ledger.close()


def test_a_first_build_that_stalls_is_named_not_reported_as_not_built(db_url: str):
    ledger = make_ledger(persistence_env(db_url))
    execute(ledger, attach(), file_data_media("C1"))
    position = append_raw(ledger, "claim:C9", 1, "ClaimFiled", without_claim_id())
    models = ReadModels(ledger, open_store(db_url))

    models.catch_up()  # the claims read model's first build stops at the event

    with pytest.raises(Stalled, match=f"event at position {position} \\(ClaimFiled\\)"):
        models.claim("C1")
    status = {s.name: s for s in models.status()}
    assert status["claims"].active is None and status["claims"].stall is not None
    assert status["limits"].active == 1 and models.limits("P1")
    models.close()
    ledger.close()


# verify -----------------------------------------------------------------------


def test_verify_reports_a_stalled_read_model_with_its_position_and_event(broken: Broken):
    problems = verify(broken.models)

    stalled = [p for p in problems if p.startswith("claims: stalled")]
    assert len(stalled) == 1
    assert f"position {broken.position} (ClaimFiled)" in stalled[0]
    assert any(p.startswith("claims: behind the log") for p in problems)


def test_verify_reports_a_read_model_behind_the_log_it_did_not_catch_up(db_url: str):
    ledger = make_ledger(persistence_env(db_url))
    models = ReadModels(ledger, open_store(db_url))
    execute(ledger, attach(), file_data_media("C1"))
    models.catch_up()
    applied = models.head()
    execute(ledger, pay("C1"))  # appended, not yet applied

    code, out = cli("--read-replica", "verify", "--json", db=db_url)

    assert code == 1
    differences = json.loads(out)["differences"]
    head = models.head()
    for name in PROJECTIONS:
        assert any(d.startswith(f"{name}: behind the log: at position {applied}, the log "
                                f"at {head}") for d in differences), differences
    models.close()
    ledger.close()


# The CLI ----------------------------------------------------------------------


def test_the_cli_names_the_stall_in_reads_status_verify_project_and_rebuild(
        broken: Broken, capsys: pytest.CaptureFixture[str]):
    db, at = broken.db, broken.position

    code, _ = cli("project", db=db)
    assert code == 5
    assert f"STALLED: the claims read model stopped at position {at - 1}" in \
        capsys.readouterr().err

    code, _ = cli("claim", "C1", db=db)
    err = capsys.readouterr().err.strip()
    assert code == 5 and "\n" not in err and "Traceback" not in err
    assert f"claims read model stopped at position {at - 1}" in err and "ClaimFiled" in err

    code, out = cli("limits", "--policy", "P1", "--json", db=db)
    assert code == 0 and {r["paid"] for r in json.loads(out)} >= {900_000}

    code, out = cli("status", "--json", db=db)
    rows = {r["read_model"]: r for r in json.loads(out)}
    assert code == 0
    assert rows["claims"]["stalled"]["event_position"] == at
    assert rows["claims"]["stalled"]["event"] == "ClaimFiled"
    assert rows["limits"]["stalled"] is None and rows["limits"]["lag"] == 0
    code, out = cli("status", db=db)
    assert f"STALLED: the claims read model stopped at position {at - 1}" in out

    code, out = cli("verify", db=db)
    assert code == 1
    assert "claims: stalled" in out and f"position {at} (ClaimFiled)" in out
    assert "match" not in out

    code, out = cli("rebuild", "claims", "--json", db=db)
    err = capsys.readouterr().err
    assert code == 5 and "Traceback" not in err
    assert json.loads(out)["stalled"][0]["event_position"] == at
    assert f"STALLED: the claims read model stopped at position {at - 1}" in err


# HTTP -------------------------------------------------------------------------


@pytest.fixture
def api(broken: Broken, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    tokens_file = str(tmp_path / "tokens.json")
    tokens = {role: new_token(f"t-{role}", role, tokens_file) for role in ("auditor", "operator")}
    service = Service(broken.ledger, broken.models, Tokens.load(tokens_file))
    with TestClient(create_app(service), base_url="http://127.0.0.1") as client:
        yield client, {r: f"Bearer {t}" for r, t in tokens.items()}


def test_http_reads_of_a_stalled_read_model_answer_503_naming_it_and_health_is_degraded(
        broken: Broken, api: tuple[TestClient, dict[str, str]]):
    client, auth = api
    at = broken.position

    response = client.get("/claims/C1", headers={"Authorization": auth["auditor"]})

    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert f"claims read model stopped at position {at - 1}" in body["detail"]
    assert body["stalled"][0]["read_model"] == "claims"
    assert body["stalled"][0]["event_position"] == at
    limits = client.get("/policies/P1/limits", headers={"Authorization": auth["auditor"]})
    assert limits.status_code == 200
    health = client.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "degraded"
    stalled = {r["name"]: r["stalled"] for r in health.json()["read_models"]}
    assert stalled["claims"]["event_position"] == at
    assert stalled["claims"]["event"] == "ClaimFiled" and stalled["claims"]["error"]
    assert stalled["limits"] is None and stalled["audit_trail"] is None


def test_http_rebuild_and_verify_name_the_stall(
        broken: Broken, api: tuple[TestClient, dict[str, str]]):
    client, auth = api
    operator = {"Authorization": auth["operator"]}

    rebuilt = client.post("/admin/rebuild", params={"read_models": ["claims"]},
                          headers=operator)

    assert rebuilt.status_code == 503 and rebuilt.headers["content-type"] == PROBLEM
    assert rebuilt.json()["stalled"][0]["event_position"] == broken.position
    verified = client.post("/admin/verify", headers=operator).json()
    assert verified["ok"] is False
    assert any(d.startswith("claims: stalled") for d in verified["differences"])


# PostgreSQL: NUL in text ---------------------------------------------------------


def test_free_text_with_nul_is_kept_exactly_on_postgresql(pg_schema: str):
    ledger = make_ledger(persistence_env(pg_schema))
    models = ReadModels(ledger, open_store(pg_schema))
    execute(ledger, attach())
    texts = {"C-NUL": "before\x00after", "C-MARK": "\ue000{not json", "C-PLAIN": "plain"}
    for version, (claim_id, text) in enumerate(texts.items(), start=1):
        append_raw(ledger, f"claim:{claim_id}", 1, "ClaimFiled",
                   claim_filed(claim_id, description=text, command_id=f"raw-{version}"))

    models.catch_up()

    assert models.stalls() == []
    assert {c: models.claim(c)["description"] for c in texts} == texts  # type: ignore[index]
    assert verify(models) == []
    models.close()
    ledger.close()


def test_nul_in_a_value_the_database_cannot_hold_stalls_only_the_model_that_stores_it(
        pg_schema: str):
    ledger = make_ledger(persistence_env(pg_schema))
    models = ReadModels(ledger, open_store(pg_schema))
    execute(ledger, attach())
    position = append_raw(ledger, "claim:C-ACTOR", 1, "ClaimFiled",
                          claim_filed("C-ACTOR", actor="mal\x00lory"))
    execute(ledger, file_data_media("C1"))

    models.catch_up()

    [stall] = models.stalls()
    assert (stall.name, stall.position, stall.event) == ("audit_trail", position, "ClaimFiled")
    assert "NUL" in stall.error
    assert models.claim("C-ACTOR") is not None and models.claim("C1") is not None
    assert any(p.startswith("audit_trail: stalled") for p in verify(models))
    models.close()
    ledger.close()
