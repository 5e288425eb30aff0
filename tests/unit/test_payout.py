"""The payout rule (a pure function) and the terms' worked examples."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import PayoutRefused
from domain.money import Yen
from domain.payout import calculate_payout, payable_for_incident
from domain.terms import TERMS_2006, Coverage

DATA = TERMS_2006.coverage(Coverage.DATA_MEDIA)
LIAB = TERMS_2006.coverage(Coverage.IT_LIABILITY)


def first_payout(terms, loss: int, remaining: int | None = None):  # type: ignore[no-untyped-def]
    return calculate_payout(
        loss=Yen(loss),
        deductible=terms.deductible,
        per_incident_limit=terms.per_incident_limit,
        paid_before=Yen(0),
        annual_limit=terms.annual_limit,
        annual_remaining=terms.annual_limit if remaining is None else Yen(remaining),
    )


@pytest.mark.parametrize(
    ("terms", "loss", "paid"),
    [
        (DATA, 700_000, 600_000),  # 修理に70万円 → 60万円
        (DATA, 800_000, 700_000),  # ケース1: 80万円 → 70万円
        (LIAB, 1_800_000, 1_500_000),  # ケース2: 180万円 → 150万円
        (LIAB, 600_000, 300_000),  # ケース3: 60万円 → 30万円
    ],
)
def test_worked_examples_of_the_terms_pay_exactly(terms, loss, paid):  # type: ignore[no-untyped-def]
    breakdown = first_payout(terms, loss)
    assert breakdown.amount == paid
    assert breakdown.loss == loss
    assert breakdown.deductible == terms.deductible
    assert breakdown.annual_remaining_after == terms.annual_limit - paid


def test_per_incident_limit_caps_the_payable_amount() -> None:
    assert first_payout(LIAB, 10_000_000).amount == 2_500_000
    assert first_payout(DATA, 5_000_000).amount == 1_000_000


def test_annual_remaining_caps_the_payout() -> None:
    breakdown = first_payout(DATA, 800_000, remaining=300_000)
    assert (breakdown.payable_on_claim, breakdown.amount) == (700_000, 300_000)
    assert breakdown.annual_remaining_after == 0


def test_loss_within_deductible_pays_nothing_and_names_the_deductible() -> None:
    with pytest.raises(PayoutRefused) as caught:
        first_payout(DATA, 100_000)
    assert (caught.value.field, caught.value.rule) == ("loss_amount", "deductible")


def test_used_up_annual_limit_refuses_and_names_the_annual_limit() -> None:
    with pytest.raises(PayoutRefused) as caught:
        first_payout(DATA, 800_000, remaining=0)
    assert caught.value.rule == "annual_limit"


def test_deductible_applies_once_per_incident_across_interim_payouts() -> None:
    first = calculate_payout(
        loss=Yen(800_000), deductible=DATA.deductible, per_incident_limit=DATA.per_incident_limit,
        paid_before=Yen(0), annual_limit=DATA.annual_limit, annual_remaining=Yen(1_000_000),
        requested=Yen(200_000),
    )
    second = calculate_payout(
        loss=Yen(800_000), deductible=DATA.deductible, per_incident_limit=DATA.per_incident_limit,
        paid_before=first.amount, annual_limit=DATA.annual_limit,
        annual_remaining=first.annual_remaining_after,
    )
    assert (first.amount, second.amount) == (200_000, 500_000)
    assert first.amount + second.amount == 800_000 - 100_000


def test_an_interim_payout_may_not_ask_for_more_than_is_payable() -> None:
    with pytest.raises(PayoutRefused) as caught:
        calculate_payout(
            loss=Yen(800_000), deductible=DATA.deductible,
            per_incident_limit=DATA.per_incident_limit, paid_before=Yen(0),
            annual_limit=DATA.annual_limit, annual_remaining=Yen(1_000_000),
            requested=Yen(700_001),
        )
    assert (caught.value.field, caught.value.rule) == ("amount", "payable_on_claim")


def test_an_interim_payout_of_zero_is_refused() -> None:
    with pytest.raises(PayoutRefused) as caught:
        calculate_payout(
            loss=Yen(800_000), deductible=DATA.deductible,
            per_incident_limit=DATA.per_incident_limit, paid_before=Yen(0),
            annual_limit=DATA.annual_limit, annual_remaining=Yen(1_000_000), requested=Yen(0),
        )
    assert caught.value.rule == "positive_amount"


yen = st.integers(min_value=0, max_value=20_000_000).map(Yen)


@given(loss=yen, deductible=yen, cap=yen, paid=yen, remaining=yen, want=st.none() | yen)
def test_a_payout_never_exceeds_payable_per_incident_or_annual_remaining(  # type: ignore[no-untyped-def]
    loss, deductible, cap, paid, remaining, want
):
    try:
        b = calculate_payout(
            loss=loss, deductible=deductible, per_incident_limit=cap, paid_before=paid,
            annual_limit=max(remaining, Yen(1)), annual_remaining=remaining, requested=want,
        )
    except PayoutRefused:
        payable_now = payable_for_incident(loss, deductible, cap).less(paid)
        assert min(payable_now, remaining) == 0 or want is not None
        return
    assert 0 < b.amount <= min(loss.less(deductible), cap)
    assert b.amount + paid <= payable_for_incident(loss, deductible, cap)
    assert b.amount <= remaining
    assert b.annual_remaining_after == remaining - b.amount
    if want is not None:
        assert b.amount == want
