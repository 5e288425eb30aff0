"""The claims office's commands: case reserves, payouts requested for approval
and their approval or rejection, recoveries, and who may pay and approve what.

They are part of contract v1 (``domain/commands.py`` parses them with the
others); the rules that need the ledger's state are the decisions'
(``domain/claim/reserves.py``, ``holds.py``, ``recoveries.py``,
``domain/authority.py``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from domain.command_fields import BusinessDate, CommandModel, Identifier, Name, OnExisting, Text
from domain.money import Yen


class ReserveReason(StrEnum):
    """Why a case reserve was set: by a decision (``set_reserve``) or by the
    ledger itself (``initial``, ``closed``, ``withdrawn``, ``denied``,
    ``reopened``)."""

    INITIAL = "initial"
    REASSESSED = "reassessed"
    LITIGATION = "litigation"
    RECOVERY_EXPECTED = "recovery_expected"
    OTHER = "other"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
    DENIED = "denied"
    REOPENED = "reopened"


SETTABLE_REASONS = (ReserveReason.REASSESSED, ReserveReason.LITIGATION,
                    ReserveReason.RECOVERY_EXPECTED, ReserveReason.OTHER)
"""The reasons a ``set_reserve`` may give; the others are the ledger's own."""


class RecoveryKind(StrEnum):
    """Where money that came back comes from."""

    SUBROGATION = "subrogation"
    """保険法25条: the insured's claim against a third party, which passes to the
    insurer as far as it paid; the insured's unpaid loss comes first."""
    SALVAGE = "salvage"
    """保険法24条: what is left of the damaged thing (残存物), split the same way."""
    OTHER_INSURANCE = "other_insurance"
    """Another insurer's share of the same loss, paid to us."""
    OVERPAYMENT = "overpayment"
    """Money paid too much, returned by the insured."""


class SetReserve(OnExisting):
    """Set a claim's case reserve (支払備金): what the insurer expects still to
    pay on it, at most what is still payable."""

    command: Literal["set_reserve"]
    claim_id: Identifier
    amount: Yen
    reason: Literal["reassessed", "litigation", "recovery_expected", "other"]
    note: Text | None = Field(default=None, exclude_if=lambda v: v is None)
    effective_on: BusinessDate | None = Field(
        default=None, exclude_if=lambda v: v is None,
        description="optional: the business date the reserve speaks for (not after "
        "today); default: the day it is recorded")


class RequestPayout(OnExisting):
    """Decide a payout as ``issue_payout`` does and hold it for approval; within
    the requester's own authority it is issued at once."""

    command: Literal["request_payout"]
    claim_id: Identifier
    amount: Yen | None = Field(
        default=None, description="optional: request less than is payable (interim)")
    due_on: BusinessDate | None = Field(
        default=None, exclude_if=lambda v: v is None,
        description="optional: the day the payment is due")


class ApprovePayout(OnExisting):
    """Approve a held payout (another actor than its requester, whose authority
    covers all that is held): the amount is issued, the rest of the hold
    released."""

    command: Literal["approve_payout"]
    claim_id: Identifier
    payout_id: Identifier
    reason: Text
    amount: Yen | None = Field(
        default=None, exclude_if=lambda v: v is None,
        description="optional: issue less than is held; the rest is released")


class RejectPayout(OnExisting):
    """Reject a held payout (another actor than its requester, whose authority
    covers the amount): the hold is released."""

    command: Literal["reject_payout"]
    claim_id: Identifier
    payout_id: Identifier
    reason: Text


class RecordRecovery(OnExisting):
    """Money that came back on a claim (subrogation, salvage, another insurer's
    share, an overpayment returned)."""

    command: Literal["record_recovery"]
    claim_id: Identifier
    kind: RecoveryKind
    amount: Yen
    counterparty: Name
    reason: Text


class SetAuthority(CommandModel):
    """An operator's decision: up to which amount an actor may pay alone, and up
    to which they may approve another's request."""

    command: Literal["set_authority"]
    actor_name: Name = Field(description="the actor (a token's name)")
    pay_up_to: Yen
    approve_up_to: Yen
    reason: Text | None = Field(default=None, exclude_if=lambda v: v is None)
