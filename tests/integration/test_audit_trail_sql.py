"""The audit trail computed by SQLite or PostgreSQL from the log's JSON
(``insert_from_log``) holds exactly the rows that ``row`` computes in Python,
and a rebuild on SQLite files uses it without taking the log's write lock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.schema import CreateTable

from adapters.storage import persistence_env
from domain.commands import parse_command
from domain.events import event_class, event_names
from domain.ledger import Ledger
from domain.ledger.mapper import PydanticEventMapper
from projections import audit_trail
from projections import feed as pages
from projections.audit_trail import AuditTrailProjection
from projections.base import Fact, decoded, recorded_time
from projections.limits import LimitsProjection
from projections.read_models import ReadModels, Stalled, _same_database
from projections.store import open_store
from tests.builders import attach
from tests.harness import make_ledger, run_all
from tests.support.databases import fresh_db
from tests.support.stored_events import ClaimRenamedProbe, UpcastProbe
from tests.workload import commands as workload

_DATES = ("service_start", "service_end", "firewall_applied_on", "period_start",
          "period_end", "incident_date", "claim_made_on")


def audit_rows(models: ReadModels) -> list[dict[str, Any]]:
    position, tables = models.snapshot("audit_trail")
    assert position == models.head()
    return tables["rm_audit"]


@pytest.fixture
def log(tmp_path: Path) -> Ledger:
    ledger = make_ledger(persistence_env(str(tmp_path / "log.db")))
    run_all(ledger, list(workload(3000, seed=5)))
    return ledger


def test_sqlite_computes_a_workloads_audit_trail_as_python_does(log: Ledger, tmp_path: Path):
    # Read models in a file of their own (the log attached) and in the log's file.
    attached = ReadModels(log, open_store(str(tmp_path / "read.db")))
    same_file = ReadModels(log, open_store(str(tmp_path / "log.db")))
    in_python = ReadModels(log, open_store(str(tmp_path / "python.db")), sql_audit=False)
    for models in (attached, same_file, in_python):
        models.rebuild(["audit_trail"])
    expected = audit_rows(in_python)
    assert {r["event_type"] for r in expected} >= {
        "CommandAccepted", "PayoutIssued", "PayoutReversed", "AnnualLimitDrawn",
        "ExclusionApplied", "CoverageAttached", "PolicyEnrolled"}
    assert audit_rows(attached) == expected
    assert audit_rows(same_file) == expected


def test_a_rebuild_on_sqlite_files_computes_no_audit_row_in_python(
    log: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(self: Any, facts: list[Fact]) -> Any:
        raise AssertionError("the audit trail was computed in Python")

    monkeypatch.setattr(AuditTrailProjection, "changes", refuse)
    models = ReadModels(log, open_store(str(tmp_path / "read.db")), page_size=500, workers=1)
    assert models.rebuild() == models.head()
    assert len(audit_rows(models)) == models.head()
    with pytest.raises(Stalled, match="computed in Python"):  # (the error is reported)
        ReadModels(log, open_store(str(tmp_path / "other.db")), workers=1,
                   sql_audit=False).rebuild()


def test_a_rebuild_of_the_audit_trail_alone_decodes_no_event(
    log: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    decode = pages.decoded

    def refuse(rows: list[Any]) -> Any:
        if rows:
            raise AssertionError("events were decoded")
        return decode(rows)

    monkeypatch.setattr(pages, "decoded", refuse)
    models = ReadModels(log, open_store(str(tmp_path / "read.db")), page_size=700,
                        parallel_from=0)
    assert models.rebuild(["audit_trail"]) == models.head()
    assert [r["position"] for r in audit_rows(models)] == [
        n.id for n in log.recorder.select_notifications(1, 10**6)]


def test_the_log_takes_appends_while_a_rebuild_writes_its_pages(
    log: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    appended: list[int] = []
    write = LimitsProjection.write

    def write_then_append(self: Any, conn: Any, generation: int, changes: Any) -> None:
        write(self, conn, generation, changes)
        if not appended:  # inside the page's transaction, with the log attached
            with pytest.raises(OperationalError, match="readonly"):
                conn.exec_driver_sql('DELETE FROM ledger_log."stored_events"')
            log.execute(parse_command(attach("DURING")), actor="t")  # no lock wait
            appended.append(log.recorder.max_notification_id() or 0)

    monkeypatch.setattr(LimitsProjection, "write", write_then_append)
    head = log.recorder.max_notification_id() or 0
    models = ReadModels(log, open_store(str(tmp_path / "read.db")), page_size=500, workers=1)
    models.rebuild()
    assert appended and appended[0] > head
    models.catch_up()  # and the appended events follow
    assert audit_rows(models)[-1]["position"] == appended[0]


# The text a stored event holds: ids match the commands' identifier pattern and
# actors are printable (SQLite's text ends at a NUL, which neither can hold).
_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                max_size=8)
_INT = st.integers(min_value=-10**15, max_value=10**15)
_DATE = st.dates().map(str)
_WHEN = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1))
_TIMESTAMP = st.one_of(  # the ledger's two shapes, and others a log might hold
    _WHEN.map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
    _WHEN.map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
    _WHEN.map(lambda d: d.isoformat() + "+09:00"),
    _WHEN.map(lambda d: d.isoformat()),
)
_AGGREGATE = st.sampled_from(["claim:C1", "command:x:y", "policy:P1:year:2", "policy:P1",
                              "policy:claim:1"])


def _optional(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A dict with any subset of ``fields``, each value or null."""
    return st.fixed_dictionaries({}, optional={
        k: st.one_of(st.none(), v) for k, v in fields.items()})


