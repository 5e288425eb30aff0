"""``make bench``: how fast the ledger appends, rebuilds and reads, against
baselines measured in the same run on the same machine.

Every figure is the median of several runs (with min and max); ratios compare
medians. Baselines: raw SQLite inserts of rows the size of our events (one per
durable transaction, and 1,000 per transaction), a raw scan with JSON decoding,
and the ``eventsourcing`` library's naive get-mutate-save loop (with
``--postgres``, the same on that server too). The table ends
with the performance targets (``adapters.bench_targets``) and whether this run
met them. Nothing here is asserted: the tests only check that the benchmark
runs on a tiny size and that its verdicts follow from its figures.

    python -m adapters.bench --events 20000 --runs 3 --out var/bench.json

``--rebuild-log DB`` measures only the rebuild of an existing, large log (a
whole ``claims-ledger rebuild`` process per run, with its peak memory):

    python -m adapters.workload --events 1e6 > var/1m.jsonl
    claims-ledger --db var/1m.db apply var/1m.jsonl
    python -m adapters.bench --rebuild-log var/1m.db --runs 3 --out var/rebuild-1m.json
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import platform
import queue
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from adapters.applying import (
    MAX_WORKERS,
    Workers,
    apply_lines,
    default_workers,
    render_json,
    worker_of,
)
from adapters.bench_auditors import page_render_ms, seal_rates, unsealed_ledger
from adapters.bench_targets import Verdict, apply_verdicts, large_log_verdicts
from adapters.bench_targets import render as render_verdicts
from adapters.console import Progress, whole_number
from adapters.storage import StorageError, is_postgres, open_ledger, persistence_env, redact
from adapters.workload import commands as workload
from domain.commands import parse_command
from domain.ledger import Ledger
from projections.audit_trail import AuditQuery
from projections.read_models import ReadModels
from projections.store import open_store

ROW = json.dumps({"timestamp": "2026-01-15T03:00:00.123456Z", "actor": "svc-claims",
                  "command_id": uuid.uuid4().hex, "claim_id": "P0000001-C1",
                  "policy_id": "P0000001", "policy_year": 1, "coverage": "data_media",
                  "payout_id": "payout-1", "amount": 700000,
                  "breakdown": {"loss": 800000, "deductible": 100000,
                                "annual_remaining_before": 1000000}}).encode()


def _sqlite(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, "
                 "aggregate TEXT, version INTEGER, topic TEXT, state BLOB)")
    return conn


def raw_insert(folder: Path, rows: int, per_transaction: int) -> float:
    conn = _sqlite(str(folder / "raw.db"))
    started = time.perf_counter()
    for start in range(0, rows, per_transaction):
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO rows (aggregate, version, topic, state) "
                         "VALUES (?, ?, ?, ?)",
                         [(f"claim:{i}", 1, "PayoutIssued", ROW)
                          for i in range(start, min(start + per_transaction, rows))])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return rows / elapsed


def _decode_rate(rows: Iterable[tuple[bytes]]) -> float:
    """Rows per second of reading ``rows`` (each a row's state) and decoding each
    state's JSON."""
    started = time.perf_counter()
    count = 0
    for (state,) in rows:
        json.loads(state)
        count += 1
    return count / (time.perf_counter() - started)


def raw_scan(folder: Path, rows: int) -> float:
    raw_insert(folder, rows, 1000)
    conn = _sqlite(str(folder / "raw.db"))
    rate = _decode_rate(conn.execute("SELECT state FROM rows"))
    conn.close()
    return rate


def _postgres(db: str) -> Any:
    """A connection to the bench's schema in ``db`` (a URL with ``?schema=``), in
    autocommit, with the baselines' table; commits are durable (the server's
    default ``synchronous_commit``)."""
    import psycopg

    url = urllib.parse.urlsplit(db)
    schema = urllib.parse.parse_qs(url.query)["schema"][0]
    conn = psycopg.connect(url._replace(query="").geturl(), autocommit=True)
    conn.execute(f'SET search_path TO "{schema}"')
    conn.execute("CREATE TABLE IF NOT EXISTS rows (id BIGSERIAL PRIMARY KEY, "
                 "aggregate TEXT, version INTEGER, topic TEXT, state BYTEA)")
    return conn


def raw_postgres_insert(db: str, rows: int, per_transaction: int) -> float:
    """``raw_insert`` on PostgreSQL: ``per_transaction`` rows per commit, with the
    driver's ``executemany``."""
    conn = _postgres(db)
    started = time.perf_counter()
    for start in range(0, rows, per_transaction):
        with conn.transaction(), conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO rows (aggregate, version, topic, state) VALUES (%s, %s, %s, %s)",
                [(f"claim:{i}", 1, "PayoutIssued", ROW)
                 for i in range(start, min(start + per_transaction, rows))])
    elapsed = time.perf_counter() - started
    conn.close()
    return rows / elapsed


