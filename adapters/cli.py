"""The ``claims-ledger`` command line.

Commands are applied to the event log; reads come from the read models, which
are caught up with the log before every read (and after every ``apply``), so
the CLI never shows a stale answer. ``--as-of`` reads replay the log instead.

Exit status: 0 done; 1 a command was refused by a rule (nothing appended for
it), ``verify`` found differences, ``seal verify`` or ``replay`` found tampering,
or ``explain``/``replay`` found a recorded figure that disagrees with the terms;
2 bad usage or unreadable input; 3 the policy or claim does not exist; 4 a
conflict (command id reused, or concurrent writers); 5 the database cannot be
used; 130 interrupted.
"""

from __future__ import annotations

import argparse
import getpass
import itertools
import json
import os
import shutil
import signal
import sqlite3
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import IO, Any, TextIO, TypeVar

from eventsourcing.persistence import PersistenceError
from sqlalchemy.exc import SQLAlchemyError

from adapters import export, seal, views
from adapters.applying import (
    MAX_WORKERS,
    StoppedAt,
    Workers,
    apply_lines,
    default_workers,
    describe,
    error_json,
    render_json,
    render_text,
)
from adapters.console import (
    MAX_POSITION,
    BadTime,
    Progress,
    parse_time,
    table,
    whole_number,
    yen,
)
from adapters.export import ExportError, ExportTampered
from adapters.seal import CheckpointFile, SealedLog, SealError
from adapters.seal_store import sealed_log
from adapters.storage import (
    DB_ENV,
    DEFAULT_DB,
    StorageError,
    is_postgres,
    open_ledger,
    read_only_uri,
    redact,
    sqlite_path,
    sqlite_writable,
)
from domain.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    IdempotencyConflict,
    LedgerError,
    NotFound,
    VersionConflict,
)
from domain.explanation import LANGS
from domain.terms import (
    COVER_RULES,
    NOTICE_CHANNELS,
    NOTICE_TIME_BAR,
    NOTICE_TIME_BAR_YEARS,
    TERM_SETS,
)
from projections.audit_trail import AuditQuery
from projections.read_models import PAGE_SIZE, PROJECTIONS, NotBuilt, ReadModels, Stalled
from projections.store import Stall
from projections.verify import verify

(EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_STORAGE) = range(6)
EXIT_INTERRUPTED = 130
T = TypeVar("T")
READ_DB_ENV = "CLAIMS_LEDGER_READ_DB"
PARALLEL_FROM = 20_000
"""Lines in a file from which ``apply`` uses worker processes by default.
Starting two takes ~0.4 s, which a file only saves back from about 10,000
lines; twice that leaves a margin on a noisy machine."""
LOG_WRITERS = {"apply", "demo"}
LOG_CREATORS = {"apply", "demo", "seal"}
"""Commands that create a SQLite log that does not exist (``seal`` records a
checkpoint, but ``seal verify`` does not); every other command refuses one, so
a mistyped ``--db`` is not answered from a new, empty ledger."""
READ_MODEL_WRITERS = {"apply", "demo", "project", "rebuild"}


class UsageError(Exception):
    """Bad usage or unreadable input (exit status 2)."""


def exit_code(error: LedgerError) -> int:
    if isinstance(error, NotFound):
        return EXIT_NOT_FOUND
    if isinstance(error, IdempotencyConflict | ConcurrencyConflict | AlreadyExists
                  | VersionConflict):
        return EXIT_CONFLICT
    return EXIT_REFUSED


def dump(data: Any, out: TextIO) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2), file=out)


