"""`make bench` runs end to end on a tiny size (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.workload import commands
from domain.commands import parse_command
from tests.conftest import PG_URL, require_postgres


def test_the_workload_is_deterministic_and_every_command_is_valid():
    first = list(commands(2000, seed=3))
    assert first == list(commands(2000, seed=3))
    assert first != list(commands(2000, seed=4))
    kinds = {parse_command(c).command for c in first}
    assert kinds >= {"attach_coverage", "file_claim", "issue_payout", "close_claim"}


def test_the_benchmark_runs_on_a_tiny_ledger_and_writes_its_json(tmp_path: Path):
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, "-m", "adapters.bench", "--events", "600",
                          "--runs", "1", "--http-commands", "60", "--workers", "2",
                          "--out", str(out)],
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr
    result = json.loads(out.read_text())
    assert result["workload"]["events"] > 0
    assert all(v["median"] > 0 for v in result["figures"].values())
    for name in ("seal verify (events/s)", "replay of the export, no database (events/s)",
                 "apply of the JSON Lines, 2 worker processes (commands/s)",
                 "ledger apply without the seal, 500 commands per commit (commands/s)"):
        assert result["figures"][name]["median"] > 0, name
    assert result["ratios"]["sealed apply / apply without the seal"] > 0
    assert result["ratios"]["apply with 2 workers / raw 1-row durable inserts"] > 0
    assert result["reads_ms"]["console: claim with explanation (ms)"]["median"] > 0
    assert set(result["ratios"]) and "grouped apply" in run.stdout
    assert set(result["http"]) == {f"HTTP, {n} concurrent clients" for n in (1, 8, 32)}


def test_an_existing_log_is_measured_on_its_own_rebuild_reads_and_pages(tmp_path: Path):
    log = tmp_path / "log.db"
    lines = "".join(json.dumps(c) + "\n" for c in commands(300, seed=5))
    applied = subprocess.run([sys.executable, "-m", "adapters.cli", "--db", str(log), "apply",
                              "-"], input=lines, capture_output=True, text=True, check=False)
    assert applied.returncode in (0, 1), applied.stderr  # 1: a few commands were refused
    out = tmp_path / "rebuild.json"
    run = subprocess.run([sys.executable, "-m", "adapters.bench", "--rebuild-log", str(log),
                          "--runs", "2", "--out", str(out)],
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr
    result = json.loads(out.read_text())
    assert result["workload"]["events"] > 300
    assert result["peak_rss_mb"] > 0
    assert set(result["figures"]) == {"raw SQLite scan + json.loads (rows/s)",
                                      "rebuild of all read models, whole process (events/s)"}
    assert "rebuild / raw scan" in run.stdout
    reads = result["reads_ms"]
    for name in ("limits_p99_ms", "claim_p99_ms", "console: claim with explanation (ms)",
                 "console: audit trail page (ms)"):
        assert reads[name]["median"] > 0, name
    assert "claim_p99_ms" in run.stdout


@pytest.mark.postgres
def test_the_benchmark_measures_the_ledger_and_its_reads_on_postgresql_too(tmp_path: Path):
    require_postgres()
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, "-m", "adapters.bench", "--events", "400",
                          "--runs", "1", "--http-commands", "0", "--workers", "2",
                          "--postgres", PG_URL, "--out", str(out)],
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr
    result = json.loads(out.read_text())
    for name in ("PostgreSQL: ledger apply, 500 commands per commit (commands/s)",
                 "PostgreSQL: apply of the JSON Lines, 2 worker processes (commands/s)",
                 "PostgreSQL: rebuild of all read models (events/s)"):
        assert result["figures"][name]["median"] > 0, name
    for name in ("PostgreSQL: limits_p99_ms", "PostgreSQL: claim_p99_ms"):
        assert result["reads_ms"][name]["median"] > 0, name
    assert "PostgreSQL: claim_p99_ms" in run.stdout


def test_a_log_that_is_missing_or_empty_is_refused_by_name(tmp_path: Path):
    missing = tmp_path / "missing.db"
    run = subprocess.run([sys.executable, "-m", "adapters.bench", "--rebuild-log", str(missing),
                          "--out", str(tmp_path / "out.json")],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 2
    assert f"--rebuild-log: {missing} is not a file" in run.stderr
    assert not missing.exists()
    empty = tmp_path / "empty.db"
    created = subprocess.run([sys.executable, "-m", "adapters.cli", "--db", str(empty), "status"],
                             capture_output=True, text=True, check=False)
    assert empty.exists(), created.stderr
    run = subprocess.run([sys.executable, "-m", "adapters.bench", "--rebuild-log", str(empty),
                          "--runs", "1", "--out", str(tmp_path / "out.json")],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 1
    assert f"error: {empty} holds no events" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "out.json").exists()


def test_a_log_with_one_policy_and_no_claim_is_measured_without_claim_reads(tmp_path: Path):
    log = tmp_path / "small.db"
    first = next(c for c in commands(50, seed=5) if c["command"] == "attach_coverage")
    applied = subprocess.run([sys.executable, "-m", "adapters.cli", "--db", str(log), "apply",
                              "-"], input=json.dumps(first) + "\n", capture_output=True,
                             text=True, check=False)
    assert applied.returncode == 0, applied.stderr
    out = tmp_path / "out.json"
    run = subprocess.run([sys.executable, "-m", "adapters.bench", "--rebuild-log", str(log),
                          "--runs", "1", "--out", str(out)],
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    reads = json.loads(out.read_text())["reads_ms"]
    assert reads["limits_p99_ms"]["median"] > 0
    assert reads["console: policy (ms)"]["median"] > 0
    assert "claim_p99_ms" not in reads
    assert "console: claim with explanation (ms)" not in reads