@st.composite
def stored_events(draw: st.DrawFn) -> tuple[str, int, str, dict[str, Any]]:
    topic = draw(st.sampled_from([n for n in event_names()  # (upcasting: see below)
                                  if event_class(n).class_version == 1]))
    state = {"timestamp": draw(_TIMESTAMP), "actor": draw(_TEXT), "command_id": draw(_TEXT)}
    where = _optional(policy_id=_TEXT, policy_year=_INT, claim_id=_TEXT, coverage=_TEXT)
    state.update(draw(where))
    state.update(draw(_optional(amount=_INT, loss_amount=_INT,
                                **dict.fromkeys(_DATES, _DATE))))
    if draw(st.booleans()):
        state.update(remaining_before=draw(_INT), remaining_after=draw(_INT))
    if topic == "PayoutIssued":
        state["breakdown"] = {"annual_remaining_before": draw(_INT),
                              "annual_remaining_after": draw(_INT)}
    if topic == "CommandAccepted":
        state["command"] = draw(st.one_of(where, _TEXT))
    return draw(_AGGREGATE), draw(st.integers(1, 99)), topic, state


def by_python(events: list[tuple[str, int, str, dict[str, Any]]]) -> list[tuple[Any, ...]]:
    """The audit rows of ``events`` (stored at positions 1, 2, …) as a page
    computes them in Python."""
    expected = []
    for position, (aid, version, topic, state) in enumerate(events, start=1):
        upcast = PydanticEventMapper.upcast_state(topic, dict(state), aid, version)
        fact = Fact(position, topic, upcast, recorded_time(state["timestamp"]))
        expected.append(audit_trail.row(fact))
    return expected


