"""What the command line imports to start, counted by module name in a real
process (its start is mostly imports; timings are too noisy to test): ``--help``
imports no ledger, storage library, read side or batch engine, and a read of
read models already caught up with the log imports no ledger and nothing that
catches up; read models behind the log are caught up first, as always."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import ENV

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import contextlib, io, json, sys
from adapters.cli import main
with contextlib.redirect_stdout(io.StringIO()) as shown:
    try:
        status = main(sys.argv[1:])
    except SystemExit as exc:
        status = exc.code
print(json.dumps({"status": status, "shown": shown.getvalue(), "modules": sorted(sys.modules)}))
"""
LEDGER = ("eventsourcing", "pydantic", "psycopg", "domain.ledger", "domain.events")
CATCH_UP = ("projections.read_models", "projections.feed", "projections.writer",
            "projections.log", "projections.tracking", "adapters.apply")


def _run(*args: str) -> tuple[int, str, list[str]]:
    """The exit status, standard output and modules imported of one run."""
    run = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                         env={**ENV, "PYTHONPATH": str(ROOT)}, cwd=ROOT, timeout=60,
                         check=False)
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout.splitlines()[-1])
    return found["status"], found["shown"], found["modules"]


def _among(modules: list[str], packages: tuple[str, ...]) -> list[str]:
    """The ``modules`` that are one of ``packages`` or inside one."""
    return [m for m in modules if any(m == p or m.startswith(f"{p}.") for p in packages)]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A ledger whose read models are caught up (``demo`` reads them at its end)."""
    db = str(tmp_path_factory.mktemp("startup") / "ledger.db")
    assert _run("--db", db, "demo")[0] == 0
    return db


def test_help_imports_no_ledger_read_side_storage_library_or_batch_engine():
    status, shown, modules = _run("--help")

    assert status == 0
    assert "limits" in shown and "authority" in shown
    assert _among(modules, (*LEDGER, "sqlalchemy", "projections", "adapters.apply",
                            "adapters.service", "adapters.cli.commands")) == []


@pytest.mark.parametrize("read", [["limits"], ["limits", "--policy", "P-DEMO-1"],
                                  ["claim", "C-DEMO-1", "--json"]])
def test_a_read_of_caught_up_read_models_imports_no_ledger_and_no_catch_up(
        demo: str, read: list[str]):
    status, shown, modules = _run("--db", demo, *read)

    assert status == 0
    assert "P-DEMO-1" in shown
    assert _among(modules, LEDGER + CATCH_UP) == []


def test_read_models_behind_the_log_are_caught_up_first(demo: str, tmp_path: Path):
    read_db = str(tmp_path / "read-models.db")  # none built yet: all behind the log

    status, shown, modules = _run("--db", demo, "--read-db", read_db, "claim", "C-DEMO-1")
    _, again, _ = _run("--db", demo, "claim", "C-DEMO-1")

    assert status == 0
    assert shown == again
    assert "projections.read_models" in modules


def test_a_refused_read_still_says_why_with_its_exit_status(demo: str):
    status, _, modules = _run("--db", demo, "limits", "--policy", "P-NONE")

    assert status == 3  # not found: the ledger is opened to tell an unknown policy
    assert "domain.ledger" in modules
