"""The year-end reserves report (支払備金): per coverage and year, what is paid,
reserved, held and recovered, and the loss development triangle by accident
year, folded from the log's decoded events in log order, as of a recorded time.

Pure: no SQL and no reads of its own. Whoever has the events (the ledger's log,
an export) gives them in log order; an event recorded after ``as_of`` is left
out, so the report as of a past time is the report of the ledger as it stood
then. Each claim is replayed with the domain's own ``evolve``.

Years are fiscal years (事業年度) starting 1 April in Japan, labelled by the year
they start in (FY2024 = 2024-04-01..2025-03-31). A claim's accident year is the
fiscal year of its trigger date: the incident date for data/media, the day the
third party made its claim for liability (a liability claim of an incident
takes its incident's first claim's, as it draws on that claim's policy year).
On the policy-year basis a claim's year is the fiscal year its policy year
started in. The triangle's development year k of accident year AY is valued at
the end of fiscal year AY + k - 1 (the last at ``as_of``). IBNR is left to the
actuaries: the report gives them its inputs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal, NamedTuple, get_args

from pydantic import BaseModel, ConfigDict

from domain import claim as claim_module
from domain.claim import Claim, ClaimFiled, ClaimStatus
from domain.claim.events import ClaimEvent
from domain.events import EVENT_CLASSES, LedgerEvent
from domain.money import Yen
from domain.policy_year import CoverageAttached
from domain.terms import JST, Coverage

Basis = Literal["accident-year", "policy-year"]
BASES: tuple[str, ...] = get_args(Basis)

REPORT_EVENTS: tuple[str, ...] = (
    *sorted(name for name, cls in EVENT_CLASSES.items() if issubclass(cls, ClaimEvent)),
    CoverageAttached.event_name)
"""The names of the events the report reads (every other event is ignored): a
reader of the log may ask for these alone."""


def fiscal_year(day: date) -> int:
    """The fiscal year (starting 1 April) a business date falls in."""
    return day.year if day.month >= 4 else day.year - 1


def fiscal_year_of(when: datetime) -> int:
    """The fiscal year a recorded time falls in, in Japan."""
    return fiscal_year(when.astimezone(JST).date())


def fiscal_year_start(year: int) -> datetime:
    return datetime(year, 4, 1, tzinfo=JST)


def fiscal_year_end(year: int) -> datetime:
    """The last instant of the fiscal year (as ``--as-of`` reads a bare date)."""
    return fiscal_year_start(year + 1) - timedelta(microseconds=1)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReserveRow(_Model):
    """One coverage and year (``year`` None: every year of the coverage)."""

    coverage: Coverage
    year: int | None
    claims: int
    """Claims filed by ``as_of``."""
    claims_open: int
    claims_without_reserve: int
    """Claims with no reserve: filed before reserves were kept, none set since."""
    paid_in_period: int
    """Payouts less reversals recorded within the period (negative when the
    reversals are more)."""
    paid_to_date: Yen
    """Paid, net of reversals."""
    reserves: Yen
    """Case reserves at ``as_of``."""
    held: Yen
    """Payouts requested and awaiting approval."""
    recovered_insurer: Yen
    recovered_insured: Yen
    """Recovered money that went to the insured (保険法25条2項), shown apart."""
    incurred: Yen
    """paid_to_date + reserves (recoveries not deducted)."""


class TriangleCell(_Model):
    development_year: int
    fiscal_year: int
    """The fiscal year at whose end the cell is valued."""
    valued_at: datetime
    """That year's end, or ``as_of`` for the year it falls in."""
    paid: Yen
    """Cumulative paid, net of reversals."""
    incurred: Yen
    """Case incurred: cumulative paid + case reserves."""


class TriangleRow(_Model):
    coverage: Coverage
    accident_year: int
    cells: list[TriangleCell]


class ReportTable(NamedTuple):
    """One table of the report as cells: a title, its columns, its rows."""

    title: str
    columns: list[str]
    rows: list[list[Any]]


ROW_COLUMNS = ("claims", "claims_open", "claims_without_reserve", "paid_in_period",
               "paid_to_date", "reserves", "held", "recovered_insurer",
               "recovered_insured", "incurred")


