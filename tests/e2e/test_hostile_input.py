"""Hostile input to the API, the CLI and the console: cursors past what a log
position can be, and times the ledger cannot record. Each is refused with the
field and the rule, appends nothing, and never reaches a 500 or a traceback."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import DataError, OperationalError

from adapters.cli import main
from adapters.console import pages
from adapters.console.handling import CSP
from adapters.service.times import parse_time
from adapters.storage import persistence_env
from domain.commands import parse_command
from domain.terms import JST
from tests.builders import attach
from tests.harness import make_ledger
from tests.support.api import Api, refusal
from tests.support.console import form_field

pytestmark = pytest.mark.usefixtures("no_unexpected_errors")

BEYOND_POSITIONS = 2**63
OUT_OF_RANGE_TIMES = ["0001-01-01", "9999-12-31", "9999-12-31T23:59:59",
                      "0001-01-01T00:00:00+14:00", "1999-12-31T23:59:59", "2101-01-01",
                      "2100-12-31T23:59:59-12:00"]


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
               ("/claims/C1/explanation", "as_of"), ("/audit", "from"), ("/audit", "to"),
               ("/authority", "as_of"), ("/authority/t-appender", "as_of")]


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
    (OperationalError("SELECT", {}, Exception("the database went away")), 503),
    (DataError("SELECT", {}, Exception("a bug: text fields cannot contain NUL")), 500)])
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


@pytest.mark.parametrize("name", ["policy_id", "claim_id", "actor", "event_type"])
@pytest.mark.parametrize("value", ["\x00", "a\x00b", "C1\n", "\x7f"])
def test_an_audit_filter_with_a_control_character_is_refused_with_printable(
        api_on_each_backend: Api, name: str, value: str):
    response = api_on_each_backend.get("/audit", **{name: value})

    assert refusal(response, 400) == [(name, "printable")]


@pytest.mark.parametrize(("path", "name"), [
    ("/claims/{}", "claim_id"), ("/claims/{}/history", "claim_id"),
    ("/claims/{}/explanation", "claim_id"), ("/policies/{}/limits", "policy_id"),
    ("/policies/{}/history", "policy_id")])
def test_an_id_in_a_path_with_a_control_character_is_refused_with_printable(
        api_on_each_backend: Api, path: str, name: str):
    response = api_on_each_backend.get(path.format("C1%00"))

    assert refusal(response, 400) == [(name, "printable")]


@pytest.mark.parametrize(("path", "status"), [
    ("/console/audit?policy_id=%00", 400), ("/console/audit?actor=a%00", 400),
    ("/console/audit.csv?claim_id=%00", 400), ("/console/claims/C1%00", 404),
    ("/console/policies/P1%00", 404), ("/console/policies/P1%00/years/1", 404)])
def test_the_console_refuses_a_control_character_in_an_id_or_filter_with_its_page(
        api_on_each_backend: Api, path: str, status: int):
    client = signed_in(api_on_each_backend)

    console_page(client.get(path), status)
