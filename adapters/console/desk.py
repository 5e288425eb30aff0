"""The console's work place, read from the log: who holds each policy, the
claims and since when they are open, the payouts held for approval and who may
approve them, and each policy year's case reserves against what remains of its
annual limit.

No read model lists these, so a ``Desk`` keeps them in memory, read from the
log's events of ``EVENTS`` only (their stored JSON parsed as the read models'
feed parses it, ``projections.log``), and is the one place that reads them. It
is caught up by log position: the first page to use it scans the log, each later
one reads only what was appended since. A page then costs the events since the
last page plus one pass over what it lists (the open claims, the pending holds,
the years with reserves; a search, over the policies and claims). Memory: about
a kilobyte per claim with its policy and year. A page as of a past time reads a
desk of its own from the whole log (one scan of the log per page).
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from domain.claim import notice_time_barred
from domain.ledger import Ledger
from domain.terms import JST
from projections.base import Fact, decoded, recorded_time
from projections.log import stored_rows

PAGE = 5000
"""Events read from the log at a time."""
_STATUS = {"ExclusionApplied": "denied", "ClaimClosed": "closed",
           "ClaimWithdrawn": "withdrawn", "DenialWithdrawn": "open", "ClaimReopened": "open"}
_LIMIT = ("AnnualLimitDrawn", "AnnualLimitRestored", "AnnualLimitHeld", "AnnualLimitReleased")
SEARCH_LONGEST = 200
"""The longest text a search takes, in characters."""
YearKey = tuple[str, int, str]
"""A policy year's coverage: (policy id, year, coverage)."""


