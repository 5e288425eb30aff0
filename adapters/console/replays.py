"""One record replayed from the log for a console page, as it stands now or
stood at an as-of time: a policy (its holder, and the dates of its service, its
firewall option and its cover), and a claim (its case reserve, holds and
recoveries, as of any time)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain import claim as claim_module
from domain import policy as policy_module
from domain.claim import Claim
from domain.errors import NotFound
from domain.events import LedgerEvent
from domain.ids import claim_id_of, policy_id_of
from domain.ledger import Ledger
from domain.policy import Policy

_NOT_NEEDED = "ClaimRegistered"
"""A policy's register of its claims: as many events as claims, and nothing of
its holder or dates, so left unread."""


def _known(events: list[LedgerEvent], as_of: datetime | None) -> list[LedgerEvent]:
    return [e for e in events if as_of is None or e.timestamp <= as_of]


def policy(ledger: Ledger, policy_id: str, as_of: datetime | None = None) -> Policy:
    """The policy (without its register of claims), or ``NotFound``."""
    stored = ledger.recorder.select_events(policy_id_of(policy_id))
    events = [ledger.decode_stored(s) for s in stored if s.topic != _NOT_NEEDED]
    found = policy_module.project(None, _known(events, as_of))
    if found is None:
        when = f" at {as_of.isoformat()}" if as_of else ""
        raise NotFound.of("policy_id", "policy_exists", f"no policy {policy_id} is enrolled{when}")
    return found


def holder(found: Policy) -> dict[str, Any]:
    """What every policy and claim page shows of its policy: the holder, and the
    dates of the service, the firewall option and cover (None: not recorded)."""
    return {
        "policy_id": found.policy_id, "customer_name": found.customer_name,
        "customer_id": found.customer_id, "firewall_option": str(found.firewall_option),
        "service_start": found.service_start, "service_end": found.service_end,
        "firewall_applied_on": found.firewall_applied_on,
        "cancelled_on": found.firewall_cancelled_on,
        "cover_start": found.cover_start, "cover_end": found.cover_end,
    }


def claim(ledger: Ledger, claim_id: str, as_of: datetime | None = None) -> Claim | None:
    """The claim replayed from its events (None: not filed, or not yet at ``as_of``)."""
    events = [e for e in ledger.events.get(claim_id_of(claim_id)) if isinstance(e, LedgerEvent)]
    return claim_module.project(None, _known(events, as_of))


def office(found: Claim) -> dict[str, Any]:
    """What a claim page shows of the claims office's money: the case reserve
    (None: filed before reserves were kept), what is held, the holds, and the
    recoveries with the insured's and the insurer's shares."""
    return {
        "reserve": found.reserve, "held": int(found.held),
        "outstanding": int(found.outstanding),
        "holds": [{"payout_id": h.payout_id, "amount": int(h.amount), "status": str(h.status),
                   "requested_by": h.requested_by, "resolved_by": h.resolved_by,
                   "due_on": h.due_on} for h in found.holds],
        "recoveries": [{"recovery_id": r.recovery_id, "kind": r.kind, "amount": int(r.amount),
                        "insured_share": int(r.insured_share),
                        "insurer_share": int(r.insurer_share)} for r in found.recoveries],
        "insured_recovered": int(found.insured_recovered),
        "insurer_recovered": int(found.insurer_recovered),
    }
