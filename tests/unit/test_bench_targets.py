"""The benchmark's verdicts follow from its figures, and its workload is the same
for the same seed, every command of it valid."""

from __future__ import annotations

from domain.commands import parse_command
from tests.bench.targets import LARGE_LOG, apply_verdicts, large_log_verdicts, shape_verdicts
from tests.workload import commands


def test_the_workload_is_deterministic_and_every_command_is_valid():
    first = list(commands(2000, seed=3))
    assert first == list(commands(2000, seed=3))
    assert first != list(commands(2000, seed=4))
    kinds = {parse_command(c).command for c in first}
    assert kinds >= {"attach_coverage", "file_claim", "issue_payout", "close_claim"}


def _apply_result(rate: float, over_raw: float, over_naive: float) -> dict[str, object]:
    return {"figures": {"apply of the JSON Lines, 2 worker processes (commands/s)":
                        {"median": rate}},
            "ratios": {"apply with 2 workers / raw 1-row durable inserts": over_raw,
                       "apply with 2 workers / library naive loop": over_naive}}


def test_an_append_target_is_met_from_its_bound_up():
    below = apply_verdicts(_apply_result(19_999, 3.99, 9.99), workers=2)
    at = apply_verdicts(_apply_result(20_000, 4.0, 10.0), workers=2)
    assert [v.met for v in below] == [False, False, False]
    assert [v.met for v in at] == [True, True, True]
    assert [v.measured for v in at] == [20_000, 4.0, 10.0]


def _log_result(events: int, rate: float, p99_ms: float) -> dict[str, object]:
    return {"workload": {"events": events},
            "figures": {"rebuild of all read models, whole process (events/s)":
                        {"median": rate}},
            "reads_ms": {"limits_p99_ms": {"median": p99_ms},
                         "claim_p99_ms": {"median": p99_ms}}}


def test_rebuild_and_read_targets_are_not_claimed_on_a_log_under_a_million_events():
    small = large_log_verdicts(_log_result(LARGE_LOG - 1, 500_000, 0.1))
    assert [v.met for v in small] == [None, None, None]
    assert all(f"{LARGE_LOG - 1:,} events" in v.why for v in small)
    rebuild, limits, claim = large_log_verdicts(_log_result(LARGE_LOG, 100_000, 2.0))
    assert rebuild.met is True
    assert (limits.met, claim.met) == (False, False)  # p99 must be under 2 ms
    assert [v.met for v in large_log_verdicts(_log_result(LARGE_LOG, 99_999, 1.99))] == [
        False, True, True]


def _shapes(over_naive: float, no_cliff: float, catch_up: float, start: float
            ) -> dict[str, object]:
    return {"database": "SQLite", "shapes": {name: {"over_naive": over_naive} for name in "abcd"},
            "no_cliff": no_cliff, "catch_up_over_rebuild": catch_up,
            "startup_s": {"claims-ledger --help": {"median": start},
                          "claims-ledger claim ID": {"median": start}}}


def test_the_whole_process_targets_are_met_from_their_bounds():
    below = shape_verdicts(_shapes(9.99, 0.79, 0.99, 0.3))
    at = shape_verdicts(_shapes(10.0, 0.8, 1.0, 0.299))
    assert [v.met for v in below] == [False] * 8
    assert [v.met for v in at] == [True] * 8
    assert [v.measured for v in at] == [10.0] * 4 + [0.8, 1.0, 0.299, 0.299]
    assert at[4].target == "no cliff: shape c / shape b >= 0.8x"
    assert at[6].target == "`claims-ledger --help` starts < 0.3 s"
    assert shape_verdicts(None) == []
    alone = _shapes(12.0, 1.0, 1.0, 0.1)
    del alone["no_cliff"], alone["catch_up_over_rebuild"]
    assert len(shape_verdicts(alone)) == 6  # without shapes b and c: no cliff not judged


def test_the_whole_process_targets_on_postgresql_are_named_so_without_start_ups():
    shapes = {**_shapes(10.0, 0.79, 1.0, 0.1), "database": "PostgreSQL", "startup_s": {}}
    verdicts = shape_verdicts(shapes)
    assert [v.target for v in verdicts] == [
        *(f"PostgreSQL: shape {n}: whole apply >= 10x the library's naive loop"
          for n in "abcd"),
        "PostgreSQL: no cliff: shape c / shape b >= 0.8x",
        "PostgreSQL: catch-up per event at least as fast as rebuild (shape c)"]
    assert [v.met for v in verdicts] == [True] * 4 + [False, True]
