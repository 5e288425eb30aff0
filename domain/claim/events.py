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
