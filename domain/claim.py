"""The Claim aggregate: one incident under one coverage, from filing to closing.

A claim is filed against the policy year its coverage's trigger points at (the
incident date for data/media, occurrence basis; the date the third party made
its claim for IT liability, claims-made basis), with the day and the way the
insurer was told (a notice more than 3 years after the incident is flagged,
never refused). It is re-assessed, denied by an exclusion (or an exclusion
takes part of its loss), paid (possibly in interim payouts), corrected by
reversal, closed or withdrawn; a denial is withdrawn and a closed claim
reopened by decisions of their own. Nothing is ever edited or deleted: every
change is a new event. Each decision below is a pure function of the states it
reads and the command.

A claim filed with an ``incident_id`` is one of the claims of that incident
(``domain/incident.py``): its filing, re-assessments, exclusions, withdrawal,
withdrawn denial, payouts and reversals also write the incident's record,
which holds the deductible and the per-incident limit its claims share (the
loss a claim counts there is its assessed loss less what exclusions took of
it). A liability incident's claims are one series (一連の損害賠償請求): they
draw on the policy year of the first claim made, whatever their own
``claim_made_on``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import Field

from domain import incident as incident_module
from domain.commands import (
    ApplyExclusion,
    AssessLoss,
    CloseClaim,
    FileClaim,
    IssuePayout,
    ReopenClaim,
    ReversePayout,
    WithdrawClaim,
    WithdrawDenial,
)
from domain.errors import (
    ClaimDenied,
    ClaimNotOpen,
    InvalidCommand,
    NotFound,
    RuleViolated,
)
from domain.events import EventStamp, LedgerEvent
from domain.incident import Incident
from domain.money import ZERO, Yen
from domain.payout import PayoutBreakdown, calculate_payout, payable_for_incident
from domain.policy import Policy, open_year, register_claim
from domain.policy import evolve as evolve_policy
from domain.policy_year import AnnualLimitDrawn, AnnualLimitRestored, PolicyYear
from domain.state import changed
from domain.terms import (
    NOTICE_TIME_BAR_YEARS,
    OUTSIDE_COVER,
    PRIOR_CAUSE,
    Coverage,
    NoticeChannel,
    Trigger,
    Wording,
    term_set,
)


def claim_id_of(claim_id: str) -> str:
    return f"claim:{claim_id}"


def time_bar_ends(incident: date) -> date:
    """The last day of the time bar (保険法95条) counted from the incident: the
    same day ``NOTICE_TIME_BAR_YEARS`` later, or, with no such day (29
    February), the last day of that month (民法143条)."""
    year = incident.year + NOTICE_TIME_BAR_YEARS
    try:
        return incident.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def notice_time_barred(incident: date, notified_on: date | None) -> bool:
    """Whether a notice on ``notified_on`` came after the time bar ended (a notice
    of unknown date is not flagged)."""
    return notified_on is not None and notified_on > time_bar_ends(incident)


class ClaimStatus(StrEnum):
    OPEN = "open"
    DENIED = "denied"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


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


@dataclass(frozen=True)
class Payout:
    payout_id: str
    amount: Yen
    breakdown: PayoutBreakdown
    reversed: bool = False


@dataclass(frozen=True)
class Claim:
    id: str
    version: int
    claim_id: str
    policy_id: str
    policy_year: int
    coverage: Coverage
    cause: str
    incident_date: date
    claim_made_on: date | None
    loss: Yen
    description: str
    terms_version: str
    deductible: Yen
    per_incident_limit: Yen
    status: ClaimStatus = ClaimStatus.OPEN
    exclusion: str | None = None
    payouts: tuple[Payout, ...] = ()
    notified_on: date | None = None
    channel: str | None = None
    excluded: Yen = ZERO
    """The part of the loss that partial exclusions took, in all."""
    incident_id: str | None = None

    @property
    def paid(self) -> Yen:
        """Paid on the claim, net of reversals."""
        return Yen(sum(p.amount for p in self.payouts if not p.reversed))

    @property
    def loss_after_exclusion(self) -> Yen:
        return self.loss.less(self.excluded)

    @property
    def payable(self) -> Yen:
        """What the payout rule makes payable on the claim as its own incident; for
        a claim of an incident of several claims, the most it can be paid (its loss
        after exclusions, within the per-incident limit: the incident's deductible
        and limit are shared with its other claims, see ``domain/incident.py``)."""
        deductible = ZERO if self.incident_id is not None else self.deductible
        return payable_for_incident(self.loss_after_exclusion, deductible,
                                    self.per_incident_limit)

    @property
    def notice_time_barred(self) -> bool:
        """The notice came more than 3 years after the incident (unknown: no)."""
        return notice_time_barred(self.incident_date, self.notified_on)

    def payout(self, payout_id: str) -> Payout | None:
        return next((p for p in self.payouts if p.payout_id == payout_id), None)


def _claim_fields(claim: Claim, stamp: EventStamp) -> dict[str, Any]:
    """The fields every new event of ``claim`` starts with."""
    return {
        **stamp.fields(claim.id, claim.version + 1),
        "claim_id": claim.claim_id,
        "policy_id": claim.policy_id,
        "policy_year": claim.policy_year,
        "coverage": claim.coverage,
    }


def _require_open(claim: Claim) -> None:
    if claim.status is ClaimStatus.DENIED:
        raise ClaimDenied.of(
            "claim_id",
            "claim_not_denied",
            f"claim {claim.claim_id} is denied under exclusion {claim.exclusion}",
        )
    if claim.status is not ClaimStatus.OPEN:
        raise ClaimNotOpen.of(
            "claim_id", "claim_open", f"claim {claim.claim_id} is {claim.status}"
        )


def trigger_date(policy: Policy, command: FileClaim) -> tuple[str, date]:
    """The field and date that choose the policy year for a new claim."""
    terms = term_set(policy.years[0].terms_version)
    trigger = terms.coverage(command.coverage).trigger
    if trigger is Trigger.CLAIMS_MADE:
        if command.claim_made_on is None:
            raise InvalidCommand.of(
                "claim_made_on",
                "required",
                f"is required for {command.coverage} (claims-made basis)",
            )
        return "claim_made_on", command.claim_made_on
    if command.claim_made_on is not None:
        raise InvalidCommand.of(
            "claim_made_on",
            "claims_made_only",
            f"is only for claims-made coverage; {command.coverage} pays on the "
            "incident date (occurrence basis)",
        )
    return "incident_date", command.incident_date


def deny(claim: Claim, wording: Wording, reason: str, stamp: EventStamp) -> ExclusionApplied:
    """The ledger's own denial of ``claim`` under ``wording`` (a rule or exclusion)."""
    return ExclusionApplied(
        **_claim_fields(claim, stamp),
        exclusion=wording.code,
        wording_ja=wording.ja,
        wording_en=wording.en,
        reason=reason,
    )


