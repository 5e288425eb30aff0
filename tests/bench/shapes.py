"""``make bench``'s whole processes on the named shapes of data
(``tests.workload.SHAPES``): each shape's file applied by a whole
``claims-ledger apply --json FILE`` process into a fresh SQLite database, and
with ``--postgres`` into a fresh schema of that server too (wall clock from
spawn to exit, and its read-model catch-up, timed from its output: from its
last result line to its closing summary), a whole ``rebuild`` of shape c's log
on each, and the start-up of whole ``--help`` and read processes. Also the
tables of these figures in the report."""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.storage import open_ledger
from tests.bench.measures import BenchError, rebuild_process, scratch_database
from tests.bench.targets import database_label
from tests.workload import SHAPES, shaped

STARTUP_RUNS = 5
"""Runs of each start-up figure (median)."""
NAIVE = {"SQLite": ("library naive get-mutate-save (commands/s)", 2000),
         "PostgreSQL": ("PostgreSQL: library naive get-mutate-save (commands/s)", 1000)}
"""The run's own figure the whole processes on each database are compared with,
and the commands it runs (as ``tests.bench.run`` measures it)."""


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "adapters.cli", *args]


@dataclass(frozen=True)
class Applied:
    """One whole ``apply --json`` process: its wall-clock seconds, the seconds
    of its read-model catch-up (None if its output did not show them), its
    lines, the lines refused and the events in the log afterwards."""

    seconds: float
    catch_up: float | None
    lines: int
    refused: int
    events: int


def apply_process(db: str, path: Path) -> Applied:
    """Run ``claims-ledger --db DB apply --json PATH`` (its default workers) and
    time it; the results are read from a pipe and dropped."""
    said: list[tuple[float, bytes]] = []
    started = time.perf_counter()
    process = subprocess.Popen(_cli("--db", db, "apply", "--json", str(path)),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    errors = process.stderr

    def listen() -> None:
        for line in errors:
            said.append((time.perf_counter(), line))

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    lines = refused = 0
    last = started
    for line in process.stdout:
        lines += 1
        refused += b'"ok":false' in line
        last = time.perf_counter()
    code = process.wait()
    seconds = time.perf_counter() - started
    listener.join()
    if code not in (0, 1):  # 1: some lines refused by a rule
        text = b"".join(line for _, line in said).decode(errors="replace").strip()
        msg = f"`claims-ledger apply` of {path} failed (exit {code}):\n{text}"
        raise BenchError(msg)
    summary = [at for at, line in said if b"applied" in line]
    ledger = open_ledger(db)
    events = ledger.recorder.max_notification_id() or 0
    ledger.close()
    return Applied(seconds, summary[-1] - last if summary else None, lines, refused, events)


def startup(args: list[str]) -> float:
    """Seconds of one whole ``claims-ledger ARGS`` process, spawn to exit."""
    started = time.perf_counter()
    run = subprocess.run(_cli(*args), capture_output=True, check=False)
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        msg = f"`claims-ledger {' '.join(args)}` failed:\n{run.stderr.decode().strip()}"
        raise BenchError(msg)
    return seconds


def shape_names(text: str) -> list[str]:
    """``--shapes``: names of ``tests.workload.SHAPES``, or ``none``."""
    names = [] if text == "none" else [n.strip() for n in text.split(",")]
    unknown = [n for n in names if n not in SHAPES]
    if unknown:
        msg = f"must name shapes of {', '.join(SHAPES)} (or none), not {unknown[0]!r}"
        raise argparse.ArgumentTypeError(msg)
    return list(dict.fromkeys(names))


def shapes_problem(names: list[str], lines: int) -> str | None:
    """Why the shapes ``names`` cannot be made in ``lines`` lines, or None."""
    for name in names:
        problem = SHAPES[name].scaled(lines).problem()
        if problem:
            return f"--shape-lines {lines:,}: shape {name}: {problem}"
    return None


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


@dataclass
class Backend:
    """Every run's figures of the shapes on one database: SQLite (``server``
    None) or a schema of its own on the PostgreSQL server ``server``."""

    server: str | None
    applied: dict[str, list[Applied]] = field(default_factory=dict)
    rebuilds: list[float] = field(default_factory=list)

    @property
    def database(self) -> str:
        return "SQLite" if self.server is None else "PostgreSQL"


@dataclass
class ShapeRuns:
    """The shapes' files (written once) and every run's figures of them, on
    SQLite and (with ``postgres``) on that PostgreSQL server."""

    names: list[str]
    lines: int
    seed: int
    folder: Path
    postgres: str | None = None
    files: dict[str, Path] = field(default_factory=dict)
    ids: dict[str, tuple[str, str]] = field(default_factory=dict)
    backends: list[Backend] = field(init=False)
    starts: dict[str, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.backends = [Backend(server) for server in
                         [None, *([self.postgres] if self.postgres else [])]]

    def write_files(self) -> None:
        """Each shape's file, and a policy and a claim of it (for the reads)."""
        for name in self.names:
            commands = shaped(SHAPES[name].scaled(self.lines), self.seed)
            path = self.folder / f"shape-{name}.jsonl"
            path.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n"
                                    for c in commands))
            self.files[name] = path
            self.ids[name] = (next(c["policy_id"] for c in commands),
                              next(c["claim_id"] for c in commands
                                   if c["command"] == "file_claim"))

    def measure(self, progress: Callable[[str], None], last: bool) -> None:
        """One run on each database: each shape applied into a fresh one; shape
        c's log rebuilt into another; on the ``last`` run, on SQLite, the
        start-ups (reading shape c's log, else the first shape's)."""
        kept = "c" if "c" in self.names else self.names[0]
        for backend in self.backends:
            label = "" if backend.server is None else f"{backend.database}: "
            for name in self.names:
                progress(f"{label}shape {name}: a whole `claims-ledger apply --json` process")
                with scratch_database(backend.server) as db:
                    backend.applied.setdefault(name, []).append(
                        apply_process(db, self.files[name]))
                    if name == "c":
                        with scratch_database(backend.server) as read_db:
                            backend.rebuilds.append(rebuild_process(db, read_db)[0])
                    if name == kept and last and backend.server is None:
                        self._startups(db, *self.ids[name])

    def _startups(self, db: str, policy: str, claim: str) -> None:
        for label, args in (("claims-ledger --help", ["--help"]),
                            ("claims-ledger limits --policy ID",
                             ["--db", db, "limits", "--policy", policy]),
                            ("claims-ledger claim ID", ["--db", db, "claim", claim])):
            self.starts[label] = [startup(args) for _ in range(STARTUP_RUNS)]

    def result(self, figures: dict[str, dict[str, float]]) -> dict[str, Any]:
        """The shapes' part of the JSON: ``shapes`` (SQLite) and, with
        ``--postgres``, ``postgres_shapes``."""
        found = {"shapes": self._result(self.backends[0], figures)}
        if len(self.backends) > 1:
            found["postgres_shapes"] = self._result(self.backends[1], figures)
        return found

    def _result(self, backend: Backend, figures: dict[str, dict[str, float]]
                ) -> dict[str, Any]:
        """One database's figures, compared with the run's naive loop on it."""
        naive_figure, naive_commands = NAIVE[backend.database]
        naive = figures[naive_figure]["median"]
        shapes: dict[str, dict[str, Any]] = {}
        for name in self.names:
            runs = backend.applied[name]
            shape = SHAPES[name].scaled(self.lines)
            rates = [r.lines / r.seconds for r in runs]
            catch = [r.events / r.catch_up for r in runs if r.catch_up]
            shapes[name] = {
                "title": SHAPES[name].title, "policies": shape.policies, "lines": shape.lines,
                "coverage": shape.coverage, "refused_share": shape.refused,
                "refused_lines": runs[-1].refused, "events": runs[-1].events,
                "apply_seconds": _summary([r.seconds for r in runs]),
                "apply_commands_per_s": _summary(rates),
                "catch_up_seconds": (_summary([r.catch_up for r in runs if r.catch_up])
                                     if catch else None),
                "catch_up_events_per_s": _summary(catch) if catch else None,
                "over_naive": statistics.median(rates) / naive}
        out: dict[str, Any] = {
            "database": backend.database, "lines": self.lines, "seed": self.seed,
            "naive_commands": naive_commands, "naive_commands_per_s": naive,
            "shapes": shapes,
            "startup_s": ({label: _summary(v) for label, v in self.starts.items()}
                          if backend.server is None else {})}
        if "b" in shapes and "c" in shapes:
            out["no_cliff"] = (shapes["c"]["apply_commands_per_s"]["median"]
                               / shapes["b"]["apply_commands_per_s"]["median"])
        if backend.rebuilds:
            out["rebuild_events_per_s"] = _summary(backend.rebuilds)
            catch_c = shapes["c"]["catch_up_events_per_s"]
            if catch_c:
                out["catch_up_over_rebuild"] = (catch_c["median"]
                                                / out["rebuild_events_per_s"]["median"])
        return out


