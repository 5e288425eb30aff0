"""`claims-ledger apply --dry-run` as a user runs it: every line decided as the
real run would decide it, reported as a dry run, and nothing appended."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.storage import open_ledger
from tests.builders import attach, file_data_media, pay
from tests.support.cli import cli, jsonl


@pytest.fixture
def db(db_url: str) -> str:
    return db_url


def head(db: str) -> int:
    ledger = open_ledger(db)
    try:
        return ledger.recorder.max_notification_id() or 0
    finally:
        ledger.close()


def seen(result: dict[str, Any]) -> Any:
    """A line's result but where its events were stored and the ids made up."""
    if not result["ok"]:
        return result["line"], result["error"], result["violations"]
    return (result["line"], result["command"], result["replayed"], result["result"],
            [(e["aggregate_id"], e["version"], e["event"]) for e in result["events"]])


@pytest.mark.parametrize("batch", ["1", "500"])
def test_a_dry_run_reports_what_the_real_run_that_follows_does_and_appends_nothing(
    db: str, tmp_path: Path, batch: str,
):
    cli("--db", db, "apply", "-", stdin=jsonl(attach()))
    source = tmp_path / "cmds.jsonl"
    source.write_text(jsonl(file_data_media("C1"), pay("C1", amount=500_000, command_id="p1"),
                            pay("C1"), pay("C9"), {"command": "bogus"}), encoding="utf-8")
    before, limits = head(db), cli("--db", db, "limits", "--json").stdout
    tried = cli("--db", db, "apply", str(source), "--dry-run", "--json", "--batch", batch)
    assert (head(db), cli("--db", db, "limits", "--json").stdout) == (before, limits)
    real = cli("--db", db, "apply", str(source), "--json", "--batch", batch)
    *lines, summary = [json.loads(line) for line in tried.stdout.splitlines()]
    assert tried.returncode == real.returncode == 1, tried.stderr
    assert [seen(r) for r in lines] == [seen(json.loads(x)) for x in real.stdout.splitlines()]
    assert [r["ok"] for r in lines] == [True, True, True, False, False]
    assert lines[2]["result"]["amount"] == 200_000  # after the 500,000 of line 2
    assert {r["dry_run"] for r in lines} == {True}
    assert summary == {"dry_run": True, "lines": 5, "applied": 3, "refused": 2, "appended": 0}
    assert "dry run: 3 line(s) would be applied, 2 refused; nothing was appended" in (
        tried.stderr)


def test_a_dry_run_of_lines_applied_before_answers_their_first_outcome_or_refusal(db: str):
    commands = jsonl(attach(), file_data_media("C1"), pay("C1", command_id="p1"))
    first = [json.loads(x) for x in cli("--db", db, "apply", "-", "--json",
                                       stdin=commands).stdout.splitlines()]
    before = head(db)
    tried = cli("--db", db, "apply", "-", "--dry-run", stdin=commands)
    assert head(db) == before
    assert tried.returncode == 1
    assert tried.stdout.splitlines()[0].startswith("dry run: line 1: refused  policy_id:")
    assert "dry run: line 3: ok       issue_payout:" in tried.stdout
    assert "[already applied: nothing appended]" in tried.stdout
    replayed = [json.loads(x) for x in cli("--db", db, "apply", "-", "--dry-run", "--json",
                                          stdin=commands).stdout.splitlines()][2]
    assert replayed["replayed"] and replayed["events"] == first[2]["events"]


def test_a_dry_run_on_worker_processes_is_a_usage_error(db: str, tmp_path: Path):
    source = tmp_path / "cmds.jsonl"
    source.write_text(jsonl(attach()), encoding="utf-8")
    run = cli("--db", db, "apply", str(source), "--dry-run", "--workers", "2")
    assert run.returncode == 2 and "--workers" in run.stderr, run.stderr
    assert head(db) == 0
    assert cli("--db", db, "apply", str(source), "--dry-run", "--workers", "1").returncode == 0
    assert head(db) == 0