def file_claim(
    policy: Policy, command: FileClaim, stamp: EventStamp, today: date,
    incident: Incident | None = None,
) -> list[LedgerEvent]:
    """Decide ``file_claim``: pick the year (opening it if new), file, record the
    claim on its policy, and deny it at once where the terms do not cover it: a
    date of cover outside cover, or (where the terms have it) a cause before
    the cover start. A claim of an incident already open (``incident``) must give
    the incident's date and draws on the incident's year (each claim is still
    checked against cover on its own date of cover)."""
    for field, day in (("incident_date", command.incident_date),
                       ("claim_made_on", command.claim_made_on),
                       ("notified_on", command.notified_on)):
        if day is not None and day > today:
            raise RuleViolated.of(field, "not_in_future", f"{day} is after today ({today})")
    if command.claim_made_on is not None and command.claim_made_on < command.incident_date:
        raise RuleViolated.of(
            "claim_made_on",
            "dates_in_order",
            f"the claim was made on {command.claim_made_on}, before the incident "
            f"on {command.incident_date}",
        )
    if command.notified_on is not None and command.notified_on < command.incident_date:
        raise RuleViolated.of(
            "notified_on",
            "dates_in_order",
            f"the insurer was told on {command.notified_on}, before the incident "
            f"on {command.incident_date}",
        )
    field, day = trigger_date(policy, command)
    if incident is None:
        year = policy.year_of(day)
    elif incident.incident_date != command.incident_date:
        raise RuleViolated.of(
            "incident_date",
            "same_incident_date",
            f"incident {incident.incident_id} occurred on {incident.incident_date}; "
            f"a claim of it cannot give {command.incident_date}",
        )
    else:
        year = incident.policy_year
    events: list[LedgerEvent] = []
    period = policy.opened(year)
    if period is None:
        events = open_year(policy, year, stamp)
        policy = evolve_policy(policy, events[0])
        period = policy.opened(year)
        assert period is not None
    terms = term_set(period.terms_version)
    coverage = terms.coverage(command.coverage)
    if terms.cause(command.cause) is None:
        raise InvalidCommand.of(
            "cause",
            "known_cause",
            f"unknown cause {command.cause!r}; expected one of: "
            f"{', '.join(c.code for c in terms.causes)}",
        )
    aggregate_id = claim_id_of(command.claim_id)
    events.append(
        ClaimFiled(
            **stamp.fields(aggregate_id, 1),
            claim_id=command.claim_id,
            policy_id=policy.policy_id,
            policy_year=year,
            coverage=command.coverage,
            cause=command.cause,
            incident_date=command.incident_date,
            claim_made_on=command.claim_made_on,
            loss_amount=command.loss_amount,
            description=command.description,
            terms_version=terms.version,
            deductible=coverage.deductible,
            per_incident_limit=coverage.per_incident_limit,
            notified_on=command.notified_on or today,
            channel=command.channel,
            incident_id=command.incident_id,
        )
    )
    events.append(register_claim(policy, command.claim_id, command.coverage, year, day, stamp))
    filed = evolve(None, events[-2])
    prior = coverage.exclusion(PRIOR_CAUSE)
    denial: ExclusionApplied | None = None
    if not policy.covers(day):
        denial = deny(filed, OUTSIDE_COVER, f"{field} {day} is outside cover "
                      f"({_cover_text(policy)})", stamp)
    elif prior is not None and command.incident_date < policy.cover_start:
        denial = deny(
            filed, prior, f"the cause ({command.incident_date}) predates the first policy "
            f"year, which began {policy.cover_start}", stamp)
    if denial is not None:
        events.append(denial)
    if command.incident_id is not None:
        events += incident_module.join(
            incident, stamp, claim_id=command.claim_id,
            loss=ZERO if denial is not None else command.loss_amount,
            opening={"policy_id": policy.policy_id, "coverage": command.coverage,
                     "incident_id": command.incident_id,
                     "incident_date": command.incident_date, "policy_year": year,
                     "terms_version": terms.version, "deductible": coverage.deductible,
                     "per_incident_limit": coverage.per_incident_limit})
    return events


