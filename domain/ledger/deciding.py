"""The decide step: one command, the records it reads, and the events it
appends, with the result the ledger answers.

``decide`` is pure over a ``Reads``: it asks for the records the command needs
(a policy, a year, a claim, an incident), checks the version the command
expected, asks the domain's decision functions for events, and evolves the
records with them for the result. The ledger is the ``Reads`` that replays
records from the log (or from a batch's view of them).
"""

from __future__ import annotations

from datetime import date
from typing import Any, NamedTuple, Protocol

from domain import authority as authority_module
from domain import claim as claim_module
from domain import cover
from domain import policy as policy_module
from domain.authority import Authority
from domain.claim import Claim, ClaimStatus, holds, recoveries, reserves
from domain.claim.state import HoldStatus
from domain.commands import (
    ApplyExclusion,
    AssessLoss,
    AttachCoverage,
    CancelFirewallOption,
    CloseClaim,
    Command,
    EndService,
    FileClaim,
    IssuePayout,
    ReopenClaim,
    ReversePayout,
    WithdrawClaim,
    WithdrawDenial,
)
from domain.errors import AlreadyExists, RuleViolated, VersionConflict
from domain.events import EventStamp, LedgerEvent
from domain.ids import aggregate_kind, claim_id_of, policy_id_of
from domain.incident import Incident
from domain.office_commands import (
    ApprovePayout,
    RecordRecovery,
    RejectPayout,
    RequestPayout,
    SetAuthority,
    SetReserve,
)
from domain.policy import Policy
from domain.policy_year import PolicyYear
from domain.terms import JST, OUTSIDE_COVER


class Reads(Protocol):
    """The records a decision may read."""

    def exists(self, aggregate_id: str) -> bool:
        """Whether a record a command would create exists already."""
        ...

    def get_policy(self, policy_id: str) -> Policy: ...

    def get_policy_year(self, policy_id: str, year: int) -> PolicyYear: ...

    def get_claim(self, claim_id: str) -> Claim: ...

    def find_incident(self, policy_id: str, coverage: str, incident_id: str) -> Incident | None:
        ...

    def incident_of(self, claim: Claim) -> Incident | None: ...

    def claim_dates_in_log(self, policy_id: str) -> dict[str, date]:
        """The date of cover of every claim the log holds filed under the policy."""
        ...

    def find_authority(self, actor: str) -> Authority | None:
        """What an operator set ``actor`` may pay and approve (None: nothing set)."""
        ...


class Decision(NamedTuple):
    events: list[LedgerEvent]
    result: dict[str, Any]
    """The result the ledger answers (JSON data)."""
    evolved: dict[str, Any]
    """The records the decision has already evolved with its events (by
    aggregate id), so that a batch need not fold them in again."""


def decide(command: Command, reads: Reads, stamp: EventStamp) -> Decision:
    """The command's events, its result, and the records it evolved."""
    if isinstance(command, AttachCoverage):
        return _attach(command, reads, stamp)
    if isinstance(command, EndService | CancelFirewallOption):
        return _move_cover_end(command, reads, stamp)
    if isinstance(command, FileClaim):
        return _file(command, reads, stamp)
    if isinstance(command, IssuePayout | ReversePayout | RequestPayout | ApprovePayout
                  | RejectPayout):
        return _pay(command, reads, stamp)
    if isinstance(command, SetAuthority):
        return _authorize(command, reads, stamp)
    return _decide_on_claim(command, reads, stamp)


def _attach(command: AttachCoverage, reads: Reads, stamp: EventStamp) -> Decision:
    if reads.exists(policy_id_of(command.policy_id)):
        raise AlreadyExists.of(
            "policy_id",
            "new_policy",
            f"policy {command.policy_id} is already enrolled",
        )
    events = policy_module.enrol(command, stamp, _today(stamp))
    policy = policy_module.project(None, events[:3])
    assert policy is not None
    first = policy.years[0]
    return Decision(events, {
        "policy_id": policy.policy_id,
        "policy_year": 1,
        "cover_start": policy.cover_start.isoformat(),
        "period_start": first.start.isoformat(),
        "period_end": first.end.isoformat(),
    }, {policy.id: policy})


