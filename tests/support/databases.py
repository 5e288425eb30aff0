"""The backends tests run on: the library's in-memory recorder, a SQLite file, or
a PostgreSQL schema of its own on the test server (skipped without one, or
failed when CI requires it)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

PG_URL = os.environ.get("CLAIMS_LEDGER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("CLAIMS_LEDGER_REQUIRE_POSTGRES") == "1"

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
"""The databases: what the integration and end-to-end tiers run on."""
MEMORY = "memory"
"""The library's in-memory (POPO) recorder: what the unit tier runs on."""
MEMORY_ENV = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
"""The ledger's persistence settings for ``MEMORY`` (whatever the environment says)."""


def postgres_available() -> str | None:
    """None when the test server answers, else the reason it does not."""
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3):
            return None
    except Exception as exc:
        return f"PostgreSQL at {PG_URL} is not available: {exc}"


def require_postgres() -> None:
    reason = postgres_available()
    if reason is None:
        return
    if REQUIRE_PG:
        pytest.fail(f"{reason} (CLAIMS_LEDGER_REQUIRE_POSTGRES=1 makes this a failure)")
    pytest.skip(reason)


@contextmanager
def fresh_db(backend: str, folder: Path) -> Iterator[str]:
    """A database of its own for one test: a SQLite file in ``folder``, or a
    PostgreSQL schema that is dropped afterwards."""
    if backend == "sqlite":
        yield str(folder / f"ledger-{uuid.uuid4().hex[:8]}.db")
        return
    require_postgres()
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}?schema={schema}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
