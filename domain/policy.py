"""The Policy aggregate: enrolment, eligibility and the policy period.

A policy is one customer's data insurance, attached automatically to a shared
or dedicated firewall option. It owns the service period (保険期間: from the
service start date to the service end date), the policy years cut from it at
the start date's anniversaries, and which of those years are open. Opening a
year is recorded here (``PolicyYearOpened``) and on the new ``PolicyYear`` in
one transaction, so two writers cannot open the same year twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from domain.commands import AttachCoverage, EndService
from domain.errors import (
    CoverageNotEligible,
    OutsidePolicyPeriod,
    RuleViolated,
    Violation,
)
from domain.events import EventStamp, LedgerEvent
from domain.policy_year import attach_coverages
from domain.state import changed
from domain.terms import FirewallOption, TermSet, term_set, terms_in_force


def policy_id_of(policy_id: str) -> str:
    return f"policy:{policy_id}"


class PolicyEnrolled(LedgerEvent):
    event_name = "PolicyEnrolled"

    policy_id: str
    customer_id: str
    customer_name: str
    financial_institution: bool
    screening_passed: bool
    firewall_option: FirewallOption
    firewall_applied_on: date
    service_start: date
    service_end: date | None
    terms_version: str


class PolicyYearOpened(LedgerEvent):
    event_name = "PolicyYearOpened"

    policy_id: str
    policy_year: int
    period_start: date
    period_end: date
    terms_version: str


class ServiceEnded(LedgerEvent):
    event_name = "ServiceEnded"

    policy_id: str
    service_end: date


def anniversary(start: date, years: int) -> date:
    """``start`` moved on by whole years; 29 February becomes 1 March."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return date(start.year + years, 3, 1)


def year_number(service_start: date, day: date) -> int:
    """Which policy year (1 = the first) ``day`` falls in; ``day >= service_start``."""
    n = max(day.year - service_start.year, 0) + 1
    while n > 1 and anniversary(service_start, n - 1) > day:
        n -= 1
    while anniversary(service_start, n) <= day:
        n += 1
    return n


@dataclass(frozen=True)
class YearPeriod:
    year: int
    start: date
    end: date
    terms_version: str


def year_period(service_start: date, year: int, service_end: date | None) -> YearPeriod:
    """The dates of policy year ``year`` and the terms in force on its first day."""
    start = anniversary(service_start, year - 1)
    end = anniversary(service_start, year) - timedelta(days=1)
    if service_end is not None and service_end < end:
        end = service_end
    return YearPeriod(year, start, end, terms_in_force(start).version)


@dataclass(frozen=True)
class Policy:
    id: str
    version: int
    policy_id: str
    customer_id: str
    customer_name: str
    firewall_option: FirewallOption
    firewall_applied_on: date
    service_start: date
    service_end: date | None
    years: tuple[YearPeriod, ...] = ()

    def opened(self, year: int) -> YearPeriod | None:
        return next((y for y in self.years if y.year == year), None)

    def year_for(self, field: str, day: date) -> int:
        """The policy year that ``day`` (the value of ``field``) falls in."""
        if day < self.service_start:
            raise OutsidePolicyPeriod.of(
                field,
                "within_policy_period",
                f"{day} is before the policy period starts ({self.service_start})",
            )
        if self.service_end is not None and day > self.service_end:
            raise OutsidePolicyPeriod.of(
                field,
                "within_policy_period",
                f"{day} is after the policy period ended ({self.service_end})",
            )
        return year_number(self.service_start, day)


def eligibility_violations(command: AttachCoverage, terms: TermSet) -> list[Violation]:
    rules = terms.eligibility
    found: list[Violation] = []
    if rules.screening_required and not command.screening_passed:
        found.append(
            Violation(
                "screening_passed",
                "screening_passed",
                "the customer has not passed enrolment screening (加入審査)",
            )
        )
    if rules.financial_institutions_excluded and command.financial_institution:
        found.append(
            Violation(
                "financial_institution",
                "not_financial_institution",
                "financial institutions cannot enrol (金融機関のお客様は、データ保険に"
                "ご加入頂けません)",
            )
        )
    if command.firewall_option not in rules.firewall_options:
        found.append(
            Violation(
                "firewall_option",
                "firewall_option",
                "a shared or dedicated firewall option is required",
            )
        )
    if command.firewall_applied_on < rules.firewall_applied_on_or_after:
        found.append(
            Violation(
                "firewall_applied_on",
                "firewall_applied_on_or_after",
                f"the firewall option was applied for on {command.firewall_applied_on}; "
                "data insurance attaches only to options newly applied for on or "
                f"after {rules.firewall_applied_on_or_after}",
            )
        )
    return found


