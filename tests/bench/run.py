"""``make bench``: how fast the ledger appends, rebuilds and reads, against
baselines measured in the same run on the same machine.

Every figure is the median of several runs (with min and max); ratios compare
medians. Baselines: raw SQLite inserts of rows the size of our events (one per
durable transaction, and 1,000 per transaction), a raw scan with JSON decoding,
and the ``eventsourcing`` library's naive get-mutate-save loop (with
``--postgres``, the same on that server too). Then whole ``claims-ledger``
processes on the named shapes of data (``--shapes``, ``--shape-lines``; see
``tests.bench.shapes``). The table ends with the performance targets
(``tests.bench.targets``) and whether this run met them. Nothing here is
asserted: the tests only check that the benchmark runs on a tiny size and that
its verdicts follow from its figures.

    python -m tests.bench --events 20000 --runs 3 --out var/bench.json

``--rebuild-log DB`` measures only the rebuild of an existing, large log (a
whole ``claims-ledger rebuild`` process per run, with its peak memory):

    python -m tests.workload --events 1e6 > var/1m.jsonl
    claims-ledger --db var/1m.db apply var/1m.jsonl
    python -m tests.bench --rebuild-log var/1m.db --runs 3 --out var/rebuild-1m.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.apply import MAX_WORKERS, default_workers
from adapters.cli.output import whole_number
from adapters.storage import is_postgres, redact
from domain.commands import parse_command
from tests.bench import report
from tests.bench.auditors import page_render_ms, seal_rates, unsealed_ledger
from tests.bench.baselines import (
    library_naive,
    raw_insert,
    raw_postgres_insert,
    raw_postgres_scan,
    raw_scan,
)
from tests.bench.feed import commit_to_reader, feed_rate
from tests.bench.load import (
    http_figures,
    load,
    process_counts,
    processes_bench,
    render_processes,
)
from tests.bench.measures import (
    BenchError,
    apply_file,
    ledger_grouped,
    ledger_one_by_one,
    ledger_split,
    peak_rss_mb,
    postgres_problem,
    read_latency,
    read_model_ids,
    rebuild,
    rebuild_process,
    scratch_database,
    storing_only,
)
from tests.bench.shapes import ShapeRuns, shape_names, shapes_problem
from tests.bench.targets import apply_verdicts, large_log_verdicts, shape_verdicts
from tests.workload import SHAPES
from tests.workload import commands as workload

MAX_EVENTS = 10_000_000
"""The largest workload ``--events`` generates: it is held in memory, with each
command parsed, for every run."""


@dataclass(frozen=True)
class Workload:
    """The generated commands, as JSON Lines and parsed, with their policies and claims."""

    seed: int
    commands: list[dict[str, Any]]
    lines: list[str]
    parsed: list[Any]
    policies: list[str]
    claims: list[str]

    @classmethod
    def generate(cls, events: int, seed: int) -> Workload:
        commands = list(workload(events, seed))
        parsed = [parse_command(c) for c in commands]
        return cls(seed, commands, [json.dumps(c, ensure_ascii=False) for c in commands],
                   parsed, [c.policy_id for c in parsed if c.command == "attach_coverage"],
                   [c.claim_id for c in parsed if c.command == "file_claim"])


@dataclass
class Figures:
    """Every value each run took, by name: figures, read latencies, HTTP figures."""

    figures: dict[str, list[float]] = field(default_factory=dict)
    reads: dict[str, list[float]] = field(default_factory=dict)
    http: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    rebuilt: int = 0

    def record(self, name: str, value: float) -> None:
        self.figures.setdefault(name, []).append(value)

    def read(self, name: str, value: float) -> None:
        self.reads.setdefault(name, []).append(value)


def run(events: int, runs: int, seed: int, progress: Callable[[str], None],
        http_commands: int = 0, postgres: str | None = None,
        workers: int | None = None, shapes: tuple[list[str], int] = ([], 0)
        ) -> dict[str, Any]:
    """The default bench: ``runs`` runs of every figure on a generated workload of
    about ``events`` events, on SQLite (and on the PostgreSQL server ``postgres``),
    and whole processes on the named ``shapes`` (names, lines a shape)."""
    with tempfile.TemporaryDirectory() as folder:
        shaped = ShapeRuns(*shapes, seed, Path(folder), postgres)
        shaped.write_files()
        return _run(events, runs, seed, progress, http_commands, postgres, workers, shaped)


def _run(events: int, runs: int, seed: int, progress: Callable[[str], None],
         http_commands: int, postgres: str | None, workers: int | None,
         shaped: ShapeRuns) -> dict[str, Any]:
    work = Workload.generate(events, seed)
    workers = workers or default_workers()
    servers = [None, *([postgres] if postgres else [])]
    taken = Figures()
    for n in range(runs):
        progress(f"run {n + 1}/{runs}")
        _sqlite_baselines(taken)
        if shaped.names:
            shaped.measure(progress, last=n == runs - 1)
        for server in servers:
            if server is not None:
                _postgres_baselines(taken, server)
            _ledger_figures(taken, work, workers, server)
        for server in servers if http_commands else []:
            with tempfile.TemporaryDirectory() as tmp:
                for name, figures in http_figures(Path(tmp), work.lines[:http_commands],
                                                  (1, 8, 32), server).items():
                    for key, value in figures.items():
                        taken.http.setdefault(name, {}).setdefault(key, []).append(value)
    return _result(taken, work, runs, workers, postgres, shaped)


def _sqlite_baselines(taken: Figures) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        taken.record("raw SQLite insert, 1 row per durable commit (rows/s)",
                     raw_insert(Path(tmp), 2000, 1))
    with tempfile.TemporaryDirectory() as tmp:
        taken.record("raw SQLite insert, 1,000 rows per commit (rows/s)",
                     raw_insert(Path(tmp), 100_000, 1000))
    with tempfile.TemporaryDirectory() as tmp:
        taken.record("raw SQLite scan + json.loads (rows/s)", raw_scan(Path(tmp), 100_000))
    with tempfile.TemporaryDirectory() as tmp:
        taken.record("library naive get-mutate-save (commands/s)",
                     library_naive(str(Path(tmp) / "naive.db"), 2000))


def _postgres_baselines(taken: Figures, server: str) -> None:
    with scratch_database(server) as raw:
        taken.record("PostgreSQL: raw insert, 1 row per durable commit (rows/s)",
                     raw_postgres_insert(raw, 1000, 1))
    with scratch_database(server) as raw:
        taken.record("PostgreSQL: raw insert, 1,000 rows per commit (rows/s)",
                     raw_postgres_insert(raw, 100_000, 1000))
    with scratch_database(server) as raw:
        taken.record("PostgreSQL: raw scan + json.loads (rows/s)",
                     raw_postgres_scan(raw, 100_000))
    with scratch_database(server) as raw:
        taken.record("PostgreSQL: library naive get-mutate-save (commands/s)",
                     library_naive(raw, 1000))


def _ledger_figures(taken: Figures, work: Workload, workers: int, server: str | None) -> None:
    """The ledger's figures on SQLite (``server`` None) or on a PostgreSQL server."""
    label = "" if server is None else "PostgreSQL: "
    record = taken.record
    with (scratch_database(server) as db, scratch_database(server) as other,
          scratch_database(server) as read_db, scratch_database(server) as stored):
        record(f"{label}ledger, one commit per command (commands/s)",
               ledger_one_by_one(other, work.parsed[:2000]))
        commits: list[list[Any]] = []
        per_command, per_event = ledger_grouped(db, work.parsed, 500, commits=commits)
        record(f"{label}ledger apply, 500 commands per commit (commands/s)", per_command)
        record(f"{label}ledger apply, 500 commands per commit (events/s)", per_event)
        record(f"{label}storing the same commits' events only, no decisions "
               "(commands/s)", storing_only(stored, commits, len(work.parsed)))
        with scratch_database(server) as alone, scratch_database(server) as split:
            record(f"{label}apply of the JSON Lines, in this process (commands/s)",
                   apply_file(alone, work.lines, 1))
            record(f"{label}apply of the JSON Lines, {workers} worker processes "
                   "(commands/s)", apply_file(split, work.lines, workers))
        with scratch_database(server) as shared:
            record(f"{label}ledger in {workers} processes on shares of the policies, "
                   "no parsing or output (commands/s)",
                   ledger_split(shared, work.commands, workers))
        rate, count = rebuild(db, read_db)
        record(f"{label}rebuild of all read models (events/s)", rate)
        for name, value in read_latency(db, work.policies, work.claims).items():
            taken.read(f"{label}{name}", value)
        record(f"{label}event feed, the whole log 1,000 a page (events/s)", feed_rate(db))
        for name, value in commit_to_reader(other).items():
            taken.read(f"{label}{name}", value)
        if server is None:
            taken.rebuilt = count
            _sqlite_only(taken, work, db)


