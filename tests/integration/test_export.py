"""Export and independent replay: an auditor checks the ledger's figures from an
exported file, without the ledger's database or read models."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.cli import main
from adapters.service import reads as views
from adapters.storage import persistence_env
from domain.commands import parse_command
from domain.ledger import Ledger
from projections.read_models import ReadModels
from tests.builders import FakeClock, attach, file_data_media, pay
from tests.harness import make_ledger
from tests.support.databases import fresh_db
from tests.workload import commands


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(args), out), out.getvalue()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql",
                                                                 marks=pytest.mark.postgres)])
def generated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[dict[str, Any]]:
    """A generated ledger of thousands of events, its read models caught up, and
    its export."""
    folder = tmp_path_factory.mktemp("export")
    with fresh_db(request.param, folder) as db:
        workload = folder / "workload.jsonl"
        workload.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n"
                                    for c in commands(2500, seed=5)), encoding="utf-8")
        code, _ = run("--db", db, "apply", str(workload))
        assert code in (0, 1)  # 1: the workload's own refused commands
        out = folder / "ledger.export.jsonl"
        code, text = run("--db", db, "export", "--out", str(out), "--json")
        assert code == 0
        yield {"db": db, "export": str(out), "folder": folder, **json.loads(text)}


def _live(db: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    ledger = make_ledger(persistence_env(db))
    models = ReadModels.open(ledger, db)
    try:
        models.catch_up()
        limits = models.limits()
        claims = [models.claim(c) for c in sorted(_claim_ids(ledger))]
        return limits, [c for c in claims if c], models.head()
    finally:
        models.close()
        ledger.close()


def _claim_ids(ledger: Ledger) -> list[str]:
    return [ledger.decode(n).claim_id  # type: ignore[attr-defined]
            for n in ledger.notifications(("ClaimFiled",))]


LIMIT_KEYS = ("policy_id", "policy_year", "coverage", "period_start", "period_end",
              "terms_version", "per_incident_limit", "deductible", "annual_limit", "paid",
              "reversed", "remaining", "claims_open")
CLAIM_KEYS = ("claim_id", "policy_id", "policy_year", "coverage", "status", "loss_amount",
              "payable", "paid", "exclusion")


def test_a_replay_of_the_export_equals_the_live_read_models(generated: dict[str, Any]) -> None:
    code, text = run("replay", generated["export"], "--json")
    assert code == 0
    replayed = json.loads(text)
    limits, claims, head = _live(generated["db"])
    assert replayed["position"] == head == generated["position"]
    assert replayed["events"] == generated["events"] > 3000
    assert replayed["discrepancies"] == []
    key = ("policy_id", "policy_year", "coverage")
    assert sorted([r[k] for k in LIMIT_KEYS] for r in replayed["limits"]) == sorted(
        [r[k] for k in LIMIT_KEYS] for r in limits)
    assert len(replayed["limits"]) == len(limits) > 10
    assert [[c[k] for k in CLAIM_KEYS] for c in replayed["claim_details"]] == [
        [c[k] for k in CLAIM_KEYS] for c in claims]
    statuses = {c["status"] for c in claims}
    assert {"closed", "denied", "withdrawn"} <= statuses  # the workload's mix is all there
    assert replayed["claims"]["paid"] == sum(c["paid"] for c in claims)
    assert sorted(r[key[0]] for r in replayed["limits"]) == sorted(r[key[0]] for r in limits)


def test_the_text_report_shows_the_chain_head_limits_and_claims(
        generated: dict[str, Any]) -> None:
    code, text = run("replay", generated["export"])
    assert code == 0
    assert text.startswith(f"chain intact: {generated['events']:,} events up to position "
                           f"{generated['position']:,} (head {generated['hash']})")
    assert "annual limit" in text and "claims: " in text


def test_an_export_up_to_a_position_ends_there(generated: dict[str, Any]) -> None:
    out = generated["folder"] / "part.jsonl"
    code, text = run("--db", generated["db"], "export", "--out", str(out), "--to", "1000",
                     "--json")
    exported = json.loads(text)
    assert code == 0 and 990 <= exported["position"] <= 1000
    code, text = run("replay", str(out), "--json")
    replayed = json.loads(text)
    assert code == 0
    assert (replayed["position"], replayed["head"]) == (exported["position"], exported["hash"])
    assert replayed["events"] == exported["events"] < generated["events"]


def test_a_replay_checks_the_export_against_a_checkpoint_kept_outside(
        generated: dict[str, Any]) -> None:
    checkpoint = generated["folder"] / "checkpoint.json"
    assert run("--db", generated["db"], "seal", "checkpoint", "--out", str(checkpoint))[0] == 0
    assert run("replay", generated["export"], "--checkpoint", str(checkpoint))[0] == 0


# As of a recorded time -------------------------------------------------------------


def test_a_replay_as_of_a_time_equals_the_ledger_as_of_that_time(tmp_path: Path) -> None:
    clock = FakeClock()
    db = str(tmp_path / "ledger.db")
    ledger = make_ledger(persistence_env(db), clock)
    for command in (attach(), file_data_media("C1", loss=800_000), pay("C1"),
                    file_data_media("C2", loss=500_000), pay("C2")):
        clock.advance(days=1)
        ledger.execute(parse_command(command), actor="tester")
    then = clock.now - timedelta(days=1, hours=12)  # after C1's payout, before C2's filing
    expected = views.limits(lambda: ledger, None, "P1", then)
    ledger.close()
    out = tmp_path / "x.jsonl"
    assert run("--db", db, "export", "--out", str(out))[0] == 0
    code, text = run("replay", str(out), "--json", "--as-of", then.isoformat())
    assert code == 0
    replayed = {r["coverage"]: r for r in json.loads(text)["limits"]}
    for row in expected:
        assert replayed[row["coverage"]]["paid"] == row["paid"]
    assert replayed["data_media"]["paid"] == 700_000  # the second payout came later


# A tampered, corrupt or foreign file is refused, naming where ------------------------


@pytest.fixture
def small(tmp_path: Path) -> dict[str, Any]:
    db = str(tmp_path / "ledger.db")
    ledger = make_ledger(persistence_env(db))
    for command in (attach(), file_data_media("C1", loss=800_000), pay("C1")):
        ledger.execute(parse_command(command), actor="tester")
    ledger.close()
    out = tmp_path / "x.jsonl"
    assert run("--db", db, "export", "--out", str(out))[0] == 0
    return {"db": db, "export": out, "lines": out.read_text().splitlines(keepends=True)}


def _write(path: Path, lines: list[str]) -> str:
    path.write_text("".join(lines))
    return str(path)


def test_an_edited_payload_is_refused_with_its_position(
        small: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = list(small["lines"])
    lines[8] = lines[8].replace("700000", "900000")  # position 8: the payout
    code, out = run("replay", _write(tmp_path / "t.jsonl", lines))
    assert (code, out) == (1, "")
    err = capsys.readouterr().err
    assert "REFUSED" in err and "line 9" in err and "position 8 does not match its seal" in err


def test_a_removed_event_is_refused_at_the_next_position(
        small: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [line for n, line in enumerate(small["lines"]) if n != 3]
    assert run("replay", _write(tmp_path / "t.jsonl", lines))[0] == 1
    assert "position 4 does not match its seal" in capsys.readouterr().err


def test_a_truncated_file_is_refused(
        small: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("replay", _write(tmp_path / "t.jsonl", small["lines"][:-2]))[0] == 2
    assert "no final checkpoint: the file was truncated" in capsys.readouterr().err


def test_a_cut_line_is_refused_naming_the_line(
        small: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [*small["lines"][:4], small["lines"][4][:40]]
    assert run("replay", _write(tmp_path / "t.jsonl", lines))[0] == 2
    assert "line 5" in capsys.readouterr().err


@pytest.mark.parametrize("content,expected", [
    ("", "the file is empty"),
    ("not json\n", "line 1: not a claims-ledger export header: Invalid JSON"),
    ('{"format": "something-else", "version": 1}\n',
     "line 1: not a claims-ledger export header: format"),
])
def test_a_file_that_is_not_an_export_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str,
        expected: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    assert run("replay", str(path))[0] == 2
    assert expected in capsys.readouterr().err


def test_a_missing_file_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("replay", "/nonexistent/export.jsonl")[0] == 2
    assert "cannot read it" in capsys.readouterr().err


def test_a_checkpoint_of_another_ledger_is_refused(
        small: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = str(tmp_path / "other.db")
    ledger = make_ledger(persistence_env(other))
    ledger.execute(parse_command(attach()), actor="tester")
    ledger.close()
    checkpoint = tmp_path / "other.json"
    assert run("--db", other, "seal", "checkpoint", "--out", str(checkpoint))[0] == 0
    assert run("replay", str(small["export"]), "--checkpoint", str(checkpoint))[0] == 2
    assert "the checkpoint is of ledger" in capsys.readouterr().err


def test_an_export_into_a_missing_folder_writes_nothing(
        small: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "missing" / "x.jsonl"
    assert run("--db", small["db"], "export", "--out", str(target))[0] == 2
    assert "does not exist" in capsys.readouterr().err
    assert not target.parent.exists()


def test_an_export_with_a_bad_position_is_a_usage_error(
        small: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_:
        run("--db", small["db"], "export", "--out", str(tmp_path / "y.jsonl"), "--to", "0")
    assert exit_.value.code == 2
    assert not (tmp_path / "y.jsonl").exists()


def test_an_export_that_disagrees_with_the_checkpoint_kept_outside_is_refused(
        small: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    checkpoint = tmp_path / "kept.json"
    assert run("--db", small["db"], "seal", "checkpoint", "--out", str(checkpoint))[0] == 0
    kept = json.loads(checkpoint.read_text())
    kept["checkpoint"]["hash"] = "00" * 32  # the history the auditor saw was another one
    checkpoint.write_text(json.dumps(kept))
    assert run("replay", str(small["export"]), "--checkpoint", str(checkpoint))[0] == 1
    err = capsys.readouterr().err
    assert "REFUSED" in err and "does not match the checkpoint kept outside" in err
