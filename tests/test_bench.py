"""`make bench` runs end to end on a tiny size (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from adapters.workload import commands
from domain.commands import parse_command


def test_the_workload_is_deterministic_and_every_command_is_valid():
    first = list(commands(2000, seed=3))
    assert first == list(commands(2000, seed=3))
    assert first != list(commands(2000, seed=4))
    kinds = {parse_command(c).command for c in first}
    assert kinds >= {"attach_coverage", "file_claim", "issue_payout", "close_claim"}


def test_the_benchmark_runs_on_a_tiny_ledger_and_writes_its_json(tmp_path: Path):
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, "-m", "adapters.bench", "--events", "600",
                          "--runs", "1", "--http-commands", "60", "--out", str(out)],
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr
    result = json.loads(out.read_text())
    assert result["workload"]["events"] > 0
    assert all(v["median"] > 0 for v in result["figures"].values())
    assert set(result["ratios"]) and "grouped apply" in run.stdout
    assert set(result["http"]) == {f"HTTP, {n} concurrent clients" for n in (1, 8, 32)}