class Session:
    """What one CLI run works with: the ledger, its read models, who is acting."""

    def __init__(self, args: argparse.Namespace, out: TextIO) -> None:
        self.args, self.out = args, out
        if args.log_replica and args.action in LOG_WRITERS:
            raise UsageError(f"`{args.action}` appends to the log; --log-replica names a "
                             "read-only copy of it: give the primary's --db")
        if args.read_replica and args.action in READ_MODEL_WRITERS:
            raise UsageError(f"`{args.action}` writes the read models; --read-replica names "
                             "a read-only copy of them: give the primary's --read-db")
        if not _creates_log(args):
            _require_existing(args.db)
        self.read_only = args.log_replica or not (
            _writes_log(args) or is_postgres(args.db) or sqlite_writable(args.db))
        """The log is opened read-only: a replica, or a SQLite file this process
        cannot write (an auditor's copy on read-only media)."""
        self.ledger = open_ledger(args.db, read_only=self.read_only)
        self._models: ReadModels | None = None
        self._scratch: str | None = None

    @property
    def models(self) -> ReadModels:
        if self._models is None:
            read_db = self.args.read_db
            opened = self._readable(read_db)
            try:
                self._models = ReadModels.open(self.ledger, opened)
            except Exception as exc:
                reason = getattr(exc, "orig", None) or exc
                msg = redact(f"{read_db}: cannot open the read-model database: {reason}")
                raise StorageError(msg) from exc
            if self._scratch is not None:
                self._models.catch_up(progress=Progress("building read models", sys.stderr))
        return self._models

    def _readable(self, read_db: str) -> str:
        """Where to open the read models. Read models that cannot be written
        (in a read-only log's own SQLite file, or in a file this process cannot
        write) are read as they are with --read-replica, and otherwise built
        from the log in a temporary database, removed at the end."""
        if is_postgres(read_db):
            return read_db
        db = self.args.db
        shared = self.read_only and not is_postgres(db) and _same_file(read_db, db)
        if not shared and sqlite_writable(read_db):
            return read_db
        if self.args.read_replica:
            return f"sqlite:///{read_only_uri(read_db)}&uri=true"
        if self.args.action in READ_MODEL_WRITERS:
            raise UsageError(f"`{self.args.action}` writes the read models, and {read_db} "
                             "is read-only here: name a writable --read-db")
        self._scratch = tempfile.mkdtemp(prefix="claims-ledger-read-models-")
        print(f"{read_db} is read-only here: reading from read models built from the log "
              "in a temporary database", file=sys.stderr)
        return str(Path(self._scratch) / "read-models.db")

    def fresh(self) -> ReadModels:
        """The read models, caught up with the log first (unless they are a
        read-only replica: then as replicated, see `status` for the lag)."""
        models = self.models
        if not self.args.read_replica:
            progress = Progress("catching up", sys.stderr)
            models.catch_up(progress=progress)
            if progress.tty and progress.last > progress.started:
                progress.finish()  # a bar was drawn: end its line
        return models

    def close(self) -> None:
        if self._models is not None:
            self._models.close()
        self.ledger.close()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)


def _writes_log(args: argparse.Namespace) -> bool:
    return args.action in LOG_CREATORS and not (args.action == "seal" and args.what == "verify")


def _creates_log(args: argparse.Namespace) -> bool:
    return _writes_log(args) and not args.log_replica


def _same_file(a: str, b: str) -> bool:
    first, second = Path(sqlite_path(a)), Path(sqlite_path(b))
    if first.exists() and second.exists():
        return first.samefile(second)
    return first.resolve() == second.resolve()


def _require_existing(db: str) -> None:
    """Refuse a SQLite log that does not exist (rather than create an empty one)."""
    if is_postgres(db):
        return
    path = sqlite_path(db)
    if path != ":memory:" and not Path(path).exists():
        msg = (f"{db}: no such ledger database: the file does not exist (only `apply`, "
               "`demo` and `seal` create one)")
        raise StorageError(msg)


# apply ----------------------------------------------------------------------


def _lines(source: str, look_ahead: int) -> tuple[Iterator[str], int | None]:
    """The lines of ``source`` (a file, a pipe, a FIFO, ``/dev/stdin``, or ``-``
    for standard input), streamed and read once, and how many there are: those
    of a regular file are counted first; a stream's are known if it ends within
    ``look_ahead`` lines (held until then), else None."""
    try:
        if source == "-":
            if sys.stdin is None:
                raise UsageError("there is no standard input to read")
            stream: IO[bytes] = sys.stdin.buffer
        else:
            stream = open(source, "rb")  # noqa: SIM115 (closed by _decoded)
        if stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            start = stream.tell()
            total: int | None = sum(1 for _ in stream)
            stream.seek(start)
            return _decoded(source, stream), total
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}") from exc
    ahead = list(itertools.islice(stream, look_ahead))
    total = len(ahead) if len(ahead) < look_ahead else None
    return _decoded(source, stream, ahead), total


def _decoded(source: str, stream: IO[bytes], ahead: list[bytes] | None = None
             ) -> Iterator[str]:
    """Each line (``ahead`` of it first) as text; a UTF-8 byte-order mark before
    the first is dropped. A file is closed at the end, standard input is not."""
    name = "standard input" if source == "-" else source
    try:
        for number, raw in enumerate(itertools.chain(ahead or [], stream), start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                msg = (f"{name} line {number} is not UTF-8 text (byte {exc.start + 1}: "
                       f"{exc.reason})")
                raise UsageError(msg) from exc
            yield text.removeprefix("\ufeff") if number == 1 else text
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}") from exc
    finally:
        if source != "-":
            stream.close()


