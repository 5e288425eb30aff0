"""Fixtures for every tier: a ledger on each storage backend, and a given/when/then
harness over it. The backends are SQLite and PostgreSQL here; the unit tier's
conftest makes them the library's in-memory recorder ("memory") alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.storage import persistence_env
from domain.ledger import Ledger
from tests.builders import FakeClock
from tests.harness import Harness, make_ledger
from tests.support.databases import BACKENDS, MEMORY, MEMORY_ENV, fresh_db


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each database in turn (the unit tier overrides this with ``MEMORY``)."""
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """The event log's database, on each backend in turn."""
    if backend == MEMORY:
        pytest.fail("the in-memory recorder has no database: a test that needs one "
                    "belongs in tests/integration")
    with fresh_db(backend, tmp_path) as url:
        yield url


@pytest.fixture
def pg_schema(tmp_path: Path) -> Iterator[str]:
    """A PostgreSQL URL with a schema of its own, dropped afterwards."""
    with fresh_db("postgresql", tmp_path) as url:
        yield url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ledger(backend: str, clock: FakeClock, request: pytest.FixtureRequest) -> Iterator[Ledger]:
    """The ledger on the backend: in memory, or on the database ``db_url`` names."""
    env = MEMORY_ENV if backend == MEMORY else persistence_env(request.getfixturevalue("db_url"))
    app = make_ledger(env, clock)
    yield app
    app.close()


@pytest.fixture
def h(ledger: Ledger, clock: FakeClock) -> Harness:
    return Harness(ledger, clock)
