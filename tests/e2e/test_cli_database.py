"""Which database the CLI opens: a mistyped SQLite path is refused rather than
answered from a new, empty ledger, and a PostgreSQL password is never printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from adapters.storage import redact
from tests.builders import attach
from tests.support.cli import ENV, cli, jsonl

READS = [["limits"], ["limits", "--as-of", "2030-01-01"], ["claim", "C-1"], ["history", "P1"],
         ["audit"], ["explain", "C-1"], ["status"], ["verify"], ["seal", "verify"],
         ["export", "--out", "OUT"], ["project"], ["rebuild"]]


@pytest.mark.parametrize("command", READS, ids=lambda c: " ".join(c))
def test_a_command_that_does_not_append_refuses_a_missing_sqlite_file_and_creates_none(
        tmp_path: Path, command: list[str]) -> None:
    mistyped = tmp_path / "ledgr.db"
    args = [str(tmp_path / "out.jsonl") if a == "OUT" else a for a in command]
    run = cli("--db", str(mistyped), *args)
    assert run.returncode == 5, run.stdout + run.stderr
    assert f"{mistyped}: no such ledger database" in run.stderr
    assert not mistyped.exists()
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize("command", [["apply", "-"], ["demo"]])
def test_a_command_that_appends_creates_the_sqlite_file(tmp_path: Path,
                                                        command: list[str]) -> None:
    db = tmp_path / "new.db"
    run = cli("--db", str(db), *command, stdin=jsonl(attach()))
    assert run.returncode == 0, run.stderr
    assert db.exists()


def test_seal_records_a_checkpoint_in_a_new_file_but_refuses_an_empty_log(
        tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    run = cli("--db", str(db), "seal")
    assert run.returncode == 2
    assert "the log is empty" in run.stderr


# Passwords ----------------------------------------------------------------------

SECRET = "s3cret-Pw"
UNREACHABLE = f"postgresql://auditor:{SECRET}@127.0.0.1:1/claims"


def test_redact_masks_the_password_of_every_url_and_connection_string() -> None:
    text = (f"{UNREACHABLE} and postgres://u:p%40{SECRET}@h:5432/x?schema=s, "
            f"host=h password={SECRET} user=u, postgresql://u@h/x, sqlite:///a.db")
    assert redact(text) == (
        "postgresql://auditor:***@127.0.0.1:1/claims and postgres://u:***@h:5432/x?schema=s, "
        "host=h password=*** user=u, postgresql://u@h/x, sqlite:///a.db")


@pytest.mark.parametrize("args", [
    ["--db", UNREACHABLE, "limits"],
    ["--db", UNREACHABLE, "apply", "-"],
    ["--db", UNREACHABLE, "seal", "verify"],
    ["--db", UNREACHABLE, "export", "--out", "OUT"],
    ["--db", UNREACHABLE, "demo"],
    ["--db", UNREACHABLE, "serve", "--port", "1"],
    ["--db", UNREACHABLE.removesuffix("claims"), "status"],
    ["--db", "LOCAL", "--read-db", UNREACHABLE, "limits"],
    ["--db", "LOCAL", "--read-db", UNREACHABLE, "status"],
], ids=["limits", "apply", "seal verify", "export", "demo", "serve", "no database name",
        "read-db limits", "read-db status"])
def test_a_failing_command_never_prints_the_database_password(
        tmp_path: Path, args: list[str]) -> None:
    local = str(tmp_path / "l.db")
    assert cli("--db", local, "apply", "-", stdin=jsonl(attach())).returncode == 0
    args = [{"LOCAL": local, "OUT": str(tmp_path / "x.jsonl")}.get(a, a) for a in args]
    run = cli(*args, stdin="")
    assert run.returncode == 5, run.stderr
    assert "auditor:***@" in run.stderr
    assert SECRET not in run.stdout + run.stderr


@pytest.mark.postgres
def test_a_refused_login_never_prints_the_password(tmp_path: Path) -> None:
    from tests.support.databases import require_postgres

    require_postgres()
    run = cli("--db", f"postgresql://no_such_role:{SECRET}@127.0.0.1:5432/test", "limits")
    assert run.returncode == 5
    assert "no_such_role" in run.stderr
    assert SECRET not in run.stdout + run.stderr


def test_the_bench_never_prints_the_database_password(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "tests.bench", "--postgres", UNREACHABLE, "--out",
         str(tmp_path / "bench.json")],
        capture_output=True, text=True, env=ENV, timeout=60, check=False)
    assert run.returncode == 2
    assert "auditor:***@" in run.stderr
    assert SECRET not in run.stdout + run.stderr
