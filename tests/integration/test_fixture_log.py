"""Logs already written keep their meaning: a log written by the code of
2026-12-04 (``tests/fixtures/log_2026-12-04.jsonl``, an export, with the
commands that made it beside it) replays to the same figures, loads into a
ledger whose read models match a replay, and explains every claim without a
mismatch. Never regenerate these files: they stand for production logs."""

from __future__ import annotations

import json
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
from tests.harness import make_ledger

FIXTURES = Path(__file__).parents[1] / "fixtures"
LOG = FIXTURES / "log_2026-12-04.jsonl"
EXPECTED = json.loads((FIXTURES / "log_2026-12-04.expected.json").read_text())
CLAIM_FIELDS = ("claim_id", "policy_id", "policy_year", "coverage", "status", "loss_amount",
                "payable", "paid", "exclusion")


def _limits(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(({k: v for k, v in r.items() if k != "last_position"} for r in rows),
                  key=lambda r: (r["policy_id"], r["policy_year"], r["coverage"]))


def _claims(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(({k: r[k] for k in CLAIM_FIELDS} for r in rows),
                  key=lambda r: r["claim_id"])


def _loaded(db_url: str) -> Ledger:
    """A ledger whose log holds the fixture's events, stored as they were."""
    ledger = make_ledger(persistence_env(db_url))
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


def test_the_fixture_log_loads_and_its_read_models_match_a_replay(db_url: str, tmp_path: Path):
    ledger = _loaded(db_url)
    models = ReadModels.open(ledger, db_url)
    models.catch_up()
    assert verify(models) == []
    assert _limits(models.limits()) == EXPECTED["limits"]
    assert _claims([views.claim(ledger, models, c["claim_id"], None)
                    for c in EXPECTED["claims"]]) == EXPECTED["claims"]


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
