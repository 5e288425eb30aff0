"""The benchmark's shaped files: the same seed gives the same lines, the shape's
policies and lines are honoured, each policy's claims come after its attach,
and applied through the ledger only the planned share of lines is refused, by
the annual limit."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.commands import parse_command
from domain.errors import LedgerError
from tests.builders import FakeClock
from tests.harness import make_ledger
from tests.workload import SHAPES, Shape, shaped


def _refusals(commands: list[dict[str, Any]]) -> Counter[str]:
    """The rules that refused lines when ``commands`` are applied in order, in
    group commits of 100, on the in-memory recorder (after the last date)."""
    ledger = make_ledger({}, FakeClock(datetime(2026, 12, 1, tzinfo=UTC)))
    parsed = [parse_command(c) for c in commands]
    refused: Counter[str] = Counter()
    for start in range(0, len(parsed), 100):
        for result in ledger.execute_many(parsed[start:start + 100], actor="t"):
            if isinstance(result, LedgerError):
                refused[str(result.rule)] += 1
    return refused


def test_the_same_seed_gives_the_same_lines_and_another_seed_others():
    shape = Shape(30, 400, "mixed", 0.2)
    assert shaped(shape, seed=3) == shaped(shape, seed=3)
    assert shaped(shape, seed=3) != shaped(shape, seed=4)


@pytest.mark.parametrize("coverage", ["data_media", "it_liability", "mixed"])
def test_the_policies_lines_and_coverage_asked_for_are_honoured(coverage: str):
    commands = shaped(Shape(37, 500, coverage, 0.1), seed=2)
    assert len(commands) == 500
    attached = [c["policy_id"] for c in commands if c["command"] == "attach_coverage"]
    assert len(attached) == len(set(attached)) == 37
    filings = [c for c in commands if c["command"] == "file_claim"]
    assert {c["policy_id"] for c in filings} <= set(attached)
    expected = {"data_media", "it_liability"} if coverage == "mixed" else {coverage}
    assert {c["coverage"] for c in filings} == expected
    assert all(("claim_made_on" in c) == (c["coverage"] == "it_liability") for c in filings)


def test_claims_come_after_their_policys_attach_spread_over_the_file():
    commands = shaped(Shape(200, 2000, "mixed", 0.1), seed=5)
    attach_at = {c["policy_id"]: i for i, c in enumerate(commands)
                 if c["command"] == "attach_coverage"}
    filed_at: dict[str, int] = {}
    policy_of: dict[str, str] = {}
    gaps = []
    for i, command in enumerate(commands):
        if command["command"] == "file_claim":
            claim = command["claim_id"]
            filed_at[claim], policy_of[claim] = i, command["policy_id"]
            assert i > attach_at[command["policy_id"]]
            gaps.append(i - attach_at[command["policy_id"]])
        elif command["command"] != "attach_coverage":
            assert i > filed_at[command["claim_id"]], command  # payouts follow filings
    gaps.sort()
    assert gaps[len(gaps) // 2] > len(commands) // 10  # not right after the attach
    assert max(attach_at.values()) < 0.8 * len(commands)


@pytest.mark.parametrize("coverage", ["data_media", "it_liability", "mixed"])
def test_a_shape_with_nothing_refused_applies_without_a_refusal(coverage: str):
    commands = shaped(Shape(40, 1200, coverage, 0.0), seed=11)
    assert _refusals(commands) == Counter()


@pytest.mark.parametrize(("coverage", "share"), [("mixed", 0.25), ("it_liability", 0.1),
                                                  ("data_media", 0.4)])
def test_the_refused_share_is_refused_by_the_annual_limit(coverage: str, share: float):
    commands = shaped(Shape(50, 1000, coverage, share), seed=4)
    refused = _refusals(commands)
    assert set(refused) == {"annual_limit"}
    assert abs(refused["annual_limit"] - share * len(commands)) <= 0.005 * len(commands)


def test_the_named_shapes_scale_with_as_many_claims_per_policy():
    assert [SHAPES[n].policies for n in "abcd"] == [5_000, 2_000, 40_000, 16_666]
    assert {s.lines for s in SHAPES.values()} == {100_000}
    small = SHAPES["c"].scaled(1000)
    assert (small.policies, small.lines, small.coverage) == (400, 1000, "it_liability")
    assert len(shaped(small)) == 1000


@pytest.mark.parametrize(("shape", "problem"), [
    (Shape(10, 100, "both"), "--coverage must be one of"),
    (Shape(10, 100, "mixed", 0.5), "--refused must be a share from 0 to 0.45"),
    (Shape(200, 100), "--policies must be at most --lines (100)"),
    (Shape(90, 100, "mixed", 0.2), "--refused 0.2: 20 refused lines with 90 policies"),
])
def test_a_shape_that_cannot_be_made_is_refused_naming_the_option(shape: Shape, problem: str):
    assert problem in str(shape.problem())
    with pytest.raises(ValueError, match=r"^--"):
        shaped(shape)


def _workload(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tests.workload", *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_the_command_line_writes_a_shaped_file_and_refuses_bad_options():
    run = _workload("--policies", "20", "--lines", "150", "--coverage", "it_liability",
                    "--seed", "3")
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert lines == shaped(Shape(20, 150, "it_liability"), seed=3)
    per_policy = _workload("--policies", "20", "--claims-per-policy", "2")
    assert per_policy.returncode == 0 and len(per_policy.stdout.splitlines()) == 20 + 132
    named = _workload("--shape", "a", "--shape-lines", "200")
    assert len(named.stdout.splitlines()) == 200
    for args, message in (
            (["--policies", "5", "--lines", "100", "--refused", "0.9"],
             "--refused must be a share from 0 to 0.45"),
            (["--policies", "5"], "--lines: give either --lines or --claims-per-policy"),
            (["--lines", "100"], "--policies: is required"),
            (["--events", "100", "--policies", "5", "--lines", "50"], "--events: is for"),
            (["--shape", "a", "--policies", "5"], "--shape: names the policies")):
        bad = _workload(*args)
        assert (bad.returncode, bad.stdout) == (2, ""), args
        assert message in bad.stderr, bad.stderr
