"""The read side's row shapes: domain state turned into read-model rows, and the
pydantic models of the rows the read models and the API return.

``year_rows`` and ``claim_from_state`` give a replayed policy year or claim the
shape of its read model's row (for ``as_of`` reads and the export's replay). The
models describe, field for field, the JSON the API returns: they are its
response models, and ``model_validate`` checks a row against them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, JsonValue, WithJsonSchema

from domain.claim import Claim, ClaimStatus, HoldStatus
from domain.payout import PayoutBreakdown
from domain.policy_year import PolicyYear
from domain.terms import Coverage

IsoDate = Annotated[str, WithJsonSchema({"type": "string", "format": "date"})]
"""A business date as ISO text (``2024-06-10``)."""
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
"""A recorded time as fixed-width UTC text (``2024-06-10T09:00:00.000000Z``)."""
_REWRITTEN = "; an event rewritten out of its class's shape may hold any JSON value here"
FromEvent = Annotated[JsonValue, WithJsonSchema({"description": "a string, or null" + _REWRITTEN})]
"""A figure an audit page takes from the event as the log stores it: checked as
any JSON, since the page must show a tampered event too (``seal verify`` reports
it)."""
NumberFromEvent = Annotated[JsonValue, WithJsonSchema({"description": "an integer, or null"
                                                                      + _REWRITTEN})]
DateFromEvent = Annotated[JsonValue, WithJsonSchema({"description": "an ISO date" + _REWRITTEN})]


def year_rows(year: PolicyYear, claims: Iterable[Claim]) -> list[dict[str, Any]]:
    """A replayed policy year in the limits read model's shape, with the case
    reserves of its ``claims`` (any claims: those of other years are left out;
    positions and open claims are not known)."""
    rows = []
    for c in year.coverages:
        mine = [claim for claim in claims if claim.policy_id == year.policy_id
                and claim.policy_year == year.year and claim.coverage == c.coverage]
        reserved = sum(int(claim.reserve) for claim in mine if claim.reserve is not None)
        rows.append({
            "policy_id": year.policy_id, "policy_year": year.year, "coverage": str(c.coverage),
            "period_start": year.period_start.isoformat(),
            "period_end": year.period_end.isoformat(),
            "terms_version": c.terms_version,
            "per_incident_limit": int(c.per_incident_limit),
            "deductible": int(c.deductible), "annual_limit": int(c.annual_limit),
            "paid": int(c.drawn), "reversed": int(c.reversed),
            "remaining": int(c.remaining), "claims_open": None, "last_position": None,
            "held": int(c.held), "reserved": reserved, "incurred": int(c.drawn) + reserved,
            "unreserved": sum(claim.reserve is None for claim in mine),
            "reserves_exceed_remaining": reserved > c.remaining,
        })
    return rows


def claim_from_state(state: Claim) -> dict[str, Any]:
    """A replayed claim in the read model's shape (positions are not known)."""
    return {
        "claim_id": state.claim_id, "policy_id": state.policy_id,
        "policy_year": state.policy_year, "coverage": str(state.coverage),
        "cause": state.cause, "incident_date": state.incident_date.isoformat(),
        "claim_made_on": state.claim_made_on.isoformat() if state.claim_made_on else None,
        "description": state.description, "status": str(state.status),
        "loss_amount": int(state.loss), "deductible": int(state.deductible),
        "per_incident_limit": int(state.per_incident_limit), "payable": int(state.payable),
        "paid": int(state.paid), "exclusion": state.exclusion,
        "terms_version": state.terms_version, "version": state.version,
        "excluded": int(state.excluded),
        "notified_on": state.notified_on.isoformat() if state.notified_on else None,
        "channel": state.channel, "notice_time_barred": state.notice_time_barred,
        "incident_id": state.incident_id,
        "reserve": None if state.reserve is None else int(state.reserve),
        "held": int(state.held), "recovered": int(state.insurer_recovered),
        "insured_recovered": int(state.insured_recovered),
        "payouts": [
            {"payout_id": p.payout_id, "amount": int(p.amount), "reversed": p.reversed,
             "breakdown": p.breakdown.model_dump(mode="json")}
            for p in state.payouts
        ],
        "holds": [
            {"payout_id": h.payout_id, "amount": int(h.amount), "requested_by": h.requested_by,
             "due_on": h.due_on.isoformat() if h.due_on else None, "status": str(h.status),
             "resolved_by": h.resolved_by}
            for h in state.holds
        ],
        "recoveries": [
            {"recovery_id": r.recovery_id, "kind": r.kind, "amount": int(r.amount),
             "counterparty": r.counterparty, "insured_share": int(r.insured_share),
             "insurer_share": int(r.insurer_share)}
            for r in state.recoveries
        ],
    }


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LimitsRow(_Row):
    """One coverage of one policy year (``GET /policies/{id}/limits`` returns a list):
    its limits, what is paid and reversed, and what remains of the annual limit."""

    policy_id: str
    policy_year: int
    coverage: Coverage
    period_start: IsoDate
    period_end: IsoDate
    terms_version: str
    per_incident_limit: int
    deductible: int
    annual_limit: int
    paid: int
    """Paid in the year, net of reversals."""
    reversed: int
    remaining: int
    claims_open: int | None
    """None in a replay (``as_of``)."""
    last_position: int | None
    """The position of the last event applied; None in a replay (``as_of``)."""
    held: int
    """Held by payouts requested and awaiting approval."""
    reserved: int
    """The case reserves (支払備金) of the year's claims of the coverage; claims
    without a reserve (``unreserved``) are left out."""
    incurred: int
    """paid + reserved."""
    unreserved: int
    """Claims of the year and coverage with no reserve: filed before reserves
    were kept, until one is set."""
    reserves_exceed_remaining: bool
    """reserved > remaining: the reserves exceed what remains of the limit."""


