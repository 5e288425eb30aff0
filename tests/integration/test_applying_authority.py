"""``apply`` on worker processes with authority: a ``set_authority`` line is
committed after every line before it and before any later line decided on it
(payouts requested, approved, rejected), and approvals go with their claim; the
results are those of one process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.builders import (
    approve,
    attach,
    authorize,
    file_data_media,
    file_liability,
    reject,
    request,
)
from tests.support.applying import apply_file, command_line, comparable, policies_on
from tests.support.databases import fresh_db


def _held_by_desk(first: str, second: str) -> list[str]:
    """Claims A, B (of ``second``) and D (of ``first``), each with a payout
    requested by ``desk``, who has no authority: all three are held."""
    return [command_line(c) for c in (
        attach(first), attach(second),
        file_data_media("A", policy_id=second), file_liability("B", policy_id=second),
        file_data_media("D", policy_id=first),
        request("A"), request("B"), request("D"))]


def _decided_on_authority(second: str, busy_first: list[str], busy_second: list[str]
                          ) -> list[dict[str, Any]]:
    """Lines by ``test`` whose results depend on when its authority is set.
    Each worker has much to do at the moment the other reads or sets the
    authority (worker 0 commits the first with 300 policies; worker 1 decides
    B's rejection in a commit after 500 lines of its own), so a line that did
    not wait would be decided on the wrong one."""
    return [
        authorize("test", pay_up_to=1_000_000, approve_up_to=2_000_000),
        *[attach(p) for p in busy_first],  # committed with the authority, on worker 0
        approve("A"),  # worker 1: approved only once the authority is committed
        file_liability("E", policy_id=second),
        request("E", amount=500_000),  # within 1,000,000: paid at once
        *[attach(p) for p in busy_second],
        reject("B"),  # worker 1, behind its work: decided before the authority falls
        authorize("test"),  # none left
        approve("D"),  # worker 0: 0 is not enough
        request("E", amount=100_000),  # held
    ]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql",
                                                             marks=pytest.mark.postgres)])
def test_authority_lines_keep_the_files_order_across_workers_as_one_process_would(
    backend: str, tmp_path: Path,
):
    (first, *busy_first), (second, *busy_second) = policies_on(0, 301), policies_on(1, 601)
    setup = _held_by_desk(first, second)
    lines = [command_line(c) for c in _decided_on_authority(second, busy_first, busy_second)]

    runs = []
    for workers in (2, 1):
        with fresh_db(backend, tmp_path) as db:
            assert all(r["ok"] for r in apply_file(db, setup, workers=1, actor="desk"))
            runs.append(apply_file(db, lines, workers=workers))
    split, alone = runs

    assert [comparable(r) for r in split] == [comparable(r) for r in alone]
    decided = [(r["command"], r["result"].get("hold")) if r["ok"]
               else ("refused", r["violations"][0]["rule"])
               for r in split if r.get("command") != "attach_coverage"]
    assert decided == [
        ("set_authority", None), ("approve_payout", "approved"), ("file_claim", None),
        ("request_payout", "issued"), ("reject_payout", "rejected"), ("set_authority", None),
        ("refused", "approval_authority"), ("request_payout", "pending")]
