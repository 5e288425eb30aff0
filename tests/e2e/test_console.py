"""The console's routes in-process (FastAPI's TestClient): sign-in and its cookie,
refusals, error pages, the CSV, as-of, and the wording helpers. The real-browser
tests are in test_console_browser.py."""

from __future__ import annotations

import csv
import html
import io
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.audit import seal
from adapters.console.i18n import Words, yen
from adapters.console.pages import AUDIT_COLUMNS, View, claim_page
from adapters.service import reads as views
from adapters.storage.sealed_recorders import sealed_log
from tests.support.console import Console


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


PAGES = ["/console/policies", "/console/policies/P-1", "/console/policies/P-1/years/1",
         "/console/claims/C-1", "/console/audit", "/console/seal", "/console/work",
         "/console/search?q=P", "/console/reports/reserves", "/console/audit.csv"]


def test_nothing_is_reachable_without_signing_in(console: Console):
    for path in [*PAGES, "/console/policies/NOPE", "/console/anything"]:
        response = console.client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/console/sign-in"), path
    console.client.cookies.set("claims_ledger_console", "made-up")
    assert console.client.get("/console/policies", follow_redirects=False).status_code == 303


def test_sign_in_sets_a_strict_http_only_cookie_and_sign_out_ends_the_session(
    console: Console,
):
    response = console.send_sign_in(console.tokens["auditor"])
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    session = console.client.cookies.get("claims_ledger_console")
    page = console.client.get("/console/policies")
    assert page.status_code == 200 and "demo-auditor" in page.text
    assert "script" not in page.headers["content-security-policy"]
    assert "<script" not in page.text
    assert console.post("/console/sign-out").status_code == 200  # back on the sign-in page
    console.client.cookies.set("claims_ledger_console", session or "")
    assert console.client.get("/console/policies", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(("token", "status", "words"), [
    ("appender", 403, "appender"), ("subscriber", 403, "subscriber"),
    ("nope", 401, "登録されていません"), ("", 401, "登録されて")])
def test_an_appender_subscriber_or_unknown_token_cannot_sign_in(
        console: Console, token: str, status: int, words: str):
    response = console.send_sign_in(console.tokens.get(token, token))
    assert response.status_code == status
    assert words in response.text and "set-cookie" not in response.headers
    assert console.client.get("/console/policies", follow_redirects=False).status_code == 303


def test_operators_sign_in_too_and_every_page_renders_in_both_languages(console: Console):
    client = console.sign_in("operator")
    for path in PAGES[:-1]:
        ja = client.get(path)
        en = client.get(path, params={"lang": "en"})
        assert ja.status_code == en.status_code == 200, path
        assert '<html lang="ja">' in ja.text and '<html lang="en">' in en.text
        assert "監査コンソール" in ja.text and "audit console" in en.text
        assert 'href="/console/policies?lang=en"' in en.text  # links keep the language


def test_figures_are_yen_and_dates_are_written_as_the_terms_write_them(console: Console):
    client = console.sign_in()
    page = text_of(client.get("/console/policies/P-1").text)
    assert "700,000円" in page and "300,000円" in page and "5,000,000円" in page
    assert "2024年4月1日" in page
    english = text_of(client.get("/console/claims/C-1", params={"lang": "en"}).text)
    assert "1 June 2024" in english and "700,000円" in english
    assert Words("ja").date("2006-07-01") == "2006年7月1日"
    assert Words("en").date("2006-07-01") == "1 July 2006"
    assert yen(1234567) == "1,234,567円"


def test_the_policy_list_searches_by_the_start_of_the_id(console: Console):
    client = console.sign_in()
    found = client.get("/console/policies", params={"q": "P-"}).text
    assert 'data-policy="P-1"' in found and 'data-policy="P-2"' in found
    assert 'data-policy="Q-1"' not in found
    none = client.get("/console/policies", params={"q": "p-"}).text
    assert 'data-policy=' not in none and 'id="no-policies"' in none


def test_the_policy_year_chart_links_each_payout_and_reversal_to_its_claim(console: Console):
    client = console.sign_in()
    page = client.get("/console/policies/P-1/years/1").text
    chart = page[page.index('<section class="coverage"'):]
    assert chart.count("<svg") == 2
    links = re.findall(r'<a href="(/console/claims/[^"]+)" aria-label', page)
    assert links == ["/console/claims/C-1", "/console/claims/L-1", "/console/claims/L-1"]
    assert "<circle" in page and "<rect x=" in page  # a payout point, a reversal point


def test_as_of_shows_the_older_figures_and_says_so(console: Console):
    client = console.sign_in()
    then = (datetime(2026, 1, 15, 3, tzinfo=UTC) + timedelta(hours=4, minutes=30)).isoformat()
    old = client.get("/console/claims/C-1", params={"as_of": then})
    assert old.status_code == 200
    assert 'data-field="paid">0円' in old.text and "過去の時点の表示です" in old.text
    assert "as_of=" in old.text and "現在の表示に戻る" in old.text
    now = client.get("/console/claims/C-1")
    assert 'data-field="paid">700,000円' in now.text and "過去の時点" not in now.text
    limits = client.get("/console/policies/P-1", params={"as_of": then}).text
    assert 'data-field="remaining">1,000,000円' in limits


@pytest.mark.parametrize(("path", "params", "status", "words"), [
    ("/console/policies/NOPE", {}, 404, "no policy NOPE"),
    ("/console/claims/NOPE", {}, 404, "no claim NOPE"),
    ("/console/policies/P-1/years/9", {}, 404, "no policy year 9"),
    ("/console/policies/P-1/years/x", {}, 404, "no policy year x"),
    ("/console/nothing-here", {}, 404, "no page"),
    ("/console/policies", {"as_of": "yesterday"}, 400, "as_of"),
    ("/console/policies", {"lang": "fr"}, 400, "lang"),
    ("/console/audit", {"limit": "0"}, 400, "limit"),
    ("/console/audit", {"event_type": "Nope"}, 400, "event_type"),
    ("/console/audit", {"from": "2026-13-01"}, 400, "from"),
])
def test_bad_input_is_a_clear_error_page(console: Console, path: str, params: dict[str, str],
                                         status: int, words: str):
    client = console.sign_in()
    response = client.get(path, params=params)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert words in response.text and "Traceback" not in response.text


def page_table(page: str) -> list[list[str]]:
    """The audit page's rows as the reader sees their cells (a line break for <br>)."""
    return [[html.unescape(re.sub(r"<[^>]+>", "", c.replace("<br>", "\n"))).strip()
             for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r'<tr data-position="\d+">(.*?)</tr>', page, re.S)]


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_csv_holds_exactly_the_rows_and_cells_the_audit_page_shows(console: Console,
                                                                      lang: str):
    client = console.sign_in()
    params = {"policy_id": "P-1", "limit": "4", "after": "3", "lang": lang}
    page = client.get("/console/audit", params=params).text
    shown = page_table(page)
    assert len(shown) == 4 and int(shown[0][0]) > 3
    link = re.search(r'<a id="csv" href="([^"]+)"', page)
    assert link is not None
    download = client.get(html.unescape(link.group(1)))
    assert download.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert rows[0] == [Words(lang)(c) for c in AUDIT_COLUMNS]
    assert len(rows[1:]) == len(shown)
    amount = AUDIT_COLUMNS.index("amount")
    for row, cells in zip(rows[1:], shown, strict=True):
        # the amount is a plain number, to add up; every other cell reads as on the page
        assert (yen(int(row[amount])) if row[amount] else "-") == cells[amount]
        assert row[:amount] + row[amount + 1:] == cells[:amount] + cells[amount + 1:]
    assert any(r[amount] for r in rows[1:])


def test_a_page_renders_without_http(console: Console):
    html = claim_page(console.service, View("en"), "L-1")
    assert "Payout reversed" in html and "1,500,000円" in html


def test_the_claim_page_shows_the_same_explanation_as_the_explain_command(console: Console):
    client = console.sign_in()
    for lang in ("ja", "en"):
        page = client.get("/console/claims/C-1", params={"lang": lang}).text
        expected = views.explanation(console.service.ledger, "C-1", lang).lines  # type: ignore[arg-type]
        shown = re.findall(r'<li data-kind="(\w+)"[^>]*>([^<]*)</li>', page)
        assert [(k, html.unescape(t)) for k, t in shown] == [(x.kind, x.text) for x in expected]
    page = text_of(client.get("/console/claims/C-1").text)
    assert ("損害額 800,000円 − 免責金額 100,000円 = 700,000円; 1事故限度額 1,000,000円以内; "
            "年間残額 1,000,000円 → 支払額 700,000円, 残額 300,000円") in page


def test_the_seal_page_shows_the_last_checkpoint_verifies_and_downloads_it(
        console: Console, tmp_path: Path):
    client = console.sign_in()
    log = sealed_log(console.service.ledger.recorder)
    assert "No checkpoint yet" in client.get("/console/seal", params={"lang": "en"}).text
    assert client.get("/console/seal/checkpoint.json").status_code == 404
    _, checkpoint = log.seal_tail()
    assert checkpoint is not None
    page = client.get("/console/seal", params={"lang": "en"}).text
    assert f'data-field="checkpoint_position">{checkpoint.position}<' in page
    assert checkpoint.hash in page and "Not verified since this server started" in page
    after = console.post("/console/seal/verify", lang="en")
    assert after.status_code == 200  # followed the redirect back to the page
    assert (f"Intact: {checkpoint.position} events up to position {checkpoint.position} "
            "match the seal") in text_of(after.text)
    assert "Verified up to the last checkpoint" in after.text
    download = client.get("/console/seal/checkpoint.json")
    assert download.headers["content-disposition"].startswith("attachment")
    kept = tmp_path / "kept.json"
    kept.write_bytes(download.content)
    assert seal.verify(log, seal.CheckpointFile.read(str(kept))).ok
    with sqlite3.connect(console.db) as conn:
        conn.execute("UPDATE stored_events SET state = replace(state, 'svc-appender', "
                     "'svc-forger') WHERE rowid = 9")
    tampered = text_of(console.post("/console/seal/verify").text)
    assert "改ざんを検出: 位置 9（edited）" in tampered


def test_the_seal_pages_need_a_signed_in_auditor_or_operator(console: Console):
    for method, path in (("GET", "/console/seal"), ("POST", "/console/seal/verify"),
                         ("GET", "/console/seal/checkpoint.json")):
        response = console.client.request(method, path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/console/sign-in")
