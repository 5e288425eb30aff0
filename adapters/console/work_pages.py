"""The console's pages of work: the work queue (payouts awaiting approval and who
may approve them, open claims by age, claims and years flagged) and the search
by holder's name, policy or claim id and claim status. Both read the ``Desk``
(``desk.py``), as it stands now or at the page's as-of time.

Read-only like every page: the queue shows what awaits a decision, and the
decision is a command through the API.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from adapters.console.desk import ClaimLine, Desk
from adapters.console.pages import View, render
from adapters.service import Service
from domain.claim import ClaimStatus
from domain.terms import JST

STATUSES = tuple(s.value for s in ClaimStatus)
"""The claim statuses a search may ask for."""
SEARCH_RESULTS = 100
"""Policies, and claims, a search shows at most (it says how many it found)."""
WORK_ROWS = 100
"""Open claims the work queue shows by default (``limit``: up to ``MAX_WORK_ROWS``)."""
MAX_WORK_ROWS = 5000


def _today(view: View) -> date:
    """The day ages count to: the as-of day, or today, in Japan."""
    return (view.as_of or datetime.now(UTC)).astimezone(JST).date()


def _claim_row(claim: ClaimLine, desk: Desk, today: date) -> dict[str, Any]:
    return {"claim": claim, "holder": desk.holders.get(claim.policy_id, ""),
            "age": (today - claim.since).days}


def work_page(service: Service, view: View, desk: Desk, limit: int = WORK_ROWS) -> str:
    """The work queue: payouts awaiting approval (soonest due first) with who may
    approve each, the ``limit`` oldest open claims, and what is flagged: open
    claims noticed after the time bar, and years whose case reserves exceed what
    remains of their annual limit."""
    today = _today(view)
    with desk.read(service.ledger, view.as_of) as found:
        holds = [{"hold": h, "holder": found.holders.get(h.policy_id, ""),
                  "approvers": found.approvers(h)} for h in found.pending()]
        open_claims = found.open_claims()
        claims = [_claim_row(c, found, today) for c in open_claims[:limit]]
        late = [_claim_row(c, found, today) for c in found.late_notices()[:limit]]
        over = [{"flag": f, "holder": found.holders.get(f.policy_id, "")}
                for f in found.over_reserved()[:limit]]
    more = min(limit * 10, MAX_WORK_ROWS) if len(open_claims) > limit else None
    return render("work.html", view, holds=holds, claims=claims, open_count=len(open_claims),
                  late=late, over=over, more=more if more != limit else None)


def search_page(service: Service, view: View, desk: Desk, text: str, status: str) -> str:
    """Policies whose id or holder's name contains ``text``, and claims whose id
    contains it or whose policy is one of those, in ``status`` if given (see
    ``Desk.search``); at most ``SEARCH_RESULTS`` of each, with how many matched."""
    today = _today(view)
    policies: list[dict[str, Any]] = []
    claims: list[dict[str, Any]] = []
    counts = (0, 0)
    if text or status:
        with desk.read(service.ledger, view.as_of) as found:
            policy_ids, lines = found.search(text, status)
            counts = (len(policy_ids), len(lines))
            policies = [{"policy_id": p, "holder": found.holders[p]}
                        for p in policy_ids[:SEARCH_RESULTS]]
            claims = [_claim_row(c, found, today) for c in lines[:SEARCH_RESULTS]]
    return render("search.html", view, text=text, status=status, statuses=STATUSES,
                  policies=policies, claims=claims, counts=counts, asked=bool(text or status))
