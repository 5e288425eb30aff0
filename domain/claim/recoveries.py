"""Money that came back on a claim, and whose it is.

Subrogation (保険法25条) and salvage (24条): the insurer that paid takes the
insured's rights as far as it paid, but under 25条2項 the insured's loss not
yet made good comes first: of the money recovered, the insured's share is at
most their loss after exclusions less what was paid and what they already took
of earlier recoveries; the insurer's share is the rest, at most what it paid
less what it already recovered. Another insurer's share (``other_insurance``)
and an overpayment returned are the insurer's alone, up to what it paid. A
recovery never restores the annual limit (a reversal does) and never changes
what is payable.
"""

from __future__ import annotations

from domain.claim.events import RecoveryRecorded
from domain.claim.state import Claim, next_fields
from domain.errors import RuleViolated
from domain.events import EventStamp, LedgerEvent
from domain.money import ZERO, Yen
from domain.office_commands import RecordRecovery, RecoveryKind

SHARED_WITH_INSURED = (RecoveryKind.SUBROGATION, RecoveryKind.SALVAGE)


def split(claim: Claim, kind: RecoveryKind, amount: Yen) -> tuple[Yen, Yen]:
    """The insured's and the insurer's shares of ``amount`` recovered."""
    insurer_room = claim.paid.less(claim.insurer_recovered)
    if kind in SHARED_WITH_INSURED:
        unpaid = claim.loss_after_exclusion.less(claim.paid).less(claim.insured_recovered)
        insured = min(amount, unpaid)
        insurer = amount - insured
        if insurer > insurer_room:
            raise RuleViolated.of(
                "amount", "recovery_within_loss",
                f"{amount} is more than the insured's unpaid loss ({unpaid}) and what the "
                f"insurer paid and has not recovered ({insurer_room}) together")
        return insured, insurer
    if amount > insurer_room:
        raise RuleViolated.of(
            "amount", "recovery_within_paid",
            f"{amount} is more than the insurer paid on claim {claim.claim_id} and has not "
            f"recovered ({insurer_room})")
    return ZERO, amount


def record_recovery(claim: Claim, command: RecordRecovery,
                    stamp: EventStamp) -> list[LedgerEvent]:
    if command.amount == 0:
        raise RuleViolated.of("amount", "positive_amount", "must be more than 0")
    insured, insurer = split(claim, command.kind, command.amount)
    return [RecoveryRecorded(
        **next_fields(claim, stamp),
        recovery_id=f"recovery-{len(claim.recoveries) + 1}",
        kind=str(command.kind),
        amount=command.amount,
        counterparty=command.counterparty,
        reason=command.reason,
        insured_share=insured,
        insurer_share=insurer,
        loss=claim.loss_after_exclusion,
        paid=claim.paid,
        insured_unpaid_before=claim.loss_after_exclusion.less(claim.paid).less(
            claim.insured_recovered),
        insurer_recovered_before=claim.insurer_recovered,
    )]
