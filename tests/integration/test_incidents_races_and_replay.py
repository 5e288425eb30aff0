"""An incident's claims on real storage: two writers racing on one incident share
its limit, and its figures agree in the read models, `verify`, the offline
replay of an export, explanations and the console's claim page."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from adapters.cli import main
from adapters.console.pages import View, claim_page
from adapters.http import Service
from adapters.service import reads as views
from adapters.service.auth import Tokens
from adapters.storage import persistence_env
from domain.commands import parse_command
from domain.errors import PayoutRefused, RuleViolated
from domain.ledger import Ledger
from projections.read_models import ReadModels
from projections.verify import verify
from tests.builders import (
    FakeClock,
    assess,
    attach,
    close,
    pay,
    reverse,
    withdraw,
)
from tests.builders import incident_data_media as data_media
from tests.builders import incident_liability as liability
from tests.harness import RacingLedger, make_ledger

# Concurrency ------------------------------------------------------------------


def _racers(db_url: str, *given: dict[str, Any]) -> tuple[Ledger, RacingLedger]:
    env = persistence_env(db_url)
    clock = FakeClock()
    setup = make_ledger(env, clock)
    for command in (attach(), *given):
        setup.execute(parse_command(command), actor="t")
    racer = RacingLedger(env, clock=clock, new_id=lambda: "racer")
    racer.rival = setup
    return setup, racer


def test_two_payouts_of_one_incident_at_once_share_one_limit(db_url: str):
    setup, racer = _racers(db_url, liability("L1"), liability("L2"))
    racer.race = pay("L2")
    with pytest.raises(PayoutRefused) as caught:
        racer.execute(parse_command(pay("L1")), actor="t")
    assert caught.value.rule == "per_incident_limit"
    assert [int(setup.get_claim(c).paid) for c in ("L1", "L2")] == [0, 2_500_000]


def test_a_withdrawal_racing_a_payout_cannot_leave_the_incident_overpaid(db_url: str):
    # C1 takes 50,000 of the deductible; C2 is paid 250,000 by a rival just
    # before C1's withdrawal is saved: decided again, the withdrawal is refused.
    setup, racer = _racers(db_url, data_media("C1", loss=50_000), data_media("C2"))
    racer.race = pay("C2")
    with pytest.raises(RuleViolated) as caught:
        racer.execute(parse_command(withdraw("C1")), actor="t")
    assert caught.value.rule == "incident_not_overpaid"
    assert paid_of(setup, "C2") == 250_000


def paid_of(ledger: Ledger, claim_id: str) -> int:
    return int(ledger.get_claim(claim_id).paid)


# Read models, verify, explain and the offline replay -------------------------


def test_an_incident_verifies_replays_offline_and_explains_without_a_mismatch(
    db_url: str, tmp_path: Path,
):
    ledger = make_ledger(persistence_env(db_url))
    for command in (attach(), data_media("C1", loss=50_000), data_media("C2"),
                    data_media("C3", loss=400_000), pay("C2"), pay("C3", amount=100_000),
                    reverse("C3"), pay("C3"), assess("C1", loss=60_000), close("C1")):
        ledger.execute(parse_command(command), actor="t")
    models = ReadModels.open(ledger, db_url)
    try:
        models.catch_up()
        assert verify(models) == []
        c2 = models.claim("C2")
        assert c2 is not None
        assert (c2["incident_id"], c2["paid"], c2["payable"]) == ("INC-1", 250_000, 300_000)
    finally:
        models.close()
    for claim_id in ("C1", "C2", "C3"):
        for lang in ("ja", "en"):
            told = views.explanation(ledger, claim_id, lang)  # type: ignore[arg-type]
            assert told.mismatches == [], told.text()
    ledger.close()
    out = tmp_path / "incident.export.jsonl"
    assert main(["--db", db_url, "export", "--out", str(out)], io.StringIO()) == 0
    text = io.StringIO()
    assert main(["replay", str(out), "--json"], text) == 0
    replayed = json.loads(text.getvalue())
    assert replayed["discrepancies"] == []
    assert replayed["claims"]["paid"] == 650_000


def test_the_console_claim_page_shows_the_incident_and_what_its_other_claims_took(
    tmp_path: Path,
):
    db = str(tmp_path / "ledger.db")
    ledger = make_ledger(persistence_env(db))
    for command in (attach(), data_media("C1"), data_media("C2"), pay("C1"), pay("C2")):
        ledger.execute(parse_command(command), actor="t")
    models = ReadModels.open(ledger, db)
    try:
        service = Service(ledger, models, Tokens([]))
        page = claim_page(service, View("en"), "C2")
        assert 'data-field="incident_id"><code>INC-1</code>' in page
        assert "Deductible taken by the incident&#39;s earlier claims" in page
        assert "(of which 100,000 yen already taken by the incident&#39;s earlier claims)" \
            in page
    finally:
        models.close()
        ledger.close()
