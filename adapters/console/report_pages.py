"""The console's reserves report (支払備金, ``/console/reports/reserves``): per
coverage and year the claims, paid, case reserves, held, recoveries and
incurred, and the loss development triangle by accident year, as of the page's
time; and its CSV (``/console/reports/reserves.csv``), the page's tables for a
spreadsheet. The figures are the API's ``GET /reports/reserves`` (one function,
``reads.reserves``, folds them from the log's claim events: a scan of the log
per page)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from adapters.console import spreadsheet
from adapters.console.i18n import Words
from adapters.console.pages import View, render
from adapters.console.sessions import PageError
from adapters.service import Service, reads
from projections.reserves_report import BASES, Basis, ReservesReport

COUNTS = ("claims", "claims_open", "claims_without_reserve")
"""The report's columns that count claims; the others after the first two are yen."""
_TITLES = ("table_rows", "table_paid", "table_incurred")
"""The words of the report's tables' titles, in the order ``ReservesReport.tables`` gives them."""


@dataclass(frozen=True)
class ReportQuery:
    """The report's own settings (its time is the page's as-of, else now)."""

    basis: Basis = "accident-year"
    since: datetime | None = None
    """Where "paid in the period" starts (None: the fiscal year's start)."""


@dataclass(frozen=True)
class Table:
    """One of the page's tables: caption, headers, and rows of cells as the ledger
    has them (yen and counts as whole numbers, words in the page's language)."""

    caption: str
    columns: list[str]
    money: list[bool]
    """Per column, whether it is yen (shown as 1,234円)."""
    rows: list[list[Any]]


def query_of(basis: str, since: datetime | None, as_of: datetime | None) -> ReportQuery:
    """The report's settings as a page asks for them, or a 400 naming the one
    refused."""
    if basis not in BASES:
        raise PageError(400, "bad_request", f"by: must be one of {', '.join(BASES)}")
    if since is not None and since > (as_of or datetime.now(UTC)):
        raise PageError(400, "bad_request", "since: is after as_of [dates_in_order]")
    return ReportQuery(cast(Basis, basis), since)


def _column(key: str, w: Words) -> str:
    if key.startswith("development_year_"):
        return w("development_year", k=key.rsplit("_", 1)[1])
    return w(f"report_{key}")


def tables(report: ReservesReport, w: Words) -> list[Table]:
    """The report's tables (``ReservesReport.tables``), in the page's words: the
    coverage by its name, a year as a fiscal year (all years for a total)."""
    found = []
    for title, table in zip(_TITLES, report.tables(), strict=True):
        rows = [[w.coverage(coverage), w("all_years") if year == "all"
                 else w("fiscal_year", year=year), *cells]
                for coverage, year, *cells in table.rows]
        found.append(Table(
            w(title, basis=w(f"basis_{report.basis}")), [_column(c, w) for c in table.columns],
            [i > 1 and c not in COUNTS for i, c in enumerate(table.columns)], rows))
    return found


def _report(service: Service, view: View, query: ReportQuery) -> ReservesReport:
    return reads.reserves(service.ledger, view.as_of or datetime.now(UTC), query.basis,
                          query.since)


def reserves_page(service: Service, view: View, query: ReportQuery) -> str:
    """The reserves report as of the page's time, with its settings' form and
    the link to its CSV."""
    report = _report(service, view, query)
    return render("reserves.html", view, report=report, tables=tables(report, view.words),
                  query=query, bases=BASES,
                  since_text=view.query.get("since", "").strip())


def reserves_csv(service: Service, view: View, query: ReportQuery) -> str:
    """The page's tables as CSV for a spreadsheet, in the page's language: a byte
    order mark, the report's time, basis and period, then each table under its
    caption, an empty line between them (cells through ``spreadsheet``)."""
    report = _report(service, view, query)
    w = view.words
    out = io.StringIO()
    out.write("\ufeff")
    spreadsheet.write(out, [w("reports")], [
        [w("as_of"), report.as_of.isoformat()], [w("basis"), w(f"basis_{report.basis}")],
        [w("period_start"), report.period_start.isoformat()]])
    for table in tables(report, w):
        out.write("\r\n")
        spreadsheet.write(out, [table.caption], [])
        spreadsheet.write(out, table.columns, table.rows)
    if report.claims_without_reserve:
        out.write("\r\n")
        spreadsheet.write(out, [w("without_reserve_note", n=report.claims_without_reserve)], [])
    return out.getvalue()