def _cover_text(policy: Policy) -> str:
    end = policy.cover_end
    return f"from {policy.cover_start} to {end}" if end else f"from {policy.cover_start}"


def _counted(
    claim: Claim, incident: Incident | None, stamp: EventStamp, *, loss: Yen,
    claim_event: str, field: str,
) -> list[LedgerEvent]:
    """The incident's record of the loss ``claim`` now counts (nothing for a claim
    that is its own incident)."""
    if incident is None:
        return []
    return incident_module.count_loss(incident, stamp, claim_id=claim.claim_id, loss=loss,
                                      claim_event=claim_event, field=field)


def assess_loss(
    claim: Claim, command: AssessLoss, stamp: EventStamp, incident: Incident | None = None
) -> list[LedgerEvent]:
    _require_open(claim)
    if command.loss_amount == claim.loss:
        raise RuleViolated.of(
            "loss_amount", "loss_changed", f"the assessed loss is already {claim.loss}"
        )
    if command.loss_amount < claim.excluded:
        raise RuleViolated.of(
            "loss_amount",
            "excluded_within_loss",
            f"{claim.excluded} of the loss is excluded; the loss cannot be less",
        )
    if incident is not None:
        return [
            LossAssessed(**_claim_fields(claim, stamp), loss_before=claim.loss,
                         loss_amount=command.loss_amount, reason=command.reason),
            *_counted(claim, incident, stamp, loss=command.loss_amount - claim.excluded,
                      claim_event="LossAssessed", field="loss_amount"),
        ]
    payable = payable_for_incident(
        command.loss_amount - claim.excluded, claim.deductible, claim.per_incident_limit
    )
    if payable < claim.paid:
        raise RuleViolated.of(
            "loss_amount",
            "payable_not_below_paid",
            f"a loss of {command.loss_amount} makes {payable} payable, less than the "
            f"{claim.paid} already paid; reverse payouts first",
        )
    return [
        LossAssessed(
            **_claim_fields(claim, stamp),
            loss_before=claim.loss,
            loss_amount=command.loss_amount,
            reason=command.reason,
        )
    ]


