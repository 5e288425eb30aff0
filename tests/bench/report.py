"""``make bench``'s report: medians with their range, the ratios between figures
that say how the ledger compares with its baselines, the table printed at the
end of a run, and whether its JSON can be written where asked."""

from __future__ import annotations

import os
import platform
import statistics
from pathlib import Path
from typing import Any

from tests.bench import shapes
from tests.bench.targets import Verdict
from tests.bench.targets import render as render_verdicts


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def machine() -> dict[str, Any]:
    """What the figures were taken on."""
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count()}


def ratios(med: dict[str, float], workers: int) -> dict[str, float]:
    """The ledger on SQLite over its baselines, from the figures' medians."""
    grouped = med["ledger apply, 500 commands per commit (commands/s)"]
    return {
        "grouped apply / raw 1-row durable inserts":
            grouped / med["raw SQLite insert, 1 row per durable commit (rows/s)"],
        "grouped apply / library naive loop":
            grouped / med["library naive get-mutate-save (commands/s)"],
        "grouped apply / ledger one commit per command":
            grouped / med["ledger, one commit per command (commands/s)"],
        f"apply with {workers} workers / raw 1-row durable inserts":
            med[f"apply of the JSON Lines, {workers} worker processes (commands/s)"]
            / med["raw SQLite insert, 1 row per durable commit (rows/s)"],
        f"apply with {workers} workers / library naive loop":
            med[f"apply of the JSON Lines, {workers} worker processes (commands/s)"]
            / med["library naive get-mutate-save (commands/s)"],
        f"apply with {workers} workers / apply in this process":
            med[f"apply of the JSON Lines, {workers} worker processes (commands/s)"]
            / med["apply of the JSON Lines, in this process (commands/s)"],
        f"apply with {workers} workers / ledger in {workers} processes, no parsing or output":
            med[f"apply of the JSON Lines, {workers} worker processes (commands/s)"]
            / med[f"ledger in {workers} processes on shares of the policies, no parsing or "
                  "output (commands/s)"],
        "grouped apply / storing its events only":
            grouped / med["storing the same commits' events only, no decisions (commands/s)"],
        "rebuild / raw scan + json.loads":
            med["rebuild of all read models (events/s)"]
            / med["raw SQLite scan + json.loads (rows/s)"],
        "sealed apply / apply without the seal":
            grouped / med["ledger apply without the seal, 500 commands per commit "
                          "(commands/s)"],
        "rebuild of a sealed log / of a log without the seal":
            med["rebuild of all read models (events/s)"]
            / med["rebuild of all read models, log without the seal (events/s)"],
    }


def postgres_ratios(med: dict[str, float], workers: int) -> dict[str, float]:
    """The ledger on PostgreSQL over the same server's baselines."""
    pg_grouped = med["PostgreSQL: ledger apply, 500 commands per commit (commands/s)"]
    pg_split = med[f"PostgreSQL: apply of the JSON Lines, {workers} worker processes "
                   "(commands/s)"]
    pg_durable = med["PostgreSQL: raw insert, 1 row per durable commit (rows/s)"]
    return {
        "PostgreSQL: grouped apply / raw 1-row durable inserts": pg_grouped / pg_durable,
        f"PostgreSQL: apply with {workers} workers / raw 1-row durable inserts":
            pg_split / pg_durable,
        f"PostgreSQL: apply with {workers} workers / library naive loop":
            pg_split / med["PostgreSQL: library naive get-mutate-save (commands/s)"],
        "PostgreSQL: rebuild / raw scan + json.loads":
            med["PostgreSQL: rebuild of all read models (events/s)"]
            / med["PostgreSQL: raw scan + json.loads (rows/s)"],
    }


def render(result: dict[str, Any]) -> str:
    """The table printed at the end of a run: figures, reads, HTTP, ratios, targets."""
    w = result["workload"]
    if "log" in w:
        lines = [f"log: {w['log']}, {w['events']:,} events; peak RSS of a rebuild "
                 f"{result['peak_rss_mb']:,.1f} MB; median of {result['runs']} runs (min..max)",
                 ""]
    else:
        lines = [f"workload: {w['commands']:,} commands, {w['events']:,} events, "
                 f"{w['policies']:,} policies, {w['claims']:,} claims (seed {w['seed']}); "
                 f"median of {result['runs']} runs (min..max)", ""]
    reads = result.get("reads_ms", {})
    width = max(len(n) for n in [*result["figures"], *result["ratios"], *reads])
    sections = [
        [f"{name:<{width}}  {v['median']:>12,.0f}  ({v['min']:,.0f}..{v['max']:,.0f})"
         for name, v in result["figures"].items()],
        [f"{name:<{width}}  {v['median']:>12.3f}  ({v['min']:.3f}..{v['max']:.3f})"
         for name, v in reads.items()],
        [f"{name:<{width}}  {v['commands_per_s']['median']:>12,.0f} commands/s, "
         f"p50 {v['p50_ms']['median']:.1f} ms, p99 {v['p99_ms']['median']:.1f} ms"
         for name, v in result.get("http", {}).items()],
        [f"{name:<{width}}  {ratio:>11.2f}x" for name, ratio in result["ratios"].items()],
        shapes.render(result.get("shapes", {})),
        shapes.render(result.get("postgres_shapes", {})),
        render_verdicts([Verdict(**v) for v in result.get("targets", [])], width),
    ]
    for section in sections:
        if section:
            lines.extend([*section, ""])
    return "\n".join(lines).rstrip()


def output_problem(out: Path) -> str | None:
    """Why the JSON could not be written to ``out``, if it could not (its folder is
    made if missing): checked before any figure is taken."""
    if out.is_dir():
        return f"{out} is a folder; name a file"
    existing = next(p for p in out.parents if p.exists())
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot make the folder {out.parent}: {exc.strerror}"
    if not os.access(out.parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        return f"cannot write {out}: permission denied"
    return None