def enrol(command: AttachCoverage, stamp: EventStamp) -> list[LedgerEvent]:
    """Decide ``attach_coverage``: check eligibility, enrol, open the first year."""
    if command.service_end is not None and command.service_end < command.service_start:
        raise RuleViolated.of(
            "service_end",
            "dates_in_order",
            f"service_end {command.service_end} is before service_start "
            f"{command.service_start}",
        )
    terms = terms_in_force(command.service_start)
    violations = eligibility_violations(command, terms)
    if violations:
        raise CoverageNotEligible(*violations)
    aggregate_id = policy_id_of(command.policy_id)
    enrolled = PolicyEnrolled(
        **stamp.fields(aggregate_id, 1),
        policy_id=command.policy_id,
        customer_id=command.customer_id,
        customer_name=command.customer_name,
        financial_institution=command.financial_institution,
        screening_passed=command.screening_passed,
        firewall_option=command.firewall_option,
        firewall_applied_on=command.firewall_applied_on,
        service_start=command.service_start,
        service_end=command.service_end,
        terms_version=terms.version,
    )
    policy = evolve(None, enrolled)
    return [enrolled, *open_year(policy, 1, stamp)]


def open_year(policy: Policy, year: int, stamp: EventStamp) -> list[LedgerEvent]:
    """Open policy year ``year``: recorded on the policy and on the new year."""
    period = year_period(policy.service_start, year, policy.service_end)
    terms = term_set(period.terms_version)
    opened = PolicyYearOpened(
        **stamp.fields(policy.id, policy.version + 1),
        policy_id=policy.policy_id,
        policy_year=year,
        period_start=period.start,
        period_end=period.end,
        terms_version=terms.version,
    )
    return [
        opened,
        *attach_coverages(
            stamp,
            policy_id=policy.policy_id,
            year=year,
            period_start=period.start,
            period_end=period.end,
            terms=terms,
        ),
    ]


def end_service(policy: Policy, command: EndService, stamp: EventStamp) -> list[LedgerEvent]:
    """Decide ``end_service``: the policy period ends on ``service_end``."""
    if policy.service_end is not None:
        raise RuleViolated.of(
            "service_end",
            "service_not_ended",
            f"the service already ended on {policy.service_end}",
        )
    if command.service_end < policy.service_start:
        raise RuleViolated.of(
            "service_end",
            "dates_in_order",
            f"service_end {command.service_end} is before service_start "
            f"{policy.service_start}",
        )
    latest = max(policy.years, key=lambda y: y.year)
    if command.service_end < latest.start:
        raise RuleViolated.of(
            "service_end",
            "open_years_inside_period",
            f"policy year {latest.year} (from {latest.start}) is already open with "
            "claims in it; the service cannot end before that year starts",
        )
    return [
        ServiceEnded(
            **stamp.fields(policy.id, policy.version + 1),
            policy_id=policy.policy_id,
            service_end=command.service_end,
        )
    ]


def evolve(state: Policy | None, event: LedgerEvent) -> Policy:
    if isinstance(event, PolicyEnrolled):
        return Policy(
            id=event.originator_id,
            version=event.originator_version,
            policy_id=event.policy_id,
            customer_id=event.customer_id,
            customer_name=event.customer_name,
            firewall_option=event.firewall_option,
            firewall_applied_on=event.firewall_applied_on,
            service_start=event.service_start,
            service_end=event.service_end,
        )
    if state is None:
        msg = f"{event.event_name} before the policy was enrolled"
        raise ValueError(msg)
    if isinstance(event, PolicyYearOpened):
        period = YearPeriod(
            event.policy_year, event.period_start, event.period_end, event.terms_version
        )
        return changed(
            state, version=event.originator_version, years=(*state.years, period)
        )
    if isinstance(event, ServiceEnded):
        end = event.service_end
        years = tuple(changed(y, end=min(y.end, end)) for y in state.years)
        return changed(
            state, version=event.originator_version, service_end=end, years=years
        )
    msg = f"Policy cannot apply {type(event).__name__}"
    raise TypeError(msg)


def project(state: Policy | None, events: Iterable[LedgerEvent]) -> Policy | None:
    for event in events:
        state = evolve(state, event)
    return state
