"""The read side of the claims office's money: what a year holds and reserves,
a claim's holds and recoveries, the payouts awaiting approval and who may
approve them, on each backend, always equal to a replay of the log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.service import authorities, reads
from domain.commands import parse_command
from domain.ledger import Ledger
from projections.audit_trail import AuditQuery
from projections.read_models import ReadModels
from projections.rows import PendingHoldRow
from projections.store import open_store
from projections.verify import verify
from tests.builders import (
    FakeClock,
    approve,
    attach,
    file_data_media,
    file_liability,
    pay,
    recover,
    reject,
    request,
    set_reserve,
)
from tests.builders import authorize as authority

YEAR = ("P1", 1, "data_media")


def act(ledger: Ledger, actor: str, *commands: dict[str, Any]) -> None:
    for command in commands:
        ledger.execute(parse_command(command), actor=actor)


@pytest.fixture
def models(ledger: Ledger, db_url: str) -> Iterator[ReadModels]:
    """Given a policy, a clerk who may pay 100,000 alone and a manager who may
    approve up to 1,000,000, and C1 filed (800,000 lost, 700,000 payable:
    its initial reserve)."""
    act(ledger, "operator", attach(), authority("clerk", 100_000, 0),
        authority("manager", 0, 1_000_000), file_data_media("C1"))
    found = ReadModels(ledger, open_store(db_url))
    yield found
    found.close()


def year(models: ReadModels) -> dict[str, Any]:
    models.catch_up()
    return next(r for r in models.limits("P1") if (r["policy_id"], r["policy_year"],
                                                   r["coverage"]) == YEAR)


def figures(row: dict[str, Any]) -> tuple[int, int, int, int, int, bool]:
    return (row["paid"], row["held"], row["remaining"], row["reserved"], row["incurred"],
            row["reserves_exceed_remaining"])


def test_a_year_holds_what_is_requested_and_reserves_what_its_claims_expect(
        ledger: Ledger, models: ReadModels):
    assert figures(year(models)) == (0, 0, 1_000_000, 700_000, 700_000, False)

    act(ledger, "clerk", request("C1", 500_000, due_on="2026-01-31"))
    assert figures(year(models)) == (0, 500_000, 500_000, 700_000, 700_000, True)

    act(ledger, "manager", approve("C1", amount=300_000))  # the rest is released
    assert figures(year(models)) == (300_000, 0, 700_000, 400_000, 700_000, False)

    act(ledger, "clerk", request("C1", 200_000))
    assert figures(year(models)) == (300_000, 200_000, 500_000, 400_000, 700_000, False)
    act(ledger, "manager", reject("C1", "payout-2"))
    assert figures(year(models)) == (300_000, 0, 700_000, 400_000, 700_000, False)

    act(ledger, "clerk", request("C1", 50_000))  # within the clerk's authority: paid
    assert figures(year(models)) == (350_000, 0, 650_000, 350_000, 700_000, False)
    assert verify(models) == []


def test_reserves_follow_each_claim_and_a_payout_never_takes_one_below_zero(
        ledger: Ledger, models: ReadModels):
    act(ledger, "operator", file_data_media("C2", loss=500_000),
        set_reserve("C1", 100_000, "reassessed"))
    assert figures(year(models)) == (0, 0, 1_000_000, 500_000, 500_000, False)

    act(ledger, "operator", pay("C1", amount=250_000))  # more than its reserve
    row = year(models)
    assert figures(row) == (250_000, 0, 750_000, 400_000, 650_000, False)
    assert (row["unreserved"], row["claims_open"]) == (0, 2)
    assert models.claim("C1")["reserve"] == 0  # type: ignore[index]

    act(ledger, "operator", file_liability("L1"), set_reserve("L1", 0, "other"))
    models.catch_up()
    liability = next(r for r in models.limits("P1") if r["coverage"] == "it_liability"
                     and r["policy_year"] == 1)
    assert (liability["reserved"], liability["incurred"]) == (0, 0)
    assert verify(models) == []


def test_a_claim_shows_its_holds_and_recoveries_in_the_read_model_and_as_of_a_time(
        ledger: Ledger, models: ReadModels):
    act(ledger, "clerk", request("C1", 500_000, due_on="2026-01-31"))
    act(ledger, "manager", approve("C1"))
    act(ledger, "clerk", request("C1", 150_000))
    act(ledger, "manager", reject("C1", "payout-2"))
    act(ledger, "operator", pay("C1"), recover("C1", 250_000),
        recover("C1", 50_000, "overpayment", counterparty="株式会社テスト"))
    models.catch_up()

    claim = reads.claim(lambda: ledger, models, "C1")
    then = reads.claim(lambda: ledger, None, "C1", datetime(2030, 1, 1, tzinfo=UTC))

    # 700,000 paid of 800,000 lost: the insured's 100,000 comes first (25条2項)
    assert (claim["reserve"], claim["held"], claim["recovered"],
            claim["insured_recovered"]) == (0, 0, 150_000 + 50_000, 100_000)
    assert [(h["payout_id"], h["amount"], h["requested_by"], h["due_on"], h["status"],
             h["resolved_by"]) for h in claim["holds"]] == [
        ("payout-1", 500_000, "clerk", "2026-01-31", "approved", "manager"),
        ("payout-2", 150_000, "clerk", None, "rejected", "manager")]
    assert [(r["recovery_id"], r["kind"], r["amount"], r["insured_share"],
             r["insurer_share"]) for r in claim["recoveries"]] == [
        ("recovery-1", "subrogation", 250_000, 100_000, 150_000),
        ("recovery-2", "overpayment", 50_000, 0, 50_000)]
    assert claim["recoveries"][0]["counterparty"] == "株式会社加害者"
    for key in ("reserve", "held", "recovered", "insured_recovered"):
        assert then[key] == claim[key]
    assert then["holds"] == [{k: h[k] for k in then["holds"][0]} for h in claim["holds"]]
    assert then["recoveries"] == [{k: r[k] for k in then["recoveries"][0]}
                                  for r in claim["recoveries"]]


def test_the_work_queue_lists_the_pending_holds_of_every_policy_oldest_first(
        ledger: Ledger, models: ReadModels, clock: FakeClock):
    act(ledger, "operator", attach("P2"), file_data_media("C9", policy_id="P2"))
    act(ledger, "clerk", request("C1", 300_000, due_on="2026-02-01"))
    clock.advance(minutes=5)
    act(ledger, "clerk", request("C9", 200_000))
    act(ledger, "clerk", request("C9", 10_000))  # within authority: not waiting
    models.catch_up()

    queue = reads.pending_holds(models)

    assert [(h["claim_id"], h["policy_id"], h["payout_id"], h["amount"], h["requested_by"],
             h["due_on"]) for h in queue] == [
        ("C1", "P1", "payout-1", 300_000, "clerk", "2026-02-01"),
        ("C9", "P2", "payout-1", 200_000, "clerk", None)]
    assert queue[0]["requested_at"] < queue[1]["requested_at"]
    assert all(PendingHoldRow.model_validate(h) for h in queue)
    act(ledger, "manager", approve("C1"))
    models.catch_up()
    assert [h["claim_id"] for h in reads.pending_holds(models)] == ["C9"]


def test_authorities_are_each_actors_last_setting_now_or_at_a_past_time(
        ledger: Ledger, models: ReadModels, clock: FakeClock):
    before = clock.now
    clock.advance(hours=1)
    act(ledger, "operator", authority("clerk", 200_000, 50_000, reason="promoted"))
    models.catch_up()

    now = authorities.authorities(ledger)
    then = authorities.authorities(ledger, before)

    assert [(a["actor_name"], a["pay_up_to"], a["approve_up_to"]) for a in now] == [
        ("clerk", 200_000, 50_000), ("manager", 0, 1_000_000)]
    assert now[0]["set_at"] > now[1]["set_at"]
    assert [(a["actor_name"], a["pay_up_to"], a["approve_up_to"]) for a in then] == [
        ("clerk", 100_000, 0), ("manager", 0, 1_000_000)]


def test_the_audit_trail_shows_each_new_event_with_its_figures(
        ledger: Ledger, models: ReadModels):
    act(ledger, "clerk", request("C1", 500_000, due_on="2026-01-31"))
    act(ledger, "manager", reject("C1"))
    act(ledger, "clerk", request("C1", 400_000))
    act(ledger, "manager", approve("C1", "payout-2"))
    act(ledger, "operator", set_reserve("C1", 200_000, effective_on="2026-01-10"),
        recover("C1", 150_000))
    models.catch_up()

    rows = [(r["event_type"], r["actor"], r["amount"], r["balance_before"],
             r["balance_after"], r["business_dates"])
            for r in reads.audit_pages(models, AuditQuery(claim_id="C1"))]
    authorities = reads.audit_pages(models, AuditQuery(event_type="AuthoritySet"))

    assert rows[2:] == [  # after the filing and its registration
        ("ReserveSet", "operator", 700_000, None, None, {}),
        ("PayoutRequested", "clerk", 500_000, None, None, {"due_on": "2026-01-31"}),
        ("AnnualLimitHeld", "clerk", 500_000, 1_000_000, 500_000, {}),
        ("PayoutRejected", "manager", 500_000, None, None, {}),
        ("AnnualLimitReleased", "manager", 500_000, 500_000, 1_000_000, {}),
        ("PayoutRequested", "clerk", 400_000, None, None, {}),
        ("AnnualLimitHeld", "clerk", 400_000, 1_000_000, 600_000, {}),
        ("PayoutApproved", "manager", 400_000, None, None, {}),
        ("AnnualLimitReleased", "manager", 400_000, 600_000, 1_000_000, {}),
        ("PayoutIssued", "manager", 400_000, 1_000_000, 600_000, {}),
        ("AnnualLimitDrawn", "manager", 400_000, 1_000_000, 600_000, {}),
        ("ReserveSet", "operator", 200_000, None, None, {"effective_on": "2026-01-10"}),
        ("RecoveryRecorded", "operator", 150_000, None, None, {}),
    ]
    assert [(r["aggregate_type"], r["aggregate_id"], r["payload"]["pay_up_to"],
             r["payload"]["approve_up_to"]) for r in authorities] == [
        ("authority", "authority:clerk", 100_000, 0),
        ("authority", "authority:manager", 0, 1_000_000)]
