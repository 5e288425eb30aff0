"""The console's work queue (``/console/work``) on the claims office at work
(``OFFICE_RUN``): payouts awaiting approval with who may approve them, open
claims by age, what is flagged, as of any time; and the console stays
read-only: no page has a form that sends a command."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from domain.claim import ClaimStatus, HoldStatus
from domain.claim.holds import check_approver
from domain.commands import parse_command
from domain.errors import NotAuthorized
from domain.ledger import Ledger
from tests.builders import attach, file_data_media
from tests.support.console import OFFICE_RUN, Console, authority, open_console, request


def table(page: str, css: str) -> str:
    """The table of class ``css`` on ``page``."""
    start = page.index(f'<table class="{css}"')
    return page[start:page.index("</table>", start)]


def rows(part: str) -> list[dict[str, str]]:
    """Each row with data attributes: its attributes and its cells by ``data-field``
    (their text, unescaped)."""
    found = []
    for attrs, body in re.findall(r"<tr (data-[^>]+)>(.*?)</tr>", part, re.S):
        row = dict(re.findall(r'data-([\w-]+)="([^"]*)"', attrs))
        for name, cell in re.findall(r'data-field="(\w+)">(.*?)</(?:td|dd|span)>', body, re.S):
            row[name] = html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
        found.append(row)
    return found


def claim_ids() -> list[str]:
    return [s["claim_id"] for s in OFFICE_RUN
            if isinstance(s, dict) and s["command"] == "file_claim"]


def actors() -> list[str]:
    return [s[0]["actor_name"] for s in OFFICE_RUN
            if isinstance(s, tuple) and s[0]["command"] == "set_authority"]


def may_approve(ledger: Ledger, claim_id: str, payout_id: str) -> list[str]:
    """Who the ledger would let approve the hold in full (its own rule)."""
    hold = ledger.get_claim(claim_id).hold(payout_id)
    assert hold is not None
    allowed = []
    for actor in actors():
        authority = ledger.find_authority(actor)
        assert authority is not None
        try:
            check_approver(hold, authority, actor)
        except NotAuthorized:
            continue
        allowed.append(actor)
    return sorted(allowed)


def test_the_queue_lists_the_payouts_awaiting_approval_soonest_due_first_with_who_may_approve(
        office: Console):
    ledger = office.service.ledger
    pending = [(c, h) for c in claim_ids() for h in ledger.get_claim(c).holds
               if h.status is HoldStatus.PENDING]
    # the fixture has a dated and an undated hold, and a requester who could approve
    # their own request but may not
    assert {h.due_on is None for _, h in pending} == {True, False}
    assert any(ledger.find_authority(h.requested_by).approve_up_to >= h.amount  # type: ignore[union-attr]
               for _, h in pending)
    page = office.sign_in().get("/console/work").text
    shown = rows(table(page, "pending"))
    expected = sorted(pending, key=lambda p: (p[1].due_on is None, p[1].due_on or date.max))
    assert [(r["claim"], r["hold"]) for r in shown] == [(c, h.payout_id) for c, h in expected]
    for row, (claim_id, hold) in zip(shown, expected, strict=True):
        assert row["approvers"].split(", ") == may_approve(ledger, claim_id, hold.payout_id)
        assert row["requested_by"] == hold.requested_by
        assert row["amount"] == f"{hold.amount:,}円"


def test_a_hold_nobody_may_approve_says_so(tmp_path: Path):
    run = [authority("desk-a", 0, 100_000), attach("P-1"),
           file_data_media("C-1", policy_id="P-1"), request("C-1", "desk-a", amount=200_000)]
    with open_console(tmp_path, run) as console:
        page = console.sign_in("auditor", "en").get("/console/work?lang=en").text
    (row,) = rows(table(page, "pending"))
    assert row["approvers"] == "nobody has the authority (an operator sets it: " \
        "claims-ledger authority set)"


def _since(ledger: Ledger, claim_id: str) -> date:
    claim = ledger.get_claim(claim_id)
    assert claim.notified_on is not None  # (every claim of the fixture has its notice)
    return claim.notified_on


def test_the_queue_lists_open_claims_oldest_first_with_their_age(office: Console):
    ledger = office.service.ledger
    open_ids = [c for c in claim_ids() if ledger.get_claim(c).status is ClaimStatus.OPEN]
    assert len(open_ids) < len(claim_ids())  # a claim no longer open is left out
    expected = sorted(open_ids, key=lambda c: (_since(ledger, c), c))
    client = office.sign_in()
    day = date(2026, 2, 1)
    page = client.get("/console/work", params={"as_of": day.isoformat()}).text
    shown = rows(table(page, "open"))
    assert [r["claim"] for r in shown] == expected
    assert [int(r["age"]) for r in shown] == [(day - _since(ledger, c)).days for c in expected]
    assert [r["reserve"] for r in shown] == [f"{ledger.get_claim(c).reserve:,}円"
                                             for c in expected]
    now = rows(table(client.get("/console/work").text, "open"))
    assert [r["claim"] for r in now] == expected


def test_the_queue_shows_the_oldest_up_to_its_limit_and_offers_more(office: Console):
    client = office.sign_in()
    every = [r["claim"] for r in rows(table(client.get("/console/work").text, "open"))]
    page = client.get("/console/work", params={"limit": "2"}).text
    assert [r["claim"] for r in rows(table(page, "open"))] == every[:2]
    assert f"未決 {len(every)} 件のうち古い順に 2 件を表示" in page
    assert 'id="more" href="/console/work?limit=20"' in page
    assert client.get("/console/work", params={"limit": "0"}).status_code == 400


def test_the_queue_flags_late_notices_and_years_whose_reserves_exceed_the_remaining_limit(
        office: Console):
    ledger = office.service.ledger
    claims = [ledger.get_claim(c) for c in claim_ids()]
    late = [c.claim_id for c in claims if c.notice_time_barred and c.status == "open"]
    reserves: dict[tuple[str, int, str], int] = {}
    for c in claims:
        key = (c.policy_id, c.policy_year, str(c.coverage))
        reserves[key] = reserves.get(key, 0) + (c.reserve or 0)
    over = {}
    for (policy_id, year, coverage), total in reserves.items():
        remaining = ledger.get_policy_year(policy_id, year).coverage(coverage).remaining
        if total > remaining:
            over[(policy_id, str(year), coverage)] = (total, int(remaining))
    assert late and over  # the fixture has both
    page = office.sign_in().get("/console/work").text
    assert [r["claim"] for r in rows(table(page, "late"))] == late
    shown = {(r["policy"], r["year"], r["coverage"]): r for r in rows(table(page, "over"))}
    assert shown.keys() == over.keys()
    for key, (total, remaining) in over.items():
        assert shown[key]["reserves"] == f"{total:,}円"
        assert shown[key]["remaining"] == f"{remaining:,}円"
        assert shown[key]["over"] == f"{total - remaining:,}円"


def test_the_queue_as_of_a_past_time_shows_what_awaited_approval_then(office: Console):
    ledger = office.service.ledger
    approved = next(e for e in ledger.events.get("claim:D-2")
                    if type(e).__name__ == "PayoutApproved")
    before = (approved.timestamp - timedelta(seconds=1)).isoformat()
    client = office.sign_in()
    then = rows(table(client.get("/console/work", params={"as_of": before}).text, "pending"))
    assert ("D-2", "payout-1") in [(r["claim"], r["hold"]) for r in then]
    now = rows(table(client.get("/console/work").text, "pending"))
    assert ("D-2", "payout-1") not in [(r["claim"], r["hold"]) for r in now]


def test_the_queue_is_read_as_the_log_grows(office: Console):
    client = office.sign_in()
    assert 'data-claim="N-1"' not in client.get("/console/work").text
    office.service.ledger.execute(parse_command(file_data_media("N-1", policy_id="P-1")),
                                  actor="svc-appender")
    assert 'data-claim="N-1"' in table(client.get("/console/work").text, "open")


PAGES = ["/console/work", "/console/search?q=P", "/console/search?status=open",
         "/console/claims/C-1", "/console/claims/D-2", "/console/policies/P-1",
         "/console/policies/P-1/years/1", "/console/policies", "/console/audit",
         "/console/seal", "/console/reports/reserves"]


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_no_console_page_has_a_form_that_sends_a_command(office: Console, lang: str):
    client = office.sign_in("operator")
    for path in PAGES:
        page = client.get(path, params={"lang": lang})
        assert page.status_code == 200, path
        forms = re.findall(r"<form [^>]*>", page.text)
        posted = [f for f in forms if 'method="post"' in f]
        assert all(re.search(r'action="/console/(sign-out|seal/verify)[?"]', f)
                   for f in posted), (path, posted)
        assert 'name="payout_id"' not in page.text and 'name="command"' not in page.text
    assert client.post("/console/work").status_code == 405
    assert "approve_payout" in client.get("/console/work").text  # says where approving is
