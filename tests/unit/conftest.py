"""The unit tier runs the ledger on the library's in-memory recorder only."""

from __future__ import annotations

import pytest

from tests.support.databases import MEMORY


@pytest.fixture(params=[MEMORY])
def backend(request: pytest.FixtureRequest) -> str:
    """The in-memory recorder alone: no test of this tier touches a database."""
    return str(request.param)
