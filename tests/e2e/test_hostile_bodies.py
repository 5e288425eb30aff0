"""Hostile bodies sent to the API: nested too deep, numbers too long or that JSON
cannot hold, and any JSON text at all. Each is refused with the field and the
rule, appends nothing, and never reaches a 500 or a traceback."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import file_data_media
from tests.support.api import PROBLEM, Api, refusal

pytestmark = pytest.mark.usefixtures("no_unexpected_errors")


# Bodies ---------------------------------------------------------------------------

DEEP = 100_000
TOO_DEEP = {
    "lists": "[" * DEEP + "]" * DEEP,
    "objects": '{"a":' * DEEP + "1" + "}" * DEEP,
    "a field": json.dumps(file_data_media("C9"))[:-1] + ', "description": '
               + "[" * 1000 + "]" * 1000 + "}",
}


@pytest.mark.parametrize("path", ["/commands", "/commands/batch"])
@pytest.mark.parametrize("body", TOO_DEEP.values(), ids=TOO_DEEP.keys())
def test_a_body_nested_too_deep_is_refused_with_json_depth(api: Api, path: str, body: str):
    head = api.head()

    response = api.post(path, body)

    assert refusal(response, 400) == [(None, "json_depth")]
    assert api.head() == head


def test_a_body_whose_brackets_do_not_pair_up_is_refused_with_json(api: Api):
    for body in ["[" * DEEP, "}" * DEEP + "{" * DEEP, "[" + "[1]," * 40 + "["]:
        assert refusal(api.post("/commands", body), 400) == [(None, "json")], body[:50]


def nested(depth: int) -> str:
    """A filing whose description is lists ``depth`` deep (the filing is one more)."""
    return json.dumps(file_data_media("C9"))[:-1] + ', "description": ' + (
        "[" * (depth - 1) + "]" * (depth - 1)) + "}"


def test_a_body_may_be_nested_32_deep_and_no_deeper(api: Api):
    at_most = api.post("/commands", nested(32))
    assert refusal(at_most, 422) == [("description", "text")]

    response = api.post("/commands", nested(33))

    assert refusal(response, 400) == [(None, "json_depth")]


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    return 0


BRACKETY = st.text(st.sampled_from('[]{}"\\/,:ab 0'))
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), BRACKETY),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(BRACKETY, inner, max_size=3)),
    max_leaves=8)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=JSON_VALUES, wrappers=st.integers(0, 40).flatmap(
    lambda n: st.lists(st.sampled_from(["list", "object"]), min_size=n, max_size=n)))
def test_a_body_is_refused_with_json_depth_exactly_when_nested_more_than_32_deep(
        api: Api, value: Any, wrappers: list[str]):
    for wrapper in wrappers:
        value = [value] if wrapper == "list" else {"k[{": value}

    response = api.post("/commands", json.dumps(value))

    assert response.status_code in (400, 422), response.text[:500]
    refused_for_depth = ((None, "json_depth") in refusal(response, response.status_code))
    assert refused_for_depth == (depth(value) > 32)


LONG = "9" * 5000
TOO_LONG = {
    "a bare integer": LONG,
    "a negative integer": "-" + LONG,
    "loss_amount": json.dumps(file_data_media("C9")).replace("800000", LONG),
    "in a batch": json.dumps({"commands": [file_data_media("C9")]}).replace("800000", LONG),
}


@pytest.mark.parametrize("path", ["/commands", "/commands/batch"])
@pytest.mark.parametrize("body", TOO_LONG.values(), ids=TOO_LONG.keys())
def test_a_number_too_long_is_refused_with_json_number(api: Api, path: str, body: str):
    head = api.head()

    response = api.post(path, body)

    assert refusal(response, 400) == [(None, "json_number")]
    assert api.head() == head


@pytest.mark.parametrize("number", ["1e999", "-1e999", "NaN", "Infinity", "-Infinity"])
def test_a_number_json_cannot_hold_is_refused_with_json_number(api: Api, number: str):
    body = json.dumps(file_data_media("C9")).replace("800000", number)

    response = api.post("/commands", body)

    assert refusal(response, 400) == [(None, "json_number")]


def test_a_number_may_have_100_characters_and_no_more(api: Api):
    filing = json.dumps(file_data_media("C9"))
    at_most = api.post("/commands", filing.replace("800000", "9" * 100))
    assert refusal(at_most, 422) == [("loss_amount", "maximum")]

    response = api.post("/commands", filing.replace("800000", "9" * 101))

    assert refusal(response, 400) == [(None, "json_number")]


JSON_SCALARS = st.one_of(
    st.sampled_from(["null", "true", "false", "NaN", "-Infinity", "1e999", "-0", "0.0"]),
    st.integers().map(str),
    st.integers(1, 6000).map(lambda n: "7" * n),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.text().map(json.dumps),
    st.text().map(lambda s: json.dumps(s, ensure_ascii=False)),
    st.text(st.characters(max_codepoint=0x1F), min_size=1).map(lambda s: f'"{s}"'),
    st.sampled_from(['"\\ud800"', '"\\udfff x"', '"\\u0000"', '"a\\u0000b"']),
)
JSON_TEXTS = st.recursive(JSON_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4).map(lambda items: "[" + ",".join(items) + "]"),
    st.lists(st.tuples(st.text().map(json.dumps), inner), max_size=4).map(
        lambda pairs: "{" + ",".join(f"{k}:{v}" for k, v in pairs) + "}"),
    st.tuples(st.integers(1, 3000), inner).map(lambda d: "[" * d[0] + d[1] + "]" * d[0]),
), max_leaves=12)
FIELDS = list(file_data_media("C9"))


def in_a_command(field: str, value: str) -> str:
    """A filing whose ``field`` holds the JSON text ``value``."""
    fields = [f"{json.dumps(k)}:{json.dumps(v)}" for k, v in file_data_media("C9").items()
              if k != field]
    return "{" + ",".join([*fields, f"{json.dumps(field)}:{value}"]) + "}"


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(body=st.one_of(JSON_TEXTS, st.tuples(st.sampled_from(FIELDS), JSON_TEXTS).map(
    lambda fv: in_a_command(*fv)), st.binary(max_size=200)))
def test_no_json_body_gets_a_500_and_a_refused_one_appends_nothing(api: Api, body: str):
    head = api.head()

    response = api.post("/commands", body)

    assert response.status_code in (201, 400, 404, 409, 422), response.text[:500]
    if response.status_code >= 400:
        assert response.headers["content-type"] == PROBLEM
        assert api.head() == head
