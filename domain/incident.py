"""The Incident aggregate: the claims of one incident, which share one deductible
and one per-incident limit (1事故あたり / 1回あたり / 1事故ごと).

Claims filed with the same ``incident_id`` under one policy and coverage are one
incident (``incident:<policy>:<coverage>:<incident_id>``). The record lists them
in filing order with the loss each counts (its assessed loss; nothing once it is
denied or withdrawn) and what each is paid, net of reversals. Every decision
that changes one of those figures (filing, re-assessment, exclusion, withdrawal,
payout, reversal) writes an event here in the same commit as the claim's own, so
optimistic concurrency on this record means that no two decisions on claims of
one incident, concurrent or not, pay it more than the rule allows.

The rule (see ``domain/payout.py``): the deductible is taken once from the
incident's total loss, from its claims in filing order (a claim's share of the
deductible is what the losses of the claims filed before it have not already
covered); the per-incident limit caps what all its claims are paid together. A
claim without an ``incident_id`` is its own incident and has no record here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from domain.errors import RuleViolated
from domain.events import EventStamp, LedgerEvent
from domain.ids import incident_id_of as incident_id_of  # re-exported (the scheme lives in ids)
from domain.money import ZERO, Yen
from domain.state import changed
from domain.terms import Coverage


class IncidentEvent(LedgerEvent):
    """An event of one incident; it names the policy, coverage and incident."""

    policy_id: str
    coverage: Coverage
    incident_id: str


class IncidentOpened(IncidentEvent):
    """The first claim of the incident was filed: the incident's date, the year
    all its claims draw on, and the deductible and limit in force."""

    event_name = "IncidentOpened"

    incident_date: date
    policy_year: int
    terms_version: str
    deductible: Yen
    per_incident_limit: Yen


class IncidentClaimJoined(IncidentEvent):
    """A claim was filed for the incident, with its loss."""

    event_name = "IncidentClaimJoined"

    claim_id: str
    loss_amount: Yen


class IncidentLossCounted(IncidentEvent):
    """The loss a claim counts towards the incident changed: re-assessed, or
    nothing once the claim is denied (``ExclusionApplied``) or withdrawn."""

    event_name = "IncidentLossCounted"

    claim_id: str
    claim_event: str
    loss_before: Yen
    loss_amount: Yen


class IncidentDrawn(IncidentEvent):
    """A payout on one of the incident's claims, and what the incident had paid
    before and after it."""

    event_name = "IncidentDrawn"

    claim_id: str
    payout_id: str
    amount: Yen
    paid_before: Yen
    paid_after: Yen


class IncidentRestored(IncidentEvent):
    """A payout on one of the incident's claims was reversed."""

    event_name = "IncidentRestored"

    claim_id: str
    payout_id: str
    amount: Yen
    paid_before: Yen
    paid_after: Yen


@dataclass(frozen=True)
class IncidentClaim:
    claim_id: str
    loss: Yen
    """The loss the claim counts towards the incident."""
    paid: Yen = ZERO


@dataclass(frozen=True)
class Incident:
    id: str
    version: int
    incident_id: str
    policy_id: str
    coverage: Coverage
    incident_date: date
    policy_year: int
    deductible: Yen
    per_incident_limit: Yen
    claims: tuple[IncidentClaim, ...] = ()

    @property
    def loss(self) -> Yen:
        return Yen(sum(c.loss for c in self.claims))

    @property
    def paid(self) -> Yen:
        return Yen(sum(c.paid for c in self.claims))

    def claim(self, claim_id: str) -> IncidentClaim:
        return next(c for c in self.claims if c.claim_id == claim_id)

    def deductible_taken_before(self, claim_id: str) -> Yen:
        """What the losses of the claims filed before ``claim_id`` already take
        of the deductible."""
        before = Yen(0)
        for c in self.claims:
            if c.claim_id == claim_id:
                break
            before += c.loss
        return min(before, self.deductible)

    def paid_by_others(self, claim_id: str) -> Yen:
        return Yen(sum(c.paid for c in self.claims if c.claim_id != claim_id))

    def share(self, claim_id: str) -> Yen:
        """The most ``claim_id`` may be paid: its loss less the part of the
        deductible the claims filed before it have not taken."""
        claim = self.claim(claim_id)
        return claim.loss.less(self.deductible - self.deductible_taken_before(claim_id))

    def replaced(self, updated: IncidentClaim) -> tuple[IncidentClaim, ...]:
        """The claims with ``updated`` in place of the claim of the same id."""
        return tuple(updated if c.claim_id == updated.claim_id else c for c in self.claims)


