"""``apply`` driven as the tests drive it: lines applied in this process or on
worker processes, each line's result as ``apply --json`` prints it, and what of
a result may differ between runs."""

from __future__ import annotations

import io
import json
from typing import Any

from adapters.apply import Workers, apply_lines, worker_of
from adapters.cli.output import Progress, render_json
from adapters.storage import open_ledger


def policies_on(worker: int, count: int, workers: int = 2) -> list[str]:
    """``count`` policy ids whose commands go to ``worker`` of ``workers``."""
    found = [f"Q{n}" for n in range(10 * count)
             if worker_of(f"Q{n}", workers) == worker]
    return found[:count]


def apply_file(db: str, lines: list[str], workers: int, actor: str = "test"
               ) -> list[dict[str, Any]]:
    """Each line's result as ``apply --json`` prints it."""
    ledger = open_ledger(db)
    out: list[str] = []
    progress = Progress("applying", io.StringIO())
    try:
        if workers == 1:
            apply_lines(ledger, iter(lines), actor, lambda r: out.append(render_json(r)),
                        progress, batch=500)
        else:
            with Workers(db, actor, workers=workers, batch=500, render=render_json) as pool:
                pool.apply(ledger, iter(lines), out.append, progress)
    finally:
        ledger.close()
    return [json.loads(text) for text in out]


def comparable(result: dict[str, Any]) -> dict[str, Any]:
    """A line's result without what depends on the log's order (positions) or on
    the id source (generated command ids)."""
    kept = {k: v for k, v in result.items() if k != "command_id"}
    if "events" in kept:
        kept["events"] = [{k: v for k, v in e.items() if k != "position"}
                          for e in kept["events"]]
    return kept


def command_line(command: dict[str, Any]) -> str:
    return json.dumps(command, ensure_ascii=False)
