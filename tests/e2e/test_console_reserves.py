"""The console's reserves report (``/console/reports/reserves``) and its CSV: the
report's figures as of the page's time, on either basis, in both languages; on a
log written before reserves were kept it says how many claims have none."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.console.i18n import Words, yen
from adapters.service.times import parse_time
from domain.events import LedgerEvent
from domain.ledger import Ledger
from projections.reserves_report import ReservesReport, reserves_report
from tests.e2e.test_console_office_pages import _fixture_log
from tests.support.console import Console, open_console


def report_of(ledger: Ledger, as_of: datetime, basis: Any = "accident-year") -> ReservesReport:
    """The report folded here from every event of the log."""
    events: list[LedgerEvent] = [ledger.decode(n) for n in ledger.notifications()]
    return reserves_report(events, as_of=as_of, basis=basis)


def page_tables(page: str) -> list[list[list[str]]]:
    """Each report table's rows as the reader sees their cells."""
    return [[[html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
              for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
             for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]
            for body in re.findall(r'<table class="report"[^>]*>.*?<tbody>(.*?)</tbody>',
                                   page, re.S)]


def shown(cell: Any, money: bool) -> str:
    return yen(cell) if money else str(cell)


@pytest.mark.parametrize("basis", ["accident-year", "policy-year"])
@pytest.mark.parametrize("as_of", ["2026-01-15T21:30:00+09:00", "2026-02-01"])
def test_the_page_shows_the_report_s_figures_as_of_its_time(office: Console, basis: str,
                                                           as_of: str):
    report = report_of(office.service.ledger, parse_time(as_of, end_of_day=True), basis)
    page = office.sign_in().get("/console/reports/reserves",
                                params={"as_of": as_of, "by": basis}).text
    tables = page_tables(page)
    assert len(tables) == len(report.tables()) == 3
    for cells, table in zip(tables, report.tables(), strict=True):
        assert len(cells) == len(table.rows) > 0
        for row, expected in zip(cells, table.rows, strict=True):
            money = [i > 1 and c not in ("claims", "claims_open", "claims_without_reserve")
                     for i, c in enumerate(table.columns)]
            values = [shown(v, m) for v, m in zip(expected, money, strict=False)][2:]
            assert row[2:len(expected)] == values
            assert row[len(expected):] == [""] * (len(row) - len(expected))  # a triangle


def test_a_past_time_gives_other_figures_than_now(office: Console):
    client = office.sign_in()
    early = page_tables(client.get("/console/reports/reserves",
                                   params={"as_of": "2026-01-15T20:30:00+09:00"}).text)
    late = page_tables(client.get("/console/reports/reserves").text)
    assert early[0] != late[0]


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_csv_holds_the_page_s_tables_with_yen_as_whole_numbers(office: Console, lang: str):
    client = office.sign_in()
    params = {"as_of": "2026-02-01", "by": "policy-year", "lang": lang}
    page = client.get("/console/reports/reserves", params=params).text
    link = re.search(r'<a id="csv" href="([^"]+)"', page)
    assert link is not None
    download = client.get(html.unescape(link.group(1)))
    assert download.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    blocks: list[list[list[str]]] = [[]]
    for line in lines:  # separated by empty lines
        if line:
            blocks[-1].append(line)
        else:
            blocks.append([])
    w = Words(lang)
    meta, *tables = blocks
    assert meta[0] == [w("reports")] and meta[2] == [w("basis"), w("basis_policy-year")]
    shown_tables = page_tables(page)
    assert len(tables) == len(shown_tables)
    for (caption, columns, *rows), cells in zip(tables, shown_tables, strict=True):
        assert caption[0] in page and all(html.escape(c) in page for c in columns)
        assert len(rows) == len(cells)
        for row, seen in zip(rows, cells, strict=True):
            assert row[:2] == seen[:2]
            assert [yen(int(v)) if seen[i].endswith("円") else v
                    for i, v in enumerate(row) if i > 1] == seen[2:len(row)]


@pytest.mark.parametrize(("params", "words"), [
    ({"by": "calendar-year"}, "by: must be one of"), ({"since": "2099-01-01"}, "since:"),
    ({"since": "yesterday"}, "since:"), ({"as_of": "2026-01-01", "since": "2026-01-02"},
                                         "since: is after as_of")])
def test_bad_report_settings_are_a_clear_error_page(office: Console, params: dict[str, str],
                                                    words: str):
    client = office.sign_in()
    for path in ("/console/reports/reserves", "/console/reports/reserves.csv"):
        page = client.get(path, params=params)
        assert page.status_code == 400 and words in page.text, path


def test_a_log_written_before_reserves_were_kept_says_how_many_claims_have_none(
        tmp_path: Path):
    with open_console(tmp_path, run=(), stored=_fixture_log()) as console:
        report = report_of(console.service.ledger, datetime.now().astimezone())
        assert report.claims_without_reserve > 0
        page = console.sign_in("auditor", "en").get("/console/reports/reserves",
                                                    params={"lang": "en"}).text
    assert (f"{report.claims_without_reserve} claims have no reserve (filed before reserves "
            "were kept") in html.unescape(page)
