"""Hostile input to the API, the CLI and the console: bodies nested too deep,
numbers too long, cursors past what a log position can be, and times the
ledger cannot record. Each is refused with the field and the rule, appends
nothing, and never reaches a 500 or a traceback."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import OperationalError

from adapters.auth import Tokens, new_token
from adapters.cli import main
from adapters.console import pages
from adapters.http import Service, create_app
from adapters.service.times import parse_time
from adapters.storage import persistence_env
from adapters.web import CSP
from domain.commands import parse_command
from domain.ledger import Ledger
from domain.terms import JST
from projections.read_models import ReadModels
from tests.builders import attach, file_data_media
from tests.conftest import make_ledger
from tests.test_console import form_field

PROBLEM = "application/problem+json"
BEYOND_POSITIONS = 2**63
OUT_OF_RANGE_TIMES = ["0001-01-01", "9999-12-31", "9999-12-31T23:59:59",
                      "0001-01-01T00:00:00+14:00", "1999-12-31T23:59:59", "2101-01-01",
                      "2100-12-31T23:59:59-12:00"]


@dataclass
class Api:
    client: TestClient
    ledger: Ledger
    tokens: dict[str, str]

    def as_(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def head(self) -> int:
        return self.ledger.recorder.max_notification_id() or 0

    def post(self, path: str, body: str | bytes) -> httpx.Response:
        return self.client.post(path, content=body, headers={
            **self.as_("appender"), "Content-Type": "application/json"})

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.get(path, params=params, headers=self.as_("auditor"))


@contextmanager
def serving(db: str, folder: Path) -> Iterator[Api]:
    """The app in process on ``db``, holding policy P1 and claim C1."""
    ledger = make_ledger(persistence_env(db))
    for command in (attach("P1"), file_data_media("C1")):
        ledger.execute(parse_command(command), actor="tester")
    tokens_file = str(folder / "tokens.json")
    tokens = {role: new_token(f"t-{role}", role, tokens_file)
              for role in ("appender", "auditor")}
    models = ReadModels.open(ledger, db)
    service = Service(ledger, models, Tokens.load(tokens_file))
    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        yield Api(client, ledger, tokens)
    models.close()
    ledger.close()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with serving(str(tmp_path / "ledger.db"), tmp_path) as app:
        yield app


@pytest.fixture
def api_on_each_backend(db_url: str, tmp_path: Path) -> Iterator[Api]:
    with serving(db_url, tmp_path) as app:
        yield app


@pytest.fixture(autouse=True)
def no_unexpected_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Nothing logs an error (the API logs every 500 with its traceback)."""
    with caplog.at_level(logging.WARNING):
        yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


