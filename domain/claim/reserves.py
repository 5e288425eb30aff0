"""A claim's case reserve (支払備金): what the insurer expects still to pay on it.

The office sets it (``set_reserve``); the ledger sets it itself in the same
commit as the decisions that call for it (``follow``): an initial reserve of
what is payable when a claim is filed, 0 when a claim is closed, withdrawn or
denied, what is still payable again when it is reopened or its denial
withdrawn, and down to what is still payable when a re-assessment or an
exclusion leaves less payable than is reserved. A payout erodes the reserve by
its amount (``state.evolve``). A reserve is never negative and never above what
is still payable; it never blocks a payment and never uses the annual limit.

A claim filed before reserves were kept has none (``Claim.reserve`` is None)
until one is set, and the ledger then keeps it as for any other claim.
"""

from __future__ import annotations

from datetime import date

from domain.claim.events import ReserveSet
from domain.claim.state import Claim, ClaimStatus, next_fields
from domain.errors import ClaimNotOpen, RuleViolated
from domain.events import EventStamp, LedgerEvent
from domain.money import ZERO, Yen
from domain.office_commands import ReserveReason, SetReserve

_ENDED = {ClaimStatus.CLOSED: ReserveReason.CLOSED, ClaimStatus.WITHDRAWN:
          ReserveReason.WITHDRAWN, ClaimStatus.DENIED: ReserveReason.DENIED}


def reserve_set(claim: Claim, reserve: Yen, reason: ReserveReason, stamp: EventStamp, *,
                note: str | None = None, effective_on: date | None = None) -> ReserveSet:
    before = claim.reserve
    return ReserveSet(**next_fields(claim, stamp), reserve_before=before, reserve=reserve,
                      change=int(reserve) - int(before or 0), reason=str(reason), note=note,
                      effective_on=effective_on)


def set_reserve(claim: Claim, command: SetReserve, stamp: EventStamp,
                today: date) -> list[LedgerEvent]:
    if claim.status is not ClaimStatus.OPEN:
        raise ClaimNotOpen.of("claim_id", "claim_open",
                              f"claim {claim.claim_id} is {claim.status}: its reserve is 0")
    if command.effective_on is not None and command.effective_on > today:
        raise RuleViolated.of("effective_on", "not_in_future",
                              f"{command.effective_on} is after today ({today})")
    if command.amount > claim.outstanding:
        raise RuleViolated.of(
            "amount", "reserve_within_payable",
            f"{command.amount} is more than the {claim.outstanding} still payable on "
            f"claim {claim.claim_id} (payable {claim.payable}, paid {claim.paid})")
    if claim.reserve == command.amount:
        raise RuleViolated.of("amount", "reserve_changed",
                              f"the reserve is already {command.amount}")
    return [reserve_set(claim, command.amount, ReserveReason(command.reason), stamp,
                        note=command.note, effective_on=command.effective_on)]


def follow(before: Claim | None, after: Claim, stamp: EventStamp) -> list[LedgerEvent]:
    """The reserve change a decision that took ``before`` to ``after`` calls for
    (``before`` None: the claim was just filed), to append after its events."""
    if before is None:
        opening = after.outstanding if after.status is ClaimStatus.OPEN else ZERO
        return [reserve_set(after, opening, ReserveReason.INITIAL, stamp)]
    if after.reserve is None:
        return []
    if after.status is not ClaimStatus.OPEN:
        return [] if after.reserve == 0 else [
            reserve_set(after, ZERO, _ENDED[after.status], stamp)]
    if before.status is not ClaimStatus.OPEN:
        return [] if after.reserve == after.outstanding else [
            reserve_set(after, after.outstanding, ReserveReason.REOPENED, stamp)]
    if after.reserve > after.outstanding:
        return [reserve_set(after, after.outstanding, ReserveReason.REASSESSED, stamp)]
    return []
