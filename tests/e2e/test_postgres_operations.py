"""PostgreSQL in production: many processes, a server restart, a read-only copy.

Real processes, not threads. These tests need the machine's PostgreSQL; the
restart test also needs `pg_ctlcluster` (as on the CI machine)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest

from adapters.audit import seal
from adapters.storage import open_ledger
from adapters.storage.sealed_recorders import sealed_log
from domain.commands import parse_command
from projections.read_models import ReadModels
from projections.store import open_store
from projections.verify import verify
from tests.builders import attach
from tests.support.databases import PG_URL

pytestmark = pytest.mark.postgres

POLICIES = 3


def enrol(db: str) -> None:
    ledger = open_ledger(db)
    for p in range(POLICIES):
        ledger.execute(parse_command(attach(f"P{p}", command_id=f"enrol-P{p}")), actor="setup")
    ledger.close()


def start_workers(db: str, workers: int, count: int, folder: Path,
                  until_done: bool = False) -> list[tuple[subprocess.Popen[str], Path]]:
    """Worker processes (`python -m tests.support.pg_workers`), each writing what it was
    told to a JSON file."""
    started = []
    for w in range(workers):
        out = folder / f"worker-{w}.json"
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.pg_workers", db, str(w), str(count),
             str(POLICIES), str(out), "1" if until_done else "0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        started.append((proc, out))
    return started


def results(started: list[tuple[subprocess.Popen[str], Path]]) -> list[dict[str, Any]]:
    found = []
    for proc, out in started:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"worker failed with {proc.returncode}: {err[-2000:]}"
        found.append(json.loads(out.read_text()))
    return found


def follower(db: str, folder: Path) -> subprocess.Popen[str]:
    """``project --follow`` with its output in ``folder/follow.log`` (a pipe nobody
    reads while the test runs would fill up and stop the job in a print)."""
    log = (folder / "follow.log").open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "--db", db, "project", "--follow",
         "--interval", "0.1"],
        stdout=log, stderr=subprocess.STDOUT, text=True)


def following(job: subprocess.Popen[str], folder: Path) -> None:
    """Wait until the projection job has opened the log and follows it (on a busy
    machine its start can take seconds)."""
    deadline = time.monotonic() + 60
    while "following the log" not in said(folder):
        if job.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the projection job did not start following: {said(folder)}")
        time.sleep(0.1)


def said(folder: Path) -> str:
    """What the projection job printed."""
    return (folder / "follow.log").read_text()


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)


def wait_caught_up(models: ReadModels, job: subprocess.Popen[str], folder: Path,
                   timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(s.lag == 0 and s.active for s in models.status()):
            return
        time.sleep(0.2)
    job.terminate()
    job.wait(timeout=30)
    pytest.fail(f"read models did not catch up: {models.status()}\n"
                f"the projection job (exit {job.returncode}) said:\n"
                f"{said(folder)[-3000:]}")


def check_the_log(db: str, found: list[dict[str, Any]]) -> None:
    """Limits held; every acknowledged command's events are in the log, once;
    nothing is in the log that no command was acknowledged for."""
    ledger = open_ledger(db)
    events = [ledger.decode(n) for n in ledger.notifications()]
    by_command = Counter(e.command_id for e in events)
    stored = {(e.originator_id, e.originator_version): e for e in events}
    acknowledged = {a["command_id"]: a for r in found for a in r["acknowledged"]}
    for command_id, ack in acknowledged.items():
        assert by_command[command_id] == len(ack["events"]) + 1  # + its CommandAccepted
        for aggregate_id, version, name in ack["events"]:
            event = stored[(aggregate_id, version)]
            assert (event.event_name, event.command_id) == (name, command_id)
    setup = {f"enrol-P{p}" for p in range(POLICIES)}
    assert set(by_command) == set(acknowledged) | setup
    for p in range(POLICIES):
        policy = ledger.get_policy(f"P{p}")
        for period in policy.years:
            for c in ledger.get_policy_year(f"P{p}", period.year).coverages:
                assert 0 <= c.drawn <= c.annual_limit
    paid = sum(a["amount"] or 0 for a in acknowledged.values())
    drawn = sum(int(c.drawn) for p in range(POLICIES)
                for y in ledger.get_policy(f"P{p}").years
                for c in ledger.get_policy_year(f"P{p}", y.year).coverages)
    assert paid == drawn
    sealed = seal.verify(sealed_log(ledger.recorder))  # one chain across all the writers
    assert sealed.ok and sealed.intact_to == ledger.recorder.max_notification_id(), sealed
    ledger.close()


def test_eight_processes_never_overdraw_and_every_acknowledged_command_is_logged_once(
    pg_schema: str, tmp_path: Path,
):
    enrol(pg_schema)
    job = follower(pg_schema, tmp_path)
    found = results(start_workers(pg_schema, 8, 30, tmp_path))
    acknowledged = sum(len(r["acknowledged"]) for r in found)
    assert acknowledged >= 8 * 30  # every filing at least; payouts past a limit are refused
    check_the_log(pg_schema, found)
    models = ReadModels(open_ledger(pg_schema), open_store(pg_schema))
    wait_caught_up(models, job, tmp_path)
    stop(job)
    assert verify(models) == []
    models.close()


def test_eight_processes_starting_at_once_create_the_schema_once(pg_schema: str,
                                                                 tmp_path: Path):
    found = results(start_workers(pg_schema, 8, 1, tmp_path))  # no policies: all refused
    assert all(r["outages"] == 0 for r in found)
    with psycopg.connect(PG_URL) as conn:
        schema = pg_schema.rsplit("schema=", 1)[1]
        tables = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,))}
    assert "claims_ledger_events" in tables


def cluster() -> tuple[str, str]:
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not versions or shutil.which("pg_ctlcluster") is None:
        pytest.skip("restarting the server needs pg_ctlcluster and /etc/postgresql")
    return versions[-1], "main"


def pg_ctl(action: str) -> None:
    version, name = cluster()
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, name, action,
                    *(["-m", "fast"] if action == "stop" else [])], check=True, timeout=120)


def wait_for_server(timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(PG_URL, connect_timeout=2):
                return
        except psycopg.OperationalError:
            time.sleep(0.3)
    pytest.fail("PostgreSQL did not come back")


@pytest.mark.restarts_postgres
def test_a_server_restart_loses_no_acknowledged_command_and_the_projection_resumes(
    pg_schema: str, tmp_path: Path,
):
    cluster()
    enrol(pg_schema)
    job = follower(pg_schema, tmp_path)
    following(job, tmp_path)  # the restart is to be ridden out by a running job
    # Enough commands that each worker is still at work after the restart on a
    # fast machine (one commit per command: ~300 commands/s each here).
    started = start_workers(pg_schema, 2, 4000, tmp_path, until_done=True)
    time.sleep(3.0)
    try:
        pg_ctl("stop")
        stopped_at = time.time()
        stopped = time.monotonic()
        down = subprocess.run(
            [sys.executable, "-m", "adapters.cli", "--db", pg_schema, "limits"],
            capture_output=True, text=True, timeout=120, check=False)
        time.sleep(max(0.0, 4.0 - (time.monotonic() - stopped)))  # past the library's retries
    finally:
        started_at = time.time()  # down until now: a later acknowledgement is after it
        pg_ctl("start")
        wait_for_server()
    assert down.returncode == 5, down.stderr
    assert "claims-ledger:" in down.stderr and "Traceback" not in down.stderr
    found = results(started)
    for r in found:  # each worker was at work before the stop and after the start
        times = [a["at"] for a in r["acknowledged"]]
        assert min(times) < stopped_at and max(times) > started_at
    assert not any(c.startswith("file-") for r in found for c in r["refused"])
    check_the_log(pg_schema, found)
    models = ReadModels(open_ledger(pg_schema), open_store(pg_schema))
    wait_caught_up(models, job, tmp_path)
    stop(job)  # it rode out the restart by itself and caught up
    assert verify(models) == []
    models.close()


def test_read_models_can_follow_a_read_only_copy_of_the_log(pg_schema: str, tmp_path: Path):
    """A streaming replica accepts no writes; a role whose transactions are all
    read-only stands in for one here."""
    enrol(pg_schema)
    schema = pg_schema.rsplit("schema=", 1)[1]
    role = f"ro_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"')
        conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"')
        conn.execute(f'ALTER ROLE "{role}" SET default_transaction_read_only = on')
    replica = pg_schema.replace("postgresql://postgres@", f"postgresql://{role}@")
    read_db = str(tmp_path / "read.db")
    try:
        refused = subprocess.run(
            [sys.executable, "-m", "adapters.cli", "--db", replica, "--log-replica",
             "apply", "-"], input="", capture_output=True, text=True, check=False)
        assert refused.returncode == 2
        run = subprocess.run(
            [sys.executable, "-m", "adapters.cli", "--db", replica, "--log-replica",
             "--read-db", read_db, "project"], capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stderr
        limits = subprocess.run(
            [sys.executable, "-m", "adapters.cli", "--db", replica, "--log-replica",
             "--read-db", read_db, "--read-replica", "limits", "--json"],
            capture_output=True, text=True, check=False)
        assert limits.returncode == 0, limits.stderr
        assert {r["policy_id"] for r in json.loads(limits.stdout)} == {"P0", "P1", "P2"}
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')