def _move_cover_end(
    command: EndService | CancelFirewallOption, reads: Reads, stamp: EventStamp
) -> Decision:
    """``end_service`` and ``cancel_firewall_option``: read the policy, the
    claims outside the new cover and the open years; decide in ``cover``."""
    policy = reads.get_policy(command.policy_id)
    _check_version(command.expected_version, policy.version, f"policy {policy.policy_id}")
    if isinstance(command, EndService):
        event, field = cover.end_event(policy, command, stamp), "service_end"
    else:
        event, field = cover.cancel_event(policy, command, stamp), "cancelled_on"
    after = policy_module.evolve(policy, event)
    outside = _claims_outside(reads, policy, after)
    years = [reads.get_policy_year(policy.policy_id, y.year) for y in policy.years]
    events = cover.move_end(policy, event, field, outside, years, stamp)
    for claim in outside:  # a denied claim's reserve goes to 0 with it
        mine = [e for e in events if e.originator_id == claim.id]
        if mine:
            events += reserves.follow(claim, _evolve_claim(claim, mine), stamp)
    end = after.cover_end
    return Decision(events, {
        "policy_id": policy.policy_id,
        "cover_start": after.cover_start.isoformat(),
        "cover_end": end.isoformat() if end else None,
        "denied": sorted(e.claim_id for e in events  # type: ignore[attr-defined]
                         if aggregate_kind(e.originator_id) == "claim"),
    }, {after.id: after})


def _claims_outside(reads: Reads, policy: Policy, after: Policy) -> list[Claim]:
    """The claims filed under ``policy`` whose date of cover is outside
    ``after``'s cover: among those the policy registered and, for a policy
    enrolled before claims were registered, those the log holds."""
    dates = {c.claim_id: c.cover_date for c in policy.claims}
    if not policy.registers_claims:
        dates.update(reads.claim_dates_in_log(policy.policy_id))
    return [reads.get_claim(claim_id) for claim_id, day in sorted(dates.items())
            if not after.covers(day)]


def _file(command: FileClaim, reads: Reads, stamp: EventStamp) -> Decision:
    if reads.exists(claim_id_of(command.claim_id)):
        raise AlreadyExists.of(
            "claim_id", "new_claim", f"claim {command.claim_id} is already filed"
        )
    policy = reads.get_policy(command.policy_id)
    incident = None if command.incident_id is None else reads.find_incident(
        command.policy_id, command.coverage, command.incident_id)
    events = claim_module.file_claim(policy, command, stamp, _today(stamp), incident)
    events, claim = _settled(None, events, stamp)
    return Decision(events, _claim_result(claim), {claim.id: claim})


def _pay(command: IssuePayout | ReversePayout | RequestPayout | ApprovePayout | RejectPayout,
         reads: Reads, stamp: EventStamp) -> Decision:
    """A payout, its reversal, a request, or its approval or rejection: the
    claim, its year and its incident move together."""
    claim = reads.get_claim(command.claim_id)
    _check_version(command.expected_version, claim.version, f"claim {claim.claim_id}")
    year = reads.get_policy_year(claim.policy_id, claim.policy_year)
    incident = reads.incident_of(claim)
    paying = isinstance(command, IssuePayout | RequestPayout | ApprovePayout)
    if paying and claim.status is ClaimStatus.OPEN:
        _check_covered(reads.get_policy(claim.policy_id), claim)
    if isinstance(command, IssuePayout):
        events = claim_module.issue_payout(claim, year, command, stamp, incident)
    elif isinstance(command, ReversePayout):
        events = claim_module.reverse_payout(claim, year, command, stamp, incident)
    elif isinstance(command, RequestPayout):
        events = holds.request_payout(claim, year, command, stamp,
                                      _authority(reads, stamp.actor), incident)
    elif isinstance(command, ApprovePayout):
        events = holds.approve_payout(claim, year, command, stamp,
                                      _authority(reads, stamp.actor), incident)
    else:
        events = holds.reject_payout(claim, year, command, stamp,
                                     _authority(reads, stamp.actor))
    events, after = _settled(claim, events, stamp)
    payout_id: str = events[0].payout_id  # type: ignore[attr-defined]
    hold, payout = after.hold(payout_id), after.payout(payout_id)
    result = {**_claim_result(after), "payout_id": payout_id}
    if payout is not None:
        result |= {"amount": int(payout.amount),
                   "breakdown": payout.breakdown.model_dump(mode="json")}
    if hold is not None:
        result |= {"hold": str(hold.status), "held_amount": int(hold.amount)}
        if payout is None:
            result |= {"amount": 0 if hold.status is not HoldStatus.PENDING
                       else int(hold.amount),
                       "breakdown": hold.breakdown.model_dump(mode="json")}
    return Decision(events, result, {after.id: after})


def _authority(reads: Reads, actor: str) -> Authority:
    return reads.find_authority(actor) or authority_module.none_for(actor)


