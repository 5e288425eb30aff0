"""`make bench` runs end to end on a tiny size (no timing is asserted)."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from adapters.storage import open_ledger
from tests.bench.load import load
from tests.bench.measures import BenchError
from tests.support.databases import PG_URL, require_postgres
from tests.workload import commands


def test_the_benchmark_runs_on_a_tiny_ledger_and_writes_its_json(tmp_path: Path):
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, "-m", "tests.bench", "--events", "600",
                          "--runs", "1", "--http-commands", "60", "--workers", "2",
                          "--shape-lines", "120", "--out", str(out)],
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
    assert result["figures"]["event feed, the whole log 1,000 a page (events/s)"]["median"] > 0
    feed_p50, feed_p99 = (result["reads_ms"][f"feed_commit_to_reader_{p}_ms"]["median"]
                          for p in ("p50", "p99"))
    assert 0 < feed_p50 <= feed_p99
    assert set(result["ratios"]) and "grouped apply" in run.stdout
    assert set(result["http"]) == {f"HTTP, {n} concurrent clients" for n in (1, 8, 32)}
    assert {v["commands"]["median"] for v in result["http"].values()} == {60}
    rate, over_raw, over_naive = result["targets"][:3]
    assert rate["measured"] == result["figures"][
        "apply of the JSON Lines, 2 worker processes (commands/s)"]["median"]
    assert rate["met"] == (rate["measured"] >= 20_000)
    assert over_raw["measured"] == result["ratios"][
        "apply with 2 workers / raw 1-row durable inserts"]
    assert over_naive["met"] == (over_naive["measured"] >= 10)
    assert f"target: {over_raw['target']}" in run.stdout
    _check_shapes(result, run.stdout)


def _check_shapes(result: dict, stdout: str) -> None:
    """The whole processes on the four shapes at 120 lines, their figures,
    ratios and verdicts."""
    shapes = result["shapes"]
    naive = result["figures"]["library naive get-mutate-save (commands/s)"]["median"]
    assert shapes["naive_commands_per_s"] == naive
    assert list(shapes["shapes"]) == ["a", "b", "c", "d"]
    for name, shape in shapes["shapes"].items():
        assert shape["lines"] == 120, name
        assert shape["refused_lines"] == (30 if name == "a" else 0), name
        assert shape["events"] > 120 and shape["catch_up_events_per_s"]["median"] > 0
        assert shape["catch_up_events_per_s"]["median"] == pytest.approx(
            shape["events"] / shape["catch_up_seconds"]["median"])
        rate = shape["apply_commands_per_s"]["median"]
        assert shape["over_naive"] == rate / naive
        assert rate == pytest.approx(120 / shape["apply_seconds"]["median"])
    assert shapes["no_cliff"] == (shapes["shapes"]["c"]["apply_commands_per_s"]["median"]
                                  / shapes["shapes"]["b"]["apply_commands_per_s"]["median"])
    assert shapes["rebuild_events_per_s"]["median"] > 0
    assert set(shapes["startup_s"]) == {"claims-ledger --help",
                                        "claims-ledger limits --policy ID",
                                        "claims-ledger claim ID"}
    targets = {t["target"]: t for t in result["targets"][3:]}
    assert len(targets) == 4 + 2 + 3
    over = targets["shape a: whole apply >= 10x the library's naive loop"]
    assert over["met"] == (shapes["shapes"]["a"]["over_naive"] >= 10)
    helped = targets["`claims-ledger --help` starts < 0.3 s"]
    assert helped["met"] == (shapes["startup_s"]["claims-ledger --help"]["median"] < 0.3)
    assert "whole processes: `claims-ledger apply --json FILE`" in stdout
    assert "2,000 commands, measured in this run" in stdout
    assert "target: no cliff: shape c / shape b >= 0.8x" in stdout


def test_the_shapes_options_are_checked_before_any_figure(tmp_path: Path):
    for args, message in ((["--shapes", "a,x"], "argument --shapes: must name shapes of "
                                                 "a, b, c, d (or none), not 'x'"),
                          (["--shape-lines", "5"], "--shape-lines 5: shape a: --refused"),
                          (["--shape-lines", "0"], "argument --shape-lines: must be a whole")):
        run = subprocess.run([sys.executable, "-m", "tests.bench", *args,
                              "--out", str(tmp_path / "out.json")],
                             capture_output=True, text=True, timeout=60, check=False)
        assert run.returncode == 2, args
        assert message in run.stderr, run.stderr
        assert "run 1/" not in run.stderr


def test_an_existing_log_is_measured_on_its_own_rebuild_reads_and_pages(tmp_path: Path):
    log = tmp_path / "log.db"
    lines = "".join(json.dumps(c) + "\n" for c in commands(300, seed=5))
    applied = subprocess.run([sys.executable, "-m", "adapters.cli", "--db", str(log), "apply",
                              "-"], input=lines, capture_output=True, text=True, check=False)
    assert applied.returncode in (0, 1), applied.stderr  # 1: a few commands were refused
    out = tmp_path / "rebuild.json"
    run = subprocess.run([sys.executable, "-m", "tests.bench", "--rebuild-log", str(log),
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
    assert [v["met"] for v in result["targets"]] == [None, None, None]
    assert "not measured: the log holds" in run.stdout


@pytest.mark.postgres
@pytest.mark.many_connections
def test_the_benchmark_measures_the_ledger_its_baselines_http_reads_and_shapes_on_postgresql(
        tmp_path: Path):
    require_postgres()
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, "-m", "tests.bench", "--events", "400",
                          "--runs", "1", "--http-commands", "40", "--workers", "2",
                          "--postgres", PG_URL, "--shapes", "a,b,c", "--shape-lines", "120",
                          "--out", str(out)],
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr
    result = json.loads(out.read_text())
    figures = {name: v["median"] for name, v in result["figures"].items()}
    for name in ("PostgreSQL: raw insert, 1 row per durable commit (rows/s)",
                 "PostgreSQL: raw insert, 1,000 rows per commit (rows/s)",
                 "PostgreSQL: raw scan + json.loads (rows/s)",
                 "PostgreSQL: library naive get-mutate-save (commands/s)",
                 "PostgreSQL: ledger apply, 500 commands per commit (commands/s)",
                 "PostgreSQL: apply of the JSON Lines, 2 worker processes (commands/s)",
                 "PostgreSQL: rebuild of all read models (events/s)"):
        assert figures[name] > 0, name
    ratios = result["ratios"]
    assert ratios["PostgreSQL: apply with 2 workers / raw 1-row durable inserts"] == (
        figures["PostgreSQL: apply of the JSON Lines, 2 worker processes (commands/s)"]
        / figures["PostgreSQL: raw insert, 1 row per durable commit (rows/s)"])
    assert ratios["PostgreSQL: apply with 2 workers / library naive loop"] == (
        figures["PostgreSQL: apply of the JSON Lines, 2 worker processes (commands/s)"]
        / figures["PostgreSQL: library naive get-mutate-save (commands/s)"])
    assert ratios["PostgreSQL: rebuild / raw scan + json.loads"] == (
        figures["PostgreSQL: rebuild of all read models (events/s)"]
        / figures["PostgreSQL: raw scan + json.loads (rows/s)"])
    for name in ("PostgreSQL: limits_p99_ms", "PostgreSQL: claim_p99_ms"):
        assert result["reads_ms"][name]["median"] > 0, name
    assert set(result["http"]) == {f"{backend}HTTP, {n} concurrent clients"
                                   for backend in ("", "PostgreSQL: ") for n in (1, 8, 32)}
    for figure in result["http"].values():
        assert figure["commands"]["median"] == 40
    assert "PostgreSQL: claim_p99_ms" in run.stdout
    assert "PostgreSQL: HTTP, 8 concurrent clients" in run.stdout
    _check_postgres_shapes(result, run.stdout)


def _check_postgres_shapes(result: dict, stdout: str) -> None:
    """Shapes a, b and c at 120 lines, each in a schema of its own on the server:
    the figures, the ratios over the naive loop there, the verdicts."""
    pg, sqlite = result["postgres_shapes"], result["shapes"]
    naive = result["figures"]["PostgreSQL: library naive get-mutate-save (commands/s)"]["median"]
    assert (pg["database"], pg["naive_commands_per_s"], pg["startup_s"]) == ("PostgreSQL",
                                                                           naive, {})
    rate = {n: s["apply_commands_per_s"]["median"] for n, s in pg["shapes"].items()}
    for name, shape in pg["shapes"].items():
        assert shape["events"] == sqlite["shapes"][name]["events"] > 120, name
        assert shape["over_naive"] == rate[name] / naive
    assert (list(rate), pg["no_cliff"]) == (["a", "b", "c"], rate["c"] / rate["b"])
    assert pg["catch_up_over_rebuild"] == (pg["shapes"]["c"]["catch_up_events_per_s"]["median"]
                                           / pg["rebuild_events_per_s"]["median"])
    judged = {**{f"shape {n}: whole apply >= 10x the library's naive loop": (s["over_naive"], 10)
                 for n, s in pg["shapes"].items()},
              "no cliff: shape c / shape b >= 0.8x": (pg["no_cliff"], 0.8),
              "catch-up per event at least as fast as rebuild (shape c)":
                  (pg["catch_up_over_rebuild"], 1)}
    assert [(t["target"], t["measured"], t["met"]) for t in result["targets"]
            if t["target"].startswith("PostgreSQL")] == [
        (f"PostgreSQL: {name}", value, value >= bound) for name, (value, bound) in judged.items()]
    for text in ("PostgreSQL: whole processes: `claims-ledger apply --json FILE`, a fresh "
                 "schema", "1,000 commands, measured in this run", "PostgreSQL: whole "
                 "`claims-ledger rebuild` of shape c's log", "target: PostgreSQL: no cliff"):
        assert text in stdout, text


def test_a_log_that_is_missing_or_empty_is_refused_by_name(tmp_path: Path):
    missing = tmp_path / "missing.db"
    run = subprocess.run([sys.executable, "-m", "tests.bench", "--rebuild-log", str(missing),
                          "--out", str(tmp_path / "out.json")],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 2
    assert f"--rebuild-log: {missing} is not a file" in run.stderr
    assert not missing.exists()
    empty = tmp_path / "empty.db"
    open_ledger(str(empty)).close()  # a ledger with no event
    assert empty.exists()
    run = subprocess.run([sys.executable, "-m", "tests.bench", "--rebuild-log", str(empty),
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
    run = subprocess.run([sys.executable, "-m", "tests.bench", "--rebuild-log", str(log),
                          "--runs", "1", "--out", str(out)],
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    reads = json.loads(out.read_text())["reads_ms"]
    assert reads["limits_p99_ms"]["median"] > 0
    assert reads["console: policy (ms)"]["median"] > 0
    assert "claim_p99_ms" not in reads
    assert "console: claim with explanation (ms)" not in reads


@pytest.mark.parametrize(("option", "value", "rule"), [
    *((option, value, "must be a whole number of at least") for option, value in (
        ("--events", "-5"), ("--events", "inf"), ("--events", "1.5"), ("--runs", "0"),
        ("--workers", "0"), ("--http-commands", "-3"))),
    ("--events", "2e7", "must be at most 10,000,000, not '2e7'"),
    ("--workers", "33", "must be at most 32, not '33'"),
])
def test_a_count_option_out_of_its_range_or_not_whole_is_refused_naming_it(
        tmp_path: Path, option: str, value: str, rule: str):
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, "-m", "tests.bench", option, value,
                          "--out", str(out)], capture_output=True, text=True, timeout=60,
                         check=False)
    assert run.returncode == 2
    assert f"argument {option}: {rule}" in run.stderr
    assert "Traceback" not in run.stderr
    assert not out.exists()


@pytest.mark.parametrize(("where", "problem"), [
    ("under-a-file", "is a file, not a folder"),
    ("a-folder", "is a folder; name a file"),
])
def test_an_output_the_bench_cannot_write_is_refused_before_any_figure(
    tmp_path: Path, where: str, problem: str,
):
    (tmp_path / "a-file").write_text("")
    (tmp_path / "a-folder").mkdir()
    out = tmp_path / "a-file" / "bench.json" if where == "under-a-file" else tmp_path / "a-folder"
    run = subprocess.run([sys.executable, "-m", "tests.bench", "--events", "50",
                          "--out", str(out)], capture_output=True, text=True, timeout=60,
                         check=False)
    assert run.returncode == 2
    expected = f"--out: {out if where == 'a-folder' else out.parent} {problem}"
    assert expected in run.stderr
    assert "Traceback" not in run.stderr
    assert "run 1/" not in run.stderr  # refused before measuring anything


@pytest.mark.parametrize(("url", "problem"), [
    ("notaurl", "notaurl is not a postgresql:// URL"),
    ("postgresql://postgres@127.0.0.1:5432",
     "postgresql://postgres@127.0.0.1:5432: name the database"),
    ("postgresql://postgres@127.0.0.1:1/test", "cannot connect to postgresql://postgres@127.0.0.1:1/test"),
])
def test_a_postgres_server_the_bench_cannot_use_is_refused_before_any_figure(
    tmp_path: Path, url: str, problem: str,
):
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, "-m", "tests.bench", "--postgres", url,
                          "--out", str(out)], capture_output=True, text=True, timeout=60,
                         check=False)
    assert run.returncode == 2
    assert f"--postgres: {problem}" in run.stderr
    assert "Traceback" not in run.stderr
    assert "run 1/" not in run.stderr  # refused before measuring anything
    assert not out.exists()


def test_the_workload_refuses_a_size_that_is_not_a_whole_number_of_events():
    run = subprocess.run([sys.executable, "-m", "tests.workload", "--events", "0"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert (run.returncode, run.stdout) == (2, "")
    assert "argument --events: must be a whole number of at least 1, not '0'" in run.stderr


class _FakeServer:
    """A loopback HTTP/1.1 server that answers every request with ``status`` and
    records each request's line, headers and body (for the load generator)."""

    def __init__(self, status: int) -> None:
        self.status, self.requests = status, []
        self.loop = asyncio.new_event_loop()
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:  # the client closed the connection
                return
            lines = head.decode().split("\r\n")
            headers = dict(line.split(": ", 1) for line in lines[1:-2])
            body = await reader.readexactly(int(headers["Content-Length"]))
            self.requests.append((lines[0], headers, json.loads(body)))
            answer = b'{"ok":true}'
            writer.write(b"HTTP/1.1 %d X\r\ncontent-type: application/json\r\n"
                         b"CONTENT-LENGTH: %d\r\n\r\n%s" % (self.status, len(answer), answer))
            await writer.drain()

    def close(self) -> None:
        async def stop() -> None:
            self.server.close()
            for task in asyncio.all_tasks() - {asyncio.current_task()}:
                task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)


