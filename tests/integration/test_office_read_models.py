"""The read models of reserves, holds and recoveries are disposable and checked:
built a page at a time, rebuilt in one go or by helper processes, they hold the
same rows, equal to a replay of the log; ``verify`` names a figure tampered
with or an event a projection missed; and a database built for the older
schema is rebuilt, never read with the new code."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from adapters.service import reads
from domain.commands import parse_command
from domain.ledger import Ledger
from projections.base import Fact
from projections.claims import ClaimsProjection
from projections.limits import LimitsProjection
from projections.read_models import NotBuilt, ReadModels
from projections.store import open_store
from projections.verify import verify
from tests.builders import (
    FakeClock,
    approve,
    assess,
    attach,
    close,
    file_data_media,
    file_liability,
    pay,
    recover,
    reject,
    request,
    reverse,
    set_reserve,
)
from tests.builders import authorize as authority
from tests.support.read_models import tables

FIGURES = ("paid", "held", "remaining", "reserved", "incurred", "unreserved",
           "reserves_exceed_remaining")
SCENARIO: list[tuple[str, dict[str, Any]]] = [
    ("operator", attach()), ("operator", authority("clerk", 100_000, 0)),
    ("operator", authority("manager", 0, 5_000_000)),
    ("operator", file_data_media("C1")), ("operator", file_data_media("C2", loss=500_000)),
    ("clerk", request("C1", 400_000)), ("clerk", request("C2", 50_000)),
    ("manager", approve("C1", amount=250_000)), ("clerk", request("C1", 300_000)),
    ("manager", reject("C1", "payout-2")), ("operator", set_reserve("C2", 300_000)),
    ("operator", pay("C2", amount=200_000)), ("operator", reverse("C2", "payout-2")),
    ("operator", file_liability("L1")), ("clerk", request("L1", 1_000_000, due_on="2026-03-31")),
    ("operator", assess("C1", loss=600_000)), ("operator", pay("C1")),
    ("operator", recover("C1", 120_000)), ("operator", close("C1")),
]


def run(ledger: Ledger, models: ReadModels | None = None) -> None:
    """The scenario, the read models caught up after each command (if given)."""
    for actor, command in SCENARIO:
        ledger.execute(parse_command(command), actor=actor)
        if models is not None:
            models.catch_up()


def tamper(models: ReadModels, *statements: str) -> None:
    with models.store.writer.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def test_built_a_page_at_a_time_rebuilt_or_rebuilt_by_helpers_the_rows_are_the_same(
        ledger: Ledger, db_url: str):
    running = ReadModels(ledger, open_store(db_url), page_size=3)
    run(ledger, running)
    expected = tables(running)
    assert verify(running) == []

    for page_size, workers in ((1, 1), (10_000, 1), (2, 2)):
        models = ReadModels(ledger, open_store(db_url), page_size=page_size,
                            workers=workers, parallel_from=0)
        models.rebuild()
        assert tables(models) == expected, (page_size, workers)
        models.close()
    running.close()


def test_incurred_rebuilt_from_a_replay_of_the_log_equals_the_running_figures(
        ledger: Ledger, db_url: str, clock: FakeClock):
    models = ReadModels(ledger, open_store(db_url), page_size=2)
    run(ledger, models)
    replayed = {(r["policy_year"], r["coverage"]): r
                for r in reads.limits(lambda: ledger, None, "P1", clock.now)}
    running = {(r["policy_year"], r["coverage"]): r for r in models.limits("P1")}
    assert running.keys() == replayed.keys()
    for key, row in running.items():
        assert {f: row[f] for f in FIGURES} == {f: replayed[key][f] for f in FIGURES}, key
    data = running[(1, "data_media")]
    assert (data["held"], data["reserved"]) == (0, 300_000 - 200_000)  # C2's, eroded
    assert running[(1, "it_liability")]["held"] == 1_000_000
    models.close()


def test_verify_names_each_new_figure_tampered_with(ledger: Ledger, db_url: str):
    models = ReadModels(ledger, open_store(db_url))
    run(ledger, models)
    tamper(models,
           "UPDATE rm_limits_g1 SET held = held + 1 WHERE coverage = 'it_liability'",
           "UPDATE rm_limits_g1 SET reserves_exceed_remaining = NOT reserves_exceed_remaining "
           "WHERE coverage = 'data_media' AND policy_year = 1",
           "UPDATE rm_limit_reserves_g1 SET reserve = NULL WHERE claim_id = 'L1'",
           "UPDATE rm_claims_g1 SET insured_recovered = 7 WHERE claim_id = 'C1'",
           "UPDATE rm_claim_holds_g1 SET status = 'approved' WHERE claim_id = 'L1'",
           "DELETE FROM rm_claim_recoveries_g1")

    problems = verify(models)

    for start in ("limits P1/1/it_liability: held is 1000001 in the read model, 1000000",
                  "limits P1/1/data_media: reserves_exceed_remaining is ",
                  "limits reserve L1: reserve is None in the read model, ",
                  "claim C1: insured_recovered is 7 in the read model, ",
                  "hold L1/payout-1: status is 'approved' in the read model, 'pending'",
                  "recovery C1/recovery-1: missing from the read model"):
        assert any(p.startswith(start) for p in problems), (start, problems)
    models.close()


def skipping(original: Any, name: str) -> Any:
    """A projection's ``changes`` that misses every event named ``name``."""
    def changes(self: Any, facts: list[Fact]) -> Any:
        return original(self, [f for f in facts if f.name != name])
    return changes


