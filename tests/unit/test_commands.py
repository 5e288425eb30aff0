"""Command contract v1: bad input is refused field by field, by rule."""

from __future__ import annotations

from typing import Any

import pytest

from domain.commands import COMMAND_TYPES, parse_command
from domain.errors import InvalidCommand
from tests.builders import (
    approve,
    assess,
    attach,
    authorize,
    cancel_firewall,
    close,
    end_service,
    exclude,
    file_data_media,
    file_liability,
    pay,
    recover,
    reject,
    reopen,
    request,
    reverse,
    set_reserve,
    withdraw,
    withdraw_denial,
)

VALID: list[dict[str, Any]] = [
    attach(), end_service(), file_data_media(), file_liability(), assess(), exclude(),
    pay(amount=1), reverse(), close(), withdraw(), withdraw_denial(), reopen(),
    file_data_media(notified_on="2024-06-02", channel="email"), exclude(amount=1),
    cancel_firewall(), set_reserve(amount=1, effective_on="2024-06-02", note="n"),
    request(amount=1, due_on="2024-07-01"), approve(amount=1), reject(),
    recover(), authorize("tester", 300_000, 1_000_000),
]


def refusal(command: Any) -> list[tuple[str | None, str]]:
    with pytest.raises(InvalidCommand) as caught:
        parse_command(command)
    return [(v.field, v.rule) for v in caught.value.violations]


def test_every_command_of_the_contract_has_a_valid_example() -> None:
    assert {c["command"] for c in VALID} == {
        t.model_fields["command"].annotation.__args__[0]  # type: ignore[union-attr]
        for t in COMMAND_TYPES
    }
    for command in VALID:
        assert parse_command(command).command == command["command"]


REQUIRED = [
    (c, field)
    for c in VALID
    for field, info in type(parse_command(c)).model_fields.items()
    if info.is_required() and field != "command"
]


@pytest.mark.parametrize(("command", "field"), REQUIRED,
                         ids=[f"{c['command']}-{f}" for c, f in REQUIRED])
def test_a_missing_required_field_is_named(command: dict[str, Any], field: str) -> None:
    broken = {k: v for k, v in command.items() if k != field}
    assert (field, "required") in refusal(broken)


YEN_FIELDS = [(c, f) for c in VALID for f in ("loss_amount", "amount") if f in c]


@pytest.mark.parametrize(("command", "field"), YEN_FIELDS,
                         ids=[f"{c['command']}-{f}" for c, f in YEN_FIELDS])
@pytest.mark.parametrize(("value", "rule"), [
    (-1, "non_negative"), (1.5, "integer_yen"), (100.0, "integer_yen"), ("100", "integer_yen"),
    (10**14, "maximum"),
])
def test_yen_must_be_a_whole_non_negative_number(command, field, value, rule) -> None:  # type: ignore[no-untyped-def]
    assert (field, rule) in refusal({**command, field: value})


DATE_FIELDS = [(c, f) for c in VALID for f in
               ("firewall_applied_on", "service_start", "service_end", "incident_date",
                "claim_made_on", "notified_on", "cancelled_on", "effective_on", "due_on")
               if f in c]


@pytest.mark.parametrize(("command", "field"), DATE_FIELDS,
                         ids=[f"{c['command']}-{f}" for c, f in DATE_FIELDS])
@pytest.mark.parametrize("value", ["2024-02-30", "15/01/2024", 20240101, ""])
def test_dates_must_be_real_iso_dates(command, field, value) -> None:  # type: ignore[no-untyped-def]
    assert (field, "date_format") in refusal({**command, field: value})


ID_FIELDS = [(c, f) for c in VALID for f in
             ("policy_id", "claim_id", "customer_id", "payout_id") if f in c]


@pytest.mark.parametrize(("command", "field"), ID_FIELDS,
                         ids=[f"{c['command']}-{f}" for c, f in ID_FIELDS])