def cmd_apply(s: Session) -> int:
    args, out = s.args, s.out
    # A stream of unknown length is looked into only to choose the workers.
    lines, total = _lines(args.file, PARALLEL_FROM if args.workers is None else 0)
    progress = Progress("applying", sys.stderr)
    progress.total = total or 0
    render = render_json if args.json else render_text
    workers = args.workers
    if workers is None:
        workers = default_workers() if total is None or total >= PARALLEL_FROM else 1
    reported = 0
    clear_bar = progress.tty and out.isatty()  # the bar and the report share a screen

    def write(text: str) -> None:
        nonlocal reported
        reported += 1
        if clear_bar:
            print("\r\033[K", end="", file=sys.stderr, flush=True)
        print(text, file=out, flush=args.json)

    if workers > 1:
        with Workers(args.db, args.actor, workers=workers, batch=args.batch,
                     render=render) as pool:
            refused = pool.apply(s.ledger, lines, write, progress)
    else:
        refused = apply_lines(s.ledger, lines, args.actor, lambda r: write(render(r)),
                              progress, args.batch)
    s.fresh()
    out.flush()
    summary = (f"{reported - refused:,} line(s) applied" if reported
               else "0 lines applied: the input holds no commands")
    if refused:
        summary += f"; {refused:,} line(s) refused; nothing was appended for them"
    print(summary, file=sys.stderr)
    return EXIT_REFUSED if refused else EXIT_OK


# limits and claims ----------------------------------------------------------


def cmd_limits(s: Session) -> int:
    args = s.args
    models = s.fresh() if args.as_of is None else None
    rows = views.limits(s.ledger, models, args.policy, args.as_of)
    if args.json:
        dump(rows, s.out)
        return EXIT_OK
    if args.as_of is not None:
        print(f"as the ledger knew it at {args.as_of.isoformat()}", file=s.out)
    if not rows:
        print("no policies yet", file=s.out)
        return EXIT_OK
    table(
        ["policy", "year", "period", "coverage", "annual limit", "paid", "reversed",
         "remaining", "open claims"],
        ([r["policy_id"], r["policy_year"], f"{r['period_start']}..{r['period_end']}",
          r["coverage"], yen(r["annual_limit"]), yen(r["paid"]), yen(r["reversed"]),
          yen(r["remaining"]), r["claims_open"]] for r in rows),
        s.out,
    )
    return EXIT_OK


def cmd_claim(s: Session) -> int:
    args = s.args
    models = s.fresh() if args.as_of is None else None
    data = views.claim(s.ledger, models, args.claim_id, args.as_of)
    wording = data["exclusion_wording"]
    if args.json:
        dump(data, s.out)
        return EXIT_OK
    if args.as_of is not None:
        print(f"as the ledger knew it at {args.as_of.isoformat()}", file=s.out)
    for key in ("claim_id", "policy_id", "policy_year", "coverage", "cause", "incident_date",
                "claim_made_on", "notified_on", "channel", "status"):
        if data[key] is not None:
            print(f"{key:<20}{data[key]}", file=s.out)
    if data["notice_time_barred"]:
        print(f"{'time bar':<20}notified more than 3 years after the incident (保険法95条)",
              file=s.out)
    for key in ("loss_amount", "excluded", "deductible", "per_incident_limit", "payable",
                "paid"):
        if key != "excluded" or data[key]:
            print(f"{key:<20}{yen(data[key])}", file=s.out)
    if data["exclusion"]:
        print(f"{'exclusion':<20}{data['exclusion']} ({(wording or {}).get('ja', '')})",
              file=s.out)
    if data["payouts"]:
        print(file=s.out)
        table(
            ["payout", "amount", "loss", "deductible", "cap", "paid before", "annual before",
             "annual after", "reversed"],
            ([p["payout_id"], yen(p["amount"]), yen(p["breakdown"]["loss"]),
              yen(p["breakdown"]["deductible"]), yen(p["breakdown"]["per_incident_limit"]),
              yen(p["breakdown"]["paid_before"]), yen(p["breakdown"]["annual_remaining_before"]),
              yen(p["breakdown"]["annual_remaining_after"]), "yes" if p["reversed"] else "no"]
             for p in data["payouts"]),
            s.out,
        )
    return EXIT_OK


# history and audit ----------------------------------------------------------


def _summary(payload: dict[str, Any] | None) -> str:
    if payload is None:
        return "(the log no longer holds this event: run `claims-ledger seal verify`)"
    skip = ("policy_id", "claim_id", "policy_year", "coverage", "breakdown", "description",
            "customer_name", "wording_en", "wording_ja", "command", "events", "result",
            "fingerprint")
    return " ".join(f"{k}={v}" for k, v in payload.items() if k not in skip and v is not None)


