"""Storage: turn a ``--db`` value into the library's persistence settings and
open a ledger on it, with the system clock, random command ids and jittered
retries.

The ledger keeps its events through the ``eventsourcing`` library's own
recorders: a SQLite file by default (embedded, WAL, durable commits) or a
PostgreSQL server named by URL (``postgresql://user@host:port/dbname``),
extended in ``sealed_recorders`` to seal each event at commit (the chain's
bookkeeping, shared by both, is ``sealing``).
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote, unquote, urlparse

if TYPE_CHECKING:
    from domain.ledger import Ledger

DEFAULT_DB = "claims-ledger.db"
DB_ENV = "CLAIMS_LEDGER_DB"
READ_DB_ENV = "CLAIMS_LEDGER_READ_DB"


class StorageError(Exception):
    """The database named by the user cannot be used."""


def system_clock() -> datetime:
    return datetime.now(UTC)


class _CommandIds:
    """Command ids for commands sent without one: 32 random hex digits each, so
    that no client can tell the next one from one it was given (and pre-claim
    it). The randomness is drawn from the system in blocks of ``BLOCK`` ids, not
    per command (a system call per command is a cost a batch should not pay),
    and a forked child draws its own."""

    BLOCK = 1024

    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)

    def reseed(self) -> None:
        self._ids: Iterator[str] = iter(())

    def __call__(self) -> str:
        for drawn in self._ids:
            return drawn
        block = os.urandom(16 * self.BLOCK).hex()
        self._ids = iter([block[i:i + 32] for i in range(32, len(block), 32)])
        return block[:32]


new_command_id = _CommandIds()


def jittered_wait(attempt: int) -> None:
    """Between retries after losing a race: a short, growing, random pause, so
    writers that collided do not collide again in step."""
    import random

    time.sleep(random.uniform(0, min(0.002 * 2**attempt, 0.2)))


_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*):[^\s/]*@")
_KEY_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s']+)",
                           re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with every password in a database URL (``postgresql://u:***@host``)
    or connection string (``password=***``) masked, for anything printed or logged."""
    return _KEY_PASSWORD.sub(r"\g<head>***", _URL_PASSWORD.sub(r"\g<head>:***@", text))


def is_postgres(db: str) -> bool:
    return db.startswith(("postgresql://", "postgres://"))


def persistence_env(db: str) -> dict[str, str]:
    """The library's persistence settings for a database path or URL."""
    if os.environ.get("POSTGRES_ENABLE_DB_FUNCTIONS", "").lower() in ("y", "yes", "1", "true"):
        msg = (
            "POSTGRES_ENABLE_DB_FUNCTIONS is set: its insert takes no table lock, so "
            "readers following the log can skip events. Unset it."
        )
        raise StorageError(msg)
    # (The recorders, and the library under them, are imported only to open a log.)
    from adapters.storage import sealed_recorders

    if is_postgres(db):
        url = urlparse(db)
        if not url.path.strip("/"):
            msg = f"{redact(db)}: name the database, e.g. postgresql://user@127.0.0.1:5432/ledger"
            raise StorageError(msg)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": sealed_recorders.POSTGRES_TOPIC,
            "POSTGRES_DBNAME": unquote(url.path.lstrip("/")),
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
            "POSTGRES_PRE_PING": "y",  # drop pooled connections a restart broke
        }
        if "POSTGRES_CONNECT_TIMEOUT" not in os.environ:
            env["POSTGRES_CONNECT_TIMEOUT"] = "5"  # fail fast when the server is down
        schema = parse_qs(url.query).get("schema")
        if schema:
            env["POSTGRES_SCHEMA"] = schema[0]
        return env
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": sqlite_path(db),
            "APPLICATION_RECORDER_TOPIC": sealed_recorders.SQLITE_TOPIC}


def sqlite_path(db: str) -> str:
    """The file of a SQLite ``--db`` value, checked to be in an existing folder."""
    path = db.removeprefix("sqlite:///")
    if path != ":memory:":
        parent = Path(path).resolve().parent
        if not parent.is_dir():
            msg = f"{db}: the folder {parent} does not exist"
            raise StorageError(msg)
    return path


def sqlite_writable(db: str) -> bool:
    """Whether this process may write the existing SQLite file ``db`` and its folder
    (where SQLite keeps its write-ahead log): not so on read-only media, nor
    without write permission on either."""
    path = Path(sqlite_path(db))
    return not path.exists() or (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))


def read_only_uri(db: str) -> str:
    """A ``file:`` URI that opens the SQLite file ``db`` read-only. Where SQLite
    cannot keep its shared-memory file beside it (a read-only folder), the file
    is opened as immutable: a copy on read-only media does not change."""
    path = Path(sqlite_path(db)).resolve()
    uri = f"file:{quote(str(path))}?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return uri
    except sqlite3.Error:
        pass
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size:
        msg = (f"{db}: cannot be read here: its write-ahead log {wal} holds commits that "
               "SQLite reads only from a writable folder: copy both files to one")
        raise StorageError(msg)
    return f"{uri}&immutable=1"


def sqlite_head(db: str) -> int | None:
    """The last position of the SQLite log ``db`` (0: none yet), read in one
    statement on the file opened read-only, without the library; None when it
    cannot be told so (no log table in it yet, or the file cannot be read)."""
    uri = f"file:{quote(str(Path(sqlite_path(db)).resolve()))}?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            # (the library's events table, and its statement for the last position)
            row = conn.execute("SELECT MAX(rowid) FROM stored_events").fetchone()
    except sqlite3.Error:
        return None
    return int(row[0] or 0)


def open_ledger(db: str, *, read_only: bool = False) -> Ledger:
    """A ledger on the database ``db`` with the system clock and random command ids.

    On PostgreSQL the tables are created once, under an advisory lock, so many
    processes starting together do not run the same DDL at once; ``read_only``
    (a streaming replica, or a SQLite file opened read-only, see
    ``read_only_uri``) creates nothing."""
    try:
        env = persistence_env(db)
        if read_only:
            env["CREATE_TABLE"] = "n"
            if not is_postgres(db):
                env["SQLITE_DBNAME"] = read_only_uri(db)
            return _ledger(env)
        if is_postgres(db):
            with _schema_lock(env):
                return _ledger(env)
        return _ledger(env)
    except StorageError:
        raise
    except Exception as exc:  # the library's connection errors vary by backend
        hint = " (is the server running and the database created?)" if is_postgres(db) else ""
        msg = redact(f"{db}: cannot open the ledger database: {exc}{hint}")
        raise StorageError(msg) from exc


def _ledger(env: dict[str, str]) -> Ledger:
    from domain.ledger import Ledger

    return Ledger(env, clock=system_clock, new_id=new_command_id, retry_wait=jittered_wait)


SCHEMA_LOCK = 0x636C6169  # "clai": the advisory lock that serialises schema creation


@contextmanager
def _schema_lock(env: dict[str, str]) -> Iterator[None]:
    import psycopg

    with psycopg.connect(
        dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"] or None,
        connect_timeout=int(os.environ.get("POSTGRES_CONNECT_TIMEOUT", "5")), autocommit=True,
    ) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))
