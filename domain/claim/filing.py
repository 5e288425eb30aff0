"""Filing a claim: which policy year pays, the checks on its dates, and the
denials the terms make at once.

A claim is filed against the policy year its coverage's trigger points at (the
incident date for data/media, occurrence basis; the date the third party made
its claim for IT liability, claims-made basis), with the day and the way the
insurer was told. A claim whose date of cover is outside cover, or (where the
terms have it) whose cause predates cover, is filed and denied in one commit.
"""

from __future__ import annotations

from datetime import date

from domain import incident as incident_module
from domain.claim.decisions import deny
from domain.claim.events import ClaimFiled, ExclusionApplied
from domain.claim.state import Claim, evolve
from domain.commands import FileClaim
from domain.errors import InvalidCommand, RuleViolated
from domain.events import EventStamp, LedgerEvent
from domain.ids import claim_id_of
from domain.incident import Incident
from domain.money import ZERO
from domain.policy import Policy, open_year, register_claim
from domain.policy import evolve as evolve_policy
from domain.terms import OUTSIDE_COVER, PRIOR_CAUSE, CoverageTerms, Trigger, term_set


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
    _check_dates(command, today)
    field, day = trigger_date(policy, command)
    year = _year_of(policy, command, day, incident)
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
    denial = _denial(policy, evolve(None, events[-2]), coverage, command, field, day, stamp)
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


def _check_dates(command: FileClaim, today: date) -> None:
    """No date after today, and neither the claim nor the notice before the
    incident."""
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


def _year_of(policy: Policy, command: FileClaim, day: date, incident: Incident | None) -> int:
    """The policy year the claim draws on: its trigger date's, or its incident's."""
    if incident is None:
        return policy.year_of(day)
    if incident.incident_date != command.incident_date:
        raise RuleViolated.of(
            "incident_date",
            "same_incident_date",
            f"incident {incident.incident_id} occurred on {incident.incident_date}; "
            f"a claim of it cannot give {command.incident_date}",
        )
    return incident.policy_year


def _denial(policy: Policy, filed: Claim, coverage: CoverageTerms, command: FileClaim,
            field: str, day: date, stamp: EventStamp) -> ExclusionApplied | None:
    """The terms' own denial of the claim just filed, if its date of cover
    (``field``, ``day``) is outside cover or its cause predates cover."""
    prior = coverage.exclusion(PRIOR_CAUSE)
    if not policy.covers(day):
        return deny(filed, OUTSIDE_COVER, f"{field} {day} is outside cover "
                    f"({_cover_text(policy)})", stamp)
    if prior is not None and command.incident_date < policy.cover_start:
        return deny(
            filed, prior, f"the cause ({command.incident_date}) predates the first policy "
            f"year, which began {policy.cover_start}", stamp)
    return None


def _cover_text(policy: Policy) -> str:
    end = policy.cover_end
    return f"from {policy.cover_start} to {end}" if end else f"from {policy.cover_start}"