def apply_exclusion(
    claim: Claim, command: ApplyExclusion, stamp: EventStamp,
    incident: Incident | None = None,
) -> list[LedgerEvent]:
    _require_open(claim)
    coverage = term_set(claim.terms_version).coverage(claim.coverage)
    wording = coverage.exclusion(command.exclusion)
    if wording is None:
        raise InvalidCommand.of(
            "exclusion",
            "exclusion_of_coverage",
            f"{command.exclusion!r} is not an exclusion of {claim.coverage}; "
            f"expected one of: {', '.join(e.code for e in coverage.exclusions)}",
        )
    if command.amount is not None:
        return _exclude_part(claim, wording, command, command.amount, stamp, incident)
    if claim.paid > 0:
        raise RuleViolated.of(
            "exclusion",
            "nothing_paid",
            f"{claim.paid} is paid on the claim; reverse the payouts before "
            "denying it",
        )
    return [
        deny(claim, wording, command.reason, stamp),
        *_counted(claim, incident, stamp, loss=ZERO, claim_event="ExclusionApplied",
                  field="exclusion"),
    ]


def _exclude_part(claim: Claim, wording: Wording, command: ApplyExclusion, amount: Yen,
                  stamp: EventStamp, incident: Incident | None) -> list[LedgerEvent]:
    """Exclude ``amount`` of the loss: the exclusions of a claim add up to at most
    its assessed loss, and never leave less payable than is already paid (for a
    claim of an incident, the incident counts the loss left, and no claim of it
    may be left paid more than its share)."""
    if amount == 0:
        raise RuleViolated.of("amount", "positive_amount", "must be more than 0")
    total = claim.excluded + amount
    if total > claim.loss:
        raise RuleViolated.of(
            "amount",
            "excluded_within_loss",
            f"{total} excluded in all would be more than the assessed loss of {claim.loss}"
            + (f" ({claim.excluded} is excluded already)" if claim.excluded else ""),
        )
    deductible = ZERO if incident is not None else claim.deductible
    payable = payable_for_incident(claim.loss - total, deductible, claim.per_incident_limit)
    if payable < claim.paid:
        raise RuleViolated.of(
            "amount",
            "payable_not_below_paid",
            f"excluding {amount} makes {payable} payable, less than the {claim.paid} "
            "already paid; reverse payouts first",
        )
    return [
        PartialExclusionApplied(
            **_claim_fields(claim, stamp),
            exclusion=wording.code,
            wording_ja=wording.ja,
            wording_en=wording.en,
            reason=command.reason,
            amount=amount,
            excluded_total=total,
        ),
        *_counted(claim, incident, stamp, loss=claim.loss - total,
                  claim_event="PartialExclusionApplied", field="amount"),
    ]


