"""An auditor's read-only copy of a SQLite ledger: read, verified, sealed and
exported without writing anything, and without a traceback.

The tests run as root, for whom permission bits do not stop a write. So the
copy is made read-only three ways: as it is on read-only media, for a process
of another user (the CLI run as `nobody`, where this machine allows it); by
the explicit `--log-replica`; and by permission bits that `os.access` reports,
as it does for a user who is not root.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters import storage
from adapters.cli import main
from adapters.storage import open_ledger, persistence_env
from domain.commands import parse_command
from tests.builders import attach, file_data_media, pay
from tests.harness import make_ledger
from tests.support.cli import ENV, cli, jsonl

COMMANDS = [attach(), file_data_media("C1"), pay("C1"), file_data_media("C2", loss=400_000)]
NOBODY = 65534

READS = [["limits", "--json"], ["claim", "C1", "--json"], ["history", "P1", "--json"],
         ["audit", "--json"], ["explain", "C1"], ["limits", "--as-of", "2099-01-01"],
         ["status"], ["verify"], ["seal", "verify"]]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def folder() -> Iterator[Path]:
    """A folder any user may enter (pytest's own is root's alone); removed after."""
    path = Path(tempfile.mkdtemp(prefix="read-only-copy-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for p in [path, *path.rglob("*")]:
            p.chmod(0o777 if p.is_dir() else 0o666)
        shutil.rmtree(path)


def read_only_copy(source: Path, folder: Path) -> Path:
    """The ledger file alone, copied as an auditor receives it, in a folder of its
    own; the file 0444 and the folder 0555."""
    media = folder / "media"
    media.mkdir()
    copy = media / "ledger.db"
    shutil.copyfile(source, copy)
    copy.chmod(0o444)
    media.chmod(0o555)
    return copy


def ledger_with_read_models(folder: Path) -> Path:
    db = folder / "live.db"
    run = cli("--db", str(db), "apply", "-", stdin=jsonl(*COMMANDS))
    assert run.returncode == 0, run.stderr
    assert cli("--db", str(db), "seal").returncode == 0
    return db


def ledger_without_read_models(folder: Path) -> Path:
    db = folder / "log-only.db"
    ledger = make_ledger(persistence_env(str(db)))
    for command in COMMANDS:
        ledger.execute(parse_command(command), actor="tester")
    ledger.close()
    return db


def expected(db: Path, args: list[str]) -> str:
    run = cli("--db", str(db), *args)
    assert run.returncode == 0, run.stderr
    return run.stdout


def run_in_process(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(args), out), out.getvalue()


# As another user: the file and its folder really are read-only ------------------


AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


def as_nobody(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AS_NOBODY, sys.executable, "-m", "adapters.cli", *args],
                          input=stdin, capture_output=True, text=True, env=ENV, timeout=120,
                          check=False)


def nobody_can_run_the_cli() -> str | None:
    """Why the CLI cannot be run as another user here, or None."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return "not root, or no setpriv: cannot start a process as another user"
    probe = subprocess.run([*AS_NOBODY, sys.executable, "-c", "import adapters.cli"],
                           capture_output=True, text=True, timeout=60, check=False)
    if probe.returncode != 0:
        return f"nobody cannot run the project's interpreter: {probe.stderr[-200:]}"
    return None


@pytest.mark.parametrize("source", ["with read models", "log only"])
def test_another_user_reads_verifies_and_exports_a_copy_on_read_only_media(
        folder: Path, source: str) -> None:
    reason = nobody_can_run_the_cli()
    if reason is not None:
        pytest.skip(reason)
    live = (ledger_with_read_models(folder) if source == "with read models"
            else ledger_without_read_models(folder))
    copy = read_only_copy(live, folder)
    before = digest(copy)
    out = folder / "out"
    out.mkdir()
    out.chmod(0o777)
    for args in READS:
        run = as_nobody("--db", str(copy), *args)
        assert run.returncode == 0, (args, run.stderr)
        assert "Traceback" not in run.stderr
        if args[-1] == "--json":
            assert json.loads(run.stdout) == json.loads(expected(live, args)), args
    assert as_nobody("--db", str(copy), "--log-replica", "limits").returncode == 0
    export = as_nobody("--db", str(copy), "export", "--out", str(out / "copy.jsonl"))
    assert export.returncode == 0, export.stderr
    assert cli("replay", str(out / "copy.jsonl")).returncode == 0
    assert digest(copy) == before
    assert sorted(p.name for p in copy.parent.iterdir()) == ["ledger.db"]


def test_another_user_reads_the_copys_own_read_models_as_a_replica(folder: Path) -> None:
    reason = nobody_can_run_the_cli()
    if reason is not None:
        pytest.skip(reason)
    live = ledger_with_read_models(folder)
    copy = read_only_copy(live, folder)
    for args in (["limits", "--json"], ["audit", "--json"]):
        run = as_nobody("--db", str(copy), "--read-replica", *args)
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout) == json.loads(expected(live, args))
    run = as_nobody("--db", str(copy), "--read-replica", "verify")
    assert (run.returncode, run.stdout) == (0, "read models match a replay of the log\n")


def test_appending_to_a_copy_on_read_only_media_is_refused_without_a_traceback(
        folder: Path) -> None:
    reason = nobody_can_run_the_cli()
    if reason is not None:
        pytest.skip(reason)
    copy = read_only_copy(ledger_with_read_models(folder), folder)
    run = as_nobody("--db", str(copy), "apply", "-", stdin=jsonl(attach("P2")))
    assert run.returncode == 5
    assert "readonly database" in run.stderr and "Traceback" not in run.stderr


# As root: --log-replica, and the permission bits os.access reports ----------------


@pytest.mark.parametrize("source", ["with read models", "log only"])
def test_log_replica_reads_a_copy_without_writing_it(tmp_path: Path, source: str) -> None:
    live = (ledger_with_read_models(tmp_path) if source == "with read models"
            else ledger_without_read_models(tmp_path))
    copy = read_only_copy(live, tmp_path)
    before = digest(copy)
    for args in [*READS, ["export", "--out", str(tmp_path / "copy.jsonl")]]:
        code, out = run_in_process("--db", str(copy), "--log-replica", *args)
        assert code == 0, args
        if args[-1] == "--json":
            assert json.loads(out) == json.loads(expected(live, args)), args
    assert digest(copy) == before


def test_a_copy_that_the_user_may_not_write_is_opened_read_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    live = ledger_without_read_models(tmp_path)
    copy = read_only_copy(live, tmp_path)
    before = digest(copy)
    real_access = os.access

    def access(path: Any, mode: int, **kwargs: Any) -> bool:
        """What a user who is not root is told of the 0444 file and 0555 folder."""
        if mode & os.W_OK and Path(path).resolve() in (copy, copy.parent):
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(storage.os, "access", access)
    for args in READS:
        code, out = run_in_process("--db", str(copy), *args)
        assert code == 0, args
        if args[-1] == "--json":
            assert json.loads(out) == json.loads(expected(live, args)), args
    assert digest(copy) == before
    ledger = open_ledger(str(copy), read_only=True)
    try:
        assert ledger.recorder.datastore.pool.db_name.startswith("file:")  # type: ignore[attr-defined]
    finally:
        ledger.close()
