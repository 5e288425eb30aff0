"""The real server for tests that talk HTTP: `claims-ledger serve` in a
subprocess on a free loopback port, with a bearer token per role. A
``Served`` server can be stopped with any signal (SIGKILL: a crash) and
started again on the same database and port; with ``processes``, it runs that
many server processes, and ``process_of`` tells which one holds a connection."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from adapters.service.token_file import new_token

ROLES = ("appender", "auditor", "operator", "subscriber")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """`claims-ledger serve` on ``db``, on one loopback port for its whole life,
    with a token per role (named ``{names}-{role}``). Each start writes the
    server's output to a log file of its own in ``folder``."""

    def __init__(self, db: str, folder: Path, names: str = "demo", processes: int = 1) -> None:
        self.db, self.folder, self.processes = db, folder, processes
        self.tokens_file = str(folder / "tokens.json")
        self.tokens = {role: new_token(f"{names}-{role}", role, self.tokens_file)
                       for role in ROLES}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.logs: list[Path] = []
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        """Start the server and wait until ``/health`` answers 200."""
        assert self.proc is None, "the server is running"
        log = self.folder / f"serve-{self.port}-{len(self.logs) + 1}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "adapters.cli", "--db", self.db, "serve",
                 "--host", "127.0.0.1", "--port", str(self.port),
                 "--tokens-file", self.tokens_file, "--processes", str(self.processes)],
                stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop(signal.SIGKILL)
                raise RuntimeError(f"the server did not start: {log.read_text()}")
            time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Send ``sig`` and wait for the server to end (SIGKILL after
        ``timeout``); its exit status."""
        proc, self.proc = self.proc, None
        assert proc is not None, "the server is not running"
        proc.send_signal(sig)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(timeout=timeout)

    def process_of(self, connection: socket.socket, timeout: float = 10) -> int:
        """The id of the server process that holds the other end of ``connection``
        (a TCP connection to the server), read from ``/proc`` (Linux); waits for
        a process to accept the connection."""
        assert self.proc is not None, "the server is not running"
        port = connection.getsockname()[1]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            inodes = set()
            for table in ("/proc/net/tcp", "/proc/net/tcp6"):
                for row in Path(table).read_text().splitlines()[1:]:
                    fields = row.split()
                    local, remote = fields[1].rsplit(":", 1)[1], fields[2].rsplit(":", 1)[1]
                    if (int(local, 16), int(remote, 16)) == (self.port, port):
                        inodes.add(f"socket:[{fields[9]}]")
            for pid in _descendants(self.proc.pid):
                with contextlib.suppress(OSError):
                    for fd in os.listdir(f"/proc/{pid}/fd"):
                        with contextlib.suppress(OSError):
                            if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                                return pid
            time.sleep(0.01)
        raise AssertionError(f"no server process holds the connection from port {port}")

    def tracebacks(self) -> str:
        """What the server printed in every run that shows a traceback."""
        return "".join(text for text in (log.read_text(errors="replace") for log in self.logs)
                       if "Traceback" in text)


def _descendants(pid: int) -> list[int]:
    """``pid``'s child processes, their children, and so on."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                parents.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found.extend(children)
        todo.extend(children)
    return found


@contextmanager
def server(db: str, folder: Path, names: str = "demo") -> Iterator[tuple[str, dict[str, str]]]:
    """`claims-ledger serve` on ``db`` on a free loopback port, with a token per
    role (named ``{names}-{role}``); yields the base URL and the tokens. A
    traceback in the server's output fails the caller."""
    served = Served(db, folder, names)
    served.start()
    try:
        yield served.url, served.tokens
    finally:
        served.stop()
    if errors := served.tracebacks():
        raise AssertionError(errors)
