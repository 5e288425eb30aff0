"""`python -m tests.bench --http-processes`: HTTP on PostgreSQL with 1 and N
server processes, on a tiny size (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.databases import PG_URL, require_postgres


@pytest.mark.postgres
@pytest.mark.many_connections
def test_http_with_one_and_two_server_processes_is_measured_with_the_ratio(tmp_path: Path):
    require_postgres()
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, "-m", "tests.bench", "--events", "400", "--runs", "2",
                          "--http-commands", "40", "--http-processes", "1,2",
                          "--postgres", PG_URL, "--out", str(out)],
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    result = json.loads(out.read_text())
    names = [f"PostgreSQL: HTTP, 32 clients, {n} server processes" for n in (1, 2)]
    assert list(result["medians"]) == names
    for name in names:
        assert result["runs"][name]["commands"] == [40, 40]
        assert result["medians"][name]["server_cpu_s_per_1000"] >= 0
    assert result["ratios"][names[0]] == 1
    assert result["ratios"][names[1]] == (result["medians"][names[1]]["commands_per_s"]
                                          / result["medians"][names[0]]["commands_per_s"])
    assert names[1] in run.stdout


@pytest.mark.parametrize(("args", "problem"), [
    (["--http-processes", "1,2"], "--http-processes: needs --postgres URL"),
    (["--http-processes", "1,0"], "argument --http-processes: must be numbers of processes"),
    (["--http-processes", "2,2"], "argument --http-processes: must be numbers of processes"),
])
def test_http_processes_without_postgres_or_with_bad_counts_is_refused(
        tmp_path: Path, args: list[str], problem: str):
    run = subprocess.run([sys.executable, "-m", "tests.bench", *args, "--out",
                          str(tmp_path / "bench.json")],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 2
    assert problem in run.stderr
    assert "run 1/" not in run.stderr
