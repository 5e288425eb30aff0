"""The real server for tests that talk HTTP: `claims-ledger serve` in a
subprocess on a free loopback port, with a bearer token per role."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from adapters.auth import new_token

ROLES = ("appender", "auditor", "operator")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(db: str, folder: Path, names: str = "demo") -> Iterator[tuple[str, dict[str, str]]]:
    """`claims-ledger serve` on ``db`` on a free loopback port, with a token per
    role (named ``{names}-{role}``); yields the base URL and the tokens. A
    traceback on the server's stderr fails the caller."""
    tokens_file = str(folder / "tokens.json")
    tokens = {role: new_token(f"{names}-{role}", role, tokens_file) for role in ROLES}
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "--db", db, "serve", "--port", str(port),
         "--tokens-file", tokens_file], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                out, err = proc.communicate(timeout=10)
                raise RuntimeError(f"the server did not start: {out}{err}")
            time.sleep(0.1)
        yield url, tokens
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    if "Traceback" in err:
        raise AssertionError(err)
