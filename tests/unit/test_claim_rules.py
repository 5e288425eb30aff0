"""Claims: which year pays, exclusions, payouts, reversals, closing.

Each test: given commands, when a command, then events or a refusal naming the
field and rule (and nothing appended)."""

from __future__ import annotations

import pytest

from domain.claim import (
    ClaimFiled,
    ExclusionApplied,
    PayoutIssued,
    PayoutReversed,
    ReserveSet,
)
from domain.errors import (
    AlreadyExists,
    ClaimDenied,
    ClaimNotOpen,
    InvalidCommand,
    NotFound,
    PayoutRefused,
    RuleViolated,
)
from domain.policy_year import AnnualLimitDrawn, AnnualLimitRestored
from tests.builders import (
    assess,
    attach,
    close,
    exclude,
    file_data_media,
    file_liability,
    pay,
    reverse,
    withdraw,
)
from tests.harness import Harness


@pytest.fixture
def enrolled(h: Harness) -> Harness:
    h.given(attach())
    return h


def paid(h: Harness, claim_id: str) -> int:
    return int(h.ledger.get_claim(claim_id).paid)


def remaining(h: Harness, coverage: str, year: int = 1) -> int:
    return int(h.ledger.get_policy_year("P1", year).coverage(coverage).remaining)  # type: ignore[arg-type]


# Filing ---------------------------------------------------------------------


def test_data_media_draws_on_the_year_of_the_incident(enrolled: Harness):
    enrolled.given(file_data_media(incident="2025-03-31"))
    assert enrolled.ledger.get_claim("C1").policy_year == 1


def test_liability_draws_on_the_year_the_third_party_claim_was_made(enrolled: Harness):
    enrolled.given(file_liability(incident="2025-03-01", made_on="2025-04-02"))
    assert enrolled.ledger.get_claim("L1").policy_year == 2


def test_a_liability_cause_before_the_first_year_is_the_prior_cause_exclusion(
    enrolled: Harness,
):
    events = enrolled.then_events(file_liability(incident="2024-03-31", made_on="2024-05-01"))
    filed, excluded, reserved = [e for e in events if e.originator_id == "claim:L1"]
    assert isinstance(filed, ClaimFiled) and isinstance(excluded, ExclusionApplied)
    assert isinstance(reserved, ReserveSet)
    assert (reserved.reason, reserved.reserve) == ("initial", 0)
    assert excluded.exclusion == "prior_cause"
    assert "初年度の保険期間開始以前" in excluded.wording_ja
    enrolled.then_refused(pay("L1"), ClaimDenied, "claim_id", "claim_not_denied")


def test_liability_needs_the_date_the_claim_was_made(enrolled: Harness):
    command = file_liability()
    del command["claim_made_on"]
    enrolled.then_refused(command, InvalidCommand, "claim_made_on", "required")


def test_data_media_takes_no_claim_made_date(enrolled: Harness):
    enrolled.then_refused(file_data_media(claim_made_on="2024-06-02"), InvalidCommand,
                          "claim_made_on", "claims_made_only")


def test_a_claim_cannot_be_made_before_its_incident(enrolled: Harness):
    enrolled.then_refused(file_liability(incident="2024-07-01", made_on="2024-06-30"),
                          RuleViolated, "claim_made_on", "dates_in_order")


def test_an_incident_in_the_future_is_refused(enrolled: Harness):
    # the fake clock says 2026-01-15 in Japan
    enrolled.then_refused(file_data_media(incident="2026-01-16"), RuleViolated,
                          "incident_date", "not_in_future")


def test_an_unknown_cause_is_refused(enrolled: Harness):
    enrolled.then_refused(file_data_media(cause="meteor"), InvalidCommand, "cause",
                          "known_cause")


def test_a_claim_against_an_unknown_policy_is_not_found(h: Harness):
    h.then_refused(file_data_media(), NotFound, "policy_id", "policy_exists")


def test_a_claim_id_is_filed_once(enrolled: Harness):
    enrolled.given(file_data_media())
    enrolled.then_refused(file_data_media(), AlreadyExists, "claim_id", "new_claim")


# Payouts --------------------------------------------------------------------


def test_a_payout_records_its_breakdown_and_draws_on_the_annual_limit(enrolled: Harness):
    enrolled.given(file_data_media(loss=800_000))
    issued, drawn = enrolled.then_events(pay())
    assert isinstance(issued, PayoutIssued) and isinstance(drawn, AnnualLimitDrawn)
    assert issued.amount == drawn.amount == 700_000
    b = issued.breakdown
    assert (b.loss, b.deductible, b.per_incident_limit, b.annual_remaining_before,
            b.annual_remaining_after) == (800_000, 100_000, 1_000_000, 1_000_000, 300_000)
    assert drawn.originator_id == "policy:P1:year:1"


def test_two_data_media_claims_of_800k_in_one_year_pay_700k_then_300k(enrolled: Harness):
    enrolled.given(file_data_media("C1"), file_data_media("C2", incident="2024-09-01"),
                   pay("C1"), pay("C2"))
    assert (paid(enrolled, "C1"), paid(enrolled, "C2")) == (700_000, 300_000)
    assert remaining(enrolled, "data_media") == 0
    enrolled.given(file_data_media("C3", incident="2024-10-01"))
    enrolled.then_refused(pay("C3"), PayoutRefused, "amount", "annual_limit")


def test_a_new_policy_year_has_a_fresh_annual_limit(enrolled: Harness):
    enrolled.given(file_data_media("C1", loss=2_000_000), pay("C1"),
                   file_data_media("C2", loss=700_000, incident="2025-04-01"), pay("C2"))
    assert (paid(enrolled, "C1"), paid(enrolled, "C2")) == (1_000_000, 600_000)
    assert remaining(enrolled, "data_media", 2) == 400_000