class ReservesReport(_Model):
    as_of: datetime
    basis: Basis
    period_start: datetime
    """Paid in the period counts what was recorded from here to ``as_of``."""
    rows: list[ReserveRow]
    totals: list[ReserveRow]
    """Per coverage, every year together."""
    triangle: list[TriangleRow]
    """By accident year, whatever the basis of ``rows``."""
    claims_without_reserve: int
    notes: list[str]

    def tables(self) -> list[ReportTable]:
        """The report as three tables (rows with their totals, cumulative paid,
        case incurred), cells as plain values (yen as whole numbers)."""
        year = "accident_year" if self.basis == "accident-year" else "policy_year_start"
        rows = [[str(r.coverage), "all" if r.year is None else r.year,
                 *(int(getattr(r, c)) for c in ROW_COLUMNS)]
                for r in sorted([*self.rows, *self.totals],
                                key=lambda r: (_rank(r.coverage),
                                               r.year is None, r.year or 0))]
        width = max((len(t.cells) for t in self.triangle), default=0)
        columns = ["coverage", "accident_year",
                   *(f"development_year_{k}" for k in range(1, width + 1))]
        return [
            ReportTable(f"reserves by {self.basis.replace('-', ' ')}",
                        ["coverage", year, *ROW_COLUMNS], rows),
            ReportTable("cumulative paid by accident year", columns,
                        [[str(t.coverage), t.accident_year, *(int(c.paid) for c in t.cells)]
                         for t in self.triangle]),
            ReportTable("case incurred (paid + case reserves) by accident year", columns,
                        [[str(t.coverage), t.accident_year, *(int(c.incurred) for c in t.cells)]
                         for t in self.triangle]),
        ]


@dataclass
class _Tracked:
    """A claim as the fold knows it: its state and the years it is reported in."""

    state: Claim
    accident_year: int
    policy_year_start: int
    paid_in_period: int = 0


class ReservesFold:
    """The report's fold: ``add`` each event in log order, then ``report``."""

    def __init__(self, *, as_of: datetime, basis: Basis = "accident-year",
                 period_start: date | None = None) -> None:
        if basis not in BASES:
            msg = f"basis must be one of {', '.join(BASES)}, not {basis!r}"
            raise ValueError(msg)
        self.as_of = _aware(as_of).astimezone(JST)
        self.basis = basis
        self.period_start = (fiscal_year_start(fiscal_year_of(self.as_of))
                             if period_start is None else _start_of(period_start))
        if self.period_start > self.as_of:
            msg = f"the period starts ({self.period_start}) after as_of ({self.as_of})"
            raise ValueError(msg)
        self._year_starts: dict[tuple[str, int], date] = {}
        self._incident_dates: dict[tuple[str, str, str], date] = {}
        self._claims: dict[str, _Tracked] = {}
        self._development: dict[tuple[Coverage, int], dict[int, list[int]]] = defaultdict(
            lambda: defaultdict(lambda: [0, 0]))

    def add(self, event: LedgerEvent) -> None:
        """Fold one event (events recorded after ``as_of`` are left out)."""
        if event.timestamp > self.as_of:
            return
        if isinstance(event, CoverageAttached):
            self._year_starts.setdefault((event.policy_id, event.policy_year),
                                         event.period_start)
            return
        if not isinstance(event, ClaimEvent):
            return
        tracked = self._claims.get(event.originator_id)
        before = None if tracked is None else tracked.state
        after = claim_module.evolve(before, event)
        if tracked is None:
            assert isinstance(event, ClaimFiled)
            tracked = self._claims[event.originator_id] = self._filed(event, after)
        tracked.state = after
        paid = int(after.paid) - (0 if before is None else int(before.paid))
        reserve = int(after.reserve or 0) - (0 if before is None else int(before.reserve or 0))
        cell = self._development[(after.coverage, tracked.accident_year)][
            fiscal_year_of(event.timestamp)]
        cell[0] += paid
        cell[1] += reserve
        if event.timestamp >= self.period_start:
            tracked.paid_in_period += paid

    def _filed(self, event: ClaimFiled, state: Claim) -> _Tracked:
        trigger = event.claim_made_on or event.incident_date
        if event.incident_id is not None:
            trigger = self._incident_dates.setdefault(
                (event.policy_id, str(event.coverage), event.incident_id), trigger)
        started = self._year_starts[(event.policy_id, event.policy_year)]
        return _Tracked(state, fiscal_year(trigger), fiscal_year(started))

    def report(self) -> ReservesReport:
        rows: dict[tuple[Coverage, int], list[_Tracked]] = defaultdict(list)
        for tracked in self._claims.values():
            year = (tracked.accident_year if self.basis == "accident-year"
                    else tracked.policy_year_start)
            rows[(tracked.state.coverage, year)].append(tracked)
        ordered = sorted(rows, key=lambda k: (_rank(k[0]), k[1]))
        totals = [_row(c, None, [t for k in ordered if k[0] == c for t in rows[k]])
                  for c in Coverage if any(k[0] == c for k in ordered)]
        missing = [t.state for t in self._claims.values() if t.state.reserve is None]
        return ReservesReport(
            as_of=self.as_of, basis=self.basis, period_start=self.period_start,
            rows=[_row(c, y, rows[(c, y)]) for c, y in ordered], totals=totals,
            triangle=self._triangle(), claims_without_reserve=len(missing),
            notes=_notes(missing))

    def _triangle(self) -> list[TriangleRow]:
        last = fiscal_year_of(self.as_of)
        found = []
        for (coverage, accident), deltas in sorted(
                self._development.items(),
                key=lambda i: (_rank(i[0][0]), i[0][1])):
            cells = []
            for k, fy in enumerate(range(accident, max(last, accident) + 1), start=1):
                known = [d for year, d in deltas.items() if year <= fy]
                paid, reserves = sum(d[0] for d in known), sum(d[1] for d in known)
                cells.append(TriangleCell(
                    development_year=k, fiscal_year=fy,
                    valued_at=min(fiscal_year_end(fy), self.as_of),
                    paid=Yen(paid), incurred=Yen(paid + reserves)))
            found.append(TriangleRow(coverage=coverage, accident_year=accident, cells=cells))
        return found