def refusal(response: httpx.Response, status: int) -> list[tuple[str | None, str]]:
    """The (field, rule) of each violation of a problem response."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"] == PROBLEM
    assert "Traceback" not in response.text
    return [(v["field"], v["rule"]) for v in response.json()["violations"]]


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


# Cursors --------------------------------------------------------------------------

CURSOR_ROUTES = ["/audit", "/policies/P1/history", "/claims/C1/history"]


@pytest.mark.parametrize("path", CURSOR_ROUTES)
def test_a_cursor_past_any_log_position_is_refused_with_maximum(api_on_each_backend: Api,
                                                                path: str):
    last = api_on_each_backend.get(path, after=BEYOND_POSITIONS - 1)
    assert last.status_code == 200, last.text
    assert last.json()["items"] == []

    response = api_on_each_backend.get(path, after=BEYOND_POSITIONS)

    assert refusal(response, 400) == [("after", "maximum")]


@pytest.mark.parametrize("path", CURSOR_ROUTES)
@pytest.mark.parametrize(("name", "value", "rule"), [
    ("limit", 10**30, "maximum"), ("limit", 0, "minimum"), ("after", -1, "minimum")])
def test_a_page_parameter_out_of_range_names_its_rule(api: Api, path: str, name: str,
                                                      value: int, rule: str):
    assert refusal(api.get(path, **{name: value}), 400) == [(name, rule)]


# Times ----------------------------------------------------------------------------

TIME_ROUTES = [("/policies/P1/limits", "as_of"), ("/claims/C1", "as_of"),
               ("/claims/C1/explanation", "as_of"), ("/audit", "from"), ("/audit", "to")]


@pytest.mark.parametrize("text", OUT_OF_RANGE_TIMES)
@pytest.mark.parametrize(("path", "name"), TIME_ROUTES)
def test_a_time_the_ledger_cannot_record_is_refused_with_date_range(api: Api, path: str,
                                                                   name: str, text: str):
    response = api.get(path, **{name: text})

    assert refusal(response, 400) == [(name, "date_range")]


@pytest.mark.parametrize(("inside", "outside", "end_of_day", "expected"), [
    ("2000-01-01", "1999-12-31", False, datetime(2000, 1, 1, tzinfo=JST)),
    ("2000-01-01T00:00:00+09:00", "1999-12-31T14:59:59.999999Z", False,
     datetime(2000, 1, 1, tzinfo=JST)),
    ("2100-12-31", "2101-01-01", True, datetime(2100, 12, 31, 23, 59, 59, 999_999, tzinfo=JST)),
    ("2100-12-31T14:59:59.999999Z", "2100-12-31T15:00:00Z", False,
     datetime(2100, 12, 31, 23, 59, 59, 999_999, tzinfo=JST)),
])
def test_a_time_is_within_2000_01_01_to_2100_12_31_in_japan(
        inside: str, outside: str, end_of_day: bool, expected: datetime):
    assert parse_time(inside, end_of_day=end_of_day) == expected

    with pytest.raises(ValueError, match="2000-01-01 to 2100-12-31") as caught:
        parse_time(outside, end_of_day=end_of_day)

    assert getattr(caught.value, "rule", None) == "date_range"


@pytest.mark.parametrize("text", OUT_OF_RANGE_TIMES)
@pytest.mark.parametrize("end_of_day", [False, True])
def test_a_time_far_beyond_the_recorded_range_is_a_date_range_error(text: str,
                                                                    end_of_day: bool):
    with pytest.raises(ValueError, match="2000-01-01 to 2100-12-31") as caught:
        parse_time(text, end_of_day=end_of_day)
    assert getattr(caught.value, "rule", None) == "date_range"


def test_a_malformed_time_is_still_a_date_format_error():
    with pytest.raises(ValueError) as caught:
        parse_time("soon")
    assert getattr(caught.value, "rule", None) == "date_format"


# The CLI --------------------------------------------------------------------------


def cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        code = main(list(args), out)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, out.getvalue()


@pytest.mark.parametrize("text", OUT_OF_RANGE_TIMES[:4])
@pytest.mark.parametrize("args", [
    ["limits", "--as-of"], ["claim", "C1", "--as-of"], ["explain", "C1", "--as-of"],
    ["audit", "--from"], ["audit", "--to"], ["replay", "export.jsonl", "--as-of"]])
def test_the_cli_refuses_a_time_it_cannot_record_naming_the_option(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], text: str):
    code, out = cli("--db", str(tmp_path / "ledger.db"), *args, text)

    err = capsys.readouterr().err
    assert code == 2 and out == ""
    assert f"argument {args[-1]}: " in err and "[date_range]" in err
    assert "Traceback" not in err


def test_the_cli_refuses_a_cursor_past_any_log_position_on_each_backend(
        db_url: str, capsys: pytest.CaptureFixture[str]):
    ledger = make_ledger(persistence_env(db_url))
    ledger.execute(parse_command(attach("P1")), actor="tester")
    ledger.close()
    assert cli("--db", db_url, "audit", "--json", "--after", str(BEYOND_POSITIONS - 1)) == (
        0, "[]\n")
    capsys.readouterr()

    code, out = cli("--db", db_url, "audit", "--after", str(BEYOND_POSITIONS))

    err = capsys.readouterr().err
    assert (code, out) == (2, "")
    assert "argument --after: must be at most 9,223,372,036,854,775,807" in err
    assert "Traceback" not in err


# The console ----------------------------------------------------------------------


def signed_in(api: Api) -> TestClient:
    form = api.client.get("/console/sign-in").text
    response = api.client.post("/console/sign-in", data={
        "token": api.tokens["auditor"], "csrf": form_field(form, "csrf")},
        follow_redirects=False)
    assert response.status_code == 303
    return api.client


def console_page(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "Traceback" not in response.text
    return response.text


@pytest.mark.parametrize("text", OUT_OF_RANGE_TIMES[:4])
@pytest.mark.parametrize(("path", "name"), [
    ("/console/policies", "as_of"), ("/console/claims/C1", "as_of"),
    ("/console/policies/P1", "as_of"), ("/console/audit", "from"), ("/console/audit", "to"),
    ("/console/audit.csv", "to")])
def test_the_console_refuses_a_time_it_cannot_record_with_its_error_page(
        api: Api, path: str, name: str, text: str):
    client = signed_in(api)

    page = console_page(client.get(path, params={name: text}), 400)

    assert f"{name}: " in page and "2000-01-01 to 2100-12-31" in page


@pytest.mark.parametrize(("path", "body", "status"), [
    ("/console/policies", b"", 405), ("/console/sign-in", b"token=" + b"x" * (2 << 20), 413)])
def test_a_request_the_console_cannot_serve_gets_its_error_page(api: Api, path: str,
                                                                body: bytes, status: int):
    client = signed_in(api)

    console_page(client.post(path, content=body), status)


@pytest.mark.parametrize(("failure", "status"), [
    (RuntimeError("a bug"), 500),
    (OperationalError("SELECT", {}, Exception("the database went away")), 503)])
def test_a_console_page_that_fails_gets_its_error_page(
        api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        failure: Exception, status: int):
    def fail(*_: Any) -> str:
        raise failure

    monkeypatch.setattr(pages, "policies_page", fail)
    client = signed_in(api)

    page = console_page(client.get("/console/policies"), status)

    assert "a bug" not in page and "went away" not in page
    caplog.clear()  # the 500 is logged with its traceback, as it should be