def raw_postgres_scan(db: str, rows: int) -> float:
    """``raw_scan`` on PostgreSQL: every row read (a server-side cursor, as a
    rebuild pages through the log) and its JSON decoded."""
    raw_postgres_insert(db, rows, 1000)
    conn = _postgres(db)
    with conn.transaction(), conn.cursor(name="scan") as cursor:
        cursor.itersize = 10_000
        rate = _decode_rate(cursor.execute("SELECT state FROM rows"))
    conn.close()
    return rate


class Counter(Aggregate):
    """The library's own style of aggregate, for its naive loop."""

    def __init__(self) -> None:
        self.count = 0

    @event("Incremented")
    def increment(self, by: int) -> None:
        self.count += by


class Naive(Application[Any]):
    pass


def library_naive(db: str, commands: int) -> float:
    """Commands per second of the library's own get-mutate-save loop, with its own
    recorder, on ``db`` (a SQLite file or a PostgreSQL URL)."""
    env = persistence_env(db)
    del env["APPLICATION_RECORDER_TOPIC"]
    app = Naive(env=env)
    ids = []
    for _ in range(50):
        counter = Counter()
        app.save(counter)
        ids.append(counter.id)
    started = time.perf_counter()
    for i in range(commands):
        counter = app.repository.get(ids[i % len(ids)])
        counter.increment(by=1)
        app.save(counter)
    elapsed = time.perf_counter() - started
    app.close()
    return commands / elapsed


def _ledger(db: str) -> Ledger:
    # As the CLI opens it: on PostgreSQL, processes starting together then do
    # not run the library's DDL at once (which fails: "tuple concurrently updated").
    return open_ledger(db)


def ledger_one_by_one(db: str, parsed: list[Any]) -> float:
    ledger = _ledger(db)
    started = time.perf_counter()
    for command in parsed:
        try:
            ledger.execute(command, actor="bench")
        except Exception:
            continue
    elapsed = time.perf_counter() - started
    ledger.close()
    return len(parsed) / elapsed


def ledger_grouped(db: str, parsed: list[Any], batch: int,
                   make: Callable[[str], Ledger] | None = None,
                   commits: list[list[Any]] | None = None) -> tuple[float, float]:
    """Commands per second, and the events per second they appended. If
    ``commits`` is given, the events of each commit are added to it."""
    ledger = (make or _ledger)(db)
    if commits is not None:
        append = ledger.append

        def keep(events: list[Any]) -> Any:
            commits.append(events)
            return append(events)

        ledger.append = keep  # type: ignore[method-assign]
    started = time.perf_counter()
    for start in range(0, len(parsed), batch):
        ledger.execute_many(parsed[start:start + batch], actor="bench")
    elapsed = time.perf_counter() - started
    events = ledger.recorder.max_notification_id() or 0
    ledger.close()
    return len(parsed) / elapsed, events / elapsed


def apply_file(db: str, lines: list[str], workers: int) -> float:
    """Commands per second of ``claims-ledger apply`` on JSON Lines (parsing each
    line, 500 commands per commit, each line's result rendered as ``--json``
    prints it): in this process (``workers`` 1), or split by policy over worker
    processes, started before the clock starts."""
    ledger = _ledger(db)
    progress = Progress("bench", io.StringIO())
    try:
        if workers == 1:
            started = time.perf_counter()
            rendered: list[str] = []
            apply_lines(ledger, iter(lines), "bench", lambda r: rendered.append(render_json(r)),
                        progress, batch=500)
            return len(lines) / (time.perf_counter() - started)
        with Workers(db, "bench", workers=workers, batch=500, render=render_json) as pool:
            started = time.perf_counter()
            rendered = []
            pool.apply(ledger, iter(lines), rendered.append, progress)
            return len(lines) / (time.perf_counter() - started)
    finally:
        ledger.close()


