"""The recomputations an explanation checks recorded figures against: a
payout's (or a hold's) breakdown, decided again by the payout rule on the
claim's figures and the year's remaining as its own events replay it, and a
change of the year's remaining (a draw, hold or release) against its amount.
"""

from __future__ import annotations

from domain.claim import Claim
from domain.errors import PayoutRefused
from domain.explanation.records import YearRecord
from domain.explanation.words import Lang, Line, mismatch
from domain.money import Yen
from domain.payout import PayoutBreakdown, calculate_payout


def check_breakdown(b: PayoutBreakdown, state: Claim, year: YearRecord,
                    key: tuple[str, str, str], taken: Yen, others: Yen, where: str,
                    lang: Lang) -> tuple[PayoutBreakdown | None, list[Line]]:
    """The payout rule decided again for ``b`` (None if it would pay nothing),
    and a line for each recorded figure that disagrees: on the claim before it
    (what it paid and what its other requests hold awaiting approval), the
    terms in force and the annual remaining replayed before the year's change
    ``key``; ``taken`` and ``others``: the incident's figures."""
    cover = year.attached
    assert cover is not None
    try:
        again = calculate_payout(
            loss=state.loss, deductible=cover.deductible,
            per_incident_limit=cover.per_incident_limit, paid_before=state.paid,
            annual_limit=cover.annual_limit,
            annual_remaining=Yen(year.remaining_before[key]), requested=b.requested,
            excluded=state.excluded, held_before=state.held,
            deductible_taken_by_others=taken, incident_paid_by_others=others)
    except PayoutRefused:
        return None, [mismatch("amount", b.amount, 0, where, lang)]
    return again, [mismatch(field, getattr(b, field), getattr(again, field), where, lang)
                   for field in PayoutBreakdown.model_fields
                   if getattr(b, field) != getattr(again, field)]


def check_year_change(year: YearRecord, key: tuple[str, str, str], amount: int,
                      where: str, lang: Lang) -> list[Line]:
    """A line for each figure of the year's change ``key`` (its amount, its
    remaining before and after) that disagrees with ``amount`` and the
    remaining the year's own events replay; a line if there is no such change."""
    recorded = year.recorded.get(key)
    if recorded is None:
        return [mismatch("remaining_before", None, None, where, lang)]
    before = year.remaining_before[key]
    sign = -1 if key[0] in ("drawn", "held") else 1
    return [mismatch(field, got, expected, where, lang) for field, got, expected in (
        ("amount", recorded.amount, amount),
        ("remaining_before", recorded.remaining_before, before),
        ("remaining_after", recorded.remaining_after, before + sign * amount))
        if got != expected]
