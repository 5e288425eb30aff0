"""The pages read models are fed from: the log's events read with the recorders'
own queries exactly as stored, found by aggregate and version, and decoded only
for the read models that read them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domain.ledger import Ledger
from domain.ledger.mapper import PydanticEventMapper
from projections import audit_trail
from projections import feed as pages
from projections.audit_trail import AuditQuery
from projections.base import Fact, recorded_time
from projections.log import facts, stored_events
from projections.read_models import PROJECTIONS, ReadModels
from projections.store import open_store
from tests.builders import (
    FakeClock,
    end_service,
)
from tests.harness import make_ledger, run_all
from tests.support.read_models import SCENARIO


def test_a_page_read_with_the_recorders_own_query_equals_the_librarys_notifications(
    ledger: Ledger,
) -> None:
    run_all(ledger, SCENARIO)
    mapper = ledger.mapper
    assert isinstance(mapper, PydanticEventMapper)
    expected = [Fact(n.id, n.topic, mapper.to_state(n),
                     recorded_time(mapper.to_state(n)["timestamp"]))
                for n in ledger.recorder.select_notifications(4, 9, stop=11)]
    assert facts(ledger, 3, 9, stop=11) == expected
    assert [f.position for f in expected] == list(range(4, 12))


@pytest.mark.parametrize("near", [1, 64])
def test_events_read_by_position_are_exactly_as_the_log_stores_them(
    ledger: Ledger, near: int, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("projections.log._NEAR", near)  # one range query, or several
    run_all(ledger, SCENARIO)
    mapper = ledger.mapper
    assert isinstance(mapper, PydanticEventMapper)
    stored = {n.id: mapper.stored_json(n) for n in ledger.notifications()}
    wanted = [2, 3, 4, 9, len(stored), 1, 3]  # scattered, unsorted, repeated
    found = stored_events(ledger, [*wanted, len(stored) + 100])  # and one not there
    assert found == {p: stored[p] for p in wanted}


@pytest.mark.parametrize("log", ["the backend's", "in memory"])
def test_an_events_position_is_found_by_its_aggregate_and_version(
    ledger: Ledger, clock: FakeClock, log: str,
) -> None:
    if log == "in memory":  # (read by scanning the log)
        ledger = make_ledger({}, clock)
    run_all(ledger, SCENARIO)
    stored = {(str(n.originator_id), n.originator_version): n.id for n in ledger.notifications()}
    keys = [*list(stored)[::3], ("claim:NONE", 1), (next(iter(stored))[0], 999)]
    assert ledger.positions(keys) == {k: stored[k] for k in keys if k in stored}
    assert len(stored) > 10 and set(stored.values()) == set(range(1, len(stored) + 1))


def test_an_audit_page_carries_each_event_as_the_log_stores_it_without_a_copy(
    ledger: Ledger, db_url: str,
) -> None:
    run_all(ledger, SCENARIO)
    models = ReadModels(ledger, open_store(db_url))
    models.catch_up()
    mapper = ledger.mapper
    assert isinstance(mapper, PydanticEventMapper)
    stored = {n.id: json.loads(mapper.stored_json(n)) for n in ledger.notifications()}
    rows = models.audit(AuditQuery(claim_id="C1"))
    assert rows and all(r["claim_id"] == "C1" for r in rows)
    assert [r["payload"] for r in rows] == [stored[r["position"]] for r in rows]
    _, tables = models.snapshot("audit_trail")
    assert "payload" not in tables["rm_audit"][0]  # the read model holds no copy
    models.close()


@pytest.mark.parametrize("field", ["policy_id", "claim_id", "actor", "event_type"])
def test_an_audit_page_by_a_filter_is_read_from_its_index_in_position_order(
    ledger: Ledger, tmp_path: Path, field: str,
) -> None:
    run_all(ledger, SCENARIO)
    models = ReadModels(ledger, open_store(str(tmp_path / "read.db")))
    models.rebuild(["audit_trail"])
    with models._reading("audit_trail") as (conn, generation):
        query = audit_trail.page_query(generation, AuditQuery(**{field: "x"}, after=5))
        sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
        plan = " ".join(r[3] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
    index = {"policy_id": "policy", "claim_id": "claim", "actor": "actor",
             "event_type": "type"}[field]
    # The cursor is a range of the index (position is SQLite's rowid), and the
    # page comes out in position order without sorting.
    assert f"USING INDEX ix_rm_audit_g{generation}_{index} ({field}=? AND rowid>?)" in plan
    assert "TEMP B-TREE" not in plan
    models.close()


def test_a_page_decodes_only_the_events_its_read_models_read(
    ledger: Ledger, db_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_all(ledger, [*SCENARIO, end_service()])  # the last events: no limit, no claim
    decoded: list[str] = []
    decode = pages.decoded
    monkeypatch.setattr(pages, "decoded", lambda rows: (
        decoded.extend(r[3] for r in rows), decode(rows))[1])
    limits = PROJECTIONS["limits"]
    head = ledger.recorder.max_notification_id()
    page = pages.read_page(ledger, {"limits": limits}, {"limits": 0}, 0, 10_000)
    assert page is not None and (page.last, page.count) == (head, head)
    everything = {n.topic for n in ledger.notifications()}
    assert limits.events is not None and set(decoded) == everything & limits.events
    assert set(decoded) != everything
    # Pages with nothing a read model reads still move its tracking on.
    models = ReadModels(ledger, open_store(db_url), page_size=1, workers=1)
    models.catch_up()
    assert {s.name: s.position for s in models.status()} == dict.fromkeys(PROJECTIONS, head)
    models.close()
