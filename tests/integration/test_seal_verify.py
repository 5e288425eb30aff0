"""`claims-ledger seal verify` names the position where a log was tampered with.

Each tamper test changes the database directly, one way per test, the way
someone with write access to the database but not to the auditor's checkpoint
file would, and shows that `claims-ledger seal verify` names the position.
"""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from adapters.audit import seal
from adapters.cli import main
from adapters.storage import persistence_env
from adapters.storage.sealed_recorders import SealedSQLiteRecorder, sealed_log
from domain.commands import parse_command
from tests.builders import attach, file_data_media, pay
from tests.harness import make_ledger

# A sealed ledger on SQLite, tampered with directly -------------------------------


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(args), out)
    return code, out.getvalue()


@pytest.fixture
def sealed(tmp_path: Path) -> dict[str, Any]:
    """A ledger of 80 events, sealed by `seal` three times along the way (so the
    checkpoint file carries a trail), and a checkpoint file kept outside."""
    db = str(tmp_path / "ledger.db")
    ledger = make_ledger(persistence_env(db))
    commands = [attach(), *(c for i in range(1, 16) for c in (
        file_data_media(f"C{i}", loss=110_000 + 1_000 * i), pay(f"C{i}")))]
    marks = []
    for n, command in enumerate(commands, start=1):
        ledger.execute(parse_command(command), actor="tester")
        if n in (5, 13):
            marks.append(ledger.recorder.seal_tail()[1].position)  # type: ignore[attr-defined]
    ledger.close()
    checkpoint = tmp_path / "checkpoint.json"
    code, _ = run("--db", db, "seal", "checkpoint", "--out", str(checkpoint))
    assert code == 0
    kept = json.loads(checkpoint.read_text())
    assert [c["position"] for c in kept["trail"]] == marks
    return {"db": db, "checkpoint": str(checkpoint), "end": kept["checkpoint"]["position"],
            "marks": marks}


def verify(sealed: dict[str, Any], kept: bool = True) -> tuple[int, dict[str, Any]]:
    args = ["--db", sealed["db"], "seal", "verify", "--json"]
    if kept:
        args += ["--checkpoint", sealed["checkpoint"]]
    code, out = run(*args)
    return code, json.loads(out)


def sql(db: str, statement: str, params: tuple[Any, ...] = ()) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(statement, params)


def payload(db: str, position: int) -> bytes:
    with sqlite3.connect(db) as conn:
        return bytes(conn.execute("SELECT state FROM stored_events WHERE rowid = ?",
                                  (position,)).fetchone()[0])


def test_an_untouched_log_verifies_up_to_its_end(sealed: dict[str, Any]) -> None:
    code, report = verify(sealed)
    assert (code, report["ok"], report["intact_to"]) == (0, True, sealed["end"])
    assert report["events"] == sealed["end"] == 80


def test_editing_one_payload_byte_is_found_at_its_position(sealed: dict[str, Any]) -> None:
    edited = payload(sealed["db"], 20).replace(b"tester", b"tastar", 1)
    sql(sealed["db"], "UPDATE stored_events SET state = ? WHERE rowid = 20", (edited,))
    code, report = verify(sealed)
    assert code == 1
    assert (report["finding"]["kind"], report["finding"]["position"]) == ("edited", 20)
    assert report["intact_to"] == 19


def test_deleting_a_row_is_found_at_its_position(sealed: dict[str, Any]) -> None:
    sql(sealed["db"], "DELETE FROM stored_events WHERE rowid = 17")
    code, report = verify(sealed)
    assert code == 1
    assert (report["finding"]["kind"], report["finding"]["position"]) == ("deleted", 17)


def test_deleting_a_row_and_its_link_is_found_where_the_chain_breaks(
        sealed: dict[str, Any]) -> None:
    sql(sealed["db"], "DELETE FROM stored_events WHERE rowid = 17")
    sql(sealed["db"], "DELETE FROM stored_events_seal WHERE position = 17")
    code, report = verify(sealed)
    assert code == 1
    assert (report["finding"]["kind"], report["finding"]["position"]) == ("edited", 18)


def test_swapping_two_rows_payloads_is_found_at_the_first(sealed: dict[str, Any]) -> None:
    a, b = payload(sealed["db"], 12), payload(sealed["db"], 30)
    sql(sealed["db"], "UPDATE stored_events SET state = ? WHERE rowid = 12", (b,))
    sql(sealed["db"], "UPDATE stored_events SET state = ? WHERE rowid = 30", (a,))
    code, report = verify(sealed)
    assert code == 1
    assert (report["finding"]["kind"], report["finding"]["position"]) == ("edited", 12)


