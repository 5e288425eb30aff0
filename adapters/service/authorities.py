"""Who may pay and approve what, as the log says: each actor's authority and
its changes, replayed from the ``authority:<actor>`` records, as they stood at
a past recorded time if asked (the CLI's ``authority list``/``show`` and
``GET /authority``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeGuard

from domain.authority import AuthoritySet
from domain.ids import authority_id_of
from domain.ledger import Ledger
from projections.base import recorded_time


def _known(event: object, as_of: datetime | None) -> TypeGuard[AuthoritySet]:
    return isinstance(event, AuthoritySet) and (as_of is None or event.timestamp <= as_of)


def _row(actor: str, last: AuthoritySet | None) -> dict[str, Any]:
    """An actor's authority after ``last`` (none, if no operator set it)."""
    return {
        "actor_name": actor,
        "pay_up_to": 0 if last is None else int(last.pay_up_to),
        "approve_up_to": 0 if last is None else int(last.approve_up_to),
        "version": 0 if last is None else last.originator_version,
        "set_at": None if last is None else recorded_time(last.timestamp),
        "set_by": None if last is None else last.actor,
        "reason": None if last is None else last.reason,
    }


def authorities(ledger: Ledger, as_of: datetime | None = None) -> list[dict[str, Any]]:
    """Every actor an operator has set an authority for (by ``as_of``, if
    given), by name: what they may pay alone and approve, and its last change."""
    last: dict[str, AuthoritySet] = {}
    for notification in ledger.notifications(("AuthoritySet",)):
        event = ledger.decode(notification)
        if _known(event, as_of):
            seen = last.get(event.actor_name)
            if seen is None or seen.originator_version < event.originator_version:
                last[event.actor_name] = event
    return [_row(actor, last[actor]) for actor in sorted(last)]


def authority(ledger: Ledger, actor: str, as_of: datetime | None = None) -> dict[str, Any]:
    """One actor's authority (by ``as_of``, if given) and every change to it
    until then, oldest first. An actor no operator has set has none: 0 and 0,
    and no changes."""
    changes = [e for e in ledger.events.get(authority_id_of(actor)) if _known(e, as_of)]
    return {**_row(actor, changes[-1] if changes else None), "changes": [
        {"version": e.originator_version, "recorded_at": recorded_time(e.timestamp),
         "set_by": e.actor, "command_id": e.command_id,
         "pay_up_to_before": int(e.pay_up_to_before), "pay_up_to": int(e.pay_up_to),
         "approve_up_to_before": int(e.approve_up_to_before),
         "approve_up_to": int(e.approve_up_to), "reason": e.reason}
        for e in changes]}