def folded(text: str) -> str:
    """Text as a search compares it: NFKC (full- and half-width forms alike, so
    ｶﾌﾞｼｷ finds カブシキ and ＡＢＣ finds abc), then case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


@dataclass(slots=True)
class ClaimLine:
    """What the work place shows of a claim."""

    claim_id: str
    policy_id: str
    policy_year: int
    coverage: str
    status: str
    filed_on: date
    """The day the filing was recorded, in Japan."""
    notified_on: date | None
    """None: filed before notices were recorded (unknown)."""
    time_barred: bool
    reserve: int | None = None
    """None: filed before reserves were kept, until one is set."""

    @property
    def since(self) -> date:
        """The day its age counts from: the notice, or (unknown) the filing."""
        return self.notified_on or self.filed_on

    @property
    def year(self) -> YearKey:
        return (self.policy_id, self.policy_year, self.coverage)


@dataclass(frozen=True, slots=True)
class HoldLine:
    """A payout requested and awaiting approval."""

    claim_id: str
    policy_id: str
    payout_id: str
    amount: int
    requested_by: str
    requested_at: str
    due_on: date | None


@dataclass(frozen=True, slots=True, order=True)
class YearFlag:
    """A policy year's coverage whose case reserves exceed what remains of its
    annual limit (paid and held taken off)."""

    policy_id: str
    policy_year: int
    coverage: str
    reserves: int
    remaining: int

    @property
    def over(self) -> int:
        return self.reserves - self.remaining


class Desk:
    """The work place's lists, as of log position ``position``."""

    def __init__(self) -> None:
        self.position = 0
        self.holders: dict[str, str] = {}
        """Per policy, the policy holder's name (``customer_name``)."""
        self.claims: dict[str, ClaimLine] = {}
        self.holds: dict[tuple[str, str], HoldLine] = {}
        self.approve_up_to: dict[str, int] = {}
        """Per actor an operator set, the amount up to which they may approve."""
        self.remaining: dict[YearKey, int] = {}
        self.reserves: dict[YearKey, int] = {}
        """Per policy year and coverage, the case reserves of its claims."""
        self._open: set[str] = set()
        self._keys: dict[str, str] = {}
        """Per policy, its id and holder as a search compares them."""
        self._lock = threading.Lock()

    @contextmanager
    def read(self, ledger: Ledger, as_of: datetime | None = None) -> Iterator[Desk]:
        """This desk caught up with the log (held while in use), or with
        ``as_of``, a desk of the log as it stood at that recorded time."""
        if as_of is not None:
            past = Desk()
            past.catch_up(ledger, recorded_time(as_of))
            yield past
            return
        with self._lock:
            self.catch_up(ledger)
            yield self

    def catch_up(self, ledger: Ledger, until: str | None = None) -> None:
        """Apply the log's events after ``position`` (only those recorded up to
        ``until``, a recorded time as text, if given)."""
        while True:
            rows = stored_rows(ledger, self.position, PAGE, None, EVENTS)
            if not rows:
                return
            readable = cast(list[tuple[int, str, int, str, bytes]],
                            [r for r in rows if r[4] is not None])
            for fact in decoded(readable):
                if until is None or fact.recorded_at <= until:
                    _APPLY[fact.name](self, fact.state, fact)
            self.position = rows[-1][0]
            if len(rows) < PAGE:
                return

    # What a page lists ------------------------------------------------------

    def open_claims(self) -> list[ClaimLine]:
        """The open claims, oldest first (by ``ClaimLine.since``)."""
        return sorted((self.claims[c] for c in self._open),
                      key=lambda c: (c.since, c.claim_id))

    def late_notices(self) -> list[ClaimLine]:
        """The open claims whose notice came after the time bar, oldest first."""
        return [c for c in self.open_claims() if c.time_barred]

    def pending(self) -> list[HoldLine]:
        """The payouts awaiting approval: soonest due first (undated last), then
        in the order they were requested."""
        return sorted(self.holds.values(), key=lambda h: (
            h.due_on is None, h.due_on or date.max, h.requested_at, h.claim_id, h.payout_id))

    def approvers(self, hold: HoldLine) -> list[str]:
        """Who may approve or reject ``hold`` in full: every actor but its
        requester whose authority to approve covers its amount."""
        return sorted(actor for actor, up_to in self.approve_up_to.items()
                      if up_to >= hold.amount and actor != hold.requested_by)

    def over_reserved(self) -> list[YearFlag]:
        """The years (per coverage) whose case reserves exceed what remains of
        their annual limit, by policy, year and coverage."""
        remaining = self.remaining
        return sorted(YearFlag(*key, total, remaining.get(key, 0))
                      for key, total in self.reserves.items() if total > remaining.get(key, 0))

    def search(self, text: str, status: str = "") -> tuple[list[str], list[ClaimLine]]:
        """Policies whose id or holder's name contains ``text``, and claims whose
        id contains it or whose policy is one of those (only those in
        ``status`` if given), an exact id first, then in id order. Compared
        ``folded``; empty text: no policy, and every claim in ``status``."""
        wanted = folded(text)
        policies = [p for p, key in self._keys.items() if wanted and wanted in key]
        found = set(policies)
        claims = [c for c in self.claims.values()
                  if (not status or c.status == status)
                  and (not wanted or c.policy_id in found or wanted in folded(c.claim_id))]
        return (sorted(policies, key=lambda p: (folded(p) != wanted, p)),
                sorted(claims, key=lambda c: (folded(c.claim_id) != wanted, c.claim_id)))

    # How each event changes it ---------------------------------------------

    def _enrolled(self, s: dict[str, Any], _: Fact) -> None:
        policy_id, name = s["policy_id"], s["customer_name"]
        self.holders[policy_id] = name
        self._keys[policy_id] = f"{folded(policy_id)}\n{folded(name)}"

    def _filed(self, s: dict[str, Any], fact: Fact) -> None:
        notified = s.get("notified_on")
        notified_on = date.fromisoformat(notified) if notified else None
        self.claims[s["claim_id"]] = ClaimLine(
            s["claim_id"], s["policy_id"], s["policy_year"], s["coverage"], "open",
            datetime.fromisoformat(fact.recorded_at).astimezone(JST).date(), notified_on,
            notice_time_barred(date.fromisoformat(s["incident_date"]), notified_on))
        self._open.add(s["claim_id"])

    def _status(self, s: dict[str, Any], fact: Fact) -> None:
        claim = self.claims[s["claim_id"]]
        claim.status = _STATUS[fact.name]
        if claim.status == "open":
            self._open.add(claim.claim_id)
        else:
            self._open.discard(claim.claim_id)

    def _reserve(self, claim: ClaimLine, reserve: int) -> None:
        self.reserves[claim.year] = (self.reserves.get(claim.year, 0) + reserve
                                     - (claim.reserve or 0))
        claim.reserve = reserve

    def _reserve_set(self, s: dict[str, Any], _: Fact) -> None:
        self._reserve(self.claims[s["claim_id"]], s["reserve"])

    def _issued(self, s: dict[str, Any], _: Fact) -> None:
        """A payout erodes the claim's reserve by its amount (never below 0)."""
        claim = self.claims[s["claim_id"]]
        if claim.reserve is not None:
            self._reserve(claim, max(claim.reserve - s["amount"], 0))

    def _requested(self, s: dict[str, Any], fact: Fact) -> None:
        if s["within_authority"]:
            return
        due = s.get("due_on")
        self.holds[(s["claim_id"], s["payout_id"])] = HoldLine(
            s["claim_id"], s["policy_id"], s["payout_id"], s["amount"], s["actor"],
            fact.recorded_at, date.fromisoformat(due) if due else None)

    def _resolved(self, s: dict[str, Any], _: Fact) -> None:
        self.holds.pop((s["claim_id"], s["payout_id"]), None)

    def _authority(self, s: dict[str, Any], _: Fact) -> None:
        self.approve_up_to[s["actor_name"]] = s["approve_up_to"]

    def _attached(self, s: dict[str, Any], _: Fact) -> None:
        self.remaining[(s["policy_id"], s["policy_year"], s["coverage"])] = s["annual_limit"]

    def _limit(self, s: dict[str, Any], _: Fact) -> None:
        self.remaining[(s["policy_id"], s["policy_year"], s["coverage"])] = s["remaining_after"]


_APPLY: dict[str, Callable[[Desk, dict[str, Any], Fact], None]] = {
    "PolicyEnrolled": Desk._enrolled,
    "ClaimFiled": Desk._filed,
    **dict.fromkeys(_STATUS, Desk._status),
    "ReserveSet": Desk._reserve_set,
    "PayoutIssued": Desk._issued,
    "PayoutRequested": Desk._requested,
    "PayoutApproved": Desk._resolved,
    "PayoutRejected": Desk._resolved,
    "AuthoritySet": Desk._authority,
    "CoverageAttached": Desk._attached,
    **dict.fromkeys(_LIMIT, Desk._limit),
}
EVENTS = frozenset(_APPLY)
"""The events a desk reads (the others are skipped unparsed)."""
