"""Yen: whole, non-negative yen."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from domain.money import MAX_YEN, NegativeYen, Yen


def test_yen_refuses_negative_amounts_and_subtraction_below_zero() -> None:
    with pytest.raises(NegativeYen):
        Yen(-1)
    with pytest.raises(NegativeYen):
        Yen(5) - Yen(6)
    assert Yen(5).less(Yen(6)) == 0


def test_yen_refuses_non_integers() -> None:
    for bad in (1.5, "100", True):
        with pytest.raises(TypeError):
            Yen(bad)  # type: ignore[arg-type]


def test_yen_arithmetic_stays_in_yen_and_prints_as_the_terms_write_it() -> None:
    total = Yen(600_000) + Yen(100_000)
    assert isinstance(total, Yen) and total == 700_000
    assert str(total) == "700,000円"


class _Model(BaseModel):
    amount: Yen


@pytest.mark.parametrize("raw", ["1.5", "1.0", '"100"', "-1", "true", str(MAX_YEN + 1)])
def test_yen_fields_refuse_anything_but_a_whole_non_negative_json_integer(raw: str) -> None:
    with pytest.raises(ValidationError):
        _Model.model_validate_json(f'{{"amount": {raw}}}')


def test_yen_fields_round_trip_as_plain_json_integers() -> None:
    model = _Model.model_validate_json('{"amount": 1000000}')
    assert isinstance(model.amount, Yen)
    assert model.model_dump_json() == '{"amount":1000000}'


def test_a_yen_field_takes_a_yen_as_it_is_and_makes_a_yen_of_a_whole_number() -> None:
    amount = Yen(700_000)
    assert _Model(amount=amount).amount is amount
    made = _Model(amount=700_000).amount
    assert type(made) is Yen
    assert made == amount


@pytest.mark.parametrize("value", [1.5, "100", -1, True, MAX_YEN + 1])
def test_a_yen_field_refuses_from_python_what_it_refuses_from_json(value: object) -> None:
    with pytest.raises(ValidationError):
        _Model(amount=value)