@pytest.mark.parametrize(("projection", "missed", "found"), [
    (LimitsProjection, "AnnualLimitReleased", "limits P1/1/data_media: held is "),
    (LimitsProjection, "ReserveSet", "limits P1/1/data_media: reserved is "),
    (LimitsProjection, "PayoutIssued", "limits reserve C2: reserve is "),
    (ClaimsProjection, "ReserveSet", "claim C2: reserve is "),
    (ClaimsProjection, "PayoutRejected", "hold C1/payout-2: status is 'pending'"),
    (ClaimsProjection, "RecoveryRecorded", "recovery C1/recovery-1: missing"),
])
def test_verify_finds_an_event_a_projection_missed(
        ledger: Ledger, db_url: str, monkeypatch: pytest.MonkeyPatch, projection: Any,
        missed: str, found: str):
    monkeypatch.setattr(projection, "changes", skipping(projection.changes, missed))
    models = ReadModels(ledger, open_store(db_url))
    run(ledger, models)

    problems = verify(models)

    assert any(p.startswith(found) for p in problems), problems
    models.close()


OLDER_SCHEMA = {
    "limits": (2, "rm_limits_g1", ("held", "reserved", "incurred", "unreserved",
                                   "reserves_exceed_remaining"), ("rm_limit_reserves_g1",)),
    "claims": (5, "rm_claims_g1", ("reserve", "held", "recovered", "insured_recovered"),
               ("rm_claim_holds_g1", "rm_claim_recoveries_g1")),
}


def test_a_database_built_for_the_older_schema_is_rebuilt_and_never_read_as_it_is(
        ledger: Ledger, db_url: str):
    models = ReadModels(ledger, open_store(db_url))
    ledger.execute(parse_command(attach()), actor="t")
    ledger.execute(parse_command(file_data_media("C1")), actor="t")
    models.catch_up()
    for name, (version, table, columns, added) in OLDER_SCHEMA.items():
        tamper(models, *(f'ALTER TABLE "{table}" DROP COLUMN "{c}"' for c in columns),
               *(f'DROP TABLE "{t}"' for t in added),
               f"UPDATE projection_state SET schema_version = {version} WHERE name = '{name}'")

    with pytest.raises(NotBuilt, match="limits read model was built for an older schema"):
        models.limits("P1")
    with pytest.raises(NotBuilt, match="claims read model was built for an older schema"):
        models.claim("C1")
    models.catch_up()

    assert {s.name: s.active for s in models.status()} == {
        "limits": 2, "claims": 2, "audit_trail": 1}
    assert models.limits("P1")[0]["unreserved"] == 0
    assert models.claim("C1")["reserve"] == 700_000  # type: ignore[index]
    assert verify(models) == []
    models.close()
