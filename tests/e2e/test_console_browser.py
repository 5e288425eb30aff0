"""The console in a real browser: Debian's Chromium, driven by Playwright, against
the real server (uvicorn in a subprocess on a free loopback port) on a
generated ledger. Figures on screen are checked against the API's JSON; each
page is photographed, wide and at 375 px, into var/test-output/console/.

Without Chromium these tests skip; with CI=true they fail instead."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.builders import attach, file_data_media, file_liability, pay, reverse
from tests.support import browser, serving
from tests.workload import commands

if (reason := browser.missing()) is not None:
    if browser.env_flag("CI"):
        pytest.fail(f"{reason}; CI=true makes this a failure", pytrace=False)
    pytest.skip(reason, allow_module_level=True)

from playwright.sync_api import BrowserContext, Page, expect

SHOTS = Path(__file__).resolve().parents[2] / "var" / "test-output" / "console"
POLICY, CLAIM, LIABILITY = "P-WEB-1", "C-WEB-1", "L-WEB-1"


@dataclass
class Ledger:
    url: str
    tokens: dict[str, str]
    before_reversal: str
    """A recorded time after the liability payout and before its reversal."""

    def api(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.url}{path}", params=params, timeout=60, headers={
            "Authorization": f"Bearer {self.tokens['auditor']}"})
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    folder = tmp_path_factory.mktemp("console")
    db = str(folder / "ledger.db")
    workload = folder / "workload.jsonl"
    workload.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n"
                                for c in commands(3000, seed=11)), encoding="utf-8")
    applied = subprocess.run([sys.executable, "-m", "adapters.cli", "--db", db, "--actor",
                              "svc-workload", "apply", str(workload)], capture_output=True,
                             text=True, check=False)
    assert applied.returncode in (0, 1), applied.stderr  # 1: the workload's refused commands
    with serving.server(db, folder) as (url, tokens), httpx.Client(
            base_url=url, timeout=60,
            headers={"Authorization": f"Bearer {tokens['appender']}"}) as appender:
        for command in (attach(POLICY), file_data_media(CLAIM, policy_id=POLICY), pay(CLAIM),
                        file_liability(LIABILITY, policy_id=POLICY), pay(LIABILITY)):
            assert appender.post("/commands", json=command).status_code == 201
        time.sleep(0.05)
        before_reversal = datetime.now(UTC).isoformat()
        time.sleep(0.05)
        assert appender.post("/commands", json=reverse(LIABILITY)).status_code == 201
        yield Ledger(url, tokens, before_reversal)


@pytest.fixture(scope="module")
def context() -> Iterator[BrowserContext]:
    with browser.chromium() as context:
        yield context


@pytest.fixture
def page(context: BrowserContext, ledger: Ledger) -> Iterator[Page]:
    context.clear_cookies()
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(ledger.url) else outside.append(r.url))
    yield page
    page.close()
    assert outside == [], f"the console asked for something from elsewhere: {outside}"


def shoot(page: Page, name: str) -> None:
    """A wide screenshot and one at 375 px, checking nothing spills sideways there."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    page.set_viewport_size({"width": 375, "height": 800})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"{name} is {width}px wide at a 375px viewport"
    page.screenshot(path=str(SHOTS / f"{name}-375.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def figures(scope: Any) -> dict[str, str]:
    return {f: scope.locator(f'[data-field="{f}"]').first.inner_text()
            for f in ("annual_limit", "paid", "remaining") if scope.locator(
                f'[data-field="{f}"]').count()}


def yen(n: int) -> str:
    return f"{n:,}円"


def test_no_token_and_an_appender_token_are_refused(page: Page, ledger: Ledger):
    for path in ("/console/policies", f"/console/claims/{CLAIM}", "/console/audit"):
        page.goto(f"{ledger.url}{path}")
        # the sign-in page, set to return to the page asked for
        expect(page).to_have_url(f"{ledger.url}/console/sign-in?{urlencode({'next': path})}")
        expect(page.locator("main")).not_to_contain_text(CLAIM)
    page.get_by_label("トークン").fill(ledger.tokens["appender"])
    page.get_by_role("button", name="サインイン").click()
    expect(page.get_by_role("alert")).to_contain_text("appender")
    expect(page).to_have_url(f"{ledger.url}/console/sign-in")
    shoot(page, "sign-in-refused")
    page.goto(f"{ledger.url}/console/policies")
    expect(page).to_have_url(f"{ledger.url}/console/sign-in?next=%2Fconsole%2Fpolicies")


def test_sign_in_returns_to_the_page_asked_for(page: Page, ledger: Ledger):
    # the browser's own form post (with its Origin) is accepted and returns to the page
    page.goto(f"{ledger.url}/console/claims/{CLAIM}?lang=en")
    page.get_by_label("Token").fill(ledger.tokens["auditor"])
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{ledger.url}/console/claims/{CLAIM}?lang=en")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{ledger.url}/console/sign-in?lang=en")


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_page_shows_the_figures_the_api_gives(page: Page, ledger: Ledger, lang: str):
    browser.sign_in(page, ledger.url, ledger.tokens["auditor"], lang)
    expect(page.locator("html")).to_have_attribute("lang", lang)
    shoot(page, f"policies-{lang}")
    limits = ledger.api(f"/policies/{POLICY}/limits")

    page.get_by_label("契約番号" if lang == "ja" else "Policy id starts with").fill("P-WEB")
    page.keyboard.press("Enter")
    expect(page.locator("[data-policy]")).to_have_count(1)
    for row in limits:
        cells = page.locator(f'[data-policy="{POLICY}"] tr[data-year="{row["policy_year"]}"]'
                             f'[data-coverage="{row["coverage"]}"]')
        assert figures(cells) == {"annual_limit": yen(row["annual_limit"]),
                                  "paid": yen(row["paid"]), "remaining": yen(row["remaining"])}
    page.get_by_role("link", name=f"{'契約' if lang == 'ja' else 'Policy'} {POLICY}").click()
    expect(page.locator("h1")).to_contain_text(POLICY)
    claim_rows = page.locator("table.claims tbody tr")
    expect(claim_rows).to_have_count(2)
    shoot(page, f"policy-{lang}")

    page.get_by_role("link", name="第1年度" if lang == "ja" else "Year 1").click()
    drawn = ledger.api("/audit", policy_id=POLICY, event_type="AnnualLimitDrawn")["items"]
    restored = ledger.api("/audit", policy_id=POLICY, event_type="AnnualLimitRestored")["items"]
    for row in limits:
        section = page.locator(f'section[data-coverage="{row["coverage"]}"]')
        assert figures(section) == {"annual_limit": yen(row["annual_limit"]),
                                    "paid": yen(row["paid"]), "remaining": yen(row["remaining"])}
        changes = [r for r in drawn + restored if r["coverage"] == row["coverage"]]
        expect(section.locator("svg.chart a")).to_have_count(len(changes))
        expect(section.locator("table.changes tbody tr")).to_have_count(len(changes))
    shoot(page, f"year-{lang}")

    # Follow the reversal's point on the chart to its claim.
    page.locator('section[data-coverage="it_liability"] svg.chart a').last.click()
    expect(page.locator("h1")).to_contain_text(LIABILITY)
    claim = ledger.api(f"/claims/{LIABILITY}")
    history = ledger.api("/audit", claim_id=LIABILITY)["items"]
    assert page.locator('[data-field="paid"]').inner_text() == yen(claim["paid"])
    assert page.locator('[data-field="payable"]').inner_text() == yen(claim["payable"])
    expect(page.locator("table.timeline tbody tr")).to_have_count(len(history))
    expect(page.locator("table.payout")).to_have_count(len(claim["payouts"]))
    actor = page.locator("table.timeline tbody tr").first.locator("td").nth(2)
    expect(actor).to_have_text("demo-appender")
    explained = ledger.api(f"/claims/{LIABILITY}/explanation", lang=lang)
    expect(page.locator("ol.explanation li")).to_have_text(
        [line["text"] for line in explained["lines"]])
    shoot(page, f"claim-{lang}")

    page.get_by_role("navigation").first.get_by_role(
        "link", name="監査証跡" if lang == "ja" else "Audit trail").click()
    expect(page.locator("table.audit tbody tr")).to_have_count(50)
    shoot(page, f"audit-{lang}")

    page.get_by_role("navigation").first.get_by_role(
        "link", name="封印" if lang == "ja" else "Seal").click()
    page.get_by_role("button", name="今すぐ全体を検証" if lang == "ja"
                     else "Verify the whole log now").click()
    head = int(httpx.get(f"{ledger.url}/health", timeout=30).json()["log_head"])
    status = page.locator('[data-field="seal_status"]')
    expect(status).to_contain_text(f"position {head}" if lang == "en" else f"位置 {head}")
    expect(status).to_contain_text("改ざんなし" if lang == "ja" else "Intact")
    with page.expect_download() as download:
        page.get_by_role("link", name="チェックポイント (JSON) をダウンロード" if lang == "ja"
                         else "Download the checkpoint (JSON)").click()
    kept = json.loads(Path(download.value.path()).read_text())
    assert kept["checkpoint"]["position"] == int(
        page.locator('[data-field="checkpoint_position"]').inner_text())
    shoot(page, f"seal-{lang}")


def test_as_of_shows_the_older_figure_marked_as_historical(page: Page, ledger: Ledger):
    browser.sign_in(page, ledger.url, ledger.tokens["operator"], "en")
    page.goto(f"{ledger.url}/console/claims/{LIABILITY}?lang=en")
    now = ledger.api(f"/claims/{LIABILITY}")
    then = ledger.api(f"/claims/{LIABILITY}", as_of=ledger.before_reversal)
    assert now["paid"] != then["paid"]
    expect(page.locator('[data-field="paid"]')).to_have_text(yen(now["paid"]))
    expect(page.locator(".banner")).to_have_count(0)
    page.get_by_label("As of (recorded time)").fill(ledger.before_reversal)
    page.get_by_role("button", name="Show").click()
    expect(page.locator('[data-field="paid"]')).to_have_text(yen(then["paid"]))
    expect(page.locator(".banner")).to_contain_text("Historical view")
    expect(page).to_have_title(f"[Historical view] Claim {LIABILITY} — Data insurance "
                               "audit console")
    shoot(page, "claim-as-of-en")
    # The setting follows the links, and the switch back to now drops it.
    page.get_by_role("link", name=POLICY).click()
    expect(page.locator(".banner")).to_contain_text("Historical view")
    page.get_by_role("link", name="日本語").click()
    expect(page.locator(".banner")).to_contain_text("過去の時点の表示です")
    page.get_by_role("link", name="現在の表示に戻る").click()
    expect(page.locator(".banner")).to_have_count(0)


def test_the_csv_download_is_exactly_the_page_of_the_audit_trail_shown(
    page: Page, ledger: Ledger,
):
    browser.sign_in(page, ledger.url, ledger.tokens["auditor"], "en")
    page.goto(f"{ledger.url}/console/audit?lang=en")
    page.get_by_label("Actor").fill("svc-workload")
    page.get_by_label("Event type").select_option("PayoutIssued")
    page.get_by_label("Rows per page").fill("7")
    page.get_by_role("button", name="Apply").click()
    page.get_by_role("link", name="Next page").click()
    shown = [int(p) for p in page.locator("table.audit tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.position)")]
    assert len(shown) == 7
    with page.expect_download() as info:
        page.get_by_role("link", name="Download the rows shown as CSV").click()
    # UTF-8 with a byte order mark, headed as the page's table is
    rows = list(csv.reader(io.StringIO(Path(info.value.path()).read_text("utf-8-sig"))))
    headers = page.locator("table.audit thead th").all_inner_texts()
    assert rows[0] == headers
    api = ledger.api("/audit", actor="svc-workload", event_type="PayoutIssued",
                     after=shown[0] - 1, limit=7)["items"]
    assert [int(r[0]) for r in rows[1:]] == shown == [r["position"] for r in api]
    actor, amount = headers.index("Actor"), headers.index("Amount")
    for row, item in zip(rows[1:], api, strict=True):
        assert row[actor] == item["actor"] and row[amount] == str(item["amount"])
    shoot(page, "audit-page-2-en")


def test_the_keyboard_reaches_the_content_and_the_chart_points(page: Page, ledger: Ledger):
    browser.sign_in(page, ledger.url, ledger.tokens["auditor"])
    page.goto(f"{ledger.url}/console/policies/{POLICY}/years/1")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("本文へ移動")
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('svg') !== null"):
            break
    else:
        pytest.fail("no chart point took the focus")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text(CLAIM)


def test_an_unknown_claim_is_a_clear_404_page(page: Page, ledger: Ledger):
    browser.sign_in(page, ledger.url, ledger.tokens["auditor"], "en")
    response = page.goto(f"{ledger.url}/console/claims/NOPE?lang=en")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("404 Not found")
    expect(page.locator("#detail")).to_contain_text("no claim NOPE")


def test_the_header_search_finds_a_policy_and_the_work_pages_fit_a_phone(page: Page,
                                                                        ledger: Ledger):
    browser.sign_in(page, ledger.url, ledger.tokens["auditor"])
    page.get_by_role("searchbox", name="検索").fill(POLICY.lower())
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("検索")
    shoot(page, "search")
    page.locator(f'tr[data-policy="{POLICY}"] a').click()
    expect(page.locator("h1")).to_contain_text(POLICY)
    expect(page.locator('[data-field="customer_name"]')).to_have_text(
        attach(POLICY)["customer_name"])
    for path, name in (("/console/work", "work"), ("/console/reports/reserves", "reserves")):
        response = page.goto(f"{ledger.url}{path}")
        assert response is not None and response.status == 200
        shoot(page, name)