def ledger_split(db: str, commands: list[dict[str, Any]], workers: int) -> float:
    """Commands per second of ``Ledger.execute_many`` (500 commands per commit)
    in ``workers`` processes at once on one database, each on the commands of
    its share of the policies, parsed before the clock starts, with no output:
    the ceiling of ``apply`` with workers (which also parses each line, renders
    each result and routes lines between processes)."""
    shares: list[list[dict[str, Any]]] = [[] for _ in range(workers)]
    owner: dict[str, str] = {}
    for command in commands:
        policy = command.get("policy_id") or owner[command["claim_id"]]
        if command["command"] == "file_claim":
            owner.setdefault(command["claim_id"], policy)
        shares[worker_of(policy, workers)].append(command)
    _ledger(db).close()  # the tables, before the processes race to make them
    context = multiprocessing.get_context("spawn")
    ready, finished, go = context.Queue(), context.Queue(), context.Event()
    processes = [context.Process(target=_split_share, args=(db, share, ready, go, finished))
                 for share in shares]
    for process in processes:
        process.start()
    for _ in processes:
        _get(ready, processes)
    started = time.perf_counter()  # CLOCK_MONOTONIC: the same clock in every process
    go.set()
    ended = float(max(_get(finished, processes) for _ in processes))
    for process in processes:
        process.join()
    return len(commands) / (ended - started)


def _get(results: Any, processes: list[Any]) -> Any:
    """The next item of a queue the ``processes`` put to; an error if one of
    them ended with a failure first (its traceback is on stderr)."""
    while True:
        try:
            return results.get(timeout=1)
        except queue.Empty:
            failed = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
            if failed:
                for process in processes:
                    process.kill()
                msg = f"a process of the bench failed (exit code {failed[0]})"
                raise BenchError(msg) from None


def _split_share(db: str, commands: list[dict[str, Any]], ready: Any, go: Any,
                 finished: Any) -> None:
    parsed = [parse_command(c) for c in commands]
    ledger = _ledger(db)
    ready.put(True)
    go.wait()
    for start in range(0, len(parsed), 500):
        ledger.execute_many(parsed[start:start + 500], actor="bench")
    finished.put(time.perf_counter())
    ledger.close()


def storing_only(db: str, commits: list[list[Any]], commands: int) -> float:
    """Commands per second when the ledger only stores events decided beforehand
    (the same commits as a grouped apply: mapping, seal and durable commit, no
    decision): the ceiling of ``apply`` on this storage."""
    ledger = _ledger(db)
    started = time.perf_counter()
    for events in commits:
        ledger.append(events)
    elapsed = time.perf_counter() - started
    ledger.close()
    return commands / elapsed


def rebuild(db: str, read_db: str) -> tuple[float, int]:
    """Events per second of a full rebuild of every read model (into a database
    of their own), and the events rebuilt."""
    ledger = _ledger(db)
    models = ReadModels(ledger, open_store(read_db))
    started = time.perf_counter()
    applied = models.rebuild()
    elapsed = time.perf_counter() - started
    models.close()
    ledger.close()
    return applied / elapsed, applied


def rebuild_process(log_db: str, folder: Path) -> tuple[float, int]:
    """Events per second of a whole ``claims-ledger rebuild`` process (start-up
    included) into a fresh read database, and the events rebuilt."""
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "adapters.cli", "--db", log_db,
                          "--read-db", str(folder / "read.db"), "rebuild", "--json"],
                         capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if run.returncode != 0:
        msg = redact(f"`claims-ledger rebuild` of {log_db} failed:\n{run.stderr.strip()}")
        raise BenchError(msg)
    events = int(json.loads(run.stdout)["events"])
    if not events:
        msg = f"{redact(log_db)} holds no events: nothing to rebuild or read"
        raise BenchError(msg)
    return events / elapsed, events


class BenchError(Exception):
    """A measurement that cannot be made on what it was given."""


