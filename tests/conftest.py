"""Fixtures for every tier: a ledger on each storage backend, and a given/when/then
harness over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.storage import persistence_env
from domain.ledger import Ledger
from tests.builders import FakeClock
from tests.harness import Harness, make_ledger
from tests.support.databases import BACKENDS, fresh_db


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