def _fields(incident: Incident, stamp: EventStamp) -> dict[str, Any]:
    return {
        **stamp.fields(incident.id, incident.version + 1),
        "policy_id": incident.policy_id,
        "coverage": incident.coverage,
        "incident_id": incident.incident_id,
    }


def join(
    incident: Incident | None,
    stamp: EventStamp,
    *,
    opening: dict[str, Any],
    claim_id: str,
    loss: Yen,
) -> list[LedgerEvent]:
    """File ``claim_id`` for the incident, opening it with ``opening`` (the
    fields of ``IncidentOpened``) if it is new."""
    events: list[LedgerEvent] = []
    if incident is None:
        opened = IncidentOpened(
            **stamp.fields(incident_id_of(opening["policy_id"], opening["coverage"],
                                          opening["incident_id"]), 1),
            **opening,
        )
        events.append(opened)
        incident = evolve(None, opened)
    events.append(IncidentClaimJoined(**_fields(incident, stamp), claim_id=claim_id,
                                      loss_amount=loss))
    return events


def count_loss(
    incident: Incident, stamp: EventStamp, *, claim_id: str, loss: Yen, claim_event: str,
    field: str,
) -> list[LedgerEvent]:
    """Change the loss ``claim_id`` counts towards the incident; refused (naming
    ``field``) if a claim of the incident would then be paid more than its share:
    its payouts must be reversed first."""
    counted = incident.claim(claim_id)
    after = changed(incident, claims=incident.replaced(changed(counted, loss=loss)))
    over = [c for c in after.claims if c.paid > after.share(c.claim_id)]
    if over:
        raise RuleViolated.of(
            field,
            "incident_not_overpaid",
            "the incident's deductible would then fall on claims already paid more than "
            "their share: " + ", ".join(
                f"claim {c.claim_id} is paid {c.paid}, its share would be "
                f"{after.share(c.claim_id)}" for c in over)
            + "; reverse their payouts first",
        )
    return [IncidentLossCounted(**_fields(incident, stamp), claim_id=claim_id,
                                claim_event=claim_event, loss_before=counted.loss,
                                loss_amount=loss)]


def draw(incident: Incident, stamp: EventStamp, *, claim_id: str, payout_id: str,
         amount: Yen) -> LedgerEvent:
    return IncidentDrawn(**_fields(incident, stamp), claim_id=claim_id, payout_id=payout_id,
                         amount=amount, paid_before=incident.paid,
                         paid_after=incident.paid + amount)


def restore(incident: Incident, stamp: EventStamp, *, claim_id: str, payout_id: str,
            amount: Yen) -> LedgerEvent:
    return IncidentRestored(**_fields(incident, stamp), claim_id=claim_id,
                            payout_id=payout_id, amount=amount, paid_before=incident.paid,
                            paid_after=incident.paid - amount)


def evolve(state: Incident | None, event: LedgerEvent) -> Incident:
    if isinstance(event, IncidentOpened):
        return Incident(
            id=event.originator_id,
            version=event.originator_version,
            incident_id=event.incident_id,
            policy_id=event.policy_id,
            coverage=event.coverage,
            incident_date=event.incident_date,
            policy_year=event.policy_year,
            deductible=event.deductible,
            per_incident_limit=event.per_incident_limit,
        )
    if state is None:
        msg = f"{event.event_name} before the incident was opened"
        raise ValueError(msg)
    version = event.originator_version
    if isinstance(event, IncidentClaimJoined):
        joined = IncidentClaim(event.claim_id, event.loss_amount)
        return changed(state, version=version, claims=(*state.claims, joined))
    if isinstance(event, IncidentLossCounted):
        c = changed(state.claim(event.claim_id), loss=event.loss_amount)
    elif isinstance(event, IncidentDrawn):
        c = state.claim(event.claim_id)
        c = changed(c, paid=c.paid + event.amount)
    elif isinstance(event, IncidentRestored):
        c = state.claim(event.claim_id)
        c = changed(c, paid=c.paid - event.amount)
    else:
        msg = f"Incident cannot apply {type(event).__name__}"
        raise TypeError(msg)
    return changed(state, version=version, claims=state.replaced(c))


def project(state: Incident | None, events: Iterable[LedgerEvent]) -> Incident | None:
    for event in events:
        state = evolve(state, event)
    return state
