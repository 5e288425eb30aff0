"""The Policy aggregate: enrolment, eligibility and the period of cover.

A policy is one customer's data insurance, attached automatically to a shared
or dedicated firewall option. Cover (保険期間) starts on the later of the
service start and the day the firewall option was applied for (the insurance
attaches to the option, 被保険者 are customers who use it) and ends at the end
of the earlier of the service's last day (利用終了日) and the option's
cancellation. The policy years are cut from the cover start at its
anniversaries; which of them are open is recorded here (``PolicyYearOpened``)
and on the new ``PolicyYear`` in one transaction, so two writers cannot open
the same year twice. Every claim filed under the policy is recorded here too
(``ClaimRegistered``, in the claim's filing commit), so a change of the cover's
end sees every claim and conflicts with a filing that races it.

A policy enrolled before cover starts were recorded (no ``CoverStarted``) is
read as today: cover from the service start; its claims filed before then are
not registered here, and are found in the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from domain.commands import AttachCoverage
from domain.errors import CoverageNotEligible, RuleViolated, Violation
from domain.events import EventStamp, LedgerEvent
from domain.ids import policy_id_of as policy_id_of  # re-exported (the scheme lives in ids)
from domain.policy_year import attach_coverages
from domain.state import changed
from domain.terms import Coverage, FirewallOption, TermSet, term_set, terms_in_force


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


class CoverStarted(LedgerEvent):
    """When cover starts (the later of the service start and the firewall
    option's application); recorded at enrolment since this was decided."""

    event_name = "CoverStarted"

    policy_id: str
    cover_start: date


class ServiceEndChanged(LedgerEvent):
    """The service's last day recorded with a reason, or corrected (a new
    event: the one before it stays in the log)."""

    event_name = "ServiceEndChanged"

    policy_id: str
    service_end: date
    previous_end: date | None
    reason: str | None


class FirewallOptionCancelled(LedgerEvent):
    """The firewall option (and the insurance attached to it) was cancelled;
    a later one corrects the day."""

    event_name = "FirewallOptionCancelled"

    policy_id: str
    cancelled_on: date
    previous: date | None
    reason: str


class ClaimRegistered(LedgerEvent):
    """A claim filed under the policy, with the day that decides its cover (the
    incident date, or the day a liability claim was made)."""

    event_name = "ClaimRegistered"

    policy_id: str
    claim_id: str
    coverage: Coverage
    policy_year: int
    cover_date: date


def anniversary(start: date, years: int) -> date:
    """``start`` moved on by whole years; 29 February becomes 1 March."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return date(start.year + years, 3, 1)


def year_number(cover_start: date, day: date) -> int:
    """Which policy year (1 = the first) ``day`` falls in; ``day >= cover_start``."""
    n = max(day.year - cover_start.year, 0) + 1
    while n > 1 and anniversary(cover_start, n - 1) > day:
        n -= 1
    while anniversary(cover_start, n) <= day:
        n += 1
    return n


@dataclass(frozen=True)
class YearPeriod:
    year: int
    start: date
    end: date
    """Before ``start`` (the day before it) when cover ended before the year began."""
    terms_version: str


def year_end(cover_start: date, year: int, cover_end: date | None) -> date:
    """The last covered day of policy year ``year``: its last day, or cover's
    end if earlier (the day before the year starts if cover ended before it)."""
    start = anniversary(cover_start, year - 1)
    end = anniversary(cover_start, year) - timedelta(days=1)
    if cover_end is not None and cover_end < end:
        end = max(cover_end, start - timedelta(days=1))
    return end


def year_period(cover_start: date, year: int, cover_end: date | None) -> YearPeriod:
    """The dates of policy year ``year`` and the terms in force on its first day."""
    start = anniversary(cover_start, year - 1)
    end = year_end(cover_start, year, cover_end)
    return YearPeriod(year, start, end, terms_in_force(start).version)


@dataclass(frozen=True)
class RegisteredClaim:
    claim_id: str
    cover_date: date


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
    cover_start: date
    """The service start for a policy enrolled before ``CoverStarted`` existed."""
    firewall_cancelled_on: date | None = None
    registers_claims: bool = False
    """Every claim of the policy is in ``claims`` (false for a policy enrolled
    before claims were registered: its earlier claims are only in the log)."""
    claims: tuple[RegisteredClaim, ...] = ()
    years: tuple[YearPeriod, ...] = ()

    @property
    def cover_end(self) -> date | None:
        """The last day of cover: the earlier of the service's end and the
        option's cancellation (None while neither is recorded)."""
        ends = [d for d in (self.service_end, self.firewall_cancelled_on) if d is not None]
        return min(ends, default=None)

    def covers(self, day: date) -> bool:
        end = self.cover_end
        return self.cover_start <= day and (end is None or day <= end)

    def opened(self, year: int) -> YearPeriod | None:
        return next((y for y in self.years if y.year == year), None)

    def year_of(self, day: date) -> int:
        """The policy year a day of cover falls in; a day outside cover is
        placed in the first year (before cover) or in the last (after it)."""
        end = self.cover_end
        if end is not None and day > end:
            day = end
        return year_number(self.cover_start, max(day, self.cover_start))


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


def enrol(command: AttachCoverage, stamp: EventStamp, today: date) -> list[LedgerEvent]:
    """Decide ``attach_coverage``: check dates and eligibility, enrol, record
    when cover starts and open the first year (from the cover start)."""
    if command.service_end is not None and command.service_end < command.service_start:
        raise RuleViolated.of(
            "service_end",
            "dates_in_order",
            f"service_end {command.service_end} is before service_start "
            f"{command.service_start}",
        )
    future = [
        Violation(field, "not_in_future", f"{day} is after today ({today}): it cannot be "
                  "known yet")
        for field, day in (("firewall_applied_on", command.firewall_applied_on),
                           ("service_start", command.service_start))
        if day > today
    ]
    if future:
        raise RuleViolated(*future)
    if command.service_end is not None and command.firewall_applied_on > command.service_end:
        raise RuleViolated.of(
            "firewall_applied_on",
            "within_service",
            f"the firewall option was applied for on {command.firewall_applied_on}, after "
            f"the service ended on {command.service_end}: the insurance never attached",
        )
    cover_start = max(command.service_start, command.firewall_applied_on)
    terms = terms_in_force(cover_start)
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
    started = CoverStarted(
        **stamp.fields(aggregate_id, 2), policy_id=command.policy_id, cover_start=cover_start
    )
    policy = project(None, [enrolled, started])
    assert policy is not None
    return [enrolled, started, *open_year(policy, 1, stamp)]


def open_year(policy: Policy, year: int, stamp: EventStamp) -> list[LedgerEvent]:
    """Open policy year ``year``: recorded on the policy and on the new year."""
    period = year_period(policy.cover_start, year, policy.cover_end)
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


def register_claim(
    policy: Policy, claim_id: str, coverage: Coverage, year: int, cover_date: date,
    stamp: EventStamp,
) -> ClaimRegistered:
    """Record a claim's filing on its policy (in the same commit as the claim)."""
    return ClaimRegistered(
        **stamp.fields(policy.id, policy.version + 1),
        policy_id=policy.policy_id,
        claim_id=claim_id,
        coverage=coverage,
        policy_year=year,
        cover_date=cover_date,
    )


def _years_to(state: Policy, version: int, **fields: object) -> Policy:
    """``state`` with ``fields`` changed and every year's end cut again to the
    cover end (a later end gives a year back the days it had lost)."""
    after = changed(state, version=version, **fields)
    end = after.cover_end
    years = tuple(changed(y, end=year_end(after.cover_start, y.year, end)) for y in after.years)
    return changed(after, years=years)


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
            cover_start=event.service_start,
        )
    if state is None:
        msg = f"{event.event_name} before the policy was enrolled"
        raise ValueError(msg)
    version = event.originator_version
    if isinstance(event, CoverStarted):
        return changed(state, version=version, cover_start=event.cover_start,
                       registers_claims=True)
    if isinstance(event, PolicyYearOpened):
        period = YearPeriod(
            event.policy_year, event.period_start, event.period_end, event.terms_version
        )
        return changed(state, version=version, years=(*state.years, period))
    if isinstance(event, ClaimRegistered):
        claim = RegisteredClaim(event.claim_id, event.cover_date)
        return changed(state, version=version, claims=(*state.claims, claim))
    if isinstance(event, ServiceEnded | ServiceEndChanged):
        return _years_to(state, version, service_end=event.service_end)
    if isinstance(event, FirewallOptionCancelled):
        return _years_to(state, version, firewall_cancelled_on=event.cancelled_on)
    msg = f"Policy cannot apply {type(event).__name__}"
    raise TypeError(msg)


def project(state: Policy | None, events: Iterable[LedgerEvent]) -> Policy | None:
    for event in events:
        state = evolve(state, event)
    return state
