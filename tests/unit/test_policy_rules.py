"""Enrolment, eligibility, policy years and the end of service."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import AlreadyExists, CoverageNotEligible, NotFound, RuleViolated
from domain.policy import anniversary, year_number, year_period
from domain.policy_year import CoverageAttached
from tests.builders import attach, end_service, file_data_media
from tests.harness import Harness


def test_attaching_coverage_enrols_and_opens_year_one_with_the_terms_copied_in(h: Harness):
    events = h.then_events(attach(service_start="2024-04-01"))
    assert [e.event_name for e in events] == [
        "PolicyEnrolled", "CoverStarted", "PolicyYearOpened", "CoverageAttached",
        "CoverageAttached"]
    attached = [e for e in events if isinstance(e, CoverageAttached)]
    data, liability = attached
    assert (data.coverage, data.per_incident_limit, data.annual_limit, data.deductible) == (
        "data_media", 1_000_000, 1_000_000, 100_000)
    assert (liability.coverage, liability.per_incident_limit, liability.annual_limit,
            liability.deductible) == ("it_liability", 2_500_000, 5_000_000, 300_000)
    assert (data.period_start, data.period_end) == (date(2024, 4, 1), date(2025, 3, 31))
    assert all(e.actor == "tester" and e.command_id for e in events)


@pytest.mark.parametrize(
    ("override", "field", "rule"),
    [
        ({"screening_passed": False}, "screening_passed", "screening_passed"),
        ({"financial_institution": True}, "financial_institution", "not_financial_institution"),
        ({"firewall_applied_on": "2006-05-28"}, "firewall_applied_on",
         "firewall_applied_on_or_after"),
    ],
)
def test_each_failed_eligibility_rule_is_refused_by_name(h: Harness, override, field, rule):
    h.then_refused(attach(**override), CoverageNotEligible, field, rule)


def test_firewall_applied_on_the_launch_day_is_eligible(h: Harness):
    h.when(attach(firewall_applied_on="2006-05-29", service_start="2006-05-29"))
    assert h.ledger.get_policy("P1").service_start == date(2006, 5, 29)


def test_every_failed_eligibility_rule_is_named_at_once(h: Harness):
    with pytest.raises(CoverageNotEligible) as caught:
        h.when(attach(screening_passed=False, financial_institution=True))
    assert {v.rule for v in caught.value.violations} == {
        "screening_passed", "not_financial_institution"}
    assert h.position() == 0


def test_an_unknown_firewall_option_is_bad_input(h: Harness):
    from domain.errors import InvalidCommand

    h.then_refused(attach(firewall_option="none"), InvalidCommand, "firewall_option",
                   "allowed_values")


def test_a_policy_is_enrolled_once(h: Harness):
    h.given(attach())
    h.then_refused(attach(), AlreadyExists, "policy_id", "new_policy")


def test_service_end_before_start_is_refused(h: Harness):
    h.then_refused(attach(service_end="2024-03-31"), RuleViolated, "service_end",
                   "dates_in_order")


def test_later_years_open_on_the_first_claim_in_them(h: Harness):
    h.given(attach())
    events = h.then_events(file_data_media(incident="2025-04-01"))
    assert [e.event_name for e in events] == [
        "PolicyYearOpened", "CoverageAttached", "CoverageAttached", "ClaimFiled",
        "ClaimRegistered", "ReserveSet"]
    assert events[1].originator_id == "policy:P1:year:2"
    assert h.ledger.get_claim("C1").policy_year == 2


def test_ending_the_service_ends_the_policy_period(h: Harness):
    h.given(attach(), end_service(on="2024-12-31"))
    h.given(file_data_media(incident="2025-01-01"))
    assert h.ledger.get_claim("C1").exclusion == "outside_cover"
    assert h.ledger.get_policy("P1").years[0].end == date(2024, 12, 31)


def test_ending_an_unknown_policy_is_not_found(h: Harness):
    h.then_refused(end_service("NOPE"), NotFound, "policy_id", "policy_exists")


def test_a_29_february_start_has_its_anniversary_on_1_march() -> None:
    start = date(2024, 2, 29)
    assert anniversary(start, 1) == date(2025, 3, 1)
    assert year_period(start, 1, None).end == date(2025, 2, 28)
    assert year_number(start, date(2025, 2, 28)) == 1
    assert year_number(start, date(2025, 3, 1)) == 2
    assert anniversary(start, 4) == date(2028, 2, 29)


@given(start=st.dates(date(2006, 5, 29), date(2040, 1, 1)),
       offset=st.integers(min_value=0, max_value=20 * 366))
def test_every_day_of_the_policy_period_falls_in_exactly_one_year(start, offset):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    day = start + timedelta(days=offset)
    n = year_number(start, day)
    period = year_period(start, n, None)
    assert period.start <= day <= period.end
    if n > 1:
        assert year_period(start, n - 1, None).end + timedelta(days=1) == period.start
