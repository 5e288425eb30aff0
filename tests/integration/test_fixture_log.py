"""Logs already written keep their meaning: a log written by the code of
2026-12-04 (``tests/fixtures/log_2026-12-04.jsonl``, an export, with the
commands that made it beside it) replays to the same figures, loads into a
ledger whose read models match a replay, and explains every claim without a
mismatch. Its claims were filed before reserves were kept: they have none
(null, counted as unreserved) until one is set. Never regenerate these files:
they stand for production logs."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent

from adapters.audit.export import replay
from adapters.service import reads as views
from adapters.service.times import parse_time
from adapters.storage import persistence_env
from domain.ledger import Ledger
from projections.read_models import ReadModels
from projections.reserves_report import ReservesFold
from projections.verify import verify
from tests.builders import FakeClock, pay, set_reserve
from tests.harness import given, make_ledger

FIXTURES = Path(__file__).parents[1] / "fixtures"
LOG = FIXTURES / "log_2026-12-04.jsonl"
EXPECTED = json.loads((FIXTURES / "log_2026-12-04.expected.json").read_text())
CLAIM_FIELDS = ("claim_id", "policy_id", "policy_year", "coverage", "status", "loss_amount",
                "payable", "paid", "exclusion")


def _limits(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows' figures the log was recorded with (rows have gained others since)."""
    keys = EXPECTED["limits"][0].keys()
    return sorted(({k: r[k] for k in keys} for r in rows),
                  key=lambda r: (r["policy_id"], r["policy_year"], r["coverage"]))


def _key(row: dict[str, Any]) -> tuple[str, int, str]:
    return row["policy_id"], row["policy_year"], row["coverage"]


CLAIMS_PER_YEAR = Counter(_key(c) for c in EXPECTED["claims"])


def _without_reserves(rows: list[dict[str, Any]]) -> None:
    """Every claim of a year is unreserved: nothing reserved, incurred = paid."""
    assert rows
    for row in rows:
        assert row["unreserved"] == CLAIMS_PER_YEAR[_key(row)], row
        assert (row["reserved"], row["held"], row["incurred"]) == (0, 0, row["paid"]), row
        assert row["reserves_exceed_remaining"] is False