def print_audit(rows: list[dict[str, Any]], fmt: str, out: TextIO) -> None:
    if fmt == "json":
        dump(rows, out)
    elif fmt == "csv":
        from adapters import spreadsheet

        columns = ["position", "recorded_at", "actor", "command_id", "aggregate_type",
                   "aggregate_id", "version", "event_type", "policy_id", "policy_year",
                   "claim_id", "coverage", "business_dates", "amount", "balance_before",
                   "balance_after", "payload"]
        spreadsheet.write(out, columns, (
            [json.dumps(r["business_dates"]) if c == "business_dates"
             else json.dumps(r["payload"], ensure_ascii=False) if c == "payload"
             else r[c] for c in columns] for r in rows), lineterminator="\n")
    else:
        table(
            ["pos", "recorded at (UTC)", "actor", "aggregate", "v", "event", "amount",
             "balance", "details"],
            ([r["position"], r["recorded_at"][:19], r["actor"], r["aggregate_id"], r["version"],
              r["event_type"], yen(r["amount"]),
              "" if r["balance_before"] is None
              else f"{yen(r['balance_before'])}->{yen(r['balance_after'])}",
              _summary(r["payload"])] for r in rows),
            out,
        )


def cmd_history(s: Session) -> int:
    args = s.args
    try:
        rows = views.history(s.ledger, s.fresh(), args.id, args.kind)
    except ValueError as exc:
        raise UsageError(f"{exc}: add --kind policy or --kind claim") from None
    print_audit(rows, "json" if args.json else "table", s.out)
    return EXIT_OK


def cmd_audit(s: Session) -> int:
    args = s.args
    query = AuditQuery(
        policy_id=args.policy, claim_id=args.claim, actor=args.actor_filter,
        event_type=args.type, after=args.after, limit=args.limit,
        recorded_from=_utc_text(args.recorded_from), recorded_to=_utc_text(args.recorded_to),
    )
    rows = views.audit_pages(s.fresh(), query)
    print_audit(rows, args.format, s.out)
    if rows and len(rows) == args.limit and args.format == "table":
        print(f"more rows may follow: add --after {rows[-1]['position']}", file=sys.stderr)
    return EXIT_OK


def _utc_text(when: datetime | None) -> str | None:
    from projections.base import recorded_time

    return None if when is None else recorded_time(when)


# read-model jobs ------------------------------------------------------------


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


# auditor tools: seal, explain, export, replay --------------------------------


def cmd_seal(s: Session) -> int:
    log = sealed_log(s.ledger.recorder)
    what, a = s.args.what, s.args
    if a.log_replica and what != "verify":
        raise UsageError("`seal` writes the seal into the log; --log-replica names a "
                         "read-only copy of it: give the primary's --db")
    if what != "checkpoint" and a.out:
        raise UsageError("--out is for `seal checkpoint`")
    if what != "verify" and a.checkpoint:
        raise UsageError("--checkpoint is for `seal verify`")
    if what == "verify":
        return _seal_verify(s, log)
    if what == "checkpoint" and not a.out:
        raise UsageError("`seal checkpoint` needs --out FILE")
    if a.out and not Path(a.out).parent.is_dir():
        raise UsageError(f"--out {a.out}: the folder {Path(a.out).parent} does not exist")
    sealed, checkpoint = log.seal_tail()
    if sealed:
        print(f"warning: sealed {sealed:,} event(s) that were not sealed at commit (written "
              "before the seal existed, or outside the ledger: `seal verify` before sealing "
              "tells which)", file=sys.stderr)
    if checkpoint is None:
        raise UsageError("the log is empty: there is nothing to seal")
    data: dict[str, Any] = {"sealed_now": sealed, **checkpoint.model_dump()}
    if what == "checkpoint":
        kept = seal.checkpoint_file(log)
        _write_atomically(a.out, lambda f: f.write(
            json.dumps(kept.model_dump(), indent=2).encode() + b"\n"))
        data["out"] = a.out
    if a.json:
        dump(data, s.out)
    else:
        print(f"sealed up to position {checkpoint.position:,}: {checkpoint.hash}"
              + (f"; checkpoint written to {a.out}" if what == "checkpoint" else ""),
              file=s.out)
    return EXIT_OK


def _seal_verify(s: Session, log: SealedLog) -> int:
    kept = CheckpointFile.read(s.args.checkpoint) if s.args.checkpoint else None
    total = log.max_notification_id() or 0
    progress = Progress("verifying the seal", sys.stderr)
    report = seal.verify(log, kept, lambda done: progress(done, total))
    progress.finish()
    if s.args.json:
        dump({"ok": report.ok, **report.model_dump()}, s.out)
    elif report.finding:
        f = report.finding
        print(f"TAMPERED at position {f.position:,} ({f.kind}): {f.detail}", file=s.out)
        print(f"the log is intact up to position {report.intact_to:,}", file=s.out)
    else:
        against = " and the checkpoint kept outside" if kept else ""
        print(f"intact: {report.events:,} events up to position {report.intact_to:,} match "
              f"the seal{against} (head {report.head_hash})", file=s.out)
    return EXIT_OK if report.ok else EXIT_REFUSED


