"""A log that does not match its seal is not exported, and `verify` says so.

The log is tampered with directly, as in tests/integration/test_seal_verify.py:
by someone with write access to the database."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.cli import main
from adapters.http import build
from adapters.service.auth import Tokens
from adapters.service.token_file import new_token
from tests.builders import attach, file_data_media, pay
from tests.support.cli import jsonl


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(args), out), out.getvalue()


def sql(db: str, statement: str, params: tuple[Any, ...] = ()) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(statement, params)


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A sealed ledger of 15 events, its read models caught up."""
    path = str(tmp_path / "ledger.db")
    commands = jsonl(attach(), file_data_media("C1", loss=800_000), pay("C1"),
                     file_data_media("C2", loss=500_000), pay("C2"))
    source = tmp_path / "commands.jsonl"
    source.write_text(commands, encoding="utf-8")
    assert run("--db", path, "apply", str(source))[0] == 0
    return path


def first(db: str, topic: str) -> int:
    """The position of the first event named ``topic``."""
    with sqlite3.connect(db) as conn:
        (position,) = conn.execute("SELECT min(rowid) FROM stored_events WHERE topic = ?",
                                   (topic,)).fetchone()
    return int(position)


def edit_payload(db: str, position: int) -> None:
    with sqlite3.connect(db) as conn:
        state = bytes(conn.execute("SELECT state FROM stored_events WHERE rowid = ?",
                                   (position,)).fetchone()[0])
        conn.execute("UPDATE stored_events SET state = ? WHERE rowid = ?",
                     (state.replace(b'"actor":"cli:', b'"actor":"xyz:', 1), position))


def rewrite_payload(db: str, position: int, fields: dict[str, Any]) -> None:
    """Give the event at ``position`` other values (of any type) for ``fields``."""
    with sqlite3.connect(db) as conn:
        state = json.loads(bytes(conn.execute(
            "SELECT state FROM stored_events WHERE rowid = ?", (position,)).fetchone()[0]))
        conn.execute("UPDATE stored_events SET state = ? WHERE rowid = ?",
                     (json.dumps({**state, **fields}, separators=(",", ":")).encode(),
                      position))


def test_an_export_of_an_edited_log_is_refused_naming_the_position_and_writes_nothing(
        db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit_payload(db, 6)
    out = tmp_path / "export.jsonl"
    code, printed = run("--db", db, "export", "--out", str(out))
    assert (code, printed) == (1, "")
    err = capsys.readouterr().err
    assert "REFUSED: TAMPERED at position 6 (edited)" in err
    assert "intact up to position 5" in err
    assert not out.exists()
    assert list(tmp_path.glob(".*partial")) == []


def test_an_export_of_a_log_missing_an_event_is_refused(
        db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sql(db, "DELETE FROM stored_events WHERE rowid = 9")
    code, _ = run("--db", db, "export", "--out", str(tmp_path / "export.jsonl"), "--json")
    assert code == 1
    assert "TAMPERED at position 9 (deleted)" in capsys.readouterr().err


def test_an_export_up_to_a_position_before_the_tampering_holds_only_intact_events(
        db: str, tmp_path: Path) -> None:
    edit_payload(db, 10)
    out = tmp_path / "export.jsonl"
    code, printed = run("--db", db, "export", "--out", str(out), "--to", "9", "--json")
    assert code == 0
    assert json.loads(printed)["position"] == 9
    assert run("replay", str(out))[0] == 0


def test_an_export_of_an_intact_log_replays(db: str, tmp_path: Path) -> None:
    out = tmp_path / "export.jsonl"
    assert run("--db", db, "export", "--out", str(out))[0] == 0
    code, printed = run("replay", str(out), "--json")
    assert code == 0
    assert json.loads(printed)["position"] == 15


def test_verify_names_a_broken_seal_even_when_the_read_models_match(db: str) -> None:
    sql(db, "DELETE FROM stored_events_seal WHERE position = 7")  # the events are untouched
    code, out = run("--db", db, "verify")
    assert code == 1
    assert out.splitlines()[0] == "read models match a replay of the log"
    assert out.splitlines()[1].startswith("the seal is broken at position 7 (inserted): ")


def test_verify_json_says_not_ok_and_names_a_broken_seal(db: str) -> None:
    edit_payload(db, 3)
    code, out = run("--db", db, "verify", "--json")
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False and report["seal"]["checked"] is True
    assert report["seal"]["broken"].startswith("the seal is broken at position 3 (edited)")


def test_verify_of_an_intact_log_says_nothing_of_the_seal(db: str) -> None:
    assert run("--db", db, "verify") == (0, "read models match a replay of the log\n")


def test_the_audit_trail_shows_an_event_rewritten_with_values_of_the_wrong_type(
        db: str, tmp_path: Path) -> None:
    """The auditor needs the tampered row: a value of the wrong type in the event
    is shown as the log holds it, never a failure of the page."""
    drawn, filed = first(db, "AnnualLimitDrawn"), first(db, "ClaimFiled")
    rewrite_payload(db, drawn, {"command_id": 5, "amount": "seven", "coverage": {"x": 1},
                                "remaining_before": [1]})
    rewrite_payload(db, filed, {"incident_date": 20240601, "policy_year": "first"})
    tokens_file = str(tmp_path / "tokens.json")
    token = new_token("reader", "auditor", tokens_file)
    app = build(db, db, Tokens.load(tokens_file))
    try:
        with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
            pages = [client.get("/audit"), client.get("/policies/P1/history")]
    finally:
        app.state.service.models.close()
        app.state.service.ledger.close()
    for page in pages:
        assert page.status_code == 200, page.text
        rows = {r["position"]: r for r in page.json()["items"]}
        assert (rows[drawn]["command_id"], rows[drawn]["amount"], rows[drawn]["coverage"],
                rows[drawn]["balance_before"]) == (5, "seven", {"x": 1}, [1])
        assert rows[drawn]["payload"]["command_id"] == 5
        assert rows[filed]["business_dates"]["incident_date"] == 20240601
        assert rows[filed]["policy_year"] == "first"


def test_a_claims_history_shows_its_own_event_rewritten_with_values_of_the_wrong_type(
        db: str, tmp_path: Path) -> None:
    """The claim's history reads the audit trail: an event of the claim that no
    longer decodes is shown as the log holds it, not a failure of the page."""
    with sqlite3.connect(db) as conn:
        (position,) = conn.execute(
            "SELECT min(rowid) FROM stored_events WHERE originator_id = 'claim:C1'").fetchone()
    rewrite_payload(db, position, {"loss": "a lot", "claim_id": ["C1"]})
    tokens_file = str(tmp_path / "tokens.json")
    token = new_token("reader", "auditor", tokens_file)
    app = build(db, db, Tokens.load(tokens_file))
    try:
        with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
            page = client.get("/claims/C1/history")
            missing = client.get("/claims/C9/history")
    finally:
        app.state.service.models.close()
        app.state.service.ledger.close()
    assert page.status_code == 200, page.text
    rows = {r["position"]: r for r in page.json()["items"]}
    assert rows[position]["payload"]["loss"] == "a lot"
    assert missing.status_code == 404