def test_reordering_two_rows_is_found_at_the_first(sealed: dict[str, Any]) -> None:
    with sqlite3.connect(sealed["db"]) as conn:
        rows = {n: conn.execute("SELECT originator_id, originator_version, topic, state FROM "
                                "stored_events WHERE rowid = ?", (n,)).fetchone()
                for n in (8, 9)}
        conn.execute("DELETE FROM stored_events WHERE rowid IN (8, 9)")
        for n, source in ((8, 9), (9, 8)):
            conn.execute("INSERT INTO stored_events (rowid, originator_id, originator_version,"
                         " topic, state) VALUES (?, ?, ?, ?, ?)", (n, *rows[source]))
    code, report = verify(sealed)
    assert code == 1
    assert (report["finding"]["kind"], report["finding"]["position"]) == ("edited", 8)


def test_inserting_a_forged_row_is_found_at_its_position(sealed: dict[str, Any]) -> None:
    forged = payload(sealed["db"], 80).replace(b'"C15"', b'"C99"')
    sql(sealed["db"], "INSERT INTO stored_events (originator_id, originator_version, topic, "
        "state) VALUES ('claim:C99', 2, 'PayoutIssued', ?)", (forged,))
    code, report = verify(sealed)
    assert code == 1
    assert (report["finding"]["kind"], report["finding"]["position"]) == ("inserted", 81)


def test_truncating_the_tail_is_found_by_the_checkpoint_kept_outside(
        sealed: dict[str, Any]) -> None:
    for table, column in (("stored_events", "rowid"), ("stored_events_seal", "position"),
                          ("stored_events_seal_checkpoints", "position")):
        sql(sealed["db"], f"DELETE FROM {table} WHERE {column} > 40")
    assert verify(sealed, kept=False)[0] == 0  # nothing inside the database shows it
    code, report = verify(sealed)
    assert code == 1
    assert (report["finding"]["kind"], report["finding"]["position"]) == ("truncated", 41)
    assert report["intact_to"] == 40


def _rewrite_seal_from(db: str, position: int) -> None:
    """What an attacker who knows the algorithm does after editing an event:
    recompute every link from there on, and the checkpoints too."""
    with sqlite3.connect(db) as conn:
        ledger_id = conn.execute("SELECT value FROM stored_events_seal_meta").fetchone()[0]
        prev = seal.genesis(ledger_id)
        rows = conn.execute("SELECT rowid, originator_id, originator_version, topic, state "
                            "FROM stored_events ORDER BY rowid").fetchall()
        for pos, aggregate_id, version, topic, state in rows:
            prev = seal.link(prev, pos, aggregate_id, version, topic, bytes(state))
            if pos >= position:
                conn.execute("UPDATE stored_events_seal SET hash = ? WHERE position = ?",
                             (prev, pos))
                conn.execute("UPDATE stored_events_seal_checkpoints SET hash = ? "
                             "WHERE position = ?", (prev, pos))


def test_rewriting_the_seal_to_match_a_forged_row_is_found_by_the_checkpoint_kept_outside(
        sealed: dict[str, Any]) -> None:
    forged_at = sealed["marks"][1] + 5  # after the last checkpoint the trail keeps
    edited = payload(sealed["db"], forged_at).replace(b"tester", b"forger", 1)
    sql(sealed["db"], "UPDATE stored_events SET state = ? WHERE rowid = ?",
        (edited, forged_at))
    _rewrite_seal_from(sealed["db"], forged_at)
    assert verify(sealed, kept=False)[0] == 0  # the database alone now agrees with itself
    code, report = verify(sealed)
    assert code == 1
    finding = report["finding"]
    assert finding["kind"] == "rewritten"
    # Located between the last checkpoint that still matches and the first that does not.
    before, after = sealed["marks"][1], sealed["end"]
    assert (finding["first_position"], finding["position"]) == (before + 1, after)
    assert finding["first_position"] <= forged_at <= finding["position"]
    assert report["intact_to"] == before


def test_the_text_report_names_the_position(sealed: dict[str, Any]) -> None:
    sql(sealed["db"], "DELETE FROM stored_events WHERE rowid = 17")
    code, out = run("--db", sealed["db"], "seal", "verify", "--checkpoint",
                    sealed["checkpoint"])
    assert code == 1
    assert "TAMPERED at position 17 (deleted)" in out
    assert "intact up to position 16" in out


# Bad input -----------------------------------------------------------------------