def test_the_load_generator_sends_every_command_once_with_the_token(tmp_path: Path):
    sent = [json.dumps(c) for c in commands(400, seed=3)]
    path = tmp_path / "commands.jsonl"
    path.write_text("\n".join(sent) + "\n")
    server = _FakeServer(201)
    try:
        result = load(f"http://127.0.0.1:{server.port}", "clt_x", 8, str(path))
    finally:
        server.close()
    assert result["commands"] == len(sent) == len(server.requests)
    assert result["commands_per_s"] > 0 and 0 < result["p50_ms"] <= result["p99_ms"]
    assert sorted(json.dumps(body) for _, _, body in server.requests) == sorted(sent)
    assert {line for line, _, _ in server.requests} == {"POST /commands HTTP/1.1"}
    assert {h["Authorization"] for _, h, _ in server.requests} == {"Bearer clt_x"}


def test_the_load_generator_stops_on_a_server_error(tmp_path: Path):
    path = tmp_path / "commands.jsonl"
    path.write_text("\n".join(json.dumps(c) for c in commands(50, seed=3)) + "\n")
    server = _FakeServer(503)
    try:
        with pytest.raises(BenchError, match="the server failed"):
            load(f"http://127.0.0.1:{server.port}", "clt_x", 2, str(path))
    finally:
        server.close()