def reserves_report(events: Iterable[LedgerEvent], *, as_of: datetime,
                    basis: Basis = "accident-year",
                    period_start: date | None = None) -> ReservesReport:
    """The reserves report of ``events`` (decoded, in log order) as of the
    recorded time ``as_of``, by accident year or policy year; paid in the
    period counts from ``period_start`` (a date: its start in Japan; default:
    the start of the fiscal year ``as_of`` falls in)."""
    fold = ReservesFold(as_of=as_of, basis=basis, period_start=period_start)
    for event in events:
        fold.add(event)
    return fold.report()


def _row(coverage: Coverage, year: int | None, claims: list[_Tracked]) -> ReserveRow:
    states = [t.state for t in claims]
    paid = sum(int(s.paid) for s in states)
    reserves = sum(int(s.reserve or 0) for s in states)
    return ReserveRow(
        coverage=coverage, year=year, claims=len(states),
        claims_open=sum(s.status is ClaimStatus.OPEN for s in states),
        claims_without_reserve=sum(s.reserve is None for s in states),
        paid_in_period=sum(t.paid_in_period for t in claims),
        paid_to_date=Yen(paid), reserves=Yen(reserves),
        held=Yen(sum(int(s.held) for s in states)),
        recovered_insurer=Yen(sum(int(s.insurer_recovered) for s in states)),
        recovered_insured=Yen(sum(int(s.insured_recovered) for s in states)),
        incurred=Yen(paid + reserves))


def _notes(missing: list[Claim]) -> list[str]:
    if not missing:
        return []
    still_open = sum(c.status is ClaimStatus.OPEN for c in missing)
    claims = "1 claim has" if len(missing) == 1 else f"{len(missing)} claims have"
    return [f"{claims} no reserve: filed before reserves were kept ({still_open} still "
            "open, whose case reserves these figures lack until one is set)"]


def _rank(coverage: Coverage) -> int:
    """Coverages in the terms' order."""
    return list(Coverage).index(coverage)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=JST)


def _start_of(day: date) -> datetime:
    """A period's start: a time as it is, a date from its first instant in Japan."""
    if isinstance(day, datetime):
        return _aware(day)
    return datetime.combine(day, time(), JST)
