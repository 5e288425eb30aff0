"""Explanations: a claim's decisions in words and figures, in Japanese or English.

``explain`` reads a claim's events and its policy year's events, and for every
payout recomputes the payout rule from the terms copied into
``CoverageAttached`` (not from today's terms), the claim's assessed loss, the
part of it exclusions took, what was paid before and what the claim's requests
awaiting approval hold, and the annual remaining replayed from the year's own
draws, restorations, holds and releases. For a claim of an
incident of several claims, the incident's own events say what its other
claims had taken of the deductible and been paid against the per-incident
limit before each payout; the filing, each payout and each reversal say so
too. A notice that came after the 3-year time bar gets a line of its own.
The claims office's money gets lines too: each case reserve (before, after,
the change and why), each payout requested (issued at once within the
requester's authority, or held: its breakdown recomputed with what the claim's
other requests hold), each approval or rejection (who, under which authority,
what was issued and released) and each recovery (the 保険法25条2項 split and
the figures it used). Each figure recorded in an event that disagrees with the
recomputation gets a line of its own. Pure: no clock, no storage.

The package: ``words`` (lines, money, dates, the payout rule's working),
``records`` (the year and incident as their events tell them), ``checks`` (a
breakdown and a year's change recomputed), ``lines`` (the lines of each event),
``office`` (those of reserves, requests, approvals and recoveries) and
``narrative`` (``explain``).
"""

from domain.explanation.narrative import explain
from domain.explanation.words import LANGS, Explanation, Lang, Line

__all__ = ["LANGS", "Explanation", "Lang", "Line", "explain"]
