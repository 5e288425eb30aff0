"""The period of cover on real storage: the read models and `verify` show it, a
payout or a claim racing a back-dated end cannot slip through, and logs written
before cover's start was recorded keep their policy years."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent

from adapters.storage import persistence_env
from domain.claim import ClaimStatus
from domain.commands import parse_command
from domain.errors import LedgerError, RuleViolated
from projections.read_models import ReadModels
from projections.store import open_store
from projections.verify import verify
from tests.builders import (
    FakeClock,
    attach,
    end_service,
    file_data_media,
    pay,
)
from tests.harness import Harness, RacingLedger, make_ledger

# Read models ------------------------------------------------------------------


def test_limits_and_verify_show_the_cover_period(h: Harness, db_url: str):
    h.given(attach(), file_data_media("C1", incident="2024-06-01"),
            end_service(on="2024-05-31"))
    models = ReadModels(h.ledger, open_store(db_url))
    models.catch_up()
    assert {r["period_end"] for r in models.limits()} == {"2024-05-31"}
    assert verify(models) == []


# Races ------------------------------------------------------------------------


def race(db_url: str, first: list[dict[str, Any]], rival: dict[str, Any],
         command: dict[str, Any]) -> tuple[RacingLedger, Any]:
    """``command`` decided on the state ``first`` left, with ``rival`` committed
    just before its save."""
    env = persistence_env(db_url)
    setup = make_ledger(env)
    for c in first:
        setup.execute(parse_command(c), actor="t")
    racer = RacingLedger(env, clock=FakeClock(), new_id=lambda: "racer")
    racer.rival, racer.race = setup, rival
    try:
        return racer, racer.execute(parse_command(command), actor="t")
    except LedgerError as refused:
        return racer, refused


def test_a_payout_racing_a_back_dated_end_does_not_slip_through(db_url: str):
    racer, outcome = race(db_url, [attach(), file_data_media("C1", incident="2024-06-01")],
                          end_service(on="2024-05-31"), pay("C1"))
    assert isinstance(outcome, LedgerError), outcome
    assert racer.get_claim("C1").paid == 0
    assert racer.get_claim("C1").exclusion == "outside_cover"


def test_a_back_dated_end_racing_a_payout_is_refused(db_url: str):
    racer, outcome = race(db_url, [attach(), file_data_media("C1", incident="2024-06-01")],
                          pay("C1"), end_service(on="2024-05-31"))
    assert isinstance(outcome, RuleViolated) and outcome.rule == "no_payouts_outside_cover"
    assert racer.get_policy("P1").service_end is None


def test_a_claim_filed_racing_a_back_dated_end_is_denied(db_url: str):
    racer, outcome = race(db_url, [attach()], end_service(on="2024-05-31"),
                          file_data_media("C1", incident="2024-06-01"))
    assert outcome.result["status"] == "denied"
    assert racer.get_claim("C1").status is ClaimStatus.DENIED


# Logs already written -----------------------------------------------------------

FIXTURE_LOG = Path(__file__).parents[1] / "fixtures" / "log_2026-12-04.jsonl"


def _fixture_ledger(db_url: str) -> Any:
    ledger = make_ledger(persistence_env(db_url))
    lines = FIXTURE_LOG.read_text(encoding="utf-8").splitlines()[1:-1]
    ledger.recorder.insert_events([
        StoredEvent(e["aggregate_id"], e["version"], e["event"], e["payload"].encode())
        for e in map(json.loads, lines)])
    return ledger


def test_a_policy_attached_before_cover_starts_were_recorded_keeps_its_years(db_url: str):
    ledger = _fixture_ledger(db_url)
    policy = ledger.get_policy("P-LATE-FW")
    assert policy.cover_start == policy.service_start == date(2020, 1, 15)
    assert [(y.start, y.end) for y in policy.years] == [
        (date(2020, 1, 15), date(2021, 1, 14)), (date(2021, 1, 15), date(2022, 1, 14))]


def test_moving_the_end_of_an_old_policy_sees_the_claims_filed_before(db_url: str):
    ledger = _fixture_ledger(db_url)
    with pytest.raises(RuleViolated) as caught:
        ledger.execute(parse_command(end_service(
            "P-LATE-FW", on="2021-06-30", reason="the service ended in June")), actor="t")
    assert caught.value.rule == "no_payouts_outside_cover"
    assert "C-LATE-2" in str(caught.value) and "C-LATE-3" in str(caught.value)
