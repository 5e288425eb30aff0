"""The year-end reserves report, folded from the log's events: given commands,
when the report is made as of a recorded time, then its figures per coverage
and fiscal year, and its loss development triangle."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from domain.claim import ReserveSet
from domain.commands import parse_command
from domain.events import LedgerEvent
from domain.terms import JST, TERMS_2006, Coverage
from projections.reserves_report import (
    ReserveRow,
    ReservesReport,
    fiscal_year_end,
    reserves_report,
)
from tests.builders import (
    FakeClock,
    attach,
    close,
    file_data_media,
    file_liability,
    pay,
    reopen,
    reverse,
)
from tests.harness import Harness, make_ledger

DM, LI = Coverage.DATA_MEDIA, Coverage.IT_LIABILITY
DM_DEDUCTIBLE = TERMS_2006.coverage(DM).deductible
LI_DEDUCTIBLE = TERMS_2006.coverage(LI).deductible
FY2024_NOON = datetime(2024, 6, 15, 3, tzinfo=UTC)
"""12:00 in Japan on 2024-06-15, in fiscal year 2024."""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(FY2024_NOON)


def report(h: Harness, as_of: datetime | None = None, **options: Any) -> ReservesReport:
    return reserves_report(h.events_after(0), as_of=as_of or h.clock.now, **options)


def row(found: ReservesReport, coverage: Coverage, year: int) -> ReserveRow:
    return next(r for r in found.rows if (r.coverage, r.year) == (coverage, year))


def authority(name: str, pay_up_to: int, approve_up_to: int) -> dict[str, Any]:
    return {"command": "set_authority", "actor_name": name, "pay_up_to": pay_up_to,
            "approve_up_to": approve_up_to}


def test_a_claim_shows_its_paid_reserve_and_incurred_in_its_accident_year(h: Harness):
    loss, paid = 800_000, 300_000
    h.given(attach(), file_data_media("C1", loss=loss, incident="2024-06-01"),
            pay("C1", amount=paid))
    found = row(report(h), DM, 2024)
    assert (found.claims, found.claims_open, found.paid_to_date, found.paid_in_period) == (
        1, 1, paid, paid)
    assert found.reserves == loss - DM_DEDUCTIBLE - paid
    assert found.incurred == found.paid_to_date + found.reserves == loss - DM_DEDUCTIBLE
    assert report(h).totals == [found.model_copy(update={"year": None})]


def test_a_closed_claim_is_not_open_and_holds_no_reserve(h: Harness):
    h.given(attach(), file_data_media("C1"), pay("C1", amount=100_000), close("C1"))
    found = row(report(h), DM, 2024)
    assert (found.claims, found.claims_open, found.reserves) == (1, 0, 0)
    assert found.incurred == found.paid_to_date == 100_000


def test_the_accident_year_is_the_incidents_for_data_media_and_the_claim_mades_for_liability(
        h: Harness, clock: FakeClock):
    clock.now = datetime(2025, 6, 15, 3, tzinfo=UTC)
    h.given(attach(), file_data_media("C1", incident="2025-03-20"),
            file_liability("L1", incident="2025-03-01", made_on="2025-04-10"))
    found = report(h)
    assert [(r.coverage, r.year, r.claims) for r in found.rows] == [
        (DM, 2024, 1), (LI, 2025, 1)]


def test_a_liability_claim_of_an_incident_takes_the_year_of_its_first_claim(
        h: Harness, clock: FakeClock):
    clock.now = datetime(2025, 6, 15, 3, tzinfo=UTC)
    h.given(attach(),
            file_liability("L1", incident="2025-03-01", made_on="2025-03-25", incident_id="I"),
            file_liability("L2", incident="2025-03-01", made_on="2025-05-01", incident_id="I"))
    assert [(r.coverage, r.year, r.claims) for r in report(h).rows] == [(LI, 2024, 2)]


def test_on_the_policy_year_basis_a_claim_is_in_the_year_its_policy_year_started(
        h: Harness, clock: FakeClock):
    clock.now = datetime(2025, 6, 15, 3, tzinfo=UTC)
    h.given(attach(firewall_applied_on="2024-10-01", service_start="2024-10-01"),
            file_data_media("C1", incident="2025-05-01"))
    by_accident, by_policy = report(h), report(h, basis="policy-year")
    assert [(r.year, r.claims) for r in by_accident.rows] == [(2025, 1)]
    assert [(r.year, r.claims) for r in by_policy.rows] == [(2024, 1)]
    assert by_policy.basis == "policy-year"
    assert by_policy.triangle == by_accident.triangle


def test_paid_in_the_period_is_payouts_less_reversals_recorded_within_it(
        h: Harness, clock: FakeClock):
    first, second = 200_000, 150_000
    h.given(attach(), file_data_media("C1"), pay("C1", amount=first))
    clock.now = datetime(2025, 5, 1, 3, tzinfo=UTC)
    h.given(pay("C1", amount=second), reverse("C1", "payout-1"))
    as_of = clock.now
    clock.advance(days=1)
    h.given(pay("C1", amount=50_000))
    found = row(report(h, as_of), DM, 2024)
    assert report(h, as_of).period_start == datetime(2025, 4, 1, tzinfo=JST)
    assert (found.paid_in_period, found.paid_to_date) == (second - first, second)
    since = row(report(h, as_of, period_start=date(2024, 6, 1)), DM, 2024)
    assert since.paid_in_period == second


def test_held_payouts_and_recoveries_are_shown_and_incurred_keeps_the_recoveries_in(
        h: Harness):
    h.given(attach(), authority("boss", 0, 10_000_000), file_data_media("C1", loss=800_000),
            file_data_media("C2", loss=300_000, incident="2024-06-02"), pay("C2"))
    requested = h.when({"command": "request_payout", "claim_id": "C1", "amount": 250_000},
                       actor="clerk").result
    recovered = h.when({"command": "record_recovery", "claim_id": "C2", "kind": "subrogation",
                        "amount": 250_000, "counterparty": "X社", "reason": "settled"}).result
    found = row(report(h), DM, 2024)
    assert found.held == requested["held_amount"] > 0
    assert (found.recovered_insurer, found.recovered_insured) == (
        recovered["insurer_share"], recovered["insured_share"])
    assert found.recovered_insurer > 0 and found.recovered_insured > 0
    assert found.incurred == found.paid_to_date + found.reserves


def test_the_triangle_holds_cumulative_paid_and_case_incurred_at_each_fiscal_year_end(
        h: Harness, clock: FakeClock):
    loss, late_loss, first, reserve = 800_000, 500_000, 300_000, 350_000
    h.given(attach(), file_data_media("C1", loss=loss, incident="2024-06-01"),
            pay("C1", amount=first))
    clock.now = datetime(2025, 6, 15, 3, tzinfo=UTC)
    h.given(pay("C1"), file_data_media("C2", loss=late_loss, incident="2025-01-10"))
    clock.now = datetime(2026, 2, 1, 3, tzinfo=UTC)
    h.given({"command": "set_reserve", "claim_id": "C2", "amount": reserve,
             "reason": "reassessed"})
    [row_2024] = report(h).triangle
    year_one, year_two = row_2024.cells
    assert (row_2024.coverage, row_2024.accident_year) == (DM, 2024)
    assert (year_one.development_year, year_one.valued_at) == (1, fiscal_year_end(2024))
    assert (year_one.paid, year_one.incurred) == (first, loss - DM_DEDUCTIBLE)
    assert (year_two.development_year, year_two.valued_at) == (2, clock.now)
    assert (year_two.paid, year_two.incurred) == (
        loss - DM_DEDUCTIBLE, loss - DM_DEDUCTIBLE + reserve)
    earlier = report(h, datetime(2025, 6, 15, 3, tzinfo=UTC)).triangle[0].cells[1]
    assert (earlier.paid, earlier.incurred) == (
        loss - DM_DEDUCTIBLE, loss - DM_DEDUCTIBLE + late_loss - DM_DEDUCTIBLE)


def test_an_accident_year_has_a_development_year_per_fiscal_year_end_up_to_as_of(
        h: Harness, clock: FakeClock):
    h.given(attach(), file_liability("L1", made_on="2024-06-10"))
    for years in range(1, 4):
        as_of = fiscal_year_end(2024 + years - 1)
        clock.now = as_of
        cells = report(h, as_of).triangle[0].cells
        assert [c.fiscal_year for c in cells] == list(range(2024, 2024 + years))
        assert cells[-1].incurred == 1_800_000 - LI_DEDUCTIBLE


def test_claims_filed_before_reserves_were_kept_are_counted_and_the_report_says_so(
        h: Harness):
    h.given(attach(), file_data_media("C1"), file_data_media("C2", incident="2024-06-02"),
            pay("C1", amount=100_000))
    old_log = [e for e in h.events_after(0)
               if not (isinstance(e, ReserveSet) and e.originator_id == "claim:C1")]
    found = reserves_report(old_log, as_of=h.clock.now)
    assert found.claims_without_reserve == row(found, DM, 2024).claims_without_reserve == 1
    assert found.notes == ["1 claim has no reserve: filed before reserves were kept (1 still "
                           "open, whose case reserves these figures lack until one is set)"]
    assert row(found, DM, 2024).reserves == row(report(h), DM, 2024).reserves - (
        800_000 - DM_DEDUCTIBLE - 100_000)
    assert report(h).notes == []


STEPS: list[tuple[float, dict[str, Any], str]] = [
    (0, attach(), "tester"),
    (0, authority("boss", 100_000, 10_000_000), "tester"),
    (1, file_data_media("C1", loss=800_000, incident="2024-06-10"), "tester"),
    (30, pay("C1", amount=100_000), "tester"),
    (120, file_liability("L1", made_on="2024-10-01"), "tester"),
    (200, {"command": "request_payout", "claim_id": "L1", "amount": 500_000}, "clerk"),
    (10, {"command": "approve_payout", "claim_id": "L1", "payout_id": "payout-1",
          "reason": "checked"}, "boss"),
    (60, reverse("C1", "payout-1"), "tester"),
    (5, {"command": "set_reserve", "claim_id": "L1", "amount": 900_000,
         "reason": "litigation"}, "tester"),
    (90, {"command": "record_recovery", "claim_id": "L1", "kind": "subrogation",
          "amount": 1_500_000, "counterparty": "X社", "reason": "settled"}, "tester"),
    (40, close("C1"), "tester"),
    (300, reopen("C1"), "tester"),
]
"""Commands a number of days apart (from 2024-06-15), across three fiscal years."""


def _run(steps: list[tuple[float, dict[str, Any], str]]) -> tuple[list[LedgerEvent], list[
        datetime]]:
    clock = FakeClock(FY2024_NOON)
    ledger = make_ledger({}, clock)
    times = []
    for days, command, actor in steps:
        clock.advance(days=days)
        ledger.execute(parse_command(command), actor=actor)
        times.append(clock.now)
    events = Harness(ledger, clock).events_after(0)
    ledger.close()
    return events, times


@pytest.mark.parametrize("cut", range(1, len(STEPS)))
@pytest.mark.parametrize("basis", ["accident-year", "policy-year"])
def test_the_report_as_of_a_past_time_equals_the_report_of_a_ledger_stopped_then(
        cut: int, basis: Any):
    everything, times = _run(STEPS)
    stopped, _ = _run(STEPS[:cut])
    as_of = times[cut - 1] + (times[cut] - times[cut - 1]) / 2
    assert reserves_report(everything, as_of=as_of, basis=basis) == reserves_report(
        stopped, as_of=as_of, basis=basis)


def test_a_basis_it_does_not_know_or_a_period_after_as_of_is_refused():
    with pytest.raises(ValueError, match="basis"):
        reserves_report([], as_of=FY2024_NOON, basis="calendar-year")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="after as_of"):
        reserves_report([], as_of=FY2024_NOON, period_start=date(2024, 7, 1))
    assert reserves_report([], as_of=FY2024_NOON,
                           period_start=FY2024_NOON - timedelta(days=1)).rows == []
