"""Whatever the claims office does, in whatever order (hypothesis): payouts
requested, approved (in full or less) or rejected, reserves set, payouts issued
and reversed, money recovered, losses re-assessed, claims closed and reopened,
the read models caught up a page of any size at a time hold what a replay of
the log derives (``verify``: held, reserved, incurred, remaining, each claim's
reserve, holds and recoveries), and a rebuild in one go holds the same rows."""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.storage import persistence_env
from domain.commands import parse_command
from domain.errors import LedgerError
from projections.read_models import ReadModels
from projections.store import open_store
from projections.verify import verify
from tests.builders import (
    approve,
    assess,
    attach,
    close,
    file_data_media,
    file_liability,
    pay,
    recover,
    reject,
    reopen,
    request,
    reverse,
    set_reserve,
)
from tests.builders import authorize as authority
from tests.harness import make_ledger
from tests.support.databases import BACKENDS, fresh_db
from tests.support.read_models import tables

EXAMPLES = {"sqlite": 40, "postgresql": 8}
SETUP = [attach(), authority("clerk", 100_000, 0), authority("manager", 0, 5_000_000),
         file_data_media("C1"), file_data_media("C2", loss=500_000), file_liability("L1")]
AMOUNTS = st.sampled_from([10_000, 50_000, 150_000, 400_000, 900_000])
PAYOUTS = st.sampled_from(["payout-1", "payout-2", "payout-3"])


@st.composite
def office_commands(draw: Any) -> tuple[str, dict[str, Any]]:
    """An actor and a command of the claims office on C1, C2 or L1."""
    claim = draw(st.sampled_from(["C1", "C2", "L1"]))
    kind = draw(st.sampled_from(["request", "request", "approve", "approve", "reject",
                                 "reserve", "pay", "reverse", "recover", "assess", "close",
                                 "reopen"]))
    amount = draw(AMOUNTS)
    if kind == "request":
        return "clerk", request(claim, draw(st.none() | st.just(amount)))
    if kind == "approve":
        less = draw(st.booleans())
        return "manager", approve(claim, draw(PAYOUTS), **({"amount": amount} if less else {}))
    if kind == "reject":
        return "manager", reject(claim, draw(PAYOUTS))
    return "operator", {
        "reserve": lambda: set_reserve(claim, amount),
        "pay": lambda: pay(claim, amount),
        "reverse": lambda: reverse(claim, draw(PAYOUTS)),
        "recover": lambda: recover(claim, amount, draw(st.sampled_from(
            ["subrogation", "salvage", "other_insurance", "overpayment"]))),
        "assess": lambda: assess(claim, loss=draw(st.sampled_from([300_000, 2_000_000]))),
        "close": lambda: close(claim),
        "reopen": lambda: reopen(claim),
    }[kind]()


def check(folder: Path, backend: str, sequence: list[tuple[str, dict[str, Any]]],
          page_size: int) -> None:
    """The sequence on a fresh ledger, its read models caught up after each
    command a page of ``page_size`` events at a time."""
    with fresh_db(backend, folder) as db:
        ledger = make_ledger(persistence_env(db))
        models = ReadModels(ledger, open_store(db), page_size=page_size)
        for command in SETUP:
            ledger.execute(parse_command(command), actor="operator")
        for actor, command in sequence:
            with contextlib.suppress(LedgerError):
                ledger.execute(parse_command(command), actor=actor)
            models.catch_up()
        assert verify(models) == []
        running = tables(models)
        models.rebuild()
        assert tables(models) == running
        models.close()
        ledger.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_any_sequence_of_the_offices_commands_reads_as_a_replay_of_the_log(
        backend: str, tmp_path: Path) -> None:
    def attempt(sequence: list[tuple[str, dict[str, Any]]], page_size: int) -> None:
        folder = tmp_path / uuid.uuid4().hex[:8]
        folder.mkdir()
        check(folder, backend, sequence, page_size)

    settings(max_examples=EXAMPLES[backend], deadline=None,
             suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])(
        given(st.lists(office_commands(), min_size=5, max_size=30),
              st.sampled_from([1, 2, 5, 20_000]))(attempt))()
