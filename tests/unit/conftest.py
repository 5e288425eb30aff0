"""The unit tier runs the ledger on the library's in-memory recorder only."""

from __future__ import annotations

import pytest

from domain.ledger import Ledger
from tests.builders import attach, authorize
from tests.harness import given
from tests.support.databases import MEMORY


@pytest.fixture(params=[MEMORY])
def backend(request: pytest.FixtureRequest) -> str:
    """The in-memory recorder alone: no test of this tier touches a database."""
    return str(request.param)


@pytest.fixture
def office(ledger: Ledger) -> Ledger:
    """Policy P1, a clerk who may pay 100,000 yen alone and approve nothing, and
    a manager who may approve up to 2,000,000 yen."""
    given(ledger, attach(), authorize("clerk", 100_000, 0),
          authorize("manager", 1_000_000, 2_000_000))
    return ledger
