"""The claims-ledger CLI, used as a user would: a real process on a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.storage import open_ledger
from tests.builders import attach, file_data_media, file_liability, pay, reverse
from tests.support.cli import cli, jsonl


@pytest.fixture
def db(db_url: str) -> str:
    return db_url


def tamper(db: str, statement: str) -> None:
    from sqlalchemy import text

    from projections.store import open_store

    store = open_store(db)
    with store.writer.begin() as conn:
        conn.execute(text(statement))
    store.close()


def test_apply_reports_each_line_and_refused_lines_append_nothing(db: str, tmp_path: Path):
    source = tmp_path / "cmds.jsonl"
    source.write_text(jsonl(attach(), file_data_media(loss=800_000),
                            pay(amount=-5), pay(), {"command": "bogus"}), encoding="utf-8")
    run = cli("--db", db, "apply", str(source), "--json")
    assert run.returncode == 1, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert [(r["line"], r["ok"]) for r in lines] == [
        (1, True), (2, True), (3, False), (4, True), (5, False)]
    assert lines[2]["violations"] == [
        {"field": "amount", "rule": "non_negative", "message": "must not be negative"}]
    assert lines[3]["result"]["amount"] == 700_000
    assert lines[4]["violations"][0]["field"] == "command"
    history = json.loads(cli("--db", db, "history", "C1", "--json").stdout)
    assert [e["event_type"] for e in history] == ["ClaimFiled", "ReserveSet", "PayoutIssued"]
    assert {e["actor"] for e in history} == {"test:cli"}


def test_apply_reads_standard_input_and_exits_zero_when_all_lines_apply(db: str):
    run = cli("--db", db, "apply", "-", stdin=jsonl(attach(), file_data_media()))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "line 2: ok" in run.stdout


def test_apply_skips_blank_lines_but_keeps_line_numbers(db: str):
    run = cli("--db", db, "apply", "-", "--json", stdin="\n" + json.dumps(attach()) + "\n\n")
    assert [json.loads(x)["line"] for x in run.stdout.splitlines()] == [2]


def test_apply_of_a_missing_file_is_a_usage_error(db: str):
    run = cli("--db", db, "apply", "/nonexistent/cmds.jsonl")
    assert run.returncode == 2 and "cannot read" in run.stderr


def test_refusals_name_the_field_and_the_rule_for_people_too(db: str):
    run = cli("--db", db, "apply", "-", stdin=jsonl(attach(financial_institution=True)))
    assert run.returncode == 1
    assert "financial_institution:" in run.stdout and "[not_financial_institution]" in run.stdout


def test_limits_json_lists_each_year_and_coverage(db: str):
    cli("--db", db, "apply", "-", stdin=jsonl(
        attach(), file_data_media(), pay(), file_liability(), pay("L1"),
        file_data_media("C2", incident="2025-06-01")))
    rows = json.loads(cli("--db", db, "limits", "--json").stdout)
    got = {(r["policy_id"], r["policy_year"], r["coverage"]):
           (r["annual_limit"], r["paid"], r["remaining"]) for r in rows}
    assert got == {
        ("P1", 1, "data_media"): (1_000_000, 700_000, 300_000),
        ("P1", 1, "it_liability"): (5_000_000, 1_500_000, 3_500_000),
        ("P1", 2, "data_media"): (1_000_000, 0, 1_000_000),
        ("P1", 2, "it_liability"): (5_000_000, 0, 5_000_000),
    }
    table = cli("--db", db, "limits", "--policy", "P1").stdout
    assert "3,500,000" in table


def test_claim_json_shows_status_payouts_net_paid_and_exclusion(db: str):
    cli("--db", db, "apply", "-", stdin=jsonl(
        attach(), file_data_media(), pay(amount=100_000), pay(), reverse(payout_id="payout-1")))
    data = json.loads(cli("--db", db, "claim", "C1", "--json").stdout)
    assert (data["claim_id"], data["coverage"], data["status"], data["paid"],
            data["exclusion"]) == ("C1", "data_media", "open", 600_000, None)
    assert [(p["payout_id"], p["amount"], p["reversed"]) for p in data["payouts"]] == [
        ("payout-1", 100_000, True), ("payout-2", 600_000, False)]
    assert data["payouts"][1]["breakdown"]["paid_before"] == 100_000


def test_reading_an_unknown_claim_exits_3(db: str):
    cli("--db", db, "apply", "-", stdin=jsonl(attach()))
    run = cli("--db", db, "claim", "NOPE")
    assert run.returncode == 3 and "no claim NOPE" in run.stderr
    run = cli("--db", db, "claim", "NOPE", "--json")
    assert json.loads(run.stdout)["violations"][0]["rule"] == "claim_exists"


def test_history_of_a_policy_includes_its_years_and_claims_in_log_order(db: str):
    cli("--db", db, "apply", "-", stdin=jsonl(attach(), file_data_media(), pay()))
    events = json.loads(cli("--db", db, "history", "P1", "--json").stdout)
    assert [e["event_type"] for e in events] == [
        "PolicyEnrolled", "CoverStarted", "PolicyYearOpened", "CoverageAttached",
        "CoverageAttached", "ClaimFiled", "ClaimRegistered", "ReserveSet", "PayoutIssued",
        "AnnualLimitDrawn"]
    positions = [e["position"] for e in events]
    assert positions == sorted(positions)


def test_demo_loads_the_terms_cases_once(db: str):
    run = cli("--db", db, "demo", "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    amounts = {r["result"]["claim_id"]: r["result"]["amount"]
               for r in data["applied"] if r["command"] == "issue_payout"}
    assert amounts == {"C-DEMO-1": 700_000, "C-DEMO-2": 1_500_000, "C-DEMO-3": 300_000,
                       "C-DEMO-4": 300_000, "C-DEMO-5": 600_000}
    again = cli("--db", db, "demo")
    assert again.returncode == 2 and "fresh database" in again.stderr


def test_a_database_in_a_missing_folder_is_reported(tmp_path: Path):
    run = cli("--db", str(tmp_path / "no" / "such" / "x.db"), "limits")
    assert run.returncode == 5 and "does not exist" in run.stderr


def test_terms_lists_the_exclusion_codes_with_their_japanese_wording():
    data = json.loads(cli("terms", "--json").stdout)
    liability = next(c for c in data[0]["coverages"] if c["coverage"] == "it_liability")
    assert any(e["code"] == "unapproved_settlement" for e in liability["exclusions"])
    assert "特別な約定" in cli("terms").stdout


def test_the_db_option_may_follow_the_command_and_defaults_to_the_working_folder(tmp_path: Path):
    run = cli("apply", "-", "--db", str(tmp_path / "a.db"), stdin=jsonl(attach()))
    assert run.returncode == 0
    run = cli("apply", "-", stdin=jsonl(attach()), cwd=tmp_path)
    assert run.returncode == 0 and (tmp_path / "claims-ledger.db").exists()


def test_audit_filters_pages_by_cursor_and_exports_csv(db: str):
    cli("--db", db, "apply", "-", stdin=jsonl(
        attach(), file_data_media(), pay(), file_liability(), pay("L1")))
    everything = json.loads(cli("--db", db, "audit", "--format", "json").stdout)
    assert [r["position"] for r in everything] == list(range(1, len(everything) + 1))
    assert json.loads(cli("--db", db, "audit", "--json").stdout) == everything
    payouts = json.loads(cli("--db", db, "audit", "--type", "PayoutIssued",
                             "--format", "json").stdout)
    assert [(r["claim_id"], r["amount"], r["balance_before"], r["balance_after"])
            for r in payouts] == [("C1", 700_000, 1_000_000, 300_000),
                                  ("L1", 1_500_000, 5_000_000, 3_500_000)]
    first = json.loads(cli("--db", db, "audit", "--limit", "3", "--format", "json").stdout)
    rest = json.loads(cli("--db", db, "audit", "--after", str(first[-1]["position"]),
                          "--format", "json").stdout)
    assert first + rest == everything
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(cli("--db", db, "audit", "--claim", "L1",
                                               "--format", "csv").stdout)))
    assert {r["event_type"] for r in rows} >= {"ClaimFiled", "PayoutIssued"}
    assert all(json.loads(r["payload"])["actor"] == "test:cli" for r in rows)
    none = json.loads(cli("--db", db, "audit", "--from", "2100-12-31", "--format",
                          "json").stdout)
    assert none == []


def test_an_audit_row_whose_event_the_log_lost_shows_no_payload_and_says_so(db: str):
    cli("--db", db, "apply", "-", stdin=jsonl(attach(), file_data_media(), pay()))
    before = json.loads(cli("--db", db, "audit", "--json").stdout)
    gone = next(r["position"] for r in before if r["event_type"] == "ClaimFiled")
    tamper(db, f"DELETE FROM claims_ledger_events WHERE notification_id = {gone}"
           if db.startswith("postgresql") else f"DELETE FROM stored_events WHERE rowid = {gone}")
    after = json.loads(cli("--db", db, "audit", "--json").stdout)
    assert [r["payload"] is None for r in after] == [r["position"] == gone for r in before]
    assert "no longer holds this event" in cli("--db", db, "audit").stdout


def test_an_audit_row_whose_event_was_rewritten_shows_it_as_stored_without_figures(db: str):
    cli("--db", db, "apply", "-", stdin=jsonl(attach(), file_data_media(), pay()))
    before = json.loads(cli("--db", db, "audit", "--json").stdout)
    paid = next(r for r in before if r["event_type"] == "PayoutIssued")
    assert paid["amount"] == 700_000 and paid["command_id"]
    rewritten = "'{\"forged\": true}'"
    tamper(db, f"UPDATE claims_ledger_events SET state = {rewritten}::bytea "
               f"WHERE notification_id = {paid['position']}" if db.startswith("postgresql")
           else f"UPDATE stored_events SET state = {rewritten} WHERE rowid = {paid['position']}")
    run = cli("--db", db, "audit", "--json")
    assert run.returncode == 0, run.stderr
    after = {r["position"]: r for r in json.loads(run.stdout)}
    shown = after[paid["position"]]
    assert shown["payload"] == {"forged": True}
    assert (shown["amount"], shown["command_id"], shown["business_dates"]) == (None, None, {})
    assert shown["claim_id"] == paid["claim_id"]  # the row itself, as the read model holds it


def test_verify_passes_then_fails_on_a_tampered_read_model(db: str):
    cli("--db", db, "apply", "-", stdin=jsonl(attach(), file_data_media(), pay()))
    assert cli("--db", db, "verify").returncode == 0
    tamper(db, "UPDATE rm_claims_g1 SET paid = 1")
    run = cli("--db", db, "verify", "--json")
    assert run.returncode == 1
    assert json.loads(run.stdout)["differences"] == [
        "claim C1: paid is 1 in the read model, 700000 by replay"]
    assert cli("--db", db, "rebuild", "claims").returncode == 0
    assert cli("--db", db, "verify").returncode == 0


def test_read_models_can_live_in_another_database(db: str, tmp_path: Path):
    read_db = str(tmp_path / "read.db")
    cli("--db", db, "--read-db", read_db, "apply", "-", stdin=jsonl(attach()))
    status = json.loads(cli("--db", db, "--read-db", read_db, "status", "--json").stdout)
    assert {s["lag"] for s in status} == {0}
    from sqlalchemy import inspect

    from projections.store import open_store

    store = open_store(db)
    assert not any(t.startswith("rm_") for t in inspect(store.reader).get_table_names())
    store.close()


def test_as_of_shows_the_ledger_as_it_stood(db: str):
    cli("--db", db, "apply", "-", stdin=jsonl(attach(), file_data_media()))
    before = json.loads(cli("--db", db, "claim", "C1", "--json").stdout)
    cli("--db", db, "apply", "-", stdin=jsonl(pay()))
    then = json.loads(cli("--db", db, "claim", "C1", "--json", "--as-of",
                          before["updated_at"]).stdout)
    now = json.loads(cli("--db", db, "claim", "C1", "--json").stdout)
    assert (then["paid"], now["paid"]) == (0, 700_000)
    early = cli("--db", db, "claim", "C1", "--as-of", "2000-01-01")
    assert early.returncode == 3


def test_rebuild_of_an_unknown_read_model_is_a_usage_error(db: str):
    cli("--db", db, "apply", "-", stdin=jsonl(attach()))  # a log to rebuild from
    run = cli("--db", db, "rebuild", "everything")
    assert run.returncode == 2 and "limits, claims, audit_trail" in run.stderr


def test_tokens_are_made_once_per_name_and_a_bad_token_file_stops_the_server(tmp_path: Path):
    tokens = str(tmp_path / "tokens.json")
    made = cli("token", "svc-a", "--role", "appender", "--tokens-file", tokens)
    assert made.returncode == 0 and len(made.stdout.strip()) > 30
    stored = json.loads(Path(tokens).read_text())
    assert stored[0]["name"] == "svc-a" and made.stdout.strip() not in Path(tokens).read_text()
    again = cli("token", "svc-a", "--role", "auditor", "--tokens-file", tokens)
    assert again.returncode == 2 and "already has a token named svc-a" in again.stderr
    Path(tokens).write_text('[{"name": "x", "role": "king", "sha256": "00"}]')
    serve = cli("--db", str(tmp_path / "l.db"), "serve", "--port", "1", "--tokens-file", tokens)
    assert serve.returncode == 2 and "needs a name, a role" in serve.stderr


def test_an_actor_or_token_name_with_control_characters_is_refused(db: str, tmp_path: Path):
    tokens = tmp_path / "tokens.json"
    made = cli("token", "svc\x1b[2J", "--role", "appender", "--tokens-file", str(tokens))
    assert made.returncode == 2 and "name: an actor name must be printable" in made.stderr
    assert not tokens.exists()
    run = cli("--db", db, "--actor", "clerk\x07", "apply", "-", stdin=jsonl(attach()))
    assert run.returncode != 0
    assert "actor: an actor name must be printable" in run.stderr + run.stdout
    ledger = open_ledger(db)
    assert not ledger.recorder.max_notification_id()  # nothing appended
    ledger.close()


def test_a_token_never_looks_like_a_command_line_option(tmp_path: Path):
    from adapters.service.token_file import new_token

    tokens = [new_token(f"svc-{n}", "auditor", str(tmp_path / "t.json")) for n in range(200)]
    assert all(t.startswith("clt_") and len(t) > 40 for t in tokens)
    assert len(set(tokens)) == 200