class PayoutRow(_Row):
    """A payout of a replayed claim (``as_of``)."""

    payout_id: str
    amount: int
    reversed: bool
    breakdown: PayoutBreakdown


class StoredPayoutRow(PayoutRow):
    """A payout of the claims read model."""

    claim_id: str
    issued_position: int
    issued_at: Timestamp
    reversed_position: int | None


class HoldRow(_Row):
    """A payout requested for approval, and how it was resolved (``issued``:
    within the requester's authority, at once)."""

    payout_id: str
    amount: int
    """The amount held (an approval may issue less)."""
    requested_by: str
    due_on: IsoDate | None
    status: HoldStatus
    resolved_by: str | None


class StoredHoldRow(HoldRow):
    """A hold of the claims read model."""

    claim_id: str
    requested_at: Timestamp
    requested_position: int
    resolved_position: int | None


class PendingHoldRow(_Row):
    """A payout awaiting approval, for a work queue (``reads.pending_holds``)."""

    claim_id: str
    policy_id: str
    payout_id: str
    amount: int
    requested_by: str
    requested_at: Timestamp
    due_on: IsoDate | None


class RecoveryRow(_Row):
    """Money that came back on a claim, and whose it is (保険法25条2項)."""

    recovery_id: str
    kind: str
    amount: int
    counterparty: str
    insured_share: int
    insurer_share: int


class StoredRecoveryRow(RecoveryRow):
    """A recovery of the claims read model."""

    claim_id: str
    recorded_at: Timestamp
    recorded_position: int


class Wording(_Row):
    """An exclusion's wording in the terms, in Japanese and English."""

    ja: str
    en: str


class _ClaimFields(_Row):
    claim_id: str
    policy_id: str
    policy_year: int
    coverage: Coverage
    cause: str
    incident_date: IsoDate
    claim_made_on: IsoDate | None
    description: str
    status: ClaimStatus
    loss_amount: int
    deductible: int
    per_incident_limit: int
    payable: int
    paid: int
    """Paid on the claim, net of reversals."""
    exclusion: str | None
    terms_version: str
    version: int
    excluded: int
    """The part of the loss that partial exclusions took."""
    notified_on: IsoDate | None
    channel: str | None
    notice_time_barred: bool
    incident_id: str | None
    reserve: int | None
    """The case reserve (支払備金); None for a claim filed before reserves were
    kept, until one is set."""
    held: int
    """Held by its payouts awaiting approval."""
    recovered: int
    """The insurer's share of the money recovered."""
    insured_recovered: int
    """The insured's share of the money recovered (their unpaid loss first)."""
    exclusion_wording: Wording | None = None
    """Added by the read facade (``GET /claims/{id}`` always has it): the wording
    of the claim's exclusion; None without one."""


class ClaimRow(_ClaimFields):
    """A claim as the claims read model holds it, with its payouts, holds and
    recoveries in the order they were recorded."""

    filed_at: Timestamp
    updated_at: Timestamp
    last_position: int
    payouts: list[StoredPayoutRow]
    holds: list[StoredHoldRow]
    recoveries: list[StoredRecoveryRow]


class ReplayedClaimRow(_ClaimFields):
    """A claim replayed from the log as known at a time (``as_of``): no positions
    or recorded times."""

    payouts: list[PayoutRow]
    holds: list[HoldRow]
    recoveries: list[RecoveryRow]


ClaimAnswer = ClaimRow | ReplayedClaimRow
"""What ``GET /claims/{id}`` returns: the read model's row, or (``as_of``) a
replay's."""


class AuditRow(_Row):
    """One event in the audit trail: the read model's row, and what a page shows
    of the event as the log stores it (``audit_trail.shown``). The figures are
    None, and ``business_dates`` empty, for an event the log no longer holds or
    one rewritten out of its class's shape; the fields a page takes from the event
    (``FromEvent``) show whatever a tampered event holds."""

    position: int
    recorded_at: Timestamp
    actor: str
    command_id: FromEvent
    aggregate_type: str
    aggregate_id: str
    version: int
    event_type: str
    policy_id: str | None
    policy_year: NumberFromEvent
    claim_id: str | None
    coverage: FromEvent
    business_dates: dict[str, DateFromEvent]
    amount: NumberFromEvent
    """The event's amount: a payout's, a filing's or re-assessment's loss, a
    reserve set, a hold requested, approved (what it issued) or rejected (what
    it released), a recovery's."""
    balance_before: NumberFromEvent
    """The annual limit's remaining balance before the event (payouts, and the
    draws, restorations, holds and releases of a year's limit)."""
    balance_after: NumberFromEvent
    payload: JsonValue
    """The event exactly as the log stores it; None if the log no longer holds
    that position."""


class AuditPage(_Row):
    """A page of the audit trail (``GET /audit``) or of a policy's or claim's
    history; ``next_after`` is the cursor for the next page (None: the last)."""

    items: list[AuditRow]
    next_after: int | None


class StallRow(_Row):
    """A read model stopped before the event it cannot apply (``Stall.as_json``)."""

    read_model: str
    generation: int
    stopped_at: int
    event_position: int
    event: str
    error: str


class ReadModelHealth(_Row):
    """How far one read model lags the log, and its stall if it has one."""

    name: str
    generation: int | None
    """The generation readers use; None before the first is built."""
    position: int
    lag: int
    stalled: StallRow | None


class Health(_Row):
    """``GET /health`` when both databases answer (``degraded``: some read model
    is stalled)."""

    status: Literal["ok", "degraded"]
    log_head: int
    read_models: list[ReadModelHealth]