def test_a_checkpoint_of_another_ledger_is_refused_by_name(
        sealed: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = str(tmp_path / "other.db")
    ledger = make_ledger(persistence_env(other))
    ledger.execute(parse_command(attach()), actor="tester")
    ledger.close()
    code, out = run("--db", other, "seal", "verify", "--checkpoint", sealed["checkpoint"])
    assert (code, out) == (2, "")
    assert "the checkpoint is of ledger" in capsys.readouterr().err


@pytest.mark.parametrize("content,expected", [
    ("not json", "not a claims-ledger checkpoint file"),
    ('{"format": "something-else"}', "format"),
    ('{"format": "claims-ledger-seal-checkpoint", "ledger_id": "x"}', "checkpoint"),
])
def test_an_unreadable_checkpoint_file_is_refused(
        sealed: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        content: str, expected: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    code, out = run("--db", sealed["db"], "seal", "verify", "--checkpoint", str(bad))
    assert (code, out) == (2, "")
    assert expected in capsys.readouterr().err


def test_a_missing_checkpoint_file_is_refused(
        sealed: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run("--db", sealed["db"], "seal", "verify", "--checkpoint", "/nonexistent.json")
    assert code == 2
    assert "cannot read it" in capsys.readouterr().err


@pytest.mark.parametrize("args,expected", [
    (["seal", "checkpoint"], "needs --out FILE"),
    (["seal", "--out", "x.json"], "--out is for `seal checkpoint`"),
    (["seal", "--checkpoint", "x.json"], "--checkpoint is for `seal verify`"),
    (["seal", "checkpoint", "--out", "/no/such/folder/cp.json"], "does not exist"),
])
def test_seal_usage_errors_write_nothing(
        sealed: dict[str, Any], capsys: pytest.CaptureFixture[str], args: list[str],
        expected: str) -> None:
    before = _checkpoints(sealed["db"])
    code, _ = run("--db", sealed["db"], *args)
    assert code == 2
    assert expected in capsys.readouterr().err
    assert _checkpoints(sealed["db"]) == before


def _checkpoints(db: str) -> seal.CheckpointFile:
    ledger = make_ledger(persistence_env(db))
    try:
        recorder = ledger.recorder
        assert isinstance(recorder, SealedSQLiteRecorder)
        return seal.checkpoint_file(recorder)
    finally:
        ledger.close()


def test_sealing_an_empty_log_is_refused(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run("--db", str(tmp_path / "empty.db"), "seal")
    assert code == 2
    assert "the log is empty" in capsys.readouterr().err


def test_events_written_before_the_seal_existed_are_sealed_by_seal(
        sealed: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    sql(sealed["db"], "DELETE FROM stored_events_seal WHERE position > 40")
    sql(sealed["db"], "DELETE FROM stored_events_seal_checkpoints WHERE position > 40")
    assert verify(sealed, kept=False)[1]["finding"]["kind"] == "inserted"
    code, out = run("--db", sealed["db"], "seal", "--json")
    assert code == 0
    assert json.loads(out)["sealed_now"] == 40
    assert "sealed 40 event(s) that were not sealed at commit" in capsys.readouterr().err
    assert verify(sealed)[0] == 0


# PostgreSQL ----------------------------------------------------------------------


@pytest.mark.postgres
def test_an_edited_payload_on_postgresql_is_found_at_its_position(
        pg_schema: str, tmp_path: Path) -> None:
    import psycopg

    ledger = make_ledger(persistence_env(pg_schema))
    for command in (attach(), file_data_media("C1"), pay("C1"), file_data_media("C2")):
        ledger.execute(parse_command(command), actor="tester")
    ledger.close()
    checkpoint = str(tmp_path / "cp.json")
    assert run("--db", pg_schema, "seal", "checkpoint", "--out", checkpoint)[0] == 0
    schema = parse_qs(urlparse(pg_schema).query)["schema"][0]
    with psycopg.connect(pg_schema.split("?")[0], autocommit=True) as conn:
        conn.execute(f'UPDATE "{schema}".claims_ledger_events SET state = '
                     "convert_to(replace(convert_from(state, 'UTF8'), 'tester', 'tastar'), 'UTF8') "
                     "WHERE notification_id = 5")
    code, out = run("--db", pg_schema, "seal", "verify", "--json", "--checkpoint", checkpoint)
    assert code == 1
    finding = json.loads(out)["finding"]
    assert (finding["kind"], finding["position"]) == ("edited", 5)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql",
                                                              marks=pytest.mark.postgres)])
def test_a_log_from_before_the_seal_is_sealed_when_first_opened(
        backend: str, tmp_path: Path) -> None:
    from adapters.storage import open_ledger
    from tests.bench.auditors import unsealed_ledger
    from tests.support.databases import fresh_db

    with fresh_db(backend, tmp_path) as db:
        old = unsealed_ledger(db)
        for command in (attach(), file_data_media("C1"), pay("C1")):
            old.execute(parse_command(command), actor="tester")
        written = old.recorder.max_notification_id()
        old.close()
        ledger = open_ledger(db)
        ledger.execute(parse_command(file_data_media("C2")), actor="tester")
        report = seal.verify(sealed_log(ledger.recorder))
        ledger.close()
        assert written and report.ok, report.finding
        assert report.intact_to == report.events == written + 3  # filed, registered, reserved
