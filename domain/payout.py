"""The payout rule, as a pure function that shows its working.

For one claim that is its own incident (no ``incident_id``):

- payable for the incident = min(assessed loss − excluded − deductible,
  per-incident limit), never below zero, where "excluded" is the part of the
  loss that exclusions took (usually nothing); the deductible applies once per
  incident however many payouts are made;
- a payout pays what is still payable on the claim (payable for the incident −
  already paid, net of reversals, − held by payouts awaiting approval),
  capped by what remains of the policy year's annual limit for that coverage
  (the limit less what is paid and what is held);
- an interim payout may ask for less; never more.

For a claim of an incident of several claims (see ``domain/incident.py``) the
deductible and the per-incident limit are the incident's, shared by its claims:

- the deductible is taken once from the incident's total loss, from its claims
  in filing order: ``deductible_taken_by_others`` is what the losses of the
  claims filed before this one already take of it, and this claim bears the
  rest (loss after deductible = loss − (deductible − taken by others));
- the per-incident limit is shared: ``incident_paid_by_others`` is what the
  incident's other claims are paid (net), so payable for the incident on this
  claim = min(loss after deductible, per-incident limit − paid by others);
- the rest is as above. So a claim is never paid more than its own loss, and
  all the claims of an incident together are paid at most
  min(incident loss − deductible, per-incident limit): 300,000 + 300,000 of one
  data/media incident pay 500,000 in all, whichever claim is paid first.

With both incident figures 0 (a claim on its own) the two rules are the same.

``calculate_payout`` returns the whole breakdown, which ``PayoutIssued`` records.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from domain.errors import PayoutRefused
from domain.money import ZERO, Yen


def _zero(value: Yen) -> bool:
    return value == 0


class PayoutBreakdown(BaseModel):
    """Every figure of one payout decision, in the order the rule uses them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    loss: Yen
    excluded: Yen | None = Field(default=None, exclude_if=lambda v: v is None)
    """The part of the loss that exclusions took; None (and not stored) when
    nothing was excluded, as in every payout made before partial exclusions."""
    loss_after_exclusion: Yen | None = Field(default=None, exclude_if=lambda v: v is None)
    deductible: Yen
    loss_after_deductible: Yen
    per_incident_limit: Yen
    payable_for_incident: Yen
    paid_before: Yen
    payable_on_claim: Yen
    annual_limit: Yen
    annual_remaining_before: Yen
    requested: Yen | None
    amount: Yen
    annual_remaining_after: Yen
    deductible_taken_by_others: Yen = Field(default=ZERO, exclude_if=_zero)
    """What the incident's claims filed before this one already take of the
    deductible (0, and not stored, for a claim that is its own incident)."""
    incident_paid_by_others: Yen = Field(default=ZERO, exclude_if=_zero)
    """What the incident's other claims are paid, net of reversals, against its
    per-incident limit (0, and not stored, for a claim that is its own incident)."""
    held_before: Yen = Field(default=ZERO, exclude_if=_zero)
    """What payouts requested on the claim and awaiting approval hold (0, and not
    stored, when none is held, as in every payout made before holds)."""


def payable_for_incident(loss: Yen, deductible: Yen, per_incident_limit: Yen) -> Yen:
    """min(loss − deductible, per-incident limit), never below zero."""
    return min(loss.less(deductible), per_incident_limit)


def calculate_payout(
    *,
    loss: Yen,
    deductible: Yen,
    per_incident_limit: Yen,
    paid_before: Yen,
    annual_limit: Yen,
    annual_remaining: Yen,
    requested: Yen | None = None,
    excluded: Yen = ZERO,
    deductible_taken_by_others: Yen = ZERO,
    incident_paid_by_others: Yen = ZERO,
    held_before: Yen = ZERO,
) -> PayoutBreakdown:
    """Decide one payout; raise ``PayoutRefused`` naming the rule that stops it."""
    after_exclusion = loss.less(excluded)
    borne = deductible.less(deductible_taken_by_others)
    after_deductible = after_exclusion.less(borne)
    room = per_incident_limit.less(incident_paid_by_others)
    for_incident = min(after_deductible, room)
    on_claim = for_incident.less(paid_before + held_before)
    available = min(on_claim, annual_remaining)
    if available == 0:
        if after_deductible == 0:
            raise PayoutRefused.of(
                "loss_amount", "deductible",
                f"the loss of {after_exclusion}"
                + (f" (after {excluded} excluded)" if excluded else "")
                + f" does not exceed the deductible of {borne}"
                + (f" (of {deductible}, {deductible_taken_by_others} taken by the "
                   "incident's other claims)" if deductible_taken_by_others else ""))
        if room == 0:
            raise PayoutRefused.of(
                "amount", "per_incident_limit",
                f"the incident's other claims are paid {incident_paid_by_others}: all of "
                f"its per-incident limit of {per_incident_limit}")
        if on_claim == 0:
            raise PayoutRefused.of(
                "amount", "payable_on_claim",
                f"{paid_before} is already paid"
                + (f" and {held_before} held for approval" if held_before else "")
                + ": all that is payable for this incident")
        raise PayoutRefused.of(
            "amount", "annual_limit",
            f"the annual limit of {annual_limit} for this policy year is used up")
    if requested is not None:
        _check_requested(requested, available, on_claim, annual_remaining)
    amount = available if requested is None else requested
    return PayoutBreakdown(
        loss=loss,
        excluded=excluded or None,
        loss_after_exclusion=after_exclusion if excluded else None,
        deductible=deductible,
        loss_after_deductible=after_deductible,
        per_incident_limit=per_incident_limit,
        payable_for_incident=for_incident,
        paid_before=paid_before,
        payable_on_claim=on_claim,
        annual_limit=annual_limit,
        annual_remaining_before=annual_remaining,
        requested=requested,
        amount=amount,
        annual_remaining_after=annual_remaining - amount,
        deductible_taken_by_others=deductible_taken_by_others,
        incident_paid_by_others=incident_paid_by_others,
        held_before=held_before,
    )


def _check_requested(requested: Yen, available: Yen, on_claim: Yen,
                     annual_remaining: Yen) -> None:
    """An interim payout asks for more than nothing, and for no more than is
    ``available`` (naming whichever limit binds)."""
    if requested == 0:
        raise PayoutRefused.of("amount", "positive_amount", "must be more than 0")
    if requested > available:
        binding = "annual_limit" if annual_remaining < on_claim else "payable_on_claim"
        raise PayoutRefused.of(
            "amount",
            binding,
            f"{requested} is more than the {available} payable "
            f"(payable on the claim {on_claim}, annual limit remaining "
            f"{annual_remaining})",
        )
