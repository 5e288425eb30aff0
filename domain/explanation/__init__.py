"""Explanations: a claim's decisions in words and figures, in Japanese or English.

``explain`` reads a claim's events and its policy year's events, and for every
payout recomputes the payout rule from the terms copied into
``CoverageAttached`` (not from today's terms), the claim's assessed loss, the
part of it exclusions took and what was paid before, and the annual remaining
replayed from the year's own draws and restorations. For a claim of an
incident of several claims, the incident's own events say what its other
claims had taken of the deductible and been paid against the per-incident
limit before each payout; the filing, each payout and each reversal say so
too. A notice that came after the 3-year time bar gets a line of its own. Each
figure recorded in an event that disagrees with the recomputation gets a line
of its own. Pure: no clock, no storage.

The package: ``words`` (lines, money, dates, the payout rule's working),
``records`` (the year and incident as their events tell them), ``lines`` (the
lines of each event) and ``narrative`` (``explain``).
"""

from domain.explanation.narrative import explain
from domain.explanation.words import LANGS, Explanation, Lang, Line

__all__ = ["LANGS", "Explanation", "Lang", "Line", "explain"]