def _sqlite_only(taken: Figures, work: Workload, db: str) -> None:
    """The console's pages, the auditor tools and the ledger without the seal, on
    the SQLite log ``db`` that the ledger's figures wrote."""
    for name, value in page_render_ms(db, work.policies, work.claims).items():
        taken.read(name, value)
    with tempfile.TemporaryDirectory() as tmp:
        for name, value in seal_rates(db, Path(tmp)).items():
            taken.record(name, value)
    with scratch_database(None) as bare, scratch_database(None) as bare_read:
        taken.record("ledger apply without the seal, 500 commands per commit (commands/s)",
                     ledger_grouped(bare, work.parsed, 500, unsealed_ledger)[0])
        taken.record("rebuild of all read models, log without the seal (events/s)",
                     rebuild(bare, bare_read)[0])


def _result(taken: Figures, work: Workload, runs: int, workers: int,
            postgres: str | None, shaped: ShapeRuns) -> dict[str, Any]:
    table = {name: report.summary(values) for name, values in taken.figures.items()}
    med = {name: v["median"] for name, v in table.items()}
    ratios = report.ratios(med, workers)
    if postgres:
        ratios.update(report.postgres_ratios(med, workers))
    result: dict[str, Any] = {
        "machine": report.machine(),
        "workload": {"seed": work.seed, "commands": len(work.parsed), "events": taken.rebuilt,
                     "policies": len(work.policies), "claims": len(work.claims)},
        "runs": runs, "figures": table, "ratios": ratios,
        "reads_ms": {name: report.summary(values) for name, values in taken.reads.items()},
        "http": {name: {key: report.summary(values) for key, values in figures.items()}
                 for name, figures in taken.http.items()},
    }
    if shaped.names:
        result.update(shaped.result(table))
    result["targets"] = [v.as_json() for v in [
        *apply_verdicts(result, workers), *shape_verdicts(result.get("shapes")),
        *shape_verdicts(result.get("postgres_shapes"))]]
    return result