def peak_rss_mb() -> float:
    """The peak resident memory of the largest process this one has waited for
    (a rebuild's helper processes included)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def rebuild_log(log_db: str, runs: int, progress: Callable[[str], None]) -> dict[str, Any]:
    """``--rebuild-log``: on an existing (large) log, the rebuild, each run a
    whole process into a fresh read database, beside the raw scan baseline; then
    reads and console pages on the read models that run built."""
    figures: dict[str, list[float]] = {}
    reads: dict[str, list[float]] = {}
    events = 0
    for n in range(runs):
        progress(f"run {n + 1}/{runs}")
        with tempfile.TemporaryDirectory() as tmp:
            figures.setdefault("raw SQLite scan + json.loads (rows/s)", []).append(
                raw_scan(Path(tmp), 100_000))
        with tempfile.TemporaryDirectory() as tmp:
            rate, events = rebuild_process(log_db, Path(tmp))
            figures.setdefault("rebuild of all read models, whole process (events/s)",
                               []).append(rate)
            read_db = str(Path(tmp) / "read.db")
            policies, claims = read_model_ids(log_db, read_db)
            for name, value in [*read_latency(log_db, policies, claims, 2000, read_db).items(),
                                *page_render_ms(log_db, policies, claims,
                                                read_db=read_db).items()]:
                reads.setdefault(name, []).append(value)
    table = {name: summary(values) for name, values in figures.items()}
    result = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count()},
        "workload": {"log": log_db, "events": events},
        "runs": runs, "figures": table,
        "reads_ms": {name: summary(values) for name, values in reads.items()},
        "peak_rss_mb": peak_rss_mb(),
        "ratios": {"rebuild / raw scan + json.loads":
                   table["rebuild of all read models, whole process (events/s)"]["median"]
                   / table["raw SQLite scan + json.loads (rows/s)"]["median"]},
    }
    result["targets"] = [v.as_json() for v in large_log_verdicts(result)]
    return result


def read_model_ids(db: str, read_db: str) -> tuple[list[str], list[str]]:
    """Every policy id and claim id in the read models (claims from the audit
    trail's ``ClaimFiled`` rows), read a page at a time."""
    ledger = _ledger(db)
    models = ReadModels(ledger, open_store(read_db))
    policies: list[str] = []
    while page := models.policies(after=policies[-1] if policies else "", limit=1000):
        policies.extend(dict.fromkeys(row["policy_id"] for row in page))
    claims: list[str] = []
    after = 0
    while page := models.audit(AuditQuery(event_type="ClaimFiled", after=after)):
        claims.extend(row["claim_id"] for row in page)
        after = page[-1]["position"]
    models.close()
    ledger.close()
    return policies, claims


def read_latency(db: str, policies: list[str], claims: list[str],
                 reads: int = 1000, read_db: str | None = None) -> dict[str, float]:
    """p50 and p99 milliseconds of reading a random policy's limits and a random
    claim (``read_db``: where the read models are, if not in ``db``)."""
    ledger = _ledger(db)
    models = ReadModels(ledger, open_store(read_db or db))
    models.catch_up()
    rng = random.Random(1)
    found: dict[str, float] = {}
    for name, read, keys in (("limits", models.limits, policies),
                             ("claim", models.claim, claims)):
        if not keys:  # e.g. a log with no claim yet
            continue
        times = []
        for _ in range(reads):
            key = rng.choice(keys)
            started = time.perf_counter()
            read(key)
            times.append(time.perf_counter() - started)
        times.sort()
        found[f"{name}_p50_ms"] = 1000 * times[len(times) // 2]
        found[f"{name}_p99_ms"] = 1000 * times[int(len(times) * 0.99) - 1]
    models.close()
    ledger.close()
    return found


def load(url: str, token: str, concurrency: int, path: str) -> dict[str, float]:
    """The load generator (run in its own process): send the commands in ``path``
    from ``concurrency`` clients, each owning whole policies so that a claim's
    commands stay in order, each on its own keep-alive connection; report
    commands/s and latency. Each request is prepared before the clock starts
    and each response is read with plain asyncio streams: an HTTP
    client library took ~1 ms of CPU per request, as much as the server,
    on the same two cores."""
    import asyncio

    address = urllib.parse.urlsplit(url)
    if address.scheme != "http" or not address.hostname or not address.port:
        raise BenchError(f"{url}: expected http://HOST:PORT")
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BenchError(f"cannot read {path}: {exc.strerror}") from None
    lanes: list[list[bytes]] = [[] for _ in range(concurrency)]
    for number, line in enumerate(lines, start=1):
        try:
            command = json.loads(line)
        except json.JSONDecodeError:
            raise BenchError(f"{path} line {number} is not JSON") from None
        owner = (command.get("policy_id") or str(command.get("claim_id", "")).split("-")[0]
                 if isinstance(command, dict) else "")
        # A command naming no policy goes to the first client (the server refuses it).
        lane = zlib.crc32(owner.encode()) % concurrency if isinstance(owner, str) else 0
        body = line.encode()
        lanes[lane].append(
            b"POST /commands HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (address.netloc.encode(), token.encode(), len(body), body))
    latencies: list[float] = []

    async def client(lane: list[bytes]) -> None:
        try:
            reader, writer = await asyncio.open_connection(address.hostname, address.port)
        except OSError as exc:
            raise BenchError(f"cannot connect to {url}: {exc.strerror or exc}") from None
        try:
            for request in lane:
                started = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                fields = {name.strip().lower(): value for name, value in (
                    line.split(b":", 1) for line in head.split(b"\r\n")[1:-2])}
                length = int(fields[b"content-length"])
                body = await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                if int(head.split(b" ", 2)[1]) >= 500:
                    raise BenchError(f"the server failed: {body.decode()}")
        finally:
            writer.close()

    async def clients() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(client(lane) for lane in lanes))
        return time.perf_counter() - started

    elapsed = asyncio.run(clients())
    latencies.sort()
    return {"commands": len(latencies), "commands_per_s": len(latencies) / elapsed,
            "p50_ms": 1000 * latencies[len(latencies) // 2],
            "p99_ms": 1000 * latencies[max(int(len(latencies) * 0.99) - 1, 0)]}


def http_figures(folder: Path, commands_json: list[str], levels: tuple[int, ...],
                 postgres: str | None = None) -> dict[str, dict[str, float]]:
    """Start `claims-ledger serve` on a free loopback port and load it from a
    separate process at each concurrency level (a fresh ledger for each: a
    SQLite file, or a schema of its own on the PostgreSQL server ``postgres``)."""
    import socket

    import httpx

    from adapters.auth import new_token

    found = {}
    label = "" if postgres is None else "PostgreSQL: "
    for level in levels:
        with _database(postgres) as db:
            tokens_file = str(folder / f"tokens-{level}.json")
            token = new_token("bench", "appender", tokens_file)
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            server = subprocess.Popen([sys.executable, "-m", "adapters.cli", "--db", db, "serve",
                                       "--port", str(port), "--tokens-file", tokens_file],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            url = f"http://127.0.0.1:{port}"
            try:
                for _ in range(300):
                    try:
                        httpx.get(f"{url}/health", timeout=1)
                        break
                    except httpx.TransportError:
                        time.sleep(0.1)
                path = folder / "http-commands.jsonl"
                path.write_text("\n".join(commands_json) + "\n")
                run = subprocess.run([sys.executable, "-m", "adapters.bench", "--load", url,
                                      token, str(level), str(path)],
                                     capture_output=True, text=True, check=False)
                if run.returncode != 0:
                    msg = f"the HTTP load generator failed:\n{run.stderr.strip()}"
                    raise BenchError(msg)
                found[f"{label}HTTP, {level} concurrent clients"] = json.loads(run.stdout)
            finally:
                server.terminate()
                server.wait(timeout=30)
    return found


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def postgres_problem(url: str) -> str | None:
    """What keeps the bench from measuring on the PostgreSQL server ``url``
    (checked before any figure is taken), or None."""
    if not is_postgres(url):
        return f"{redact(url)} is not a postgresql:// URL (e.g. postgresql://postgres@127.0.0.1:5432/test)"
    try:
        persistence_env(url)  # the ledger's own checks of a database URL
    except StorageError as exc:
        return str(exc)
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=10).close()
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return redact(f"cannot connect to {url}: {first}")
    return None


@contextmanager
def _database(postgres: str | None) -> Iterator[str]:
    """A fresh database: a SQLite file in a temporary folder, or a schema of its
    own on the PostgreSQL server ``postgres`` (dropped afterwards)."""
    if postgres is None:
        with tempfile.TemporaryDirectory() as tmp:
            yield str(Path(tmp) / "ledger.db")
        return
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{postgres}?schema={schema}"
    finally:
        with psycopg.connect(postgres, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def run(events: int, runs: int, seed: int, progress: Callable[[str], None],
        http_commands: int = 0, postgres: str | None = None,
        workers: int | None = None) -> dict[str, Any]:
    raw_commands = list(workload(events, seed))
    lines = [json.dumps(c, ensure_ascii=False) for c in raw_commands]
    parsed = [parse_command(c) for c in raw_commands]
    workers = workers or default_workers()
    policies = [c.policy_id for c in parsed if c.command == "attach_coverage"]
    claims = [c.claim_id for c in parsed if c.command == "file_claim"]
    small = parsed[: min(len(parsed), 2000)]
    figures: dict[str, list[float]] = {}
    extra: dict[str, list[float]] = {}
    http: dict[str, dict[str, list[float]]] = {}
    rebuilt = 0

    def record(name: str, value: float) -> None:
        figures.setdefault(name, []).append(value)

    for n in range(runs):
        progress(f"run {n + 1}/{runs}")
        with tempfile.TemporaryDirectory() as tmp:
            record("raw SQLite insert, 1 row per durable commit (rows/s)",
                   raw_insert(Path(tmp), 2000, 1))
        with tempfile.TemporaryDirectory() as tmp:
            record("raw SQLite insert, 1,000 rows per commit (rows/s)",
                   raw_insert(Path(tmp), 100_000, 1000))
        with tempfile.TemporaryDirectory() as tmp:
            record("raw SQLite scan + json.loads (rows/s)", raw_scan(Path(tmp), 100_000))
        with tempfile.TemporaryDirectory() as tmp:
            record("library naive get-mutate-save (commands/s)",
                   library_naive(str(Path(tmp) / "naive.db"), 2000))
        for backend in ["sqlite", *(["postgresql"] if postgres else [])]:
            label = "" if backend == "sqlite" else "PostgreSQL: "
            server = postgres if backend == "postgresql" else None
            if server is not None:
                with _database(server) as raw:
                    record("PostgreSQL: raw insert, 1 row per durable commit (rows/s)",
                           raw_postgres_insert(raw, 1000, 1))
                with _database(server) as raw:
                    record("PostgreSQL: raw insert, 1,000 rows per commit (rows/s)",
                           raw_postgres_insert(raw, 100_000, 1000))
                with _database(server) as raw:
                    record("PostgreSQL: raw scan + json.loads (rows/s)",
                           raw_postgres_scan(raw, 100_000))
                with _database(server) as raw:
                    record("PostgreSQL: library naive get-mutate-save (commands/s)",
                           library_naive(raw, 1000))
            with (_database(server) as db, _database(server) as other,
                  _database(server) as read_db, _database(server) as stored):
                record(f"{label}ledger, one commit per command (commands/s)",
                       ledger_one_by_one(other, small))
                commits: list[list[Any]] = []
                per_command, per_event = ledger_grouped(db, parsed, 500, commits=commits)
                record(f"{label}ledger apply, 500 commands per commit (commands/s)",
                       per_command)
                record(f"{label}ledger apply, 500 commands per commit (events/s)", per_event)
                record(f"{label}storing the same commits' events only, no decisions "
                       "(commands/s)", storing_only(stored, commits, len(parsed)))
                with _database(server) as alone, _database(server) as split:
                    record(f"{label}apply of the JSON Lines, in this process (commands/s)",
                           apply_file(alone, lines, 1))
                    record(f"{label}apply of the JSON Lines, {workers} worker processes "
                           "(commands/s)", apply_file(split, lines, workers))
                with _database(server) as shared:
                    record(f"{label}ledger in {workers} processes on shares of the policies, "
                           "no parsing or output (commands/s)",
                           ledger_split(shared, raw_commands, workers))
                rate, count = rebuild(db, read_db)
                record(f"{label}rebuild of all read models (events/s)", rate)
                for name, value in read_latency(db, policies, claims).items():
                    extra.setdefault(f"{label}{name}", []).append(value)
                if backend == "sqlite":
                    rebuilt = count
                    for name, value in page_render_ms(db, policies, claims).items():
                        extra.setdefault(name, []).append(value)
                    with tempfile.TemporaryDirectory() as tmp:
                        for name, value in seal_rates(db, Path(tmp)).items():
                            record(name, value)
                    with _database(None) as bare, _database(None) as bare_read:
                        record("ledger apply without the seal, 500 commands per commit "
                               "(commands/s)",
                               ledger_grouped(bare, parsed, 500, unsealed_ledger)[0])
                        record("rebuild of all read models, log without the seal "
                               "(events/s)", rebuild(bare, bare_read)[0])
        for server in [None, *([postgres] if postgres and http_commands else [])]:
            if not http_commands:
                break
            with tempfile.TemporaryDirectory() as tmp:
                for name, figures_ in http_figures(Path(tmp), lines[:http_commands],
                                                   (1, 8, 32), server).items():
                    for key, value in figures_.items():
                        http.setdefault(name, {}).setdefault(key, []).append(value)
    table = {name: summary(values) for name, values in figures.items()}
    med = {name: v["median"] for name, v in table.items()}
    grouped = med["ledger apply, 500 commands per commit (commands/s)"]
    ratios = {
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
    if postgres:
        pg_grouped = med["PostgreSQL: ledger apply, 500 commands per commit (commands/s)"]
        pg_split = med[f"PostgreSQL: apply of the JSON Lines, {workers} worker processes "
                       "(commands/s)"]
        pg_durable = med["PostgreSQL: raw insert, 1 row per durable commit (rows/s)"]
        ratios.update({
            "PostgreSQL: grouped apply / raw 1-row durable inserts": pg_grouped / pg_durable,
            f"PostgreSQL: apply with {workers} workers / raw 1-row durable inserts":
                pg_split / pg_durable,
            f"PostgreSQL: apply with {workers} workers / library naive loop":
                pg_split / med["PostgreSQL: library naive get-mutate-save (commands/s)"],
            "PostgreSQL: rebuild / raw scan + json.loads":
                med["PostgreSQL: rebuild of all read models (events/s)"]
                / med["PostgreSQL: raw scan + json.loads (rows/s)"],
        })
    result = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count()},
        "workload": {"seed": seed, "commands": len(parsed), "events": rebuilt,
                     "policies": len(policies), "claims": len(claims)},
        "runs": runs, "figures": table, "ratios": ratios,
        "reads_ms": {name: summary(values) for name, values in extra.items()},
        "http": {name: {key: summary(values) for key, values in figures_.items()}
                 for name, figures_ in http.items()},
    }
    result["targets"] = [v.as_json() for v in apply_verdicts(result, workers)]
    return result


def render(result: dict[str, Any]) -> str:
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
        render_verdicts([Verdict(**v) for v in result.get("targets", [])], width),
    ]
    for section in sections:
        if section:
            lines.extend([*section, ""])
    return "\n".join(lines).rstrip()


MAX_EVENTS = 10_000_000
"""The largest workload ``--events`` generates: it is held in memory, with each
command parsed, for every run."""


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adapters.bench",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=whole_number(1, MAX_EVENTS), default=20_000,
                        help="size of the generated ledger, in events (e.g. 1e6; at most "
                        f"{MAX_EVENTS:,}: the workload is held in memory)")
    parser.add_argument("--runs", type=whole_number(1), default=3, help="runs per figure (median)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default="var/bench.json", help="where to write the JSON")
    parser.add_argument("--postgres", metavar="URL",
                        help="also measure the ledger, the same baselines, the library's "
                        "naive loop and the HTTP API on this PostgreSQL server, each in a "
                        "schema of its own, dropped afterwards "
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
                        "adapters.workload --events 1e6 | claims-ledger --db DB apply -`")
    parser.add_argument("--load", nargs=4, metavar=("URL", "TOKEN", "CLIENTS", "FILE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load:
        url, token, clients, path = args.load
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

    def progress(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    out = Path(args.out)
    problem = output_problem(out)
    if problem:
        parser.error(f"--out: {problem}")
    log = args.rebuild_log
    if log and not is_postgres(log) and not Path(log).is_file():
        parser.error(f"--rebuild-log: {redact(log)} is not a file; make a log first (see --help)")
    if args.postgres and not log:
        problem = postgres_problem(args.postgres)
        if problem:
            parser.error(f"--postgres: {problem}")
    try:
        result = (rebuild_log(args.rebuild_log, args.runs, progress) if args.rebuild_log
                  else run(args.events, args.runs, args.seed, progress,
                           args.http_commands, args.postgres, args.workers))
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(render(result))
    print(f"\n(JSON: {args.out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