@pytest.mark.parametrize("value", ["", "has space", "x" * 65, "-leading", "a:b"])
def test_identifiers_are_short_plain_names(command, field, value) -> None:  # type: ignore[no-untyped-def]
    rules = dict(refusal({**command, field: value}))
    assert rules[field] in ("identifier_format",)


@pytest.mark.parametrize("command", VALID, ids=[c["command"] for c in VALID])
def test_unknown_fields_are_refused_by_name(command: dict[str, Any]) -> None:
    assert ("amount_usd", "unknown_field") in refusal({**command, "amount_usd": 1})


def test_booleans_must_be_json_booleans() -> None:
    assert ("financial_institution", "boolean") in refusal(
        attach(financial_institution="no"))
    assert ("screening_passed", "boolean") in refusal(attach(screening_passed=1))


def test_unknown_coverage_is_refused_with_the_allowed_values() -> None:
    with pytest.raises(InvalidCommand) as caught:
        parse_command(file_data_media(coverage="fire"))
    assert caught.value.field == "coverage" and "data_media" in str(caught.value)


def test_an_unknown_or_missing_command_name_is_refused() -> None:
    assert refusal({"command": "delete_claim", "claim_id": "C1"}) == [
        ("command", "unknown_command")]
    assert refusal({"claim_id": "C1"}) == [("command", "required")]


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '"text"', "{"])
def test_lines_that_are_not_json_objects_are_refused(text: str) -> None:
    assert refusal(text)[0][1] in ("json", "json_object")


def test_empty_reasons_and_descriptions_are_refused() -> None:
    assert ("reason", "required") in refusal(close(reason=""))
    assert ("description", "required") in refusal(file_data_media(description=""))


TEXT_FIELDS = [(attach(), "customer_name"), (file_data_media(), "description"),
               (file_data_media(), "cause"), (assess(reason="r"), "reason"),
               (exclude(), "exclusion"), (exclude(), "reason"), (reverse(), "reason"),
               (close(), "reason"), (withdraw(), "reason"), (withdraw_denial(), "reason"),
               (reopen(), "reason"), (end_service(reason="r"), "reason"),
               (cancel_firewall(), "reason")]


@pytest.mark.parametrize("control", ["\x00", "\x07", "\t", "\n", "\r", "\x1b[31m", "\x7f",
                                     "\u2028"])
@pytest.mark.parametrize(("command", "field"), TEXT_FIELDS,
                         ids=[f"{c['command']}.{f}" for c, f in TEXT_FIELDS])
def test_text_fields_refuse_control_characters(
    command: dict[str, Any], field: str, control: str,
) -> None:
    assert refusal({**command, field: f"ok{control}ok"}) == [(field, "printable")]


def test_japanese_text_is_printable() -> None:
    assert parse_command({**attach(), "customer_name": "株式会社サンプル（東京）"})


DATE_FIELDS = [(attach(), "firewall_applied_on"), (attach(), "service_start"),
               (attach(), "service_end"), (end_service(), "service_end"),
               (file_data_media(), "incident_date"), (file_liability(), "claim_made_on"),
               (cancel_firewall(), "cancelled_on")]


@pytest.mark.parametrize("day", ["0001-01-01", "1999-12-31", "2100-01-01", "9999-12-31"])
@pytest.mark.parametrize(("command", "field"), DATE_FIELDS,
                         ids=[f"{c['command']}.{f}" for c, f in DATE_FIELDS])
def test_business_dates_outside_what_the_product_serves_are_refused(
    command: dict[str, Any], field: str, day: str,
) -> None:
    assert refusal({**command, field: day}) == [(field, "date_range")]


@pytest.mark.parametrize("day", ["2000-01-01", "2099-12-31"])
def test_the_first_and_last_served_dates_are_accepted(day: str) -> None:
    assert parse_command({**file_data_media(), "incident_date": day})
