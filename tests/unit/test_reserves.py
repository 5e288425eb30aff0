"""Case reserves (支払備金): set at filing, eroded by payouts, 0 when a claim
ends, restored when it reopens, never negative nor above what is still
payable, never a limit on payments; none on a claim of a log written before
reserves were kept, until one is set.

Each test: given commands, when a command, then events or a refusal naming the
field and rule (and nothing appended)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from eventsourcing.persistence import StoredEvent

from domain.claim import ClaimClosed, ClaimFiled, PayoutIssued, ReserveSet
from domain.errors import ClaimNotOpen, InvalidCommand, RuleViolated
from domain.events import LedgerEvent
from tests.builders import (
    FakeClock,
    assess,
    attach,
    close,
    end_service,
    exclude,
    exclude_part,
    file_data_media,
    file_liability,
    pay,
    reopen,
    reverse,
    set_reserve,
    withdraw,
    withdraw_denial,
)
from tests.harness import Harness, make_ledger
from tests.support.databases import MEMORY_ENV

OLD_LOG = Path(__file__).parents[1] / "fixtures" / "log_2026-12-04.jsonl"


@pytest.fixture
def filed(h: Harness) -> Harness:
    """Claim C1: a loss of 800,000, so 700,000 payable after the deductible."""
    h.given(attach(), file_data_media(loss=800_000))
    return h


def reserve(h: Harness, claim_id: str = "C1") -> int | None:
    value = h.ledger.get_claim(claim_id).reserve
    return None if value is None else int(value)


def reserves_set(events: list[LedgerEvent]) -> list[ReserveSet]:
    return [e for e in events if isinstance(e, ReserveSet)]


# Set by the ledger ----------------------------------------------------------


def test_a_claim_is_filed_with_a_reserve_of_what_is_payable(h: Harness):
    h.given(attach())
    events = h.then_events(file_data_media(loss=800_000))
    (initial,) = reserves_set(events)
    assert (initial.reserve_before, initial.reserve, initial.change, initial.reason) == (
        None, 700_000, 700_000, "initial")
    assert {e.command_id for e in events} == {events[0].command_id}  # one commit
    assert isinstance(events[0], ClaimFiled) and events[-1] is initial


def test_a_claim_denied_at_filing_is_filed_with_a_reserve_of_0(h: Harness):
    h.given(attach())
    events = h.then_events(file_liability(incident="2024-03-31", made_on="2024-05-01"))
    (initial,) = reserves_set(events)
    assert (initial.reserve, initial.reason) == (0, "initial")
    assert reserve(h, "L1") == 0


def test_a_payout_erodes_the_reserve_by_its_amount(filed: Harness):
    events = filed.then_events(pay(amount=200_000))
    assert reserves_set(events) == []
    assert reserve(filed) == 500_000


def test_a_payout_above_the_reserve_leaves_it_at_0(filed: Harness):
    filed.given(set_reserve(amount=100_000))
    filed.given(pay(amount=300_000))
    assert reserve(filed) == 0


def test_closing_sets_the_reserve_to_0_in_the_same_commit(filed: Harness):
    filed.given(pay(amount=300_000))
    events = filed.then_events(close())
    assert [type(e) for e in events] == [ClaimClosed, ReserveSet]
    assert (events[1].reserve_before, events[1].reserve, events[1].change,  # type: ignore[attr-defined]
            events[1].reason) == (400_000, 0, -400_000, "closed")  # type: ignore[attr-defined]


def test_withdrawing_sets_the_reserve_to_0_in_the_same_commit(filed: Harness):
    (zero,) = reserves_set(filed.then_events(withdraw()))
    assert (zero.reserve, zero.reason) == (0, "withdrawn")
    assert reserve(filed) == 0


def test_a_denial_sets_the_reserve_to_0_in_the_same_commit(filed: Harness):
    (zero,) = reserves_set(filed.then_events(exclude()))
    assert (zero.reserve, zero.reason) == (0, "denied")


def test_a_denial_by_the_end_of_cover_sets_the_reserve_to_0_in_the_same_commit(
    filed: Harness,
):
    events = filed.then_events(end_service(on="2024-05-31"))
    (zero,) = reserves_set(events)
    assert (zero.originator_id, zero.reserve, zero.reason) == ("claim:C1", 0, "denied")
    assert len({e.command_id for e in events}) == 1


def test_reopening_restores_the_reserve_to_what_is_still_payable(filed: Harness):
    filed.given(pay(amount=300_000), close())
    (restored,) = reserves_set(filed.then_events(reopen()))
    assert (restored.reserve_before, restored.reserve, restored.reason) == (
        0, 400_000, "reopened")


def test_withdrawing_a_denial_restores_the_reserve_to_what_is_payable(filed: Harness):
    filed.given(exclude())
    (restored,) = reserves_set(filed.then_events(withdraw_denial()))
    assert (restored.reserve, restored.reason) == (700_000, "reopened")


def test_a_reassessment_down_clamps_the_reserve_to_what_is_still_payable(filed: Harness):
    filed.given(pay(amount=100_000))
    (clamped,) = reserves_set(filed.then_events(assess(loss=500_000)))
    assert (clamped.reserve_before, clamped.reserve, clamped.reason) == (
        600_000, 300_000, "reassessed")


def test_a_reassessment_that_leaves_the_reserve_within_payable_keeps_it(filed: Harness):
    filed.given(set_reserve(amount=200_000))
    assert reserves_set(filed.then_events(assess(loss=500_000))) == []
    assert reserve(filed) == 200_000


def test_a_partial_exclusion_clamps_the_reserve_to_what_is_still_payable(h: Harness):
    h.given(attach(), file_liability(loss=1_800_000))  # 1,500,000 payable
    (clamped,) = reserves_set(h.then_events(exclude_part(amount=500_000)))
    assert (clamped.reserve, clamped.reason) == (1_000_000, "reassessed")


# Set by the office -----------------------------------------------------------


def test_set_reserve_records_the_reserve_its_change_and_reason(filed: Harness):
    (event,) = filed.then_events(set_reserve(amount=300_000, reason="litigation",
                                             note="suit filed", effective_on="2026-01-10"))
    assert isinstance(event, ReserveSet)
    assert (event.reserve_before, event.reserve, event.change, event.reason, event.note,
            str(event.effective_on)) == (700_000, 300_000, -400_000, "litigation",
                                         "suit filed", "2026-01-10")


def test_a_reserve_is_never_negative(filed: Harness):
    filed.then_refused(set_reserve(amount=-1), InvalidCommand, "amount",
                       "non_negative")


def test_a_reserve_is_never_above_what_is_still_payable(filed: Harness):
    filed.given(pay(amount=300_000))
    filed.given(set_reserve(amount=100_000))
    filed.then_refused(set_reserve(amount=400_001), RuleViolated, "amount",
                       "reserve_within_payable")
    filed.given(set_reserve(amount=400_000))
    assert reserve(filed) == 400_000


def test_a_reserve_of_a_closed_claim_is_refused(filed: Harness):
    filed.given(close())
    filed.then_refused(set_reserve(amount=0), ClaimNotOpen, "claim_id", "claim_open")


def test_a_reserve_of_a_denied_claim_is_refused(filed: Harness):
    filed.given(exclude())
    filed.then_refused(set_reserve(amount=100), ClaimNotOpen, "claim_id", "claim_open")


def test_a_reserve_set_to_what_it_is_is_refused(filed: Harness):
    filed.then_refused(set_reserve(amount=700_000), RuleViolated, "amount",
                       "reserve_changed")


def test_a_reserve_effective_after_today_is_refused(filed: Harness):
    # the fake clock says 2026-01-15 in Japan
    filed.then_refused(set_reserve(effective_on="2026-01-16"), RuleViolated,
                       "effective_on", "not_in_future")


def test_the_ledger_s_own_reasons_are_not_the_office_s(filed: Harness):
    filed.then_refused(set_reserve(amount=0, reason="closed"), InvalidCommand, "reason",
                       "allowed_values")


# Reserves and payments -------------------------------------------------------


def test_a_reserve_of_0_never_blocks_a_payment(filed: Harness):
    filed.given(set_reserve(amount=0))
    (issued,) = [e for e in filed.then_events(pay()) if isinstance(e, PayoutIssued)]
    assert issued.amount == 700_000


def test_a_reserve_never_uses_the_annual_limit(filed: Harness):
    filed.given(file_data_media("C2", loss=900_000))  # reserves 700,000 + 800,000
    year = filed.ledger.get_policy_year("P1", 1).coverage("data_media")  # type: ignore[arg-type]
    assert (year.remaining, reserve(filed, "C1") + reserve(filed, "C2")) == (  # type: ignore[operator]
        1_000_000, 1_500_000)
    filed.given(pay("C2"))
    assert int(filed.ledger.get_claim("C2").paid) == 800_000


def test_a_reversal_leaves_the_reserve_as_it_is(filed: Harness):
    filed.given(pay(amount=300_000))
    assert reserves_set(filed.then_events(reverse())) == []
    assert reserve(filed) == 400_000


def test_every_claim_command_answers_the_reserve_and_what_is_held(filed: Harness):
    result = filed.when(set_reserve(amount=250_000)).result
    assert (result["reserve"], result["held"]) == (250_000, 0)


# Logs written before reserves were kept -----------------------------------------


def old_log() -> Harness:
    """A ledger whose log was written before reserves were kept (its claims
    have no ``ReserveSet``), stored as it was."""
    clock = FakeClock(datetime(2026, 12, 10, 3, 0, tzinfo=UTC))
    ledger = make_ledger(MEMORY_ENV, clock)
    lines = OLD_LOG.read_text(encoding="utf-8").splitlines()[1:-1]
    stored = [json.loads(line) for line in lines]
    ledger.recorder.insert_events([
        StoredEvent(e["aggregate_id"], e["version"], e["event"], e["payload"].encode())
        for e in stored])
    return Harness(ledger, clock)


def test_a_claim_of_an_old_log_has_no_reserve_until_one_is_set():
    h = old_log()
    assert reserve(h, "C-LATE-2") is None  # 1,500,000 payable, 500,000 paid
    assert h.when(pay("C-LATE-2", amount=100_000)).result["reserve"] is None
    (first,) = h.then_events(set_reserve("C-LATE-2", amount=250_000))
    assert (first.reserve_before, first.change) == (None, 250_000)  # type: ignore[attr-defined]
    (zero,) = reserves_set(h.then_events(close("C-LATE-2")))
    assert (zero.reserve_before, zero.reserve) == (250_000, 0)


def test_an_old_claim_closed_without_a_reserve_records_none():
    h = old_log()
    assert reserves_set(h.then_events(close("C-DEMO-4"))) == []
    assert reserve(h, "C-DEMO-4") is None