@pytest.mark.parametrize(("args", "message"), [
    (["http://127.0.0.1:9", "t", "2", "{missing}"], "cannot read"),
    (["http://127.0.0.1:9", "t", "0", "{commands}"], "--load CLIENTS must be a whole number"),
    (["127.0.0.1:9", "t", "2", "{commands}"], "expected http://HOST:PORT"),
    (["http://127.0.0.1:9", "t", "2", "{not_json}"], "line 2 is not JSON"),
    (["http://127.0.0.1:{closed}", "t", "2", "{commands}"], "cannot connect to"),
])
def test_the_load_generator_refuses_bad_input_by_name(tmp_path: Path, args: list[str],
                                                      message: str):
    commands_file = tmp_path / "commands.jsonl"
    commands_file.write_text("\n".join(json.dumps(c) for c in commands(30, seed=3)) + "\n")
    not_json = tmp_path / "not-json.jsonl"
    not_json.write_text('{"command": "close_claim", "claim_id": "P1-C1"}\n{oops\n')
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    filled = [a.format(missing=tmp_path / "missing.jsonl", commands=commands_file,
                       not_json=not_json, closed=closed) for a in args]
    run = subprocess.run([sys.executable, "-m", "tests.bench", "--load", *filled],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode in (1, 2)
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout == ""


def test_the_workload_stops_quietly_when_its_reader_does():
    run = subprocess.run(f"{sys.executable} -m tests.workload --events 1e5 | head -1",
                         shell=True, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0
    assert json.loads(run.stdout)["command"] == "attach_coverage"
    assert run.stderr == ""
