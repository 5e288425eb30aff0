"""Read-model jobs: ``project`` (catch up, or follow the log), ``rebuild``,
``verify`` (read models and seal against the log) and ``status``."""

from __future__ import annotations

import signal
import sys
from typing import Any

from adapters.audit import seal
from adapters.audit.seal import SealError
from adapters.cli.exits import EXIT_INTERRUPTED, EXIT_OK, EXIT_REFUSED, EXIT_STORAGE, UsageError
from adapters.cli.output import Progress, dump, table
from adapters.cli.session import Session
from adapters.storage.sealed_recorders import sealed_log
from projections.read_models import PROJECTIONS, Stalled
from projections.store import Stall
from projections.verify import verify


class _Stop:
    """Set by SIGINT/SIGTERM so a following job ends between pages."""

    def __init__(self) -> None:
        self.stopped = False
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._set)

    def _set(self, *_: Any) -> None:
        self.stopped = True

    def __call__(self) -> bool:
        return self.stopped


def _report_stalls(found: list[Stall]) -> None:
    for stall in found:
        print(f"claims-ledger: STALLED: {stall}", file=sys.stderr, flush=True)


def cmd_project(s: Session) -> int:
    """Catch the read models up (or follow the log). A read model stopped at an
    event it cannot apply is reported (exit 5 without ``--follow``); the others
    are caught up all the same."""
    models = s.models
    models.page_size = s.args.page_size
    if not s.args.follow:
        progress = Progress("projecting", sys.stderr)
        applied = models.catch_up(progress=progress)
        progress.finish()
        stalled = models.stalls()
        print(f"read models caught up: {applied:,} events applied, at position "
              f"{models.head():,}" + (f"; {len(stalled)} stalled" if stalled else ""),
              file=s.out, flush=True)
        _report_stalls(stalled)
        return EXIT_STORAGE if stalled else EXIT_OK
    stop = _Stop()
    print(f"following the log every {s.args.interval}s; Ctrl-C to stop", file=sys.stderr)
    models.follow(
        s.args.interval, stop,
        on_applied=lambda n: print(f"applied {n:,} events, at position {models.head():,}",
                                   file=s.out, flush=True),
        on_error=lambda exc: print(f"database unavailable, trying again in "
                                   f"{s.args.interval}s: {getattr(exc, 'orig', exc)}",
                                   file=sys.stderr, flush=True),
        on_stalls=lambda found: _report_stalls(found) if found else print(
            "no read model is stalled any more", file=sys.stderr, flush=True),
    )
    return EXIT_OK


def cmd_rebuild(s: Session) -> int:
    models = s.models
    models.page_size = s.args.page_size
    names = s.args.names or list(PROJECTIONS)
    unknown = [n for n in names if n not in PROJECTIONS]
    if unknown:
        raise UsageError(f"unknown read model {', '.join(unknown)}; expected one of: "
                         f"{', '.join(PROJECTIONS)}")
    progress = Progress(f"rebuilding {', '.join(names)}", sys.stderr)
    try:
        applied = models.rebuild(names, progress=progress, restart=s.args.restart)
    except KeyboardInterrupt:
        print("\ninterrupted: the readers still use the previous read models; run "
              "`claims-ledger rebuild` again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Stalled as exc:
        progress.finish()
        stalled = {stall.name for stall in exc.stalls}
        done = [n for n in names if n not in stalled]
        if s.args.json:
            dump({"rebuilt": done, "stalled": [stall.as_json() for stall in exc.stalls]},
                 s.out)
        elif done:
            print(f"rebuilt {', '.join(done)}; readers switched to the new tables", file=s.out)
        for stall in exc.stalls:
            print(f"claims-ledger: STALLED: {stall}; its readers still use the previous "
                  "tables, if any", file=sys.stderr)
        return EXIT_STORAGE
    progress.finish()
    result = {"rebuilt": names, "events": applied, "position": models.head()}
    if s.args.json:
        dump(result, s.out)
    else:
        print(f"rebuilt {', '.join(names)} from {applied:,} events (position "
              f"{result['position']:,}); readers switched to the new tables", file=s.out)
    return EXIT_OK


def cmd_verify(s: Session) -> int:
    problems = verify(s.models, Progress("verifying", sys.stderr),
                      catch_up=not s.args.read_replica)
    broken, unchecked = _seal_finding(s)
    if s.args.json:
        dump({"ok": not problems and broken is None, "differences": problems,
              "seal": {"checked": unchecked is None, "broken": broken,
                       "note": unchecked}}, s.out)
    else:
        for p in problems:
            print(p, file=s.out)
        if problems:
            print(f"{len(problems)} difference(s) between the read models and the log",
                  file=sys.stderr)
        else:
            print("read models match a replay of the log", file=s.out)
        if broken is not None:
            print(broken, file=s.out)
        if unchecked is not None:
            print(unchecked, file=sys.stderr)
    return EXIT_REFUSED if problems or broken is not None else EXIT_OK


def _seal_finding(s: Session) -> tuple[str | None, str | None]:
    """``verify`` checks the seal too: what is broken (its first tampered
    position), or why the seal was not checked (a log from before it)."""
    progress = Progress("verifying the seal", sys.stderr)
    try:
        log = sealed_log(s.ledger.recorder)
        total = log.max_notification_id() or 0
        report = seal.verify(log, progress=lambda done: progress(done, total))
    except SealError as exc:  # a log without a seal (a copy from before it)
        return None, f"the seal was not checked: {exc}"
    progress.finish()
    if report.finding is None:
        return None, None
    f = report.finding
    return (f"the seal is broken at position {f.position:,} ({f.kind}): {f.detail}; run "
            "`claims-ledger seal verify`"), None


def cmd_status(s: Session) -> int:
    """Each read model's generations, position and lag, and its stall if it has
    stopped at an event it cannot apply (exit 0: it reports, it checks nothing)."""
    rows = s.models.status()
    data = [{"read_model": r.name, "generation": r.active, "building": r.building,
             "position": r.position, "head": r.head, "lag": r.lag,
             "stalled": r.stall and r.stall.as_json()} for r in rows]
    if s.args.json:
        dump(data, s.out)
        return EXIT_OK
    table(["read model", "generation", "building", "position", "log head", "lag", "state"],
          ([d["read_model"], d["generation"], d["building"], d["position"], d["head"],
            d["lag"], "STALLED" if d["stalled"] else "ok"] for d in data), s.out)
    for r in rows:
        if r.stall is not None:
            print(f"STALLED: {r.stall}", file=s.out)
    return EXIT_OK
