"""``make bench``'s HTTP figures: `claims-ledger serve` on a loopback port, loaded
from a separate process (``python -m tests.bench --load``) at several
concurrency levels; and on PostgreSQL, with several server processes
(``--http-processes``), with the CPU the server and PostgreSQL spend."""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.bench.measures import BenchError, scratch_database


def load(url: str, token: str, concurrency: int, path: str) -> dict[str, float]:
    """The load generator (run in its own process): send the commands in ``path``
    from ``concurrency`` clients, each owning whole policies so that a claim's
    commands stay in order, each on its own keep-alive connection; report
    commands/s and latency. Each request is prepared before the clock starts
    and each response is read with plain asyncio streams, so that the figures
    measure the server rather than an HTTP client library."""
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


@contextmanager
def _serving(db: str, folder: Path, processes: int = 1) -> Iterator[tuple[str, str, int]]:
    """`claims-ledger serve --processes N` on ``db`` on a free loopback port, with an
    appender's token; yields the URL, the token and the server's process id."""
    import socket

    import httpx

    from adapters.service.token_file import new_token

    tokens_file = str(folder / f"tokens-{uuid.uuid4().hex[:8]}.json")
    token = new_token("bench", "appender", tokens_file)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "adapters.cli", "--db", db, "serve",
                               "--port", str(port), "--tokens-file", tokens_file,
                               "--processes", str(processes)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url, token, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


def _load_from(folder: Path, url: str, token: str, level: int,
               commands_json: list[str]) -> dict[str, float]:
    """Run the load generator in a process of its own; its figures."""
    path = folder / "http-commands.jsonl"
    path.write_text("\n".join(commands_json) + "\n")
    run = subprocess.run([sys.executable, "-m", "tests.bench", "--load", url,
                          token, str(level), str(path)],
                         capture_output=True, text=True, check=False)
    if run.returncode != 0:
        msg = f"the HTTP load generator failed:\n{run.stderr.strip()}"
        raise BenchError(msg)
    figures: dict[str, float] = json.loads(run.stdout)
    return figures


def http_figures(folder: Path, commands_json: list[str], levels: tuple[int, ...],
                 postgres: str | None = None) -> dict[str, dict[str, float]]:
    """Start `claims-ledger serve` on a free loopback port and load it from a
    separate process at each concurrency level (a fresh ledger for each: a
    SQLite file, or a schema of its own on the PostgreSQL server ``postgres``)."""
    found = {}
    label = "" if postgres is None else "PostgreSQL: "
    for level in levels:
        with scratch_database(postgres) as db, _serving(db, folder) as (url, token, _):
            found[f"{label}HTTP, {level} concurrent clients"] = _load_from(
                folder, url, token, level, commands_json)
    return found


def _scheduled(pids: Iterable[int]) -> tuple[float, float]:
    """Seconds the processes' threads have run on a CPU so far, and seconds they
    were ready to run but waited for one (Linux ``/proc/PID/task/*/schedstat``)."""
    ran = waited = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError):
                    on_cpu, queued = Path(f"/proc/{pid}/task/{task}/schedstat").read_text(
                        ).split()[:2]
                    ran, waited = ran + int(on_cpu), waited + int(queued)
    return ran / 1e9, waited / 1e9


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    parents: dict[int, list[int]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            parents.setdefault(ppid, []).append(int(entry))
    found, todo = [pid], [pid]
    while todo:
        todo.extend(children := parents.get(todo.pop(), []))
        found.extend(children)
    return found


def _postgres_pids() -> list[int]:
    """The PostgreSQL server's processes on this machine (all of its backends)."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            if Path(f"/proc/{entry}/comm").read_text().strip() == "postgres":
                found.append(int(entry))
    return found


def processes_figures(folder: Path, commands_json: list[str], processes: Sequence[int],
                      postgres: str, clients: int = 32) -> dict[str, dict[str, float]]:
    """HTTP on PostgreSQL at ``clients`` clients with each number of server
    processes in ``processes`` (in that order; a fresh schema for each): commands/s
    and latency; and per 1,000 commands, the CPU seconds used by the server's
    processes, the seconds their threads waited for a CPU (a busy machine), and
    the CPU seconds of every PostgreSQL process on this machine while loaded."""
    found = {}
    for count in processes:
        with scratch_database(postgres) as db, _serving(db, folder, count) as (url, token, pid):
            server, pg = _tree(pid), _postgres_pids()
            before = _scheduled(server), _scheduled(pg)
            figures = _load_from(folder, url, token, clients, commands_json)
            after = _scheduled(server), _scheduled(pg)
            per = 1000 / figures["commands"]
            figures["server_cpu_s_per_1000"] = (after[0][0] - before[0][0]) * per
            figures["server_cpu_wait_s_per_1000"] = (after[0][1] - before[0][1]) * per
            figures["postgres_cpu_s_per_1000"] = (after[1][0] - before[1][0]) * per
            found[f"PostgreSQL: HTTP, {clients} clients, {count} server processes"] = figures
    return found


def processes_bench(postgres: str, processes: Sequence[int], runs: int,
                    commands_json: list[str], progress: Callable[[str], None]
                    ) -> dict[str, Any]:
    """``--http-processes``: ``processes_figures`` ``runs`` times, the order of the
    process counts reversed every other run (A/B alternating), with the median
    of each figure and each count's commands/s as a ratio of the first count's."""
    taken: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(runs):
            progress(f"run {n + 1}/{runs}")
            order = list(processes) if n % 2 == 0 else list(reversed(processes))
            for name, figures in processes_figures(Path(tmp), commands_json, order,
                                                   postgres).items():
                for key, value in figures.items():
                    taken.setdefault(name, {}).setdefault(key, []).append(value)
    medians = {name: {key: statistics.median(values) for key, values in figures.items()}
               for name, figures in taken.items()}
    names = sorted(taken, key=lambda name: processes.index(int(name.split()[-3])))
    base = medians[names[0]]["commands_per_s"]
    return {"runs": taken, "medians": {name: medians[name] for name in names},
            "ratios": {name: medians[name]["commands_per_s"] / base for name in names}}


def render_processes(result: dict[str, Any]) -> str:
    """The ``--http-processes`` figures as a table (medians)."""
    lines = [f"{'':<52}{'cmds/s':>9}{'ratio':>7}{'p50 ms':>8}{'p99 ms':>8}"
             f"{'server CPU':>11}{'CPU wait':>9}{'PG CPU':>8}   (s per 1,000 commands)"]
    for name, m in result["medians"].items():
        lines.append(f"{name:<52}{m['commands_per_s']:>9,.0f}{result['ratios'][name]:>6.2f}x"
                     f"{m['p50_ms']:>8.1f}{m['p99_ms']:>8.1f}"
                     f"{m['server_cpu_s_per_1000']:>11.2f}"
                     f"{m['server_cpu_wait_s_per_1000']:>9.2f}"
                     f"{m['postgres_cpu_s_per_1000']:>8.2f}")
    return "\n".join(lines)


def process_counts(text: str) -> list[int]:
    """An ``--http-processes`` value: numbers of server processes, comma-separated,
    each from 1 to 32, none twice."""
    import argparse

    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        counts = []
    if not counts or not all(1 <= c <= 32 for c in counts) or len(set(counts)) < len(counts):
        msg = f"must be numbers of processes from 1 to 32, comma-separated, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return counts
