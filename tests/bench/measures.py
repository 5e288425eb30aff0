"""What ``make bench`` measures of the ledger itself: appends one by one, in
group commits, through ``apply`` and over worker processes; storing alone; the
rebuild of the read models; and reads from them. Each figure is taken on a
scratch database of its own (on PostgreSQL, a schema of its own, once the
server is found usable)."""

from __future__ import annotations

import io
import json
import multiprocessing
import queue
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from adapters.apply import Workers, apply_lines, worker_of
from adapters.cli.output import Progress, render_json
from adapters.storage import StorageError, is_postgres, open_ledger, persistence_env, redact
from domain.commands import parse_command
from domain.ledger import Ledger
from projections.audit_trail import AuditQuery
from projections.read_models import ReadModels
from projections.store import open_store


class BenchError(Exception):
    """A measurement that cannot be made on what it was given."""


@contextmanager
def scratch_database(postgres: str | None) -> Iterator[str]:
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


def rebuild_process(log_db: str, read_db: str) -> tuple[float, int]:
    """Events per second of a whole ``claims-ledger rebuild`` process (start-up
    included) into the fresh read database ``read_db``, and the events rebuilt."""
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "adapters.cli", "--db", log_db,
                          "--read-db", read_db, "rebuild", "--json"],
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


def peak_rss_mb() -> float:
    """The peak resident memory of the largest process this one has waited for
    (a rebuild's helper processes included)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


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
