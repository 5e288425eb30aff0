"""The year-end reserves report as users ask for it: ``claims-ledger report
reserves`` and ``GET /reports/reserves`` on a live ledger equal ``replay FILE
--report reserves`` on its export, in every format, and bad input is refused
naming the option or parameter."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.cli import main
from adapters.storage import persistence_env
from domain.commands import parse_command
from tests.builders import FakeClock, attach, file_data_media, file_liability, pay
from tests.harness import make_ledger
from tests.support.api import Api, api_in_process, refusal
from tests.support.cli import cli

START = datetime(2024, 6, 15, 3, tzinfo=UTC)
STEPS: list[tuple[float, dict[str, Any], str]] = [
    (0, attach("P2"), "tester"),
    (0, {"command": "set_authority", "actor_name": "boss", "pay_up_to": 0,
         "approve_up_to": 10_000_000}, "tester"),
    (0, file_data_media("D1", policy_id="P2", incident="2024-06-10"), "tester"),
    (1, pay("D1", amount=200_000), "tester"),
    (200, file_liability("L1", policy_id="P2", made_on="2024-12-20"), "tester"),
    (120, {"command": "request_payout", "claim_id": "L1", "amount": 500_000}, "clerk"),
    (1, {"command": "approve_payout", "claim_id": "L1", "payout_id": "payout-1",
         "reason": "invoices checked"}, "boss"),
    (30, {"command": "record_recovery", "claim_id": "D1", "kind": "subrogation",
          "amount": 150_000, "counterparty": "X社", "reason": "settled"}, "tester"),
    (1, {"command": "set_reserve", "claim_id": "L1", "amount": 800_000,
         "reason": "litigation"}, "tester"),
    (10, {"command": "request_payout", "claim_id": "D1", "amount": 100_000}, "clerk"),
]
"""From 2024-06-15 into fiscal year 2025: payouts, a hold approved and one
pending, a recovery, a reserve set."""
AS_OF = ("2026-03-31", "2025-05-01T12:00")
"""The end of fiscal year 2025, and a time inside it, Japan time."""


@dataclass
class Reported:
    db: str
    export: str
    api: Api


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(args), out), out.getvalue()


@pytest.fixture
def reported(db_url: str, tmp_path: Path) -> Iterator[Reported]:
    """A ledger across fiscal years on each backend (the API adds P1 and C1 to it,
    recorded on 2026-01-15), its export, and the API on it."""
    clock = FakeClock(START)
    ledger = make_ledger(persistence_env(db_url), clock)
    for days, command, actor in STEPS:
        clock.advance(days=days)
        ledger.execute(parse_command(command), actor=actor)
    ledger.close()
    with api_in_process(db_url, tmp_path) as api:
        export = str(tmp_path / "ledger.export.jsonl")
        assert run("--db", db_url, "export", "--out", export)[0] == 0
        yield Reported(db_url, export, api)


@pytest.mark.parametrize("as_of", AS_OF)
@pytest.mark.parametrize("options", [(), ("--by", "policy-year"), ("--since", "2024-12-01")])
def test_the_live_report_equals_the_replay_of_its_export(
        reported: Reported, as_of: str, options: tuple[str, ...]) -> None:
    printed = {}
    for fmt in ("json", "csv", "table"):
        code, printed[fmt] = run("--db", reported.db, "report", "reserves", "--as-of", as_of,
                                 "--format", fmt, *options)
        assert code == 0, printed[fmt]
        replay_code, offline = run("replay", reported.export, "--report", "reserves",
                                   "--as-of", as_of, "--format", fmt, *options)
        assert replay_code == 0, offline
        assert printed[fmt] == offline, fmt
    report = json.loads(printed["json"])
    assert report["rows"] and report["triangle"]


def test_the_api_answers_the_report_the_cli_prints_as_json_and_as_csv(
        reported: Reported) -> None:
    api = reported.api
    for role in ("auditor", "operator"):
        for params, fmt in (({}, "json"), ({"format": "csv"}, "csv")):
            response = api.client.get("/reports/reserves", headers=api.as_(role), params={
                "as_of": AS_OF[0], "by": "policy-year", "since": "2025-01-01", **params})
            assert response.status_code == 200, response.text
            code, printed = run("--db", reported.db, "report", "reserves", "--as-of", AS_OF[0],
                                "--by", "policy-year", "--since", "2025-01-01", "--format", fmt)
            assert code == 0
            if fmt == "csv":
                assert response.headers["content-type"] == "text/csv; charset=utf-8"
                assert response.text == printed
            else:
                assert response.json() == json.loads(printed)


def test_the_report_as_csv_is_its_tables_each_under_its_title(reported: Reported) -> None:
    code, text = run("--db", reported.db, "report", "reserves", "--as-of", AS_OF[0],
                     "--format", "csv")
    report = json.loads(run("--db", reported.db, "report", "reserves", "--as-of", AS_OF[0],
                            "--json")[1])
    sections = text.split("\r\n\r\n")
    assert code == 0 and text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    assert [s.split("\r\n")[0] for s in sections] == [
        "reserves report", "reserves by accident year", "cumulative paid by accident year",
        "case incurred (paid + case reserves) by accident year"]
    header, *rows = sections[1].strip().split("\r\n")[1:]
    columns = header.split(",")
    by_year = [dict(zip(columns, r.split(","), strict=True)) for r in rows if ",all," not in r]
    assert [{k: int(v) for k, v in r.items() if k not in ("coverage", "accident_year")}
            for r in by_year] == [
        {k: v for k, v in r.items() if k not in ("coverage", "year")} for r in report["rows"]]


def test_the_api_lets_in_auditors_and_operators_only(reported: Reported) -> None:
    api = reported.api
    forbidden = api.client.get("/reports/reserves", headers=api.as_("appender"))
    assert forbidden.status_code == 403 and "auditor, operator" in forbidden.json()["detail"]
    assert api.client.get("/reports/reserves").status_code == 401
    assert api.client.get("/reports/reserves", headers=api.as_("operator")).status_code == 200


@pytest.mark.parametrize(("params", "field", "rule"), [
    ({"as_of": "2025-13-01"}, "as_of", "date_format"),
    ({"as_of": "1999-12-31"}, "as_of", "date_range"),
    ({"by": "calendar-year"}, "by", "allowed_values"),
    ({"format": "xml"}, "format", "allowed_values"),
    ({"since": "yesterday"}, "since", "date_format"),
    ({"since": "2026-04-01", "as_of": "2026-03-31"}, "since", "dates_in_order"),
])
def test_the_api_refuses_a_bad_parameter_naming_it(
        api: Api, params: dict[str, str], field: str, rule: str) -> None:
    assert refusal(api.get("/reports/reserves", **params), 400) == [(field, rule)]


@pytest.mark.parametrize(("args", "named"), [
    (("--as-of", "2025-13-01"), "argument --as-of"),
    (("--by", "calendar-year"), "argument --by"),
    (("--format", "xml"), "argument --format"),
    (("--since", "yesterday"), "argument --since"),
    (("--since", "2026-04-01", "--as-of", "2026-03-31"), "--since 2026-04-01"),
])
def test_the_cli_refuses_a_bad_option_naming_it(
        reported: Reported, args: tuple[str, ...], named: str) -> None:
    done = cli("--db", reported.db, "report", "reserves", *args)
    assert done.returncode == 2, done.stderr
    assert named in done.stderr and done.stdout == ""


def test_replay_takes_the_report_options_only_with_a_report(reported: Reported) -> None:
    done = cli("replay", reported.export, "--by", "policy-year")
    assert done.returncode == 2
    assert "--by is for `replay --report reserves`" in done.stderr
    assert cli("replay", reported.export, "--report", "balance").returncode == 2