def cmd_explain(s: Session) -> int:
    explanation = views.explanation(s.ledger, s.args.claim_id, s.args.lang, s.args.as_of)
    if s.args.json:
        dump(explanation.model_dump(mode="json"), s.out)
    else:
        if s.args.as_of:
            print(f"(as of {_utc_text(s.args.as_of)})", file=s.out)
        print(explanation.text(), file=s.out)
    return EXIT_REFUSED if explanation.mismatches else EXIT_OK


def cmd_export(s: Session) -> int:
    log = sealed_log(s.ledger.recorder)
    total = log.max_notification_id() or 0
    if s.args.to is not None:
        total = min(total, s.args.to)
    progress = Progress("exporting", sys.stderr)
    try:
        trailer = _write_atomically(s.args.out, lambda f: export.export(
            log, f, s.args.to, lambda done: progress(done, total)))
    except ExportTampered as exc:
        progress.finish()
        _error(f"REFUSED: {exc}; nothing was written to {s.args.out}")
        return EXIT_REFUSED
    progress.finish()
    data = {"out": s.args.out, "events": trailer.events, **trailer.checkpoint.model_dump()}
    if s.args.json:
        dump(data, s.out)
    else:
        print(f"exported {trailer.events:,} events up to position "
              f"{trailer.checkpoint.position:,} to {s.args.out} (head "
              f"{trailer.checkpoint.hash})", file=s.out)
    return EXIT_OK


def _write_atomically(path: str, write: Callable[[IO[bytes]], T]) -> T:
    """Write ``path`` whole or not at all: nothing is left behind on failure."""
    target = Path(path)
    if not target.parent.is_dir():
        raise UsageError(f"--out {path}: the folder {target.parent} does not exist")
    partial = target.with_name(f".{target.name}.partial")
    try:
        with partial.open("wb") as f:
            result = write(f)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return result


