"""``apply`` on worker processes: every line reported in file order with the
result one process would give, and lines that share a record keep their order."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from adapters.apply import Workers
from adapters.cli.output import Progress, render_json
from adapters.storage import open_ledger
from tests.builders import attach, file_data_media, pay
from tests.support.applying import apply_file as _apply
from tests.support.applying import command_line as _line
from tests.support.applying import comparable as _comparable
from tests.support.applying import policies_on as _policies_on
from tests.support.databases import fresh_db
from tests.workload import commands as workload


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql",
                                                             marks=pytest.mark.postgres)])
def test_workers_report_every_line_in_file_order_as_one_process_would(
    backend: str, tmp_path: Path,
):
    lines = [_line(c) for c in workload(3000, 11)]
    for at, bad in ((5, "not json"), (40, "[1, 2]"), (80, '{"command": "issue_payout"}'),
                    (120, _line(pay("P0000003-C1", amount=-5)))):
        lines.insert(at, bad)
    with fresh_db(backend, tmp_path) as one, fresh_db(backend, tmp_path) as two:
        alone = _apply(one, lines, workers=1)
        split = _apply(two, lines, workers=2)
    assert [r["line"] for r in split] == list(range(1, len(lines) + 1))
    assert [_comparable(r) for r in split] == [_comparable(r) for r in alone]
    assert sum(not r["ok"] for r in split) > 4  # the bad lines and the rules' refusals
    positions = [e["position"] for r in split if r["ok"] for e in r["events"]]
    assert len(set(positions)) == len(positions)


def test_a_policys_commands_are_stored_in_the_files_order(tmp_path: Path):
    lines = [_line(c) for c in workload(3000, 5)]
    db = str(tmp_path / "ledger.db")
    results = _apply(db, lines, workers=2)
    by_policy: dict[str, list[int]] = {}
    for r in results:
        if r["ok"] and r["events"]:
            policy = r["result"]["policy_id"]
            by_policy.setdefault(policy, []).append(r["events"][0]["position"])
    assert len(by_policy) > 10
    assert all(p == sorted(p) for p in by_policy.values())


def test_lines_on_two_workers_that_share_a_claim_or_a_command_id_keep_the_files_order(
    tmp_path: Path,
):
    (first, *busy), (second,) = _policies_on(0, 301), _policies_on(1, 1)
    lines = [_line(attach(first)), _line(attach(second))]
    # Worker 0 has much to do first, so worker 1 would get there first if
    # nothing made it wait.
    lines += [_line(attach(p)) for p in busy]
    lines += [
        _line(file_data_media("X", policy_id=first)),
        _line(file_data_media("X", policy_id=second)),  # X is taken: refused
        _line(file_data_media("Y", policy_id=first, command_id="k1")),
        _line(file_data_media("Z", policy_id=second, command_id="k1")),  # k1 is taken
    ]
    split = _apply(str(tmp_path / "split.db"), lines, workers=2)
    alone = _apply(str(tmp_path / "alone.db"), lines, workers=1)
    assert [_comparable(r) for r in split] == [_comparable(r) for r in alone]
    assert [r.get("error") for r in split[-4:]] == [
        None, "AlreadyExists", None, "IdempotencyConflict"]


def test_a_claim_filed_by_two_policies_in_one_file_goes_with_the_filing_that_stood(
    tmp_path: Path,
):
    (first, *busy), (second,) = _policies_on(0, 301), _policies_on(1, 1)
    lines = [
        _line(attach(first)), _line(attach(second)),
        _line(file_data_media("Z", policy_id=second)),
        _line(file_data_media("X", policy_id=first, cause="meteor")),  # no such cause
        _line(file_data_media("X", policy_id=second)),  # this filing stands
        _line(pay("X")),  # 700,000 of the second policy's 1,000,000
        *[_line(attach(p)) for p in busy],
        _line(pay("Z")),  # what is left: 300,000
    ]
    split = _apply(str(tmp_path / "split.db"), lines, workers=2)
    alone = _apply(str(tmp_path / "alone.db"), lines, workers=1)
    assert [_comparable(r) for r in split] == [_comparable(r) for r in alone]
    assert split[3]["ok"] is False
    assert (split[5]["result"]["amount"], split[-1]["result"]["amount"]) == (700_000, 300_000)


def test_workers_that_cannot_open_the_database_say_so(tmp_path: Path):
    from adapters.storage import StorageError

    with pytest.raises(StorageError, match="does not exist"):
        Workers(str(tmp_path / "missing" / "ledger.db"), "test", workers=2, batch=10,
                render=render_json)


def test_when_the_database_fails_part_way_every_line_after_is_reported_failed_or_not_at_all(
    tmp_path: Path,
):
    import sqlite3

    from adapters.apply import StoppedAt

    db = str(tmp_path / "ledger.db")
    lines = [_line(c) for c in workload(6000, 3)]
    ledger = open_ledger(db)
    out: list[dict[str, Any]] = []

    def write(text: str) -> None:
        out.append(json.loads(text))
        if len(out) == 1:  # the log's table goes away after the first report
            with sqlite3.connect(db, timeout=30) as conn:
                conn.execute("DROP TABLE stored_events")

    try:
        with (pytest.raises(StoppedAt) as stopped,
              Workers(db, "test", workers=2, batch=100, render=render_json) as pool):
            pool.apply(ledger, iter(lines), write, Progress("applying", io.StringIO()))
    finally:
        ledger.close()
    failed = [r["line"] for r in out if r.get("error") == "StorageUnavailable"]
    assert failed and stopped.value.line == min(failed)
    assert [r["line"] for r in out] == list(range(1, len(out) + 1))  # in file order
    assert len(out) < len(lines)  # nothing was sent after the failure was seen
    assert "was not applied" in str(stopped.value)


def test_commands_on_claims_filed_before_the_file_go_with_their_policy(tmp_path: Path):
    (owner,), busy = _policies_on(1, 1), _policies_on(0, 300)
    db = str(tmp_path / "ledger.db")
    _apply(db, [_line(attach(owner)), _line(file_data_media("A", policy_id=owner))],
           workers=1)
    # Were A's payout sent to worker 0, behind all its work, B's would be
    # decided first and take the 700,000.
    split = _apply(db, [_line(file_data_media("B", policy_id=owner)), _line(pay("A")),
                        *[_line(attach(p)) for p in busy], _line(pay("B"))], workers=2)
    assert (split[1]["result"]["amount"], split[-1]["result"]["amount"]) == (700_000, 300_000)


def test_the_cli_applies_with_workers_and_prints_what_one_process_prints(tmp_path: Path):
    from tests.support.cli import cli

    source = tmp_path / "commands.jsonl"
    source.write_text("\n".join([*(_line(c) for c in workload(1500, 2)), "not json",
                                 _line(pay("P0000001-C0", amount=-5))]) + "\n",
                      encoding="utf-8")
    split = cli("--db", str(tmp_path / "split.db"), "apply", str(source), "--workers", "2")
    alone = cli("--db", str(tmp_path / "alone.db"), "apply", str(source), "--workers", "1")
    assert (split.returncode, alone.returncode) == (1, 1), split.stderr
    assert split.stdout == alone.stdout
    assert "amount: must not be negative [non_negative]" in split.stdout.splitlines()[-1]
    refused = cli("--db", str(tmp_path / "split.db"), "apply", str(source), "--workers", "0")
    assert refused.returncode == 2 and "--workers" in refused.stderr


def test_apply_refuses_more_worker_processes_than_its_maximum_and_appends_nothing(
    tmp_path: Path,
):
    from adapters.apply import MAX_WORKERS
    from tests.support.cli import cli

    source = tmp_path / "commands.jsonl"
    source.write_text(_line(attach("Q1")) + "\n", encoding="utf-8")
    db = tmp_path / "ledger.db"
    refused = cli("--db", str(db), "apply", str(source), "--workers", str(MAX_WORKERS + 1))
    assert refused.returncode == 2
    assert (f"argument --workers: must be at most {MAX_WORKERS:,}, not '{MAX_WORKERS + 1}'"
            in refused.stderr)
    assert "Traceback" not in refused.stderr
    assert not db.exists()  # refused before the ledger was opened: nothing appended


@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_stops_apply_once_everything_it_committed_is_reported(
    workers: int, tmp_path: Path,
):
    import signal
    import sqlite3
    import subprocess
    import sys

    from tests.support.cli import ENV

    source = tmp_path / "commands.jsonl"
    source.write_text("\n".join(_line(c) for c in workload(60000, 8)) + "\n", encoding="utf-8")
    db = str(tmp_path / "ledger.db")
    run = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "--db", db, "apply", str(source), "--json",
         "--workers", str(workers), "--batch", "200"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    assert run.stdout is not None and run.stderr is not None
    first = run.stdout.readline()  # applying has begun
    run.send_signal(signal.SIGINT)
    rest = run.stdout.read()  # (not communicate(): readline kept what it read ahead)
    errors = run.stderr.read()
    assert run.wait(timeout=120) == 130, errors
    reported = [json.loads(line) for line in [first, *rest.splitlines()]]
    assert len(reported) < len(source.read_text().splitlines())  # it stopped early
    with sqlite3.connect(db) as conn:
        stored = {json.loads(state)["command_id"] for (state,) in conn.execute(
            "SELECT state FROM stored_events WHERE originator_id NOT LIKE 'command:%'")}
    assert stored == {r["command_id"] for r in reported if r["ok"] and r["events"]}


def test_a_worker_that_dies_is_an_error_not_a_quiet_stop(tmp_path: Path):
    db = str(tmp_path / "ledger.db")
    lines = [_line(c) for c in workload(3000, 9)]
    ledger = open_ledger(db)
    try:
        with Workers(db, "test", workers=2, batch=100, render=render_json) as pool:
            pool.pool.processes[0].kill()
            pool.pool.processes[0].join()
            with pytest.raises(RuntimeError, match="worker process ended"):
                pool.apply(ledger, iter(lines), lambda text: None,
                           Progress("applying", io.StringIO()))
    finally:
        ledger.close()


def test_a_worker_whose_router_has_gone_applies_no_share_it_had_not_begun(tmp_path: Path):
    """Shares a worker has received but not begun when the router closes its
    pipe (a second Ctrl-C) are dropped, not applied unreported."""
    import marshal
    import multiprocessing
    import sqlite3
    import time

    from adapters.apply.pool import _work

    db = str(tmp_path / "ledger.db")
    open_ledger(db).close()
    context = multiprocessing.get_context("spawn")
    mine, theirs = context.Pipe()
    worker = context.Process(target=_work, args=(theirs, db, "test", 500, render_json))
    worker.start()
    theirs.close()
    assert marshal.loads(mine.recv_bytes())[0] == "ready"
    begun = [(n, _line(attach(f"B{n}"))) for n in range(1, 4001)]  # takes a while to apply
    mine.send_bytes(marshal.dumps(begun))

    def enrolled() -> list[str]:
        with sqlite3.connect(db) as conn:
            return [json.loads(state)["policy_id"] for (state,) in conn.execute(
                "SELECT state FROM stored_events WHERE topic = 'PolicyEnrolled'")]

    deadline = time.monotonic() + 60
    while not enrolled():  # the first share's first commit: it has begun
        assert time.monotonic() < deadline, "the worker never began its first share"
        time.sleep(0.001)
    for share in ("X", "Y"):
        mine.send_bytes(marshal.dumps([(1, _line(attach(f"{share}{n}"))) for n in range(5)]))
    mine.close()  # the router has gone while the first share is being applied
    worker.join(timeout=120)
    assert worker.exitcode == 0
    assert sorted(enrolled()) == sorted(f"B{n}" for n in range(1, 4001))
