"""Fixtures of the ways in: the console and the API in-process, and a check that
nothing logged an error."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.api import Api, api_in_process
from tests.support.console import OFFICE_RUN, Console, open_console


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    """The console in-process on a small SQLite ledger (see ``open_console``)."""
    with open_console(tmp_path) as opened:
        yield opened


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    """The API in-process on a SQLite ledger holding policy P1 and claim C1."""
    with api_in_process(str(tmp_path / "ledger.db"), tmp_path) as app:
        yield app


@pytest.fixture
def api_on_each_backend(db_url: str, tmp_path: Path) -> Iterator[Api]:
    """The same, on each backend in turn."""
    with api_in_process(db_url, tmp_path) as app:
        yield app


@pytest.fixture
def no_unexpected_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Nothing logs an error (the API logs every 500 with its traceback)."""
    with caplog.at_level(logging.WARNING):
        yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Console]:
    """The console on the claims office at work (see ``OFFICE_RUN``)."""
    with open_console(tmp_path, OFFICE_RUN) as opened:
        yield opened