def _claims(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(({k: r[k] for k in CLAIM_FIELDS} for r in rows),
                  key=lambda r: r["claim_id"])


def _loaded(db_url: str, clock: FakeClock | None = None) -> Ledger:
    """A ledger whose log holds the fixture's events, stored as they were."""
    ledger = make_ledger(persistence_env(db_url), clock)
    lines = LOG.read_text(encoding="utf-8").splitlines()[1:-1]  # header .. trailer
    events = [json.loads(line) for line in lines]
    ledger.recorder.insert_events([
        StoredEvent(e["aggregate_id"], e["version"], e["event"], e["payload"].encode())
        for e in events])
    return ledger


def test_the_fixture_log_replays_offline_to_its_recorded_figures():
    result = replay(str(LOG))
    assert result.discrepancies == []
    assert _limits(result.limits()) == EXPECTED["limits"]
    assert _claims(result.claim_rows()) == EXPECTED["claims"]
    _without_reserves(result.limits())
    assert {c["reserve"] for c in result.claim_rows()} == {None}


def test_the_fixture_log_loads_and_its_read_models_match_a_replay(db_url: str, tmp_path: Path):
    ledger = _loaded(db_url)
    models = ReadModels.open(ledger, db_url)
    models.catch_up()
    assert verify(models) == []
    assert _limits(models.limits()) == EXPECTED["limits"]
    claims = [views.claim(lambda: ledger, models, c["claim_id"], None) for c in EXPECTED["claims"]]
    assert _claims(claims) == EXPECTED["claims"]
    _without_reserves(models.limits())
    assert {(c["reserve"], c["held"], c["recovered"]) for c in claims} == {(None, 0, 0)}
    assert all(c["holds"] == [] and c["recoveries"] == [] for c in claims)


def test_an_old_claim_has_a_reserve_once_one_is_set_and_payouts_then_erode_it(db_url: str):
    """C-DEMO-4 (data/media, 400,000 still payable) is in a year whose limit is
    spent: its reserve exceeds what remains. P0000002-C1 (liability, 675,000
    payable) is then paid 200,000 of a 500,000 reserve."""
    ledger = _loaded(db_url, FakeClock(datetime(2026, 12, 10, 3, 0, tzinfo=UTC)))
    models = ReadModels.open(ledger, db_url)
    models.catch_up()
    before = {_key(r): r for r in models.limits()}
    given(ledger, set_reserve("C-DEMO-4", 400_000), set_reserve("P0000002-C1", 500_000),
          pay("P0000002-C1", amount=200_000))
    models.catch_up()
    after = {_key(r): r for r in models.limits()}
    demo = ("P-DEMO-1", 1, "data_media")
    assert after[demo]["unreserved"] == before[demo]["unreserved"] - 1
    assert (after[demo]["reserved"], after[demo]["remaining"]) == (400_000, 0)
    assert after[demo]["incurred"] == before[demo]["paid"] + 400_000
    assert after[demo]["reserves_exceed_remaining"] is True
    liability = ("P0000002", 1, "it_liability")
    assert after[liability]["reserved"] == 300_000
    assert after[liability]["incurred"] == before[liability]["paid"] + 200_000 + 300_000
    assert views.claim(lambda: ledger, models, "P0000002-C1", None)["reserve"] == 300_000
    assert views.claim(lambda: ledger, models, "C-LATE-2", None)["reserve"] is None
    assert verify(models) == []


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_claim_of_the_fixture_log_is_explained_without_a_mismatch(
    db_url: str, lang: str,
):
    ledger = _loaded(db_url)
    for claim in EXPECTED["claims"]:
        explanation = views.explanation(ledger, claim["claim_id"], lang, None)  # type: ignore[arg-type]
        assert explanation.mismatches == [], (claim["claim_id"], explanation.text())


@pytest.mark.parametrize("basis", ["accident-year", "policy-year"])
def test_the_fixture_logs_reserves_report_says_its_claims_have_no_reserve(
    db_url: str, basis: Any,
):
    as_of = parse_time("2027-03-31", end_of_day=True)
    offline = ReservesFold(as_of=as_of, basis=basis)
    replay(str(LOG), on_event=offline.add)
    live = views.reserves(_loaded(db_url), as_of, basis)
    claims, still_open = len(EXPECTED["claims"]), sum(
        c["status"] == "open" for c in EXPECTED["claims"])
    assert live == offline.report()
    assert live.claims_without_reserve == sum(r.claims for r in live.totals) == claims
    assert live.notes == [f"{claims} claims have no reserve: filed before reserves were kept "
                          f"({still_open} still open, whose case reserves these figures lack "
                          "until one is set)"]
    assert [r.reserves for r in live.totals] == [0, 0]
    assert sum(r.paid_to_date for r in live.totals) == sum(c["paid"] for c in EXPECTED["claims"])


def test_a_retry_of_every_command_in_the_fixture_log_matches_its_first_fingerprint():
    """Commands gained optional fields since the log was written; a retry of an
    old command, parsed by today's contract, must still be the same command (or
    its retry would be refused as a reused id)."""
    from domain.command_record import fingerprint
    from domain.commands import parse_command
    from domain.ledger.idempotency import content as _content

    records = [json.loads(json.loads(line)["payload"])
               for line in LOG.read_text(encoding="utf-8").splitlines()[1:-1]
               if json.loads(line)["event"] == "CommandAccepted"]
    assert len(records) > 10
    for record in records:
        again = parse_command({**record["command"], "command_id": "retry"})
        assert fingerprint(_content(again)) == record["fingerprint"], record["command"]
