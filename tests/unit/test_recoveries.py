"""Money that came back on a claim: subrogation (保険法25条) and salvage (24条)
split with the insured's unpaid loss first (25条2項); another insurer's share
and an overpayment returned are the insurer's alone, up to what it paid less
what it recovered; a recovery never restores the annual limit.

Each test: given commands, when a command, then events or a refusal naming the
field and rule (and nothing appended)."""

from __future__ import annotations

import pytest

from domain.claim import RecoveryRecorded
from domain.errors import InvalidCommand, RuleViolated
from domain.policy_year import AnnualLimitRestored
from tests.builders import (
    attach,
    close,
    exclude_part,
    file_data_media,
    file_liability,
    pay,
    recover,
    reverse,
)
from tests.harness import Harness


@pytest.fixture
def paid(h: Harness) -> Harness:
    """Claim C1: a loss of 800,000, paid 700,000 (the deductible is the insured's)."""
    h.given(attach(), file_data_media(loss=800_000), pay())
    return h


def shares(h: Harness, command: dict[str, object]) -> tuple[int, int]:
    """The insured's and the insurer's shares of the recovery ``command`` records."""
    (event,) = h.then_events(command)
    assert isinstance(event, RecoveryRecorded)
    return int(event.insured_share), int(event.insurer_share)


def remaining(h: Harness) -> int:
    return int(h.ledger.get_policy_year("P1", 1).coverage("data_media").remaining)  # type: ignore[arg-type]


# 25条2項: the insured's unpaid loss first -----------------------------------------


def test_subrogation_pays_the_insured_s_unpaid_loss_first(paid: Harness):
    (event,) = paid.then_events(recover(amount=300_000))
    assert isinstance(event, RecoveryRecorded)
    assert (event.insured_share, event.insurer_share) == (100_000, 200_000)
    assert (event.kind, event.loss, event.paid, event.insured_unpaid_before,
            event.insurer_recovered_before) == ("subrogation", 800_000, 700_000, 100_000, 0)


def test_salvage_is_split_as_subrogation_is(paid: Harness):
    assert shares(paid, recover(amount=300_000, kind="salvage")) == (100_000, 200_000)


def test_a_recovery_within_the_insured_s_unpaid_loss_is_all_the_insured_s(h: Harness):
    h.given(attach(), file_data_media(loss=800_000), pay(amount=300_000))  # 500,000 unpaid
    assert shares(h, recover(amount=400_000)) == (400_000, 0)


def test_once_the_insured_is_made_good_a_recovery_is_the_insurer_s(paid: Harness):
    paid.given(recover(amount=300_000))
    (event,) = paid.then_events(recover(amount=100_000))
    assert (event.insured_share, event.insurer_share, event.insured_unpaid_before,  # type: ignore[attr-defined]
            event.insurer_recovered_before) == (0, 100_000, 0, 200_000)  # type: ignore[attr-defined]


def test_the_insured_s_loss_is_counted_after_exclusions(h: Harness):
    h.given(attach(), file_liability(loss=1_800_000), exclude_part(amount=500_000),
            pay("L1", amount=1_000_000))  # 1,300,000 loss counted, 300,000 unpaid
    assert shares(h, recover("L1", amount=500_000)) == (300_000, 200_000)


def test_subrogation_beyond_the_unpaid_loss_and_what_was_paid_is_refused(paid: Harness):
    paid.then_refused(recover(amount=800_001), RuleViolated, "amount", "recovery_within_loss")
    assert shares(paid, recover(amount=800_000)) == (100_000, 700_000)
    paid.then_refused(recover(amount=1), RuleViolated, "amount", "recovery_within_loss")


# The insurer's alone ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["other_insurance", "overpayment"])
def test_another_insurer_s_share_and_an_overpayment_are_the_insurer_s(
    paid: Harness, kind: str,
):
    assert shares(paid, recover(amount=300_000, kind=kind)) == (0, 300_000)


@pytest.mark.parametrize("kind", ["other_insurance", "overpayment"])
def test_the_insurer_recovers_at_most_what_it_paid_and_has_not_recovered(
    paid: Harness, kind: str,
):
    paid.then_refused(recover(amount=700_001, kind=kind), RuleViolated, "amount",
                      "recovery_within_paid")
    paid.given(recover(amount=300_000))  # 200,000 of it the insurer's
    paid.then_refused(recover(amount=500_001, kind=kind), RuleViolated, "amount",
                      "recovery_within_paid")
    assert shares(paid, recover(amount=500_000, kind=kind)) == (0, 500_000)


def test_nothing_comes_back_to_the_insurer_on_a_claim_it_has_not_paid(h: Harness):
    h.given(attach(), file_data_media(loss=800_000))
    h.then_refused(recover(amount=1, kind="overpayment"), RuleViolated, "amount",
                   "recovery_within_paid")


# What a recovery does not change -------------------------------------------------


def test_a_recovery_does_not_restore_the_annual_limit(paid: Harness):
    before = remaining(paid)
    events = paid.then_events(recover(amount=300_000))
    assert [e.originator_id for e in events] == ["claim:C1"]
    assert remaining(paid) == before == 300_000


def test_a_reversal_restores_the_annual_limit(paid: Harness):
    events = paid.then_events(reverse())
    assert any(isinstance(e, AnnualLimitRestored) for e in events)
    assert remaining(paid) == 1_000_000


def test_a_recovery_leaves_what_is_paid_payable_and_reserved(paid: Harness):
    before = paid.ledger.get_claim("C1")
    paid.given(recover(amount=300_000, kind="other_insurance"))
    after = paid.ledger.get_claim("C1")
    assert (after.paid, after.payable, after.reserve) == (before.paid, before.payable,
                                                          before.reserve)


def test_money_comes_back_on_a_closed_claim(paid: Harness):
    paid.given(close())
    assert shares(paid, recover(amount=300_000)) == (100_000, 200_000)


# The command -----------------------------------------------------------------------


def test_a_recovery_of_nothing_is_refused(paid: Harness):
    paid.then_refused(recover(amount=0), RuleViolated, "amount", "positive_amount")


def test_a_recovery_of_an_unknown_kind_is_refused(paid: Harness):
    paid.then_refused(recover(kind="lottery"), InvalidCommand, "kind", "allowed_values")


def test_a_recovery_answers_its_id_and_the_shares(paid: Harness):
    first = paid.when(recover(amount=300_000)).result
    second = paid.when(recover(amount=50_000, kind="overpayment")).result
    assert [(r["recovery_id"], r["insured_share"], r["insurer_share"])
            for r in (first, second)] == [("recovery-1", 100_000, 200_000),
                                          ("recovery-2", 0, 50_000)]
