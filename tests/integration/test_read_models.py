"""Read models: incremental = rebuilt, exactly once, switched whole, checked by verify."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from adapters.storage import persistence_env
from domain.ledger import Ledger
from projections.read_models import PROJECTIONS, ReadModels
from projections.store import open_store
from projections.verify import verify
from tests.builders import (
    FakeClock,
    attach,
    file_data_media,
    file_liability,
    pay,
)
from tests.harness import make_ledger, run_all
from tests.strategies import commands
from tests.support.databases import fresh_db
from tests.support.read_models import SCENARIO, tables
from tests.workload import commands as workload


def tamper(models: ReadModels, *statements: str) -> None:
    with models.store.writer.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def test_read_models_follow_the_log_and_match_a_replay(ledger: Ledger, db_url: str):
    models = ReadModels(ledger, open_store(db_url))
    run_all(ledger, SCENARIO, after_each=models.catch_up)
    assert verify(models) == []
    rows = {(r["policy_year"], r["coverage"]): r for r in models.limits("P1")}
    data = rows[(1, "data_media")]
    assert (data["paid"], data["reversed"], data["remaining"], data["claims_open"]) == (
        800_000, 100_000, 200_000, 0)  # C1 closed, C2 denied
    assert (rows[(1, "it_liability")]["paid"], rows[(1, "it_liability")]["claims_open"]) == (
        1_500_000, 1)  # L1 open, L2 denied under prior_cause
    assert rows[(2, "data_media")]["paid"] == 700_000
    claim = models.claim("C1")
    assert claim is not None
    assert (claim["status"], claim["paid"], claim["payable"]) == ("closed", 800_000, 800_000)
    assert [(p["payout_id"], p["amount"], p["reversed"]) for p in claim["payouts"]] == [
        ("payout-1", 100_000, True), ("payout-2", 600_000, False),
        ("payout-3", 200_000, False)]


def test_each_read_sees_the_last_catch_up_though_readers_keep_their_connections(
        ledger: Ledger, db_url: str):
    models = ReadModels(ledger, open_store(db_url))
    seen = []

    def catch_up_and_read() -> None:
        models.catch_up()
        seen.append(json.dumps([models.limits("P1"), models.claim("C1")], default=str))

    run_all(ledger, SCENARIO, after_each=catch_up_and_read)
    opened_last = ReadModels(ledger, open_store(db_url))
    assert seen[-1] == json.dumps([opened_last.limits("P1"), opened_last.claim("C1")],
                                  default=str)
    assert len(set(seen)) > 5  # the answers changed as the log grew


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.lists(commands(kinds=("file",)), min_size=3, max_size=8),
       st.lists(commands(), min_size=5, max_size=30),
       st.integers(min_value=1, max_value=7))
def test_incremental_projection_and_a_full_rebuild_give_identical_tables(
    backend: str, tmp_path_factory: pytest.TempPathFactory, filings: list[dict[str, Any]],
    sequence: list[dict[str, Any]], page_size: int,
) -> None:
    folder = tmp_path_factory.mktemp("rm")
    with fresh_db(backend, folder) as log_db, fresh_db(backend, folder) as other_db:
        ledger = make_ledger(persistence_env(log_db))
        incremental = ReadModels(ledger, open_store(log_db), page_size=page_size)
        run_all(ledger, [attach(), *filings, *sequence], after_each=incremental.catch_up)
        rebuilt = ReadModels(ledger, open_store(other_db), page_size=1000)
        rebuilt.rebuild()
        assert tables(incremental) == tables(rebuilt)
        assert verify(incremental) == []
        incremental.close()
        rebuilt.close()
        ledger.close()


def test_a_rebuild_by_helper_processes_gives_the_tables_of_the_incremental_path(
    backend: str, tmp_path: Path,
) -> None:
    with fresh_db(backend, tmp_path) as log_db, fresh_db(backend, tmp_path) as other_db:
        ledger = make_ledger(persistence_env(log_db))
        incremental = ReadModels(ledger, open_store(log_db), page_size=89, workers=1)
        commands = list(workload(3000, seed=11))
        for start in range(0, len(commands), 400):
            run_all(ledger, commands[start:start + 400])
            incremental.catch_up()
        helped = ReadModels(ledger, open_store(other_db), page_size=97, workers=2,
                            parallel_from=0)
        assert helped.rebuild() == ledger.recorder.max_notification_id()
        assert tables(incremental) == tables(helped)
        assert verify(helped) == []
        run_all(ledger, [file_data_media("LATE", policy_id="P0000001", incident="2025-06-01"),
                         pay("LATE")])
        helped.catch_up()  # and then on from where the helpers stopped
        assert tables(incremental) != tables(helped)
        incremental.catch_up()
        assert tables(incremental) == tables(helped)
        for models in (incremental, helped):
            models.close()
        ledger.close()


def test_two_projectors_racing_apply_every_event_once(ledger: Ledger, db_url: str):
    run_all(ledger, SCENARIO)
    store_path = db_url
    first = ReadModels(ledger, open_store(store_path), page_size=3)
    second = ReadModels(ledger, open_store(store_path), page_size=5)
    first.catch_up()
    run_all(ledger, [file_data_media(f"R{n}") for n in range(4)] + [pay("R0"), pay("R1")])
    pages = []

    def overtaken(done: int, total: int) -> None:
        pages.append(done)
        if len(pages) == 1:
            first.catch_up()  # the other projector races ahead to the head...
            run_all(ledger, [file_liability("R8"), file_liability("R9")])  # ...and the log grows

    second.catch_up(progress=overtaken)
    assert len(pages) > 1  # the second projector noticed, re-read and went on
    assert verify(first) == []
    assert {s.position for s in first.status()} == {ledger.recorder.max_notification_id()}


def test_readers_keep_the_old_tables_until_a_rebuild_is_complete(ledger: Ledger, db_url: str):
    run_all(ledger, SCENARIO)
    models = ReadModels(ledger, open_store(db_url), page_size=4)
    models.catch_up()
    before = models.limits("P1")
    seen = []

    def peek(done: int, total: int) -> None:
        seen.append(models.limits("P1"))

    models.rebuild(["limits"], progress=peek)
    assert len(seen) > 3 and all(rows == before for rows in seen)
    assert [s.active for s in models.status() if s.name == "limits"] == [2]


def test_a_read_model_built_for_an_older_schema_is_rebuilt(ledger: Ledger, db_url: str,
                                                           monkeypatch: pytest.MonkeyPatch):
    run_all(ledger, SCENARIO)
    models = ReadModels(ledger, open_store(db_url))
    models.catch_up()
    monkeypatch.setattr(PROJECTIONS["claims"], "schema_version", 99)
    models.catch_up()
    status = {s.name: s.active for s in models.status()}
    assert status == {"limits": 1, "claims": 2, "audit_trail": 1}
    assert verify(models) == []


def test_verify_reports_each_tampered_row(ledger: Ledger, db_url: str):
    models = ReadModels(ledger, open_store(db_url))
    run_all(ledger, SCENARIO)
    models.catch_up()
    tamper(models,
           "UPDATE rm_limits_g1 SET remaining = remaining + 1 "
           "WHERE policy_year = 1 AND coverage = 'it_liability'",
           "UPDATE rm_claim_payouts_g1 SET amount = 1 WHERE payout_id = 'payout-1'",
           "DELETE FROM rm_audit_g1 WHERE position = 7",
           "UPDATE rm_audit_g1 SET actor = 'mallory' WHERE position = 9")
    problems = verify(models)
    assert any(p.startswith("limits P1/1/it_liability: remaining") for p in problems)
    assert any(p.startswith("payout C1/payout-1: amount") for p in problems)
    assert "audit position 7: missing from the read model" in problems
    assert any(p.startswith("audit position 9: actor is 'mallory'") for p in problems)
    assert len(problems) >= 4


def test_as_of_answers_match_a_ledger_that_stopped_at_that_time(tmp_path: Path, db_url: str):
    clock = FakeClock()
    ledger = make_ledger(persistence_env(db_url), clock)
    times = []
    for command in SCENARIO:
        clock.advance(minutes=1)
        run_all(ledger, [command])
        times.append(clock.now)
    for cut in (2, 6, 9, len(SCENARIO)):
        replica = make_ledger(persistence_env(str(tmp_path / f"b{cut}.db")), FakeClock())
        replica_clock = FakeClock()
        replica._clock = replica_clock  # the same commands, at the same times
        for command, at in zip(SCENARIO[:cut], times, strict=False):
            replica_clock.now = at
            run_all(replica, [command])
        at = times[cut - 1]
        assert ledger.claim_as_of("C1", at) == replica.find_claim("C1")
        assert ledger.policy_years_as_of("P1", at) == [
            replica.get_policy_year("P1", y.year) for y in replica.get_policy("P1").years]


def cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "adapters.cli", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def building_progress(db: str) -> int:
    """How far a rebuild of the limits has got (0 if none is under way)."""
    store = open_store(db)
    try:
        with store.reader.connect() as conn:
            building = conn.execute(text(
                "SELECT building FROM projection_state WHERE name = 'limits'")).scalar()
            if building is None:
                return 0
            got = conn.execute(text(
                "SELECT max(notification_id) FROM projection_tracking "
                "WHERE application_name = :n"), {"n": f"limits:g{building}"}).scalar()
            return int(got or 0)
    except SQLAlchemyError:
        return 0
    finally:
        store.close()


CLAIMS = 400
"""Claims in the log a rebuild is killed in (enough pages for a kill to land in)."""


def test_a_rebuild_killed_part_way_resumes_and_ends_identical_to_a_clean_one(
    tmp_path: Path, db_url: str, backend: str,
):
    db = db_url
    ledger = make_ledger(persistence_env(db))
    run_all(ledger, [attach()])
    for n in range(CLAIMS):
        run_all(ledger, [file_data_media(f"C{n}", loss=150_000 + n), pay(f"C{n}")])
    ledger.close()
    rng = random.Random(os.environ.get("PYTEST_SEED", "7"))
    for _ in range(10):  # until a kill lands part-way through
        proc = cli("--db", db, "rebuild", "--page-size", "7")
        deadline = time.monotonic() + 60
        while building_progress(db) == 0 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.02))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if building_progress(db) > 0:
            break
    else:
        pytest.fail("the rebuild always finished before it could be killed")
    killed_at = building_progress(db)
    resumed = subprocess.run([sys.executable, "-m", "adapters.cli", "--db", db, "rebuild",
                              "--json"], capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["events"] < 4 * CLAIMS + 10 - killed_at + 1
    with fresh_db(backend, tmp_path) as clean_db:
        clean = subprocess.run([sys.executable, "-m", "adapters.cli", "--db", db, "--read-db",
                                clean_db, "rebuild"], capture_output=True, text=True, check=False)
        assert clean.returncode == 0, clean.stderr
        ledger = make_ledger(persistence_env(db))
        resumed_models = ReadModels(ledger, open_store(db))
        clean_models = ReadModels(ledger, open_store(clean_db))
        assert tables(resumed_models) == tables(clean_models)
        assert verify(resumed_models) == []
        clean_models.close()
        resumed_models.close()
        ledger.close()


@pytest.mark.postgres
def test_read_models_on_postgresql_match_sqlite(pg_schema: str, ledger: Ledger, tmp_path: Path):
    run_all(ledger, SCENARIO)
    on_pg = ReadModels(ledger, open_store(pg_schema), page_size=4)
    on_sqlite = ReadModels(ledger, open_store(str(tmp_path / "read.db")))
    on_pg.catch_up()
    on_sqlite.catch_up()
    assert tables(on_pg) == tables(on_sqlite)
    on_pg.rebuild()
    assert verify(on_pg) == []
    on_pg.close()
