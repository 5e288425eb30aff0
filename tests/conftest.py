"""Fixtures: a ledger on each storage backend, and a given/when/then harness."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from adapters.storage import persistence_env
from domain.commands import parse_command
from domain.errors import LedgerError
from domain.events import LedgerEvent
from domain.ledger import Ledger, Outcome
from tests.builders import FakeClock, SequentialIds

PG_URL = os.environ.get("CLAIMS_LEDGER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("CLAIMS_LEDGER_REQUIRE_POSTGRES") == "1"


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


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """The event log's database, on each backend in turn."""
    with fresh_db(backend, tmp_path) as url:
        yield url


@pytest.fixture
def pg_schema(tmp_path: Path) -> Iterator[str]:
    """A PostgreSQL URL with a schema of its own, dropped afterwards."""
    with fresh_db("postgresql", tmp_path) as url:
        yield url


class Harness:
    """Given commands / when a command / then events or an error."""

    def __init__(self, ledger: Ledger, clock: FakeClock) -> None:
        self.ledger = ledger
        self.clock = clock

    def given(self, *commands: dict[str, Any]) -> None:
        for command in commands:
            self.ledger.execute(parse_command(command), actor="tester")

    def position(self) -> int:
        return self.ledger.recorder.max_notification_id() or 0

    def when(self, command: dict[str, Any], actor: str = "tester") -> Outcome:
        return self.ledger.execute(parse_command(command), actor=actor)

    def events_after(self, position: int) -> list[LedgerEvent]:
        notifications = self.ledger.recorder.select_notifications(position + 1, 10_000)
        return [self.ledger.mapper.to_domain_event(n) for n in notifications]

    def then_events(self, command: dict[str, Any]) -> list[LedgerEvent]:
        before = self.position()
        self.when(command)
        return self.events_after(before)

    def then_refused(
        self, command: dict[str, Any], error: type[LedgerError], field: str | None, rule: str
    ) -> LedgerError:
        before = self.position()
        with pytest.raises(error) as caught:
            self.when(command)
        assert (caught.value.field, caught.value.rule) == (field, rule), caught.value
        assert self.position() == before, "a refused command appended events"
        return caught.value


def make_ledger(env: dict[str, str], clock: FakeClock | None = None) -> Ledger:
    return Ledger(env, clock=clock or FakeClock(), new_id=SequentialIds())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ledger(db_url: str, clock: FakeClock) -> Iterator[Ledger]:
    app = make_ledger(persistence_env(db_url), clock)
    yield app
    app.close()


@pytest.fixture
def h(ledger: Ledger, clock: FakeClock) -> Harness:
    return Harness(ledger, clock)