def test_liability_annual_limit_is_five_million_over_many_claims(enrolled: Harness):
    for n in range(2):
        enrolled.given(file_liability(f"L{n}", loss=3_000_000), pay(f"L{n}"))
    assert [paid(enrolled, f"L{n}") for n in range(2)] == [2_500_000, 2_500_000]
    assert remaining(enrolled, "it_liability") == 0
    enrolled.given(file_liability("L2", loss=3_000_000))
    enrolled.then_refused(pay("L2"), PayoutRefused, "amount", "annual_limit")


def test_interim_payouts_never_pay_more_than_payable_on_the_claim(enrolled: Harness):
    enrolled.given(file_data_media(loss=800_000), pay(amount=200_000), pay(amount=400_000))
    enrolled.then_refused(pay(amount=100_001), PayoutRefused, "amount", "payable_on_claim")
    enrolled.given(pay())
    assert paid(enrolled, "C1") == 700_000
    enrolled.then_refused(pay(), PayoutRefused, "amount", "payable_on_claim")


def test_a_loss_within_the_deductible_pays_nothing(enrolled: Harness):
    enrolled.given(file_data_media(loss=100_000))
    enrolled.then_refused(pay(), PayoutRefused, "loss_amount", "deductible")


# Reversals, re-assessment, exclusions, closing --------------------------------


def test_reversing_a_payout_restores_the_annual_limit(enrolled: Harness):
    enrolled.given(file_data_media(), pay())
    reversed_, restored = enrolled.then_events(reverse())
    assert isinstance(reversed_, PayoutReversed) and isinstance(restored, AnnualLimitRestored)
    assert (restored.remaining_before, restored.remaining_after) == (300_000, 1_000_000)
    assert paid(enrolled, "C1") == 0 and remaining(enrolled, "data_media") == 1_000_000


def test_a_payout_is_reversed_once(enrolled: Harness):
    enrolled.given(file_data_media(), pay(), reverse())
    enrolled.then_refused(reverse(), RuleViolated, "payout_id", "not_reversed")


def test_reversing_an_unknown_payout_is_not_found(enrolled: Harness):
    enrolled.given(file_data_media())
    enrolled.then_refused(reverse(payout_id="payout-9"), NotFound, "payout_id", "payout_exists")


def test_a_reassessed_loss_changes_what_is_payable(enrolled: Harness):
    enrolled.given(file_data_media(loss=300_000), pay(), assess(loss=900_000))
    enrolled.given(pay())
    assert paid(enrolled, "C1") == 800_000


def test_a_reassessment_below_what_is_paid_is_refused(enrolled: Harness):
    enrolled.given(file_data_media(loss=800_000), pay())
    enrolled.then_refused(assess(loss=500_000), RuleViolated, "loss_amount",
                          "payable_not_below_paid")


def test_an_exclusion_denies_the_claim_with_the_terms_wording(enrolled: Harness):
    enrolled.given(file_data_media())
    applied, reserved = enrolled.then_events(exclude(code="natural_disaster"))
    assert isinstance(applied, ExclusionApplied)
    assert isinstance(reserved, ReserveSet)
    assert (reserved.reason, reserved.reserve) == ("denied", 0)
    assert "台風" in applied.wording_ja
    assert enrolled.ledger.get_claim("C1").status == "denied"
    enrolled.then_refused(pay(), ClaimDenied, "claim_id", "claim_not_denied")


def test_an_exclusion_of_the_other_coverage_is_refused(enrolled: Harness):
    enrolled.given(file_data_media())
    enrolled.then_refused(exclude(code="ip_infringement"), InvalidCommand, "exclusion",
                          "exclusion_of_coverage")


def test_an_unknown_exclusion_code_is_refused(enrolled: Harness):
    enrolled.given(file_liability())
    enrolled.then_refused(exclude("L1", code="acts_of_god"), InvalidCommand, "exclusion",
                          "exclusion_of_coverage")


def test_a_paid_claim_is_denied_only_after_its_payouts_are_reversed(enrolled: Harness):
    enrolled.given(file_data_media(), pay())
    enrolled.then_refused(exclude(), RuleViolated, "exclusion", "nothing_paid")
    enrolled.given(reverse(), exclude())
    assert enrolled.ledger.get_claim("C1").exclusion == "natural_disaster"


def test_a_closed_claim_takes_no_payout_reassessment_or_exclusion(enrolled: Harness):
    enrolled.given(file_data_media(), close())
    for command in (pay(), assess(), exclude(), close(), withdraw()):
        enrolled.then_refused(command, ClaimNotOpen, "claim_id", "claim_open")


def test_a_payout_on_a_closed_claim_can_still_be_corrected_by_reversal(enrolled: Harness):
    enrolled.given(file_data_media(), pay(), close(), reverse())
    assert paid(enrolled, "C1") == 0


def test_a_claim_with_payouts_cannot_be_withdrawn(enrolled: Harness):
    enrolled.given(file_data_media(), pay())
    enrolled.then_refused(withdraw(), RuleViolated, "claim_id", "nothing_paid")


def test_a_withdrawn_claim_is_not_paid(enrolled: Harness):
    enrolled.given(file_data_media(), withdraw())
    enrolled.then_refused(pay(), ClaimNotOpen, "claim_id", "claim_open")


def test_commands_on_an_unknown_claim_are_not_found(enrolled: Harness):
    for command in (pay("X"), assess("X"), exclude("X"), reverse("X"), close("X"),
                    withdraw("X")):
        enrolled.then_refused(command, NotFound, "claim_id", "claim_exists")
