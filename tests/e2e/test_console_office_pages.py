"""The console's search (by holder's name, policy or claim id, claim status), the
policy holder and dates on every policy and claim page, and a claim's reserve,
holds and recoveries, on the claims office at work (``OFFICE_RUN``) and on a log
written before reserves were kept."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from pathlib import Path

import markupsafe
import pytest
from eventsourcing.persistence import StoredEvent

from adapters.console.i18n import Words
from domain.claim import ClaimStatus
from domain.policy import FirewallOptionCancelled
from tests.e2e.test_console_work import claim_ids, rows, table
from tests.support.console import HOSTILE_NAME, Console, open_console

FIXTURE_LOG = Path(__file__).parents[1] / "fixtures" / "log_2026-12-04.jsonl"


def found(console: Console, **params: str) -> tuple[list[str], list[str]]:
    """The policies and the claims a search shows."""
    page = console.client.get("/console/search", params=params)
    assert page.status_code == 200, page.text
    policies = claims = []
    if 'class="found-policies"' in page.text:
        policies = [r["policy"] for r in rows(table(page.text, "found-policies"))]
    if 'class="found-claims"' in page.text:
        claims = [r["claim"] for r in rows(table(page.text, "found-claims"))]
    return policies, claims


def claims_of(console: Console, policy_id: str) -> list[str]:
    return sorted(c for c in claim_ids()
                  if console.service.ledger.get_claim(c).policy_id == policy_id)


@pytest.mark.parametrize("text", ["サンプル", "ｻﾝﾌﾟﾙ", "株式会社サンプル商事", "p-1"])
def test_a_search_finds_a_policy_by_part_of_its_holder_s_name_or_id_and_its_claims(
        office: Console, text: str):
    office.sign_in()
    assert found(office, q=text) == (["P-1"], claims_of(office, "P-1"))


def test_a_search_compares_full_and_half_width_letters_alike(office: Console):
    office.sign_in()
    assert found(office, q="abc")[0] == ["P-2"]  # the holder's name has ＡＢＣ
    assert found(office, q="ａｂｃ")[0] == ["P-2"]


def test_a_search_finds_claims_by_id_and_by_status(office: Console):
    ledger = office.service.ledger
    office.sign_in()
    assert found(office, q="c-1") == ([], ["C-1"])
    for status in ClaimStatus:
        expected = sorted(c for c in claim_ids() if ledger.get_claim(c).status is status)
        assert found(office, status=status.value) == ([], expected)
    closed = [c for c in claim_ids() if ledger.get_claim(c).status is ClaimStatus.CLOSED]
    assert closed and found(office, q="Q-1", status="open")[1] == sorted(
        c for c in claims_of(office, "Q-1") if c not in closed)


@pytest.mark.parametrize("text", [
    "<script>alert(1)</script>", "' OR 1=1 --", '"><img src=x onerror=alert(1)>', "%", "_",
    "\\", "); DROP TABLE stored_events; --", "ＭＡＸ" * 66, "検索" * 100])
def test_a_search_takes_hostile_text_literally_and_shows_it_escaped(office: Console, text: str):
    client = office.sign_in()
    page = client.get("/console/search", params={"q": text})
    assert page.status_code == 200
    assert f'name="q" value="{markupsafe.escape(text)}"' in page.text
    if set(text) & set("<>&\"'"):
        assert text not in page.text  # only ever escaped
    policies, claims = found(office, q=text)
    assert claims == sorted({c for p in policies for c in claims_of(office, p)})
    assert policies == (["P-2"] if text in HOSTILE_NAME else [])


def test_like_wildcards_match_only_themselves(office: Console):
    office.sign_in()
    assert found(office, q="%_") == (["P-2"], claims_of(office, "P-2"))
    assert found(office, q="P%") == ([], [])


@pytest.mark.parametrize(("params", "words"), [
    ({"q": "a\x00b"}, "q: must be printable"), ({"q": "\x1b[31m"}, "q: must be printable"),
    ({"q": "line\nbreak"}, "q: must be printable"), ({"q": "x" * 201}, "q: at most 200"),
    ({"status": "paid"}, "status: must be one of")])
def test_a_search_refuses_control_characters_overlong_text_and_unknown_statuses(
        office: Console, params: dict[str, str], words: str):
    page = office.sign_in().get("/console/search", params=params)
    assert page.status_code == 400
    assert words in page.text and "Traceback" not in page.text


def test_the_header_of_every_page_has_the_search_box(office: Console):
    client = office.sign_in()
    for path in ("/console/work", "/console/claims/C-1", "/console/policies/P-1"):
        page = client.get(path, params={"lang": "en"}).text
        assert '<form class="find" method="get" action="/console/search"' in page
        assert '<input type="hidden" name="lang" value="en">' in page


@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize(("policy_id", "claim_id"), [("P-2", "D-1"), ("Q-1", "X-1")])
def test_every_policy_and_claim_page_shows_the_holder_and_the_dates_of_service_and_cover(
        office: Console, policy_id: str, claim_id: str, lang: str):
    policy = office.service.ledger.get_policy(policy_id)
    w = Words(lang)
    expected = {
        "customer_name": policy.customer_name, "firewall_option": w.firewall(
            policy.firewall_option), "service_start": w.date(policy.service_start),
        "service_end": w.date(policy.service_end) if policy.service_end else w("not_recorded"),
        "cancelled_on": (w.date(policy.firewall_cancelled_on) if policy.firewall_cancelled_on
                         else w("not_recorded")),
        "firewall_applied_on": w.date(policy.firewall_applied_on),
        "cover_start": w.date(policy.cover_start), "cover_end": w.date(policy.cover_end)}
    assert policy.cover_end is not None  # both policies' cover has ended
    client = office.sign_in()
    for path in (f"/console/policies/{policy_id}", f"/console/policies/{policy_id}/years/1",
                 f"/console/claims/{claim_id}"):
        page = client.get(path, params={"lang": lang}).text
        section = page[page.index('class="holder"'):]
        (shown,) = rows(f'<tr data-page="{path}">{section[:section.index("</dl>")]}</tr>')
        assert {k: shown[k] for k in expected} == expected, path


def field(page: str, name: str) -> str:
    (value,) = re.findall(rf'data-field="{name}">([^<]*)<', page)
    return html.unescape(value)


def test_the_holder_s_dates_are_as_of_the_page_s_time(office: Console):
    cancelled = next(e for e in office.service.ledger.events.get("policy:P-2")
                     if isinstance(e, FirewallOptionCancelled))
    before = (cancelled.timestamp - timedelta(seconds=1)).isoformat()
    client = office.sign_in()
    then = client.get("/console/policies/P-2", params={"lang": "en", "as_of": before}).text
    now = client.get("/console/policies/P-2", params={"lang": "en"}).text
    assert field(then, "cancelled_on") == "not recorded"
    assert field(now, "cancelled_on") == Words("en").date(cancelled.cancelled_on)


@pytest.mark.parametrize("claim_id", ["C-1", "D-2", "L-1"])
def test_the_claim_page_shows_its_reserve_holds_and_recoveries_as_the_ledger_has_them(
        office: Console, claim_id: str):
    claim = office.service.ledger.get_claim(claim_id)
    w = Words("en")
    page = office.sign_in().get(f"/console/claims/{claim_id}", params={"lang": "en"}).text
    office_part = page[page.index('id="office-title"'):page.index('id="holder-title"')]
    assert field(office_part, "reserve") == f"{claim.reserve:,}円"
    assert field(office_part, "held") == f"{claim.held:,}円"
    holds = rows(table(page, "holds"))
    assert [(r["hold"], r["amount"], r["status"], r["requested_by"], r["resolved_by"],
             r["due_on"]) for r in holds] == [
        (h.payout_id, f"{h.amount:,}円", w.hold(h.status), h.requested_by,
         h.resolved_by or "-", w.date(h.due_on)) for h in claim.holds]
    recoveries = rows(table(page, "recoveries")) if claim.recoveries else []
    assert [(r["recovery"], r["insured_share"], r["insurer_share"]) for r in recoveries] == [
        (r.recovery_id, f"{r.insured_share:,}円", f"{r.insurer_share:,}円")
        for r in claim.recoveries]


def test_the_fixture_shows_every_kind_of_hold_and_a_split_recovery(office: Console):
    ledger = office.service.ledger
    claims = [ledger.get_claim(c) for c in ("C-1", "D-2", "L-1")]
    assert {h.status for c in claims for h in c.holds} == {"pending", "issued", "approved"}
    (recovery,) = claims[0].recoveries
    assert recovery.insured_share and recovery.insurer_share


def _fixture_log() -> list[StoredEvent]:
    lines = FIXTURE_LOG.read_text(encoding="utf-8").splitlines()[1:-1]  # header .. trailer
    return [StoredEvent(e["aggregate_id"], e["version"], e["event"], e["payload"].encode())
            for e in map(json.loads, lines)]


@pytest.mark.parametrize(("lang", "words"), [
    ("ja", "支払備金なし: 支払備金の記録開始前に受け付けた請求です"),
    ("en", "no reserve: filed before reserves were kept")])
def test_a_claim_filed_before_reserves_were_kept_says_it_has_none(tmp_path: Path, lang: str,
                                                                  words: str):
    with open_console(tmp_path, run=(), stored=_fixture_log()) as console:
        client = console.sign_in()
        page = client.get("/console/claims/C-DEMO-1", params={"lang": lang}).text
        assert field(page, "reserve") == words
        work = client.get("/console/work", params={"lang": lang}).text
        reserves = [r["reserve"] for r in rows(table(work, "open"))]
        assert reserves and set(reserves) == {"-"}
        assert found(console, q="C-DEMO")[1]
