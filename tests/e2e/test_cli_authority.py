"""``claims-ledger authority``: an operator sets an actor's authority as a
command recorded in the log under ``--actor``; ``list`` and ``show`` replay it,
as of any past recorded time; bad input is a usage error naming the option,
and a refusal names the field and the rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.builders import attach, file_data_media, request
from tests.support.cli import cli, jsonl


@pytest.fixture
def db(db_url: str) -> str:
    assert cli("--db", db_url, "apply", "-", stdin=jsonl(attach())).returncode == 0
    return db_url


def _set(db: str, name: str, pay: str, approve: str, *more: str) -> str:
    run = cli("--db", db, "--actor", "op:kato", "authority", "set", name, "--pay-up-to", pay,
              "--approve-up-to", approve, *more)
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_an_authority_set_is_recorded_under_the_operator_and_read_back(db: str):
    said = _set(db, "desk", "300000", "1e6", "--reason", "senior handler")
    _set(db, "boss", "0", "5000000")

    listed = cli("--db", db, "authority", "list")
    shown = json.loads(cli("--db", db, "authority", "show", "desk", "--json").stdout)

    assert said.startswith("desk may now pay up to 300,000 alone and approve up to 1,000,000")
    assert [line.split()[:3] for line in listed.stdout.splitlines()[2:]] == [
        ["boss", "0", "5,000,000"], ["desk", "300,000", "1,000,000"]]
    assert (shown["pay_up_to"], shown["approve_up_to"], shown["set_by"], shown["reason"]) == (
        300_000, 1_000_000, "op:kato", "senior handler")
    audit = json.loads(cli("--db", db, "audit", "--type", "AuthoritySet", "--json").stdout)
    assert [(r["aggregate_id"], r["actor"]) for r in audit] == [
        ("authority:desk", "op:kato"), ("authority:boss", "op:kato")]


def test_who_could_pay_what_is_replayed_as_of_a_past_time(db: str):
    _set(db, "desk", "100", "0")
    first = json.loads(cli("--db", db, "authority", "show", "desk", "--json").stdout)
    _set(db, "desk", "900000", "0")

    then = cli("--db", db, "authority", "show", "desk", "--json", "--as-of",
               first["set_at"])
    before = cli("--db", db, "authority", "list", "--json", "--as-of", "2001-01-01")
    now = json.loads(cli("--db", db, "authority", "list", "--json").stdout)

    assert (json.loads(then.stdout)["pay_up_to"], now[0]["pay_up_to"]) == (100, 900_000)
    assert json.loads(before.stdout) == []
    assert [c["pay_up_to"] for c in json.loads(
        cli("--db", db, "authority", "show", "desk", "--json").stdout)["changes"]] == [
        100, 900_000]


def test_a_payout_within_the_authority_set_is_paid_at_once(db: str):
    _set(db, "test:cli", "700000", "0")

    run = cli("--db", db, "apply", "-", stdin=jsonl(file_data_media(),
                                                     request("C1")))

    assert run.returncode == 0, run.stderr
    assert "C1 payout-1 paid 700,000 within the requester's authority" in run.stdout


@pytest.mark.parametrize(("args", "named"), [
    (["desk", "--pay-up-to", "-1", "--approve-up-to", "0"], "--pay-up-to"),
    (["desk", "--pay-up-to", "0", "--approve-up-to", "1.5"], "--approve-up-to"),
    (["desk", "--pay-up-to", "0", "--approve-up-to", "lots"], "--approve-up-to"),
    (["", "--pay-up-to", "0", "--approve-up-to", "0"], "NAME"),
    (["desk", "--approve-up-to", "0"], "--pay-up-to"),
])
def test_bad_input_is_a_usage_error_naming_the_option_and_appends_nothing(
        db: str, args: list[str], named: str):
    run = cli("--db", db, "authority", "set", *args)

    assert run.returncode == 2
    assert named in run.stderr.splitlines()[-1]
    assert json.loads(cli("--db", db, "authority", "list", "--json").stdout) == []


def test_a_refused_authority_names_the_field_and_the_rule(db: str):
    _set(db, "desk", "100", "0")

    unchanged = cli("--db", db, "authority", "set", "desk", "--pay-up-to", "100",
                    "--approve-up-to", "0", "--json")

    assert unchanged.returncode == 1
    assert json.loads(unchanged.stdout)["violations"][0]["rule"] == "authority_changed"
    assert "pay_up_to:" in unchanged.stderr and "[authority_changed]" in unchanged.stderr


def test_an_authority_is_not_set_on_a_read_only_copy_or_a_missing_ledger(
        db: str, tmp_path: Path):
    replica = cli("--db", db, "--log-replica", "authority", "set", "desk", "--pay-up-to", "1",
                  "--approve-up-to", "1")
    missing = cli("--db", str(tmp_path / "nope.db"), "authority", "set", "desk",
                  "--pay-up-to", "1", "--approve-up-to", "1")

    assert replica.returncode == 2 and "`authority set` appends to the log" in replica.stderr
    assert missing.returncode == 5 and not (tmp_path / "nope.db").exists()