def cmd_replay(args: argparse.Namespace, out: TextIO) -> int:
    try:
        kept = CheckpointFile.read(args.checkpoint) if args.checkpoint else None
        progress = Progress("replaying", sys.stderr)
        result = export.replay(args.file, args.as_of, kept,
                               lambda done: progress(done, 0))
        progress.finish()
    except ExportTampered as exc:
        print(f"claims-ledger: REFUSED: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except (ExportError, SealError) as exc:
        print(f"claims-ledger: {exc}", file=sys.stderr)
        return EXIT_USAGE
    limits, summary = result.limits(), result.summary()
    if args.json:
        dump({"ledger_id": result.ledger_id, "position": result.position,
              "events": result.events, "head": result.head,
              "as_of": _utc_text(args.as_of), "limits": limits, "claims": summary,
              "claim_details": result.claim_rows(), "discrepancies": result.discrepancies},
             out)
    else:
        when = f", as of {_utc_text(args.as_of)}" if args.as_of else ""
        print(f"chain intact: {result.events:,} events up to position {result.position:,} "
              f"(head {result.head}){when}", file=out)
        table(["policy", "year", "coverage", "annual limit", "paid", "remaining",
               "open claims"],
              ([r["policy_id"], r["policy_year"], r["coverage"], yen(r["annual_limit"]),
                yen(r["paid"]), yen(r["remaining"]), r["claims_open"]] for r in limits), out)
        statuses = ", ".join(f"{k} {v:,}" for k, v in summary["by_status"].items())
        print(f"claims: {summary['claims']:,} ({statuses}); payouts {summary['payouts']:,}; "
              f"paid {yen(summary['paid'])} yen", file=out)
        for line in result.discrepancies:
            print(f"DISCREPANCY {line}", file=out)
    return EXIT_REFUSED if result.discrepancies else EXIT_OK


# terms and demo -------------------------------------------------------------


def cmd_terms(args: argparse.Namespace, out: TextIO) -> int:
    if args.json:
        dump([t.model_dump(mode="json") for t in TERM_SETS], out)
        return EXIT_OK
    for terms in TERM_SETS:
        print(f"terms {terms.version} (in force from {terms.effective_from})", file=out)
        for c in terms.coverages:
            print(f"\n{c.coverage} {c.name_ja} ({c.trigger}): per incident "
                  f"{yen(c.per_incident_limit)}, annual {yen(c.annual_limit)}, deductible "
                  f"{yen(c.deductible)} per incident (the claims filed with one "
                  "incident_id share both)", file=out)
            for e in c.exclusions:
                print(f"  {e.code:<36}{e.ja}", file=out)
        print("\ncauses: " + ", ".join(c.code for c in terms.causes), file=out)
    print("\ndenied by the ledger itself, for both coverages:", file=out)
    for rule in COVER_RULES:
        print(f"  {rule.code:<36}{rule.ja}", file=out)
    print("\nnotice channels (file_claim channel):", file=out)
    for channel in NOTICE_CHANNELS:
        print(f"  {channel.code:<36}{channel.ja}", file=out)
    print(f"notice time bar: {NOTICE_TIME_BAR_YEARS} years after the incident (flagged, "
          f"not refused): {NOTICE_TIME_BAR.ja}", file=out)
    return EXIT_OK


def cmd_demo(s: Session) -> int:
    existing = s.ledger.recorder.max_notification_id()
    if existing and s.args.if_empty:
        print(f"the database already holds {existing:,} events: the demo is not loaded "
              "again", file=sys.stderr)
        return EXIT_OK
    if existing:
        print(f"the database already holds {existing:,} events; the demo loads into a fresh "
              "database: pass --db with a new file", file=sys.stderr)
        return EXIT_USAGE
    text = resources.files("adapters").joinpath("demo.jsonl").read_text(encoding="utf-8")
    results: list[dict[str, Any]] = []
    refused = apply_lines(s.ledger, iter(text.splitlines()), s.args.actor, results.append,
                          Progress("demo", sys.stderr))
    limits = s.fresh().limits()
    if s.args.json:
        dump({"applied": results, "limits": limits}, s.out)
        return EXIT_REFUSED if refused else EXIT_OK
    print("データ保険 demo: the cases of the product terms, applied as commands\n", file=s.out)
    for r in results:
        if r["ok"]:
            print(f"  {r['command']:<16}{describe(r)}", file=s.out)
        else:
            print(f"  refused: {r['message']}", file=s.out)
    print("\nRemaining annual limits (from the read models):\n", file=s.out)
    s.args.policy, s.args.as_of = None, None
    cmd_limits(s)
    print(f"\nTry: .venv/bin/claims-ledger --db {redact(s.args.db)} claim C-DEMO-4",
          file=s.out)
    return EXIT_REFUSED if refused else EXIT_OK


# the HTTP API ---------------------------------------------------------------


def cmd_token(args: argparse.Namespace, out: TextIO) -> int:
    from adapters.auth import TokenConfigError, new_token

    try:
        token = new_token(args.name, args.role, args.tokens_file)
    except (TokenConfigError, OSError, ValueError) as exc:
        print(f"claims-ledger: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(token, file=out)
    print(f"added {args.name} ({args.role}) to {args.tokens_file}; keep the token above, it "
          "is not stored", file=sys.stderr)
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from adapters.auth import TokenConfigError, Tokens
    from adapters.http import build

    try:
        tokens = Tokens.load(args.tokens_file)
    except TokenConfigError as exc:
        raise UsageError(str(exc)) from None
    app = build(args.db, args.read_db, tokens)
    if not len(tokens):
        print("claims-ledger: no bearer tokens are configured: every request but /health "
              "will be refused (make one with `claims-ledger token`)", file=sys.stderr)
    print(f"claims-ledger API listening on http://{args.host}:{args.port} "
          f"(docs: http://{args.host}:{args.port}/docs; console: "
          f"http://{args.host}:{args.port}/console/)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return EXIT_OK


# the parser -----------------------------------------------------------------


def _time(text: str, end_of_day: bool = True) -> datetime:
    """A TIME option's value; a refusal names its rule (``date_format`` or
    ``date_range``)."""
    try:
        return parse_time(text, end_of_day=end_of_day)
    except BadTime as exc:
        raise argparse.ArgumentTypeError(f"{exc} [{exc.rule}]") from None


def _from_time(text: str) -> datetime:
    return _time(text, end_of_day=False)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db", default=argparse.SUPPRESS,
        help=f"event log: SQLite file or postgresql:// URL (default: ${DB_ENV} or ./{DEFAULT_DB})",
    )
    common.add_argument(
        "--read-db", default=argparse.SUPPRESS,
        help=f"read models: SQLite file or postgresql:// URL (default: ${READ_DB_ENV}, "
        "else the event log's database)",
    )
    common.add_argument(
        "--log-replica", action="store_true", default=argparse.SUPPRESS,
        help="--db is a read-only streaming replica of the log: create and append nothing",
    )
    common.add_argument(
        "--read-replica", action="store_true", default=argparse.SUPPRESS,
        help="--read-db is a read-only replica of the read models: read them as "
        "replicated, without catching up",
    )
    common.add_argument(
        "--actor", default=argparse.SUPPRESS,
        help="who is recording (default: $CLAIMS_LEDGER_ACTOR or cli:<user>)",
    )
    reads = argparse.ArgumentParser(add_help=False)
    reads.add_argument("--json", action="store_true", help="machine-readable output")
    as_of = argparse.ArgumentParser(add_help=False)
    as_of.add_argument("--as-of", type=_time, metavar="TIME",
                       help="the state as the ledger knew it at this recorded time, replayed "
                       "from the log (ISO date or date-time; Japan time without an offset)")

    parser = argparse.ArgumentParser(
        prog="claims-ledger",
        description="Event-sourced claims ledger for データ保険 (data insurance).",
        parents=[common],
        epilog="Exit status: 0 ok, 1 refused by a rule (or verify found differences, seal "
        "verify or replay found tampering, explain or replay a figure that disagrees), "
        "2 usage, 3 not found, 4 conflict, 5 database unavailable, 130 interrupted.",
    )
    sub = parser.add_subparsers(dest="action", required=True, metavar="COMMAND")
    p = sub.add_parser("apply", parents=[common, reads],
                       help="apply commands from a JSON Lines file (or - for stdin)")
    p.add_argument("file", metavar="FILE.jsonl")
    p.add_argument("--batch", type=whole_number(1), default=500, metavar="N",
                   help="commands per commit (group commit; default 500): each command is "
                   "still applied or refused on its own")
    p.add_argument("--workers", type=whole_number(1, MAX_WORKERS), metavar="N",
                   help="worker processes, each applying the commands of its share of the "
                   f"policies (default: one per core, at most 4, for a file of {PARALLEL_FROM:,} "
                   f"lines or more; else 1, in this process; at most {MAX_WORKERS}). A "
                   "policy's commands, and commands that share a claim or command id, keep "
                   "the file's order")
    p = sub.add_parser("limits", parents=[common, reads, as_of],
                       help="annual limit, paid and remaining per policy year and coverage")
    p.add_argument("--policy", metavar="ID")
    p = sub.add_parser("claim", parents=[common, reads, as_of],
                       help="a claim's state, payouts with their breakdowns, exclusion")
    p.add_argument("claim_id", metavar="ID")
    p = sub.add_parser("history", parents=[common, reads],
                       help="every event of a policy (with its years and claims) or a claim")
    p.add_argument("id", metavar="ID")
    p.add_argument("--kind", choices=["policy", "claim"],
                   help="which kind of id, when a policy and a claim share it")
    p = sub.add_parser("audit", parents=[common],
                       help="the audit trail, filtered, a page at a time")
    p.add_argument("--policy", metavar="ID")
    p.add_argument("--claim", metavar="ID")
    p.add_argument("--by", dest="actor_filter", metavar="ACTOR", help="recorded by this actor")
    p.add_argument("--type", metavar="EVENT", help="event type, e.g. PayoutIssued")
    p.add_argument("--from", dest="recorded_from", type=_from_time, metavar="TIME",
                   help="recorded at or after (a date means its start, Japan time)")
    p.add_argument("--to", dest="recorded_to", type=_time, metavar="TIME",
                   help="recorded at or before (a date means its end, Japan time)")
    p.add_argument("--after", type=whole_number(0, MAX_POSITION), default=0,
                   metavar="POSITION", help="cursor: only rows after this log position")
    p.add_argument("--limit", type=whole_number(1), default=1000,
                   help="rows at most (default 1000)")
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    p.add_argument("--json", dest="format", action="store_const", const="json",
                   help="the same as --format json, as on the other commands")
    p = sub.add_parser("project", parents=[common],
                       help="catch the read models up with the log, once or --follow")
    p.add_argument("--follow", action="store_true", help="keep following new events")
    p.add_argument("--interval", type=float, default=1.0,
                   help="seconds between polls when idle (default 1)")
    p.add_argument("--page-size", type=whole_number(1), default=PAGE_SIZE,
                   help=f"events per transaction (default {PAGE_SIZE})")
    p = sub.add_parser("rebuild", parents=[common, reads],
                       help="rebuild read models from position 0 into fresh tables, then "
                       "switch readers to them")
    p.add_argument("names", nargs="*", metavar="READ_MODEL",
                   help=f"which ({', '.join(PROJECTIONS)}; default all)")
    p.add_argument("--restart", action="store_true",
                   help="discard a rebuild left part-way instead of resuming it")
    p.add_argument("--page-size", type=whole_number(1), default=PAGE_SIZE,
                   help=f"events per transaction (default {PAGE_SIZE})")
    sub.add_parser("verify", parents=[common, reads],
                   help="replay the log and compare every read model with it")
    sub.add_parser("status", parents=[common, reads],
                   help="each read model's generation, position and lag behind the log")
    sub.add_parser("terms", parents=[common, reads],
                   help="the product terms: limits, deductibles, exclusion codes, causes")
    p = sub.add_parser("demo", parents=[common, reads],
                       help="load the terms' cases into a fresh database and show the result")
    p.add_argument("--if-empty", action="store_true",
                   help="do nothing (and succeed) when the database already holds events")
    p = sub.add_parser("seal", parents=[common, reads],
                       help="the seal over the log: seal up to the end now, write a "
                       "checkpoint file (checkpoint --out FILE), or verify the log "
                       "(verify [--checkpoint FILE])")
    p.add_argument("what", nargs="?", choices=["checkpoint", "verify"],
                   help="checkpoint: also write the last checkpoint to --out; verify: "
                   "recompute the chain and report the first tampered position")
    p.add_argument("--out", metavar="FILE", help="checkpoint file to write (seal checkpoint)")
    p.add_argument("--checkpoint", metavar="FILE",
                   help="a checkpoint file kept outside the system (seal verify)")
    p = sub.add_parser("explain", parents=[common, reads, as_of],
                       help="a claim's decisions in words and figures, recomputed from the "
                       "terms (exit 1 if a recorded figure disagrees)")
    p.add_argument("claim_id", metavar="CLAIM")
    p.add_argument("--lang", choices=LANGS, default="ja", help="ja (default) or en")
    p = sub.add_parser("export", parents=[common, reads],
                       help="write the sealed log to a self-contained file for auditors")
    p.add_argument("--out", metavar="FILE", required=True)
    p.add_argument("--to", type=whole_number(1), metavar="POSITION",
                   help="only events up to this log position")
    p = sub.add_parser("replay", parents=[reads, as_of],
                       help="check and replay an exported file without any database: "
                       "limits per policy year and a summary of claims")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--checkpoint", metavar="FILE",
                   help="also check the export against a checkpoint file kept outside")
    p = sub.add_parser("serve", parents=[common],
                       help="serve the HTTP API (commands, reads, health)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    p.add_argument("--tokens-file", metavar="FILE",
                   help="bearer tokens (default $CLAIMS_LEDGER_TOKENS_FILE; or give the "
                   "JSON in $CLAIMS_LEDGER_TOKENS instead: a file and the variable together "
                   "are refused)")
    p = sub.add_parser("token", help="make a bearer token for the HTTP API and add its hash "
                       "to a tokens file (the token is printed once)")
    p.add_argument("name", help="who the token is for: recorded as the actor of its commands")
    p.add_argument("--role", required=True, choices=["appender", "auditor", "operator"])
    p.add_argument("--tokens-file", metavar="FILE", required=True)
    return parser


ACTIONS: dict[str, Callable[[Session], int]] = {
    "apply": cmd_apply, "limits": cmd_limits, "claim": cmd_claim, "history": cmd_history,
    "audit": cmd_audit, "project": cmd_project, "rebuild": cmd_rebuild, "verify": cmd_verify,
    "status": cmd_status, "demo": cmd_demo, "seal": cmd_seal, "explain": cmd_explain,
    "export": cmd_export,
}


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    try:
        return run(argv, out or sys.stdout)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as other tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _error(text: str) -> None:
    """Say why the command failed, on stderr, with any database password masked."""
    print(f"claims-ledger: {redact(text)}", file=sys.stderr)


def run(argv: list[str] | None, out: TextIO) -> int:
    args = build_parser().parse_args(argv)
    args.db = getattr(args, "db", None) or os.environ.get(DB_ENV) or DEFAULT_DB
    args.read_db = getattr(args, "read_db", None) or os.environ.get(READ_DB_ENV) or args.db
    args.actor = (getattr(args, "actor", None) or os.environ.get("CLAIMS_LEDGER_ACTOR")
                  or f"cli:{getpass.getuser()}")
    args.log_replica = getattr(args, "log_replica", False)
    args.read_replica = getattr(args, "read_replica", False)
    if args.action == "terms":
        return cmd_terms(args, out)
    if args.action == "token":
        return cmd_token(args, out)
    if args.action == "replay":
        return cmd_replay(args, out)
    session = None
    try:
        if args.action == "serve":
            return cmd_serve(args)
        session = Session(args, out)
        return ACTIONS[args.action](session)
    except (UsageError, SealError, ExportError) as exc:
        _error(str(exc))
        return EXIT_USAGE
    except (StorageError, NotBuilt, StoppedAt) as exc:
        _error(str(exc))
        return EXIT_STORAGE
    except (PersistenceError, SQLAlchemyError, sqlite3.Error) as exc:
        _error(f"the database is unavailable: {getattr(exc, 'orig', None) or exc}")
        return EXIT_STORAGE
    except LedgerError as exc:
        if getattr(args, "json", False):
            print(json.dumps(error_json(exc), ensure_ascii=False), file=out)
        _error(str(exc))
        return exit_code(exc)
    finally:
        if session is not None:
            session.close()


if __name__ == "__main__":
    sys.exit(main())