def _authorize(command: SetAuthority, reads: Reads, stamp: EventStamp) -> Decision:
    current = reads.find_authority(command.actor_name)
    events = authority_module.set_authority(current, command, stamp)
    after = authority_module.project(current, events)
    assert after is not None
    return Decision(events, {"actor_name": after.actor_name,
                             "pay_up_to": int(after.pay_up_to),
                             "approve_up_to": int(after.approve_up_to)}, {after.id: after})


def _decide_on_claim(
    command: AssessLoss | ApplyExclusion | WithdrawClaim | WithdrawDenial | CloseClaim
    | ReopenClaim | SetReserve | RecordRecovery,
    reads: Reads, stamp: EventStamp,
) -> Decision:
    """Every other decision on a filed claim."""
    claim = reads.get_claim(command.claim_id)
    _check_version(command.expected_version, claim.version, f"claim {claim.claim_id}")
    if isinstance(command, WithdrawDenial) and claim.exclusion == OUTSIDE_COVER.code:
        # The ledger's own denial stands while the claim's date is outside cover
        # (once cover's end is moved to include it, the denial can be withdrawn).
        _check_covered(reads.get_policy(claim.policy_id), claim)
    if isinstance(command, SetReserve):
        events = reserves.set_reserve(claim, command, stamp, _today(stamp))
    elif isinstance(command, CloseClaim | ReopenClaim | RecordRecovery):
        decide_alone: Any = {CloseClaim: claim_module.close_claim,
                             ReopenClaim: claim_module.reopen_claim,
                             RecordRecovery: recoveries.record_recovery}[type(command)]
        events = decide_alone(claim, command, stamp)
    else:
        decide_with_incident: Any = {
            AssessLoss: claim_module.assess_loss,
            ApplyExclusion: claim_module.apply_exclusion,
            WithdrawClaim: claim_module.withdraw_claim,
            WithdrawDenial: claim_module.withdraw_denial,
        }[type(command)]
        events = decide_with_incident(claim, command, stamp, reads.incident_of(claim))
    events, after = _settled(claim, events, stamp)
    result = _claim_result(after)
    if isinstance(command, RecordRecovery):
        recovery = after.recoveries[-1]
        result |= {"recovery_id": recovery.recovery_id,
                   "insured_share": int(recovery.insured_share),
                   "insurer_share": int(recovery.insurer_share)}
    return Decision(events, result, {after.id: after})


def _today(stamp: EventStamp) -> date:
    """The recorded day in Japan: business dates after it cannot be known yet."""
    return stamp.recorded_at.astimezone(JST).date()


def _check_covered(policy: Policy, claim: Claim) -> None:
    """Nothing is paid on a claim whose date of cover is outside cover (a log
    written before cover's end was checked can hold such an open claim)."""
    day = cover.cover_date(claim)
    if not policy.covers(day):
        end = policy.cover_end
        raise RuleViolated.of(
            "claim_id", "outside_cover",
            f"claim {claim.claim_id}'s date of cover {day} is outside cover (from "
            f"{policy.cover_start}{f' to {end}' if end else ''}): nothing is paid on it",
        )


def _check_version(expected: int | None, current: int, what: str) -> None:
    if expected is not None and expected != current:
        raise VersionConflict.of(
            "expected_version",
            "current_version",
            f"{what} is at version {current}, not {expected}: re-read it and decide again",
        )


def _evolve_claim(claim: Claim | None, events: list[LedgerEvent]) -> Claim:
    mine = [e for e in events if aggregate_kind(e.originator_id) == "claim"]
    state = claim_module.project(claim, mine)
    assert state is not None
    return state


def _settled(claim: Claim | None, events: list[LedgerEvent],
             stamp: EventStamp) -> tuple[list[LedgerEvent], Claim]:
    """The decision's events with the reserve change they call for
    (``reserves.follow``), and the claim after them."""
    after = _evolve_claim(claim, events)
    follow = reserves.follow(claim, after, stamp)
    if not follow:
        return events, after
    return [*events, *follow], _evolve_claim(after, follow)


def _claim_result(claim: Claim) -> dict[str, Any]:
    return {
        "claim_id": claim.claim_id,
        "policy_id": claim.policy_id,
        "policy_year": claim.policy_year,
        "coverage": str(claim.coverage),
        "status": str(claim.status),
        "loss_amount": int(claim.loss),
        "payable": int(claim.payable),
        "paid": int(claim.paid),
        "exclusion": claim.exclusion,
        "excluded": int(claim.excluded),
        "held": int(claim.held),
        "reserve": None if claim.reserve is None else int(claim.reserve),
        **({} if claim.incident_id is None else {"incident_id": claim.incident_id}),
    }