def rebuild_log(log_db: str, runs: int, progress: Callable[[str], None]) -> dict[str, Any]:
    """``--rebuild-log``: on an existing (large) log, the rebuild, each run a
    whole process into a fresh read database, beside the raw scan baseline; then
    reads and console pages on the read models that run built."""
    taken = Figures()
    events = 0
    for n in range(runs):
        progress(f"run {n + 1}/{runs}")
        with tempfile.TemporaryDirectory() as tmp:
            taken.record("raw SQLite scan + json.loads (rows/s)", raw_scan(Path(tmp), 100_000))
        with tempfile.TemporaryDirectory() as tmp:
            read_db = str(Path(tmp) / "read.db")
            rate, events = rebuild_process(log_db, read_db)
            taken.record("rebuild of all read models, whole process (events/s)", rate)
            policies, claims = read_model_ids(log_db, read_db)
            for name, value in [*read_latency(log_db, policies, claims, 2000, read_db).items(),
                                *page_render_ms(log_db, policies, claims,
                                                read_db=read_db).items()]:
                taken.read(name, value)
    table = {name: report.summary(values) for name, values in taken.figures.items()}
    result = {
        "machine": report.machine(),
        "workload": {"log": log_db, "events": events},
        "runs": runs, "figures": table,
        "reads_ms": {name: report.summary(values) for name, values in taken.reads.items()},
        "peak_rss_mb": peak_rss_mb(),
        "ratios": {"rebuild / raw scan + json.loads":
                   table["rebuild of all read models, whole process (events/s)"]["median"]
                   / table["raw SQLite scan + json.loads (rows/s)"]["median"]},
    }
    result["targets"] = [v.as_json() for v in large_log_verdicts(result)]
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.bench",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=whole_number(1, MAX_EVENTS), default=20_000,
                        help="size of the generated ledger, in events (e.g. 1e6; at most "
                        f"{MAX_EVENTS:,}: the workload is held in memory)")
    parser.add_argument("--runs", type=whole_number(1), default=3, help="runs per figure (median)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default="var/bench.json", help="where to write the JSON")
    parser.add_argument("--postgres", metavar="URL",
                        help="also measure the ledger, the same baselines, the library's "
                        "naive loop, the HTTP API and the shapes on this PostgreSQL server, "
                        "each in a schema of its own, dropped afterwards "
                        "(e.g. postgresql://postgres@127.0.0.1:5432/test)")
    parser.add_argument("--workers", type=whole_number(1, MAX_WORKERS), metavar="N",
                        help="worker processes for the `apply` figure (default: as "
                        "`claims-ledger apply` starts for a long file; at most "
                        f"{MAX_WORKERS})")
    parser.add_argument("--http-commands", type=whole_number(0), default=2000,
                        help="commands sent per HTTP concurrency level (0 skips HTTP)")
    parser.add_argument("--rebuild-log", metavar="DB",
                        help="measure on this existing log only: its rebuild (a whole "
                        "`claims-ledger rebuild` process per run, into a fresh read "
                        "database), then reads and console pages on the read models "
                        "built; e.g. a log of 1e6 events made with `python -m "
                        "tests.workload --events 1e6 | claims-ledger --db DB apply -`")
    parser.add_argument("--shapes", type=shape_names, default="a,b,c,d", metavar="LIST",
                        help="the named shapes (comma-separated, or none) applied by whole "
                        "`claims-ledger apply --json` processes: "
                        + "; ".join(f"{k}: {v.title.replace('%', '%%')}"
                                    for k, v in SHAPES.items()))
    parser.add_argument("--shape-lines", type=whole_number(1, MAX_EVENTS), default=100_000,
                        metavar="N", help="lines of each shape's file (as many claims per "
                        "policy as at 100,000)")
    parser.add_argument("--http-processes", type=process_counts, metavar="N,N,...",
                        help="with --postgres, measure only HTTP at 32 clients with each "
                        "number of server processes (e.g. 1,2,4), alternating, and the ratios")
    parser.add_argument("--load", nargs=4, metavar=("URL", "TOKEN", "CLIENTS", "FILE"),
                        help=argparse.SUPPRESS)
    return parser


def _load(parser: argparse.ArgumentParser, args: list[str]) -> int:
    """``--load URL TOKEN CLIENTS FILE``: the load generator's own process."""
    url, token, clients, path = args
    try:
        count = whole_number(1)(clients)
    except argparse.ArgumentTypeError as exc:
        parser.error(f"--load CLIENTS {exc}")
    try:
        print(json.dumps(load(url, token, count, path)))
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.load:
        return _load(parser, args.load)

    def progress(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    out = Path(args.out)
    problem = report.output_problem(out)
    if problem:
        parser.error(f"--out: {problem}")
    log = args.rebuild_log
    if log and not is_postgres(log) and not Path(log).is_file():
        parser.error(f"--rebuild-log: {redact(log)} is not a file; make a log first (see --help)")
    problem = shapes_problem(args.shapes, args.shape_lines)
    if problem:
        parser.error(problem)
    if args.postgres and not log:
        problem = postgres_problem(args.postgres)
        if problem:
            parser.error(f"--postgres: {problem}")
    if args.http_processes:
        if not args.postgres:
            parser.error("--http-processes: needs --postgres URL (more server processes "
                         "need PostgreSQL)")
        result = processes_bench(args.postgres, args.http_processes, args.runs, Workload.generate(
            args.events, args.seed).lines[:args.http_commands], progress)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(render_processes(result))
        return 0
    try:
        result = (rebuild_log(args.rebuild_log, args.runs, progress) if args.rebuild_log
                  else run(args.events, args.runs, args.seed, progress,
                           args.http_commands, args.postgres, args.workers,
                           (args.shapes, args.shape_lines)))
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(report.render(result))
    print(f"\n(JSON: {args.out})")
    return 0
