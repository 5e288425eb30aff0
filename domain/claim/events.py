"""The events of a claim: each names its claim, policy, year and coverage.

A claim's history is these events and nothing else: nothing is edited or
deleted, every change is a new event (see ``state.evolve`` for what each does).
"""

from __future__ import annotations

from datetime import date

from pydantic import Field

from domain.events import LedgerEvent
from domain.money import Yen
from domain.payout import PayoutBreakdown
from domain.terms import Coverage, NoticeChannel


class ClaimEvent(LedgerEvent):
    """An event of one claim; it names the claim, its policy, year and coverage, so
    readers of the log need no lookup to place it."""

    claim_id: str
    policy_id: str
    policy_year: int
    coverage: Coverage


class ClaimFiled(ClaimEvent):
    event_name = "ClaimFiled"

    cause: str
    incident_date: date
    claim_made_on: date | None
    loss_amount: Yen
    description: str
    terms_version: str
    deductible: Yen
    per_incident_limit: Yen
    notified_on: date | None = Field(default=None, exclude_if=lambda v: v is None)
    """The day the insurer was told; None (and not stored) only in claims filed
    before notices were recorded: unknown."""
    channel: NoticeChannel | None = Field(default=None, exclude_if=lambda v: v is None)
    incident_id: str | None = Field(default=None, exclude_if=lambda v: v is None)
    """The incident the claim is one of (None: the claim is its own incident)."""


class LossAssessed(ClaimEvent):
    event_name = "LossAssessed"

    loss_before: Yen
    loss_amount: Yen
    reason: str | None


class ExclusionApplied(ClaimEvent):
    event_name = "ExclusionApplied"

    exclusion: str
    wording_ja: str
    wording_en: str
    reason: str


class PartialExclusionApplied(ClaimEvent):
    """An exclusion that takes ``amount`` of the loss; the claim stays open and
    the deductible and limits apply to the rest."""

    event_name = "PartialExclusionApplied"

    exclusion: str
    wording_ja: str
    wording_en: str
    reason: str
    amount: Yen
    excluded_total: Yen


class DenialWithdrawn(ClaimEvent):
    """A denial withdrawn by a decision: the claim is open again."""

    event_name = "DenialWithdrawn"

    exclusion: str
    reason: str


class PayoutIssued(ClaimEvent):
    event_name = "PayoutIssued"

    payout_id: str
    amount: Yen
    breakdown: PayoutBreakdown


class PayoutReversed(ClaimEvent):
    event_name = "PayoutReversed"

    payout_id: str
    amount: Yen
    reason: str


class ClaimClosed(ClaimEvent):
    event_name = "ClaimClosed"

    reason: str


class ClaimWithdrawn(ClaimEvent):
    event_name = "ClaimWithdrawn"

    reason: str


class ClaimReopened(ClaimEvent):
    """A closed claim opened again; it draws on its original policy year."""

    event_name = "ClaimReopened"

    reason: str


class ReserveSet(ClaimEvent):
    """The claim's case reserve (支払備金) changed to ``reserve``: what the insurer
    expects still to pay on it. Set by a decision (``set_reserve``) or by the
    ledger itself: an initial reserve at filing, and in the same commit as a
    decision that changes what is payable or ends the claim. A payout erodes the
    reserve by its amount without an event of its own (see ``state.evolve``)."""

    event_name = "ReserveSet"

    reserve_before: Yen | None
    """None: the claim had no reserve (a claim filed before reserves were kept)."""
    reserve: Yen
    change: int
    """reserve − reserve_before (negative when it falls), in yen."""
    reason: str
    note: str | None = Field(default=None, exclude_if=lambda v: v is None)
    effective_on: date | None = Field(default=None, exclude_if=lambda v: v is None)
    """The business date the reserve speaks for, when it is not the recorded day."""


class PayoutRequested(ClaimEvent):
    """A payout decided and held against the claim and its year, awaiting
    approval; or, within the requester's own authority, issued in the same
    commit (``within_authority``: then ``PayoutIssued`` follows)."""

    event_name = "PayoutRequested"

    payout_id: str
    amount: Yen
    breakdown: PayoutBreakdown
    pay_up_to: Yen
    """The requester's authority in force: the most they may pay alone."""
    within_authority: bool
    due_on: date | None = Field(default=None, exclude_if=lambda v: v is None)


class PayoutApproved(ClaimEvent):
    """A held payout approved by another actor, whose authority in force is
    copied here; ``amount`` is issued (``PayoutIssued`` follows), ``released``
    (held − amount) goes back."""

    event_name = "PayoutApproved"

    payout_id: str
    requested_by: str
    held: Yen
    amount: Yen
    released: Yen
    approve_up_to: Yen
    reason: str


class PayoutRejected(ClaimEvent):
    """A held payout rejected by another actor: the whole hold is released."""

    event_name = "PayoutRejected"

    payout_id: str
    requested_by: str
    released: Yen
    approve_up_to: Yen
    reason: str


class RecoveryRecorded(ClaimEvent):
    """Money that came back on the claim, and whose it is: under 保険法25条2項 the
    insured's unpaid loss comes first (``insured_share``), the insurer takes the
    rest up to what it paid (``insurer_share``). The figures the split used are
    copied in. A recovery never restores the annual limit."""

    event_name = "RecoveryRecorded"

    recovery_id: str
    kind: str
    amount: Yen
    counterparty: str
    reason: str
    insured_share: Yen
    insurer_share: Yen
    loss: Yen
    """The claim's loss after exclusions when the money came back."""
    paid: Yen
    insured_unpaid_before: Yen
    insurer_recovered_before: Yen