def withdraw_denial(
    claim: Claim, command: WithdrawDenial, stamp: EventStamp,
    incident: Incident | None = None,
) -> list[LedgerEvent]:
    """The claim is open again; a claim of an incident counts its loss there
    again (as a denial made it count nothing)."""
    if claim.status is not ClaimStatus.DENIED or claim.exclusion is None:
        raise RuleViolated.of(
            "claim_id", "claim_denied",
            f"claim {claim.claim_id} is {claim.status}: it has no denial to withdraw",
        )
    return [DenialWithdrawn(**_claim_fields(claim, stamp), exclusion=claim.exclusion,
                            reason=command.reason),
            *_counted(claim, incident, stamp, loss=claim.loss_after_exclusion,
                      claim_event="DenialWithdrawn", field="claim_id")]


def reopen_claim(claim: Claim, command: ReopenClaim, stamp: EventStamp) -> list[LedgerEvent]:
    """Only a closed claim is reopened: a denied one is opened again by
    withdrawing its denial, and a withdrawn one was the customer's own act."""
    if claim.status is not ClaimStatus.CLOSED:
        hint = {ClaimStatus.DENIED: "; withdraw its denial instead (withdraw_denial)",
                ClaimStatus.WITHDRAWN: "; the customer withdrew it: file a new claim"}
        raise RuleViolated.of(
            "claim_id", "claim_closed",
            f"claim {claim.claim_id} is {claim.status}, not closed"
            + hint.get(claim.status, ""),
        )
    return [ClaimReopened(**_claim_fields(claim, stamp), reason=command.reason)]


def issue_payout(
    claim: Claim, year: PolicyYear, command: IssuePayout, stamp: EventStamp,
    incident: Incident | None = None,
) -> list[LedgerEvent]:
    _require_open(claim)
    in_force = year.coverage(claim.coverage)
    shared = {} if incident is None else {
        "deductible_taken_by_others": incident.deductible_taken_before(claim.claim_id),
        "incident_paid_by_others": incident.paid_by_others(claim.claim_id),
    }
    breakdown = calculate_payout(
        loss=claim.loss,
        excluded=claim.excluded,
        deductible=claim.deductible,
        per_incident_limit=claim.per_incident_limit,
        paid_before=claim.paid,
        annual_limit=in_force.annual_limit,
        annual_remaining=in_force.remaining,
        requested=command.amount,
        **shared,
    )
    payout_id = f"payout-{len(claim.payouts) + 1}"
    drawn = [] if incident is None else [incident_module.draw(
        incident, stamp, claim_id=claim.claim_id, payout_id=payout_id,
        amount=breakdown.amount)]
    return [
        PayoutIssued(
            **_claim_fields(claim, stamp),
            payout_id=payout_id,
            amount=breakdown.amount,
            breakdown=breakdown,
        ),
        AnnualLimitDrawn(
            **stamp.fields(year.id, year.version + 1),
            policy_id=year.policy_id,
            policy_year=year.year,
            coverage=claim.coverage,
            claim_id=claim.claim_id,
            payout_id=payout_id,
            amount=breakdown.amount,
            remaining_before=breakdown.annual_remaining_before,
            remaining_after=breakdown.annual_remaining_after,
        ),
        *drawn,
    ]


