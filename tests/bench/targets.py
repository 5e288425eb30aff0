"""The ledger's performance targets, and whether one ``make bench`` run met them.

Each target compares one figure (or ratio) of the run against a bound. A target
that only holds for a large log (rebuilds and reads with at least
``LARGE_LOG`` events) is reported as not measured on a smaller one, so a run
never claims it: ``--rebuild-log`` on a log of that size measures it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

LARGE_LOG = 1_000_000
"""Events a log must hold for the rebuild and read targets to apply."""

APPLY_PER_SECOND = 20_000
APPLY_OVER_RAW_DURABLE = 4.0
APPLY_OVER_NAIVE = 10.0
REBUILD_PER_SECOND = 100_000
READ_P99_MS = 2.0
SHAPE_OVER_NAIVE = 10.0
NO_CLIFF = 0.8
CATCH_UP_OVER_REBUILD = 1.0
STARTUP_S = 0.3


@dataclass(frozen=True)
class Verdict:
    target: str
    measured: float
    unit: str
    met: bool | None
    """None: not measured by this run (the log is too small for the target)."""
    why: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _at_least(target: str, measured: float, bound: float, unit: str) -> Verdict:
    return Verdict(target, measured, unit, measured >= bound)


def apply_verdicts(result: dict[str, Any], workers: int) -> list[Verdict]:
    """The append targets, from a default run's figures and ratios (``apply``
    of the JSON Lines with ``workers`` worker processes)."""
    rate = result["figures"][f"apply of the JSON Lines, {workers} worker processes "
                             "(commands/s)"]["median"]
    ratios = result["ratios"]
    return [
        _at_least(f"apply >= {APPLY_PER_SECOND:,} commands/s", rate, APPLY_PER_SECOND,
                  "commands/s"),
        _at_least(f"apply >= {APPLY_OVER_RAW_DURABLE:g}x raw 1-row durable inserts",
                  ratios[f"apply with {workers} workers / raw 1-row durable inserts"],
                  APPLY_OVER_RAW_DURABLE, "x"),
        _at_least(f"apply >= {APPLY_OVER_NAIVE:g}x the library's naive loop",
                  ratios[f"apply with {workers} workers / library naive loop"],
                  APPLY_OVER_NAIVE, "x"),
    ]


def database_label(shapes: dict[str, Any]) -> str:
    """What the lines and targets of one database's ``shapes`` figures start
    with: nothing on SQLite, ``PostgreSQL: `` there."""
    return "" if shapes["database"] == "SQLite" else f"{shapes['database']}: "


def shape_verdicts(shapes: dict[str, Any] | None) -> list[Verdict]:
    """The whole-process targets, from a run's ``shapes`` figures on one
    database (none without shapes; the no-cliff and catch-up targets only with
    shapes b and c; the start-ups only where measured, on SQLite). On
    PostgreSQL the same bounds, each target named ``PostgreSQL: ...``."""
    if not shapes:
        return []
    on = database_label(shapes)
    verdicts = [_at_least(f"{on}shape {name}: whole apply >= {SHAPE_OVER_NAIVE:g}x the "
                          "library's naive loop", s["over_naive"], SHAPE_OVER_NAIVE, "x")
                for name, s in shapes["shapes"].items()]
    if "no_cliff" in shapes:
        verdicts.append(_at_least(f"{on}no cliff: shape c / shape b >= {NO_CLIFF:g}x",
                                  shapes["no_cliff"], NO_CLIFF, "x"))
    if "catch_up_over_rebuild" in shapes:
        verdicts.append(_at_least(f"{on}catch-up per event at least as fast as rebuild "
                                  "(shape c)", shapes["catch_up_over_rebuild"],
                                  CATCH_UP_OVER_REBUILD, "x"))
    for label, figure in shapes["startup_s"].items():
        seconds = figure["median"]
        verdicts.append(Verdict(f"`{label}` starts < {STARTUP_S:g} s", seconds, "s",
                                seconds < STARTUP_S))
    return verdicts


def large_log_verdicts(result: dict[str, Any]) -> list[Verdict]:
    """The rebuild and read targets, from a ``--rebuild-log`` run: met or not
    only if the log holds at least ``LARGE_LOG`` events."""
    events = result["workload"]["events"]
    small = events < LARGE_LOG
    why = f"the log holds {events:,} events; the target is for {LARGE_LOG:,} or more"
    rate = result["figures"]["rebuild of all read models, whole process (events/s)"]["median"]
    verdicts = [Verdict(f"rebuild >= {REBUILD_PER_SECOND:,} events/s", rate, "events/s",
                        None if small else rate >= REBUILD_PER_SECOND, why if small else "")]
    for name in ("limits", "claim"):
        figure = result["reads_ms"].get(f"{name}_p99_ms")
        if figure is None:
            continue
        p99 = figure["median"]
        verdicts.append(Verdict(f"{name} read p99 < {READ_P99_MS:g} ms", p99, "ms",
                                None if small else p99 < READ_P99_MS, why if small else ""))
    return verdicts


def render(verdicts: list[Verdict], width: int) -> list[str]:
    """One line per target: the measured value and met / NOT met / not measured."""
    lines = []
    for v in verdicts:
        value = (f"{v.measured:,.2f}x" if v.unit == "x" else
                 f"{v.measured:.3f} {v.unit}" if v.unit in ("ms", "s") else
                 f"{v.measured:,.0f}")
        state = ("met" if v.met else "NOT met") if v.met is not None else f"not measured: {v.why}"
        lines.append(f"target: {v.target:<{width - 8}}  {value:>12}  {state}")
    return lines
