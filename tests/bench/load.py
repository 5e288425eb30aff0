"""``make bench``'s HTTP figures: `claims-ledger serve` on a loopback port, loaded
from a separate process (``python -m tests.bench --load``) at several
concurrency levels."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
import zlib
from pathlib import Path

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


def http_figures(folder: Path, commands_json: list[str], levels: tuple[int, ...],
                 postgres: str | None = None) -> dict[str, dict[str, float]]:
    """Start `claims-ledger serve` on a free loopback port and load it from a
    separate process at each concurrency level (a fresh ledger for each: a
    SQLite file, or a schema of its own on the PostgreSQL server ``postgres``)."""
    import socket

    import httpx

    from adapters.service.token_file import new_token

    found = {}
    label = "" if postgres is None else "PostgreSQL: "
    for level in levels:
        with scratch_database(postgres) as db:
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
                run = subprocess.run([sys.executable, "-m", "tests.bench", "--load", url,
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
