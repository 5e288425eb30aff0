"""Moving the end of cover: ``end_service`` and ``cancel_firewall_option``.

Cover ends at the end of the earlier of the service's last day and the firewall
option's cancellation. Moving that end (a first end, a correction, an
extension) is decided here from the policy, the claims whose date of cover
falls outside the new cover and the policy's open years, all read by the
ledger: it is refused while any of those claims has money paid on it (reverse
first); otherwise the policy records the new end, every year whose covered days
change records its new period, and every open claim outside the new cover is
denied under ``outside_cover``, all in one commit. So a payout that races the
change conflicts with it on the claim or on the year it draws on.
"""

from __future__ import annotations

from datetime import date

from domain.claim import Claim, ClaimStatus, deny
from domain.commands import CancelFirewallOption, EndService
from domain.errors import RuleViolated
from domain.events import EventStamp, LedgerEvent
from domain.policy import (
    FirewallOptionCancelled,
    Policy,
    ServiceEndChanged,
    ServiceEnded,
    evolve,
    year_end,
)
from domain.policy_year import PolicyYear, change_period
from domain.terms import OUTSIDE_COVER


def cover_date(claim: Claim) -> date:
    """The day that decides a claim's cover: the day a liability claim was
    made (claims-made), else the incident date (occurrence)."""
    return claim.claim_made_on or claim.incident_date


def end_event(policy: Policy, command: EndService, stamp: EventStamp) -> LedgerEvent:
    """The policy's event for ``end_service`` (checked against the policy alone)."""
    if command.service_end < policy.service_start:
        raise RuleViolated.of(
            "service_end",
            "dates_in_order",
            f"service_end {command.service_end} is before service_start "
            f"{policy.service_start}",
        )
    if policy.service_end == command.service_end:
        raise RuleViolated.of(
            "service_end", "end_changed", f"the service already ends on {policy.service_end}"
        )
    fields = stamp.fields(policy.id, policy.version + 1)
    if policy.service_end is None and command.reason is None:
        return ServiceEnded(**fields, policy_id=policy.policy_id,
                            service_end=command.service_end)
    if command.reason is None:
        raise RuleViolated.of(
            "reason", "required",
            f"the service's end is recorded as {policy.service_end}: say why it is "
            "corrected",
        )
    return ServiceEndChanged(**fields, policy_id=policy.policy_id,
                             service_end=command.service_end,
                             previous_end=policy.service_end, reason=command.reason)


def cancel_event(
    policy: Policy, command: CancelFirewallOption, stamp: EventStamp
) -> LedgerEvent:
    """The policy's event for ``cancel_firewall_option``."""
    if command.cancelled_on < policy.firewall_applied_on:
        raise RuleViolated.of(
            "cancelled_on",
            "dates_in_order",
            f"cancelled_on {command.cancelled_on} is before the option was applied for "
            f"({policy.firewall_applied_on})",
        )
    if policy.firewall_cancelled_on == command.cancelled_on:
        raise RuleViolated.of(
            "cancelled_on", "cancellation_changed",
            f"the option is already cancelled on {policy.firewall_cancelled_on}",
        )
    return FirewallOptionCancelled(
        **stamp.fields(policy.id, policy.version + 1),
        policy_id=policy.policy_id,
        cancelled_on=command.cancelled_on,
        previous=policy.firewall_cancelled_on,
        reason=command.reason,
    )


def move_end(
    policy: Policy,
    event: LedgerEvent,
    field: str,
    outside: list[Claim],
    years: list[PolicyYear],
    stamp: EventStamp,
) -> list[LedgerEvent]:
    """Decide the consequences of the policy's ``event`` (from ``end_event`` or
    ``cancel_event``; ``field`` is the command's date): ``outside`` are the
    policy's claims whose date of cover is outside the new cover, ``years``
    its open years."""
    after = evolve(policy, event)
    end = after.cover_end
    if end is not None and end < after.cover_start:
        raise RuleViolated.of(
            field, "cover_not_empty",
            f"cover would end on {end}, before it starts on {after.cover_start}",
        )
    paid = sorted(c.claim_id for c in outside if c.paid > 0 or c.held > 0)
    if paid:
        raise RuleViolated.of(
            field, "no_payouts_outside_cover",
            f"cover would end on {end}, but claims outside it have payouts or payouts "
            f"awaiting approval: {', '.join(paid)}; reverse or reject them first",
        )
    reason = f"cover now ends on {end}" if end else "cover has no end recorded"
    events = [event]
    for year in sorted(years, key=lambda y: y.year):
        period_end = year_end(after.cover_start, year.year, end)
        if period_end != year.period_end:
            events.extend(change_period(year, period_end, reason, stamp))
    for claim in sorted(outside, key=lambda c: c.claim_id):
        if claim.status is ClaimStatus.OPEN:
            events.append(deny(claim, OUTSIDE_COVER, f"its date of cover "
                               f"{cover_date(claim)} is outside cover: {reason}", stamp))
    return events