def reverse_payout(
    claim: Claim, year: PolicyYear, command: ReversePayout, stamp: EventStamp,
    incident: Incident | None = None,
) -> list[LedgerEvent]:
    payout = claim.payout(command.payout_id)
    if payout is None:
        raise NotFound.of(
            "payout_id",
            "payout_exists",
            f"claim {claim.claim_id} has no payout {command.payout_id}",
        )
    if payout.reversed:
        raise RuleViolated.of(
            "payout_id",
            "not_reversed",
            f"payout {payout.payout_id} is already reversed",
        )
    remaining = year.coverage(claim.coverage).remaining
    return [
        PayoutReversed(
            **_claim_fields(claim, stamp),
            payout_id=payout.payout_id,
            amount=payout.amount,
            reason=command.reason,
        ),
        AnnualLimitRestored(
            **stamp.fields(year.id, year.version + 1),
            policy_id=year.policy_id,
            policy_year=year.year,
            coverage=claim.coverage,
            claim_id=claim.claim_id,
            payout_id=payout.payout_id,
            amount=payout.amount,
            remaining_before=remaining,
            remaining_after=remaining + payout.amount,
        ),
        *([] if incident is None else [incident_module.restore(
            incident, stamp, claim_id=claim.claim_id, payout_id=payout.payout_id,
            amount=payout.amount)]),
    ]


def close_claim(claim: Claim, command: CloseClaim, stamp: EventStamp) -> list[LedgerEvent]:
    _require_open(claim)
    return [ClaimClosed(**_claim_fields(claim, stamp), reason=command.reason)]


def withdraw_claim(
    claim: Claim, command: WithdrawClaim, stamp: EventStamp,
    incident: Incident | None = None,
) -> list[LedgerEvent]:
    _require_open(claim)
    if claim.paid > 0:
        raise RuleViolated.of(
            "claim_id",
            "nothing_paid",
            f"{claim.paid} is paid on the claim; reverse the payouts before "
            "withdrawing it",
        )
    return [
        ClaimWithdrawn(**_claim_fields(claim, stamp), reason=command.reason),
        *_counted(claim, incident, stamp, loss=ZERO, claim_event="ClaimWithdrawn",
                  field="claim_id"),
    ]


def evolve(state: Claim | None, event: LedgerEvent) -> Claim:
    if isinstance(event, ClaimFiled):
        return Claim(
            id=event.originator_id,
            version=event.originator_version,
            claim_id=event.claim_id,
            policy_id=event.policy_id,
            policy_year=event.policy_year,
            coverage=event.coverage,
            cause=event.cause,
            incident_date=event.incident_date,
            claim_made_on=event.claim_made_on,
            loss=event.loss_amount,
            description=event.description,
            terms_version=event.terms_version,
            deductible=event.deductible,
            per_incident_limit=event.per_incident_limit,
            notified_on=event.notified_on,
            channel=None if event.channel is None else str(event.channel),
            incident_id=event.incident_id,
        )
    if state is None:
        msg = f"{event.event_name} before the claim was filed"
        raise ValueError(msg)
    version = event.originator_version
    if isinstance(event, LossAssessed):
        return changed(state, version=version, loss=event.loss_amount)
    if isinstance(event, ExclusionApplied):
        return changed(
            state, version=version, status=ClaimStatus.DENIED, exclusion=event.exclusion
        )
    if isinstance(event, PayoutIssued):
        payout = Payout(event.payout_id, event.amount, event.breakdown)
        return changed(state, version=version, payouts=(*state.payouts, payout))
    if isinstance(event, PayoutReversed):
        payouts = tuple(
            changed(p, reversed=True) if p.payout_id == event.payout_id else p
            for p in state.payouts
        )
        return changed(state, version=version, payouts=payouts)
    if isinstance(event, ClaimClosed):
        return changed(state, version=version, status=ClaimStatus.CLOSED)
    if isinstance(event, ClaimWithdrawn):
        return changed(state, version=version, status=ClaimStatus.WITHDRAWN)
    if isinstance(event, PartialExclusionApplied):
        return changed(state, version=version, excluded=state.excluded + event.amount)
    if isinstance(event, DenialWithdrawn):
        return changed(state, version=version, status=ClaimStatus.OPEN, exclusion=None)
    if isinstance(event, ClaimReopened):
        return changed(state, version=version, status=ClaimStatus.OPEN)
    msg = f"Claim cannot apply {type(event).__name__}"
    raise TypeError(msg)


def project(state: Claim | None, events: Iterable[LedgerEvent]) -> Claim | None:
    for event in events:
        state = evolve(state, event)
    return state

