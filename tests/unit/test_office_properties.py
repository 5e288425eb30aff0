"""Invariants of the claims office's money over random command sequences
(hypothesis): requests, approvals, rejections, direct payouts, reversals,
recoveries, reserves, re-assessments, closings and reopenings, sent by several
actors whose authorities change on the way.

After every command: paid + held never exceed a year's annual limit for a
coverage, nor what a claim makes payable; what a year draws and holds is what
its claims are paid and hold; a reserve is never negative, never above what is
still payable, and 0 on a claim that is not open. At the end: every hold was
resolved at most once (and one issued at once never), and replaying the log
from nothing rebuilds the records the ledger decided with, and the incurred
(paid + reserves) of every year and coverage its answers added up to.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.claim import Claim, ClaimStatus, PayoutApproved, PayoutRejected, PayoutRequested
from domain.commands import parse_command
from domain.errors import LedgerError
from domain.events import LedgerEvent
from domain.ids import authority_id_of, policy_year_id
from domain.ledger import Ledger
from domain.replay import evolve_any
from tests.builders import attach, authorize
from tests.harness import make_ledger
from tests.strategies import (
    ACTORS,
    LATEST,
    OFFICE_CLAIMS,
    Step,
    approve_up_to,
    office_filing,
    office_steps,
    pay_up_to,
)
from tests.support.databases import MEMORY_ENV

Incurred = dict[tuple[int, str], int]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.tuples(*[st.tuples(pay_up_to, approve_up_to) for _ in ACTORS]),
       st.tuples(*[office_filing(c) for c in OFFICE_CLAIMS]),
       st.lists(office_steps(), min_size=5, max_size=25))
def test_paid_and_held_stay_within_the_limits_and_replay_rebuilds_what_is_incurred(
    authorities: tuple[tuple[int, int], ...], filings: tuple[dict[str, Any], ...],
    sequence: list[list[Step]],
) -> None:
    ledger = make_ledger(MEMORY_ENV)
    answered: dict[str, dict[str, Any]] = {}
    setup = [("operator", attach())] + [
        ("operator", authorize(actor, pay_up_to=pay, approve_up_to=approve))
        for actor, (pay, approve) in zip(ACTORS, authorities, strict=True)] + [
        ("clerk", c) for c in filings]
    for actor, command in setup + [step for steps in sequence for step in steps]:
        result = run(ledger, actor, latest(ledger, command))
        if result is not None and "claim_id" in result:
            answered[result["claim_id"]] = result
        check_money(ledger)
    events = [ledger.decode(n) for n in ledger.notifications()]
    check_holds_resolved_once(events)
    replayed: dict[str, Any] = {}
    for event in events:
        evolve_any(replayed, event)
    claims = [s for s in replayed.values() if isinstance(s, Claim)]
    for claim in claims:
        assert claim == ledger.get_claim(claim.claim_id)
    for year in ledger.get_policy("P1").years:
        assert replayed[policy_year_id("P1", year.year)] == ledger.get_policy_year("P1",
                                                                                  year.year)
    for actor in ACTORS:
        assert replayed.get(authority_id_of(actor)) == ledger.find_authority(actor)
    assert incurred_of(claims) == incurred_answered(answered)


def latest(ledger: Ledger, command: dict[str, Any]) -> dict[str, Any]:
    """``command`` about the claim's latest request if it names ``LATEST``."""
    if command.get("payout_id") != LATEST:
        return command
    claim = ledger.find_claim(command["claim_id"])
    holds = () if claim is None else claim.holds
    return {**command, "payout_id": holds[-1].payout_id if holds else "payout-1"}


def run(ledger: Ledger, actor: str, command: dict[str, Any]) -> dict[str, Any] | None:
    """The command's result, or None if it was refused (and appended nothing)."""
    before = ledger.recorder.max_notification_id()
    try:
        return ledger.execute(parse_command(command), actor=actor).result
    except LedgerError:
        assert ledger.recorder.max_notification_id() == before
        return None


def check_money(ledger: Ledger) -> None:
    claims = [c for c in (ledger.find_claim(i) for i in OFFICE_CLAIMS) if c is not None]
    for claim in claims:
        assert claim.paid + claim.held <= claim.payable, claim
        assert claim.reserve is not None and claim.reserve <= claim.outstanding, claim
        assert claim.status is ClaimStatus.OPEN or claim.reserve == 0, claim
    for period in ledger.get_policy("P1").years:
        year = ledger.get_policy_year("P1", period.year)
        for c in year.coverages:
            assert c.drawn + c.held <= c.annual_limit, year
            mine = [m for m in claims if (m.policy_year, m.coverage) == (year.year, c.coverage)]
            assert c.drawn == sum(m.paid for m in mine)
            assert c.held == sum(m.held for m in mine)


def check_holds_resolved_once(events: list[LedgerEvent]) -> None:
    held = {(e.claim_id, e.payout_id) for e in events  # type: ignore[attr-defined]
            if isinstance(e, PayoutRequested) and not e.within_authority}
    resolved = Counter((e.claim_id, e.payout_id) for e in events  # type: ignore[attr-defined]
                       if isinstance(e, PayoutApproved | PayoutRejected))
    assert set(resolved) <= held
    assert all(n == 1 for n in resolved.values()), resolved


def incurred_of(claims: list[Claim]) -> Incurred:
    """Paid + reserves per year and coverage, from the claims replayed."""
    totals: Incurred = Counter()
    for c in claims:
        totals[(c.policy_year, str(c.coverage))] += int(c.paid) + int(c.reserve or 0)
    return dict(totals)


def incurred_answered(answered: dict[str, dict[str, Any]]) -> Incurred:
    """Paid + reserves per year and coverage, from what the ledger last answered
    about each claim."""
    totals: Incurred = Counter()
    for r in answered.values():
        totals[(r["policy_year"], r["coverage"])] += r["paid"] + (r["reserve"] or 0)
    return dict(totals)
