"""Who may pay and approve what: each actor's authority, as a record in the log.

An operator sets, per actor (a token's name), the amount up to which they may
pay alone (a ``request_payout`` within it is issued at once) and up to which
they may approve or reject another actor's request. Each change is an
``AuthoritySet`` event, so who could approve what at any past time is a replay
of the log as of that time. An actor no operator has set has no authority:
their requests wait, and they approve nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from domain.errors import RuleViolated
from domain.events import EventStamp, LedgerEvent
from domain.ids import authority_id_of
from domain.money import ZERO, Yen
from domain.office_commands import SetAuthority
from domain.state import changed


class AuthoritySet(LedgerEvent):
    event_name = "AuthoritySet"

    actor_name: str
    pay_up_to: Yen
    approve_up_to: Yen
    pay_up_to_before: Yen
    approve_up_to_before: Yen
    reason: str | None = None


@dataclass(frozen=True)
class Authority:
    id: str
    version: int
    actor_name: str
    pay_up_to: Yen = ZERO
    approve_up_to: Yen = ZERO


def none_for(actor: str) -> Authority:
    """The authority of an actor no operator has set: none."""
    return Authority(authority_id_of(actor), 0, actor)


def set_authority(current: Authority | None, command: SetAuthority,
                  stamp: EventStamp) -> list[LedgerEvent]:
    before = current or none_for(command.actor_name)
    if (before.version and before.pay_up_to == command.pay_up_to
            and before.approve_up_to == command.approve_up_to):
        raise RuleViolated.of(
            "pay_up_to", "authority_changed",
            f"{command.actor_name} may already pay up to {before.pay_up_to} and approve "
            f"up to {before.approve_up_to}")
    return [AuthoritySet(
        **stamp.fields(before.id, before.version + 1),
        actor_name=command.actor_name,
        pay_up_to=command.pay_up_to,
        approve_up_to=command.approve_up_to,
        pay_up_to_before=before.pay_up_to,
        approve_up_to_before=before.approve_up_to,
        reason=command.reason,
    )]


def evolve(state: Authority | None, event: LedgerEvent) -> Authority:
    if not isinstance(event, AuthoritySet):
        msg = f"Authority cannot apply {type(event).__name__}"
        raise TypeError(msg)
    base = state or Authority(event.originator_id, 0, event.actor_name)
    return changed(base, version=event.originator_version, pay_up_to=event.pay_up_to,
                   approve_up_to=event.approve_up_to)


def project(state: Authority | None, events: Iterable[LedgerEvent]) -> Authority | None:
    for event in events:
        state = evolve(state, event)
    return state