def by_sql_and_by_python(events: list[tuple[str, int, str, dict[str, Any]]],
                         ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The audit rows of ``events`` (stored at positions 1, 2, …) computed by
    ``insert_from_log`` from a log table, and by ``row`` as a page would."""
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE log (originator_id TEXT, originator_version "
                             "INTEGER, topic TEXT, state BLOB)")
        conn.exec_driver_sql("INSERT INTO log VALUES (?, ?, ?, ?)", [
            (aid, version, topic, orjson.dumps(state)) for aid, version, topic, state in events])
        for table in AuditTrailProjection().tables(1):
            conn.execute(CreateTable(table))  # (without the indexes a build adds at its end)
        dbapi = conn.connection.dbapi_connection
        audit_trail.register_functions(dbapi)
        audit_trail.insert_from_log(conn, 1, "log", 0, len(events))
        by_sql = [tuple(r) for r in conn.exec_driver_sql(
            "SELECT * FROM rm_audit_g1 ORDER BY position")]
    return by_sql, by_python(events)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(stored_events(), min_size=1, max_size=30))
def test_sqlite_computes_the_row_of_an_event_of_any_shape_as_python_does(
    events: list[tuple[str, int, str, dict[str, Any]]],
) -> None:
    by_sql, expected = by_sql_and_by_python(events)
    assert by_sql == expected


def test_an_event_of_a_class_with_upcasters_gets_the_row_of_its_upcast_state():
    stamp = {"timestamp": "2026-01-01T00:00:00Z", "actor": "a", "command_id": "c"}
    events = [("claim:C1", 1, "ClaimClosed", {**stamp, "claim_id": "C1"}),
              ("probe:1", 1, ClaimRenamedProbe.event_name, {**stamp, "claim": "C2"}),  # version 1
              ("probe:1", 2, ClaimRenamedProbe.event_name, {**stamp, "claim_id": "C3",
                                                             "class_version": 2})]
    by_sql, expected = by_sql_and_by_python(events)
    assert by_sql == expected
    assert [r[7] for r in by_sql] == ["C1", "C2", "C3"]  # the claim, renamed by the upcaster


def test_what_a_page_shows_of_an_event_comes_from_its_upcast_state():
    stamp = {"timestamp": "2026-01-01T00:00:00Z", "actor": "a", "command_id": "c"}
    stored = [("probe:1", 1, UpcastProbe.event_name, orjson.dumps({**stamp, "yen": 5})),
              ("probe:1", 2, UpcastProbe.event_name, orjson.dumps(
                  {**stamp, "amount": 7, "currency": "JPY", "class_version": 3}))]
    facts = decoded((n, aid, v, topic, data) for n, (aid, v, topic, data) in enumerate(stored, 1))
    assert [audit_trail.details(f)["amount"] for f in facts] == [5, 7]  # renamed by the upcaster


# PostgreSQL: when the read models are in the log's database.

@pytest.fixture
def pg_log(tmp_path: Path) -> Iterator[tuple[Ledger, str]]:
    with fresh_db("postgresql", tmp_path) as url:
        ledger = make_ledger(persistence_env(url))
        run_all(ledger, list(workload(1500, seed=5)))
        yield ledger, url
        ledger.close()


@pytest.mark.postgres
def test_postgresql_computes_a_workloads_audit_trail_as_python_does_in_the_logs_database(
    pg_log: tuple[Ledger, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    log, url = pg_log
    with fresh_db("postgresql", tmp_path) as other:
        in_python = ReadModels(log, open_store(other), sql_audit=False)
        in_python.rebuild(["audit_trail"])
        expected = audit_rows(in_python)
        in_python.close()

    def refuse(self: Any, facts: list[Fact]) -> Any:
        raise AssertionError("the audit trail was computed in Python")

    monkeypatch.setattr(AuditTrailProjection, "changes", refuse)
    in_sql = ReadModels(log, open_store(url), page_size=400, workers=1)
    assert in_sql.rebuild() == in_sql.head()
    assert {r["event_type"] for r in expected} >= {
        "CommandAccepted", "PayoutIssued", "AnnualLimitDrawn", "CoverageAttached"}
    assert audit_rows(in_sql) == expected
    in_sql.close()


def by_sql_and_by_python_on_postgres(
    url: str, events: list[tuple[str, int, str, dict[str, Any]]],
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """``by_sql_and_by_python`` on PostgreSQL, in the schema of ``url``."""
    store = open_store(url)
    with store.writer.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS log, rm_audit_g1")
        conn.exec_driver_sql("CREATE TABLE log (notification_id BIGINT PRIMARY KEY, "
                             "originator_id TEXT, originator_version INTEGER, topic TEXT, "
                             "state BYTEA)")
        conn.exec_driver_sql("INSERT INTO log VALUES (%s, %s, %s, %s, %s)", [
            (n, aid, version, topic, orjson.dumps(state))
            for n, (aid, version, topic, state) in enumerate(events, start=1)])
        for table in AuditTrailProjection().tables(1):
            conn.execute(CreateTable(table))
        audit_trail.insert_from_log(conn, 1, "log", 0, len(events))
        by_sql = [tuple(r) for r in conn.exec_driver_sql(
            "SELECT * FROM rm_audit_g1 ORDER BY position")]
    store.close()
    return by_sql, by_python(events)


@pytest.mark.postgres
def test_postgresql_computes_the_row_of_an_event_of_any_shape_as_python_does(tmp_path: Path):
    with fresh_db("postgresql", tmp_path) as url:

        @settings(max_examples=40, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])
        @given(st.lists(stored_events(), min_size=1, max_size=30))
        def check(events: list[tuple[str, int, str, dict[str, Any]]]) -> None:
            by_sql, expected = by_sql_and_by_python_on_postgres(url, events)
            assert by_sql == expected

        check()


@pytest.mark.postgres
def test_postgresql_leaves_upcast_events_and_other_time_shapes_to_python(tmp_path: Path):
    stamp = {"actor": "a", "command_id": "c"}
    events = [
        ("claim:C1", 1, "ClaimFiled", {"timestamp": "2026-01-01T00:00:00Z", **stamp,
                                       "claim_id": "C1", "incident_date": "2025-12-31",
                                       "claim_made_on": None, "loss_amount": 800_000}),
        ("claim:C1", 2, "ClaimClosed", {"timestamp": "2026-01-01T09:00:00+09:00", **stamp}),
        ("probe:1", 1, ClaimRenamedProbe.event_name, {"timestamp": "2026-01-01T00:00:00Z",
                                                      **stamp, "claim": "C2"}),
        ("command:c", 1, "CommandAccepted", {"timestamp": "2026-01-01T00:00:00.000001Z",
                                             **stamp, "command": {"policy_id": "P1"}}),
    ]
    with fresh_db("postgresql", tmp_path) as url:
        by_sql, expected = by_sql_and_by_python_on_postgres(url, events)
    assert by_sql == expected
    assert [r[1] for r in by_sql] == ["2026-01-01T00:00:00.000000Z"] * 3 + [
        "2026-01-01T00:00:00.000001Z"]
    assert (by_sql[0][7], by_sql[2][7], by_sql[3][6]) == ("C1", "C2", "P1")


def test_postgresql_computes_the_audit_trail_only_in_the_logs_own_database():
    log = SimpleNamespace(pool=SimpleNamespace(kwargs={
        "host": "127.0.0.1", "port": "5432", "dbname": "ledger", "user": "u"}))
    assert _same_database(log, make_url("postgresql+psycopg://u@127.0.0.1/ledger?schema=rm"))
    assert not _same_database(log, make_url("postgresql+psycopg://reader@127.0.0.1/ledger"))
    assert not _same_database(log, make_url("postgresql+psycopg://u@127.0.0.1:5432/reads"))
    assert not _same_database(log, make_url("postgresql+psycopg://u@10.0.0.2:5432/ledger"))
    assert not _same_database(log, make_url("sqlite:///ledger"))