def render(shapes: dict[str, Any]) -> list[str]:
    """A database's whole-process table of the report (empty without shapes)."""
    if not shapes or not shapes["shapes"]:
        return []
    on = database_label(shapes)
    fresh = "a fresh SQLite database" if not on else "a fresh schema"
    lines = [f"{on}whole processes: `claims-ledger apply --json FILE`, {fresh} "
             f"per run, {shapes['lines']:,} lines a shape; x naive: over the library's "
             f"naive loop ({shapes['naive_commands']:,} commands, measured in this run: "
             f"{shapes['naive_commands_per_s']:,.0f} commands/s)",
             f"{'shape':<{52 + len(on)}} {'refused':>8} {'events':>9} {'seconds':>8} "
             f"{'commands/s':>11} {'x naive':>8} {'catch-up events/s':>18}"]
    for name, s in shapes["shapes"].items():
        catch = s["catch_up_events_per_s"]
        text = (f"{s['policies']:,} policies, {s['coverage']}, "
                f"{s['refused_share']:.0%} refused")
        lines.append(f"{on}{name}: {text:<49} "
                     f"{s['refused_lines']:>8,} {s['events']:>9,} "
                     f"{s['apply_seconds']['median']:>8.2f} "
                     f"{s['apply_commands_per_s']['median']:>11,.0f} "
                     f"{s['over_naive']:>7.2f}x "
                     f"{catch['median'] if catch else float('nan'):>18,.0f}")
    if "no_cliff" in shapes:
        lines.append(f"{on}no cliff: shape c / shape b commands/s  {shapes['no_cliff']:.2f}x")
    if "rebuild_events_per_s" in shapes:
        lines.append(f"{on}whole `claims-ledger rebuild` of shape c's log (events/s)  "
                     f"{shapes['rebuild_events_per_s']['median']:,.0f}"
                     + (f"; catch-up / rebuild per event {shapes['catch_up_over_rebuild']:.2f}x"
                        if "catch_up_over_rebuild" in shapes else ""))
    lines += [f"start-up, whole process: {name:<40} {v['median']:.3f} s "
              f"({v['min']:.3f}..{v['max']:.3f})" for name, v in shapes["startup_s"].items()]
    return lines
