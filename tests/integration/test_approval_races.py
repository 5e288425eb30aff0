"""A held payout resolves once, even with two approvers racing: one wins, the
other is told the hold is resolved (HTTP 409, exit 4), in one process or two,
on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapters.cli.exits import EXIT_CONFLICT, exit_code
from adapters.http.problems import status_of
from adapters.storage import persistence_env
from domain.claim import PayoutApproved
from domain.commands import parse_command
from domain.errors import HoldResolved
from domain.ledger import Ledger
from tests.builders import FakeClock, approve, attach, authorize, file_data_media, request
from tests.harness import RacingLedger, make_ledger

APPROVERS = ("manager-a", "manager-b")
CLAIMS = [f"C{n}" for n in range(12)]


def held(db_url: str, claims: list[str], approvers: tuple[str, ...] = APPROVERS) -> Ledger:
    """A ledger where the clerk requested 20,000 on each claim (held: the clerk
    has no authority) and each approver may approve it."""
    ledger = make_ledger(persistence_env(db_url))
    for command in (attach(), *(authorize(a, approve_up_to=1_000_000) for a in approvers)):
        ledger.execute(parse_command(command), actor="operator")
    for claim_id in claims:
        ledger.execute(parse_command(file_data_media(claim_id)), actor="clerk")
        ledger.execute(parse_command(request(claim_id, amount=20_000)), actor="clerk")
    return ledger


def approvals(ledger: Ledger) -> list[tuple[str, str]]:
    """Every approval in the log: (claim, approver)."""
    return [(e.claim_id, e.actor) for e in map(ledger.decode, ledger.notifications())
            if isinstance(e, PayoutApproved)]


def test_an_approver_who_loses_the_race_is_told_the_hold_is_resolved(db_url: str):
    setup = held(db_url, ["C1"], approvers=("rival", "manager-b"))
    racer = RacingLedger(persistence_env(db_url), clock=FakeClock(), new_id=lambda: "racer")
    racer.rival, racer.race = setup, approve()  # the rival approves just before the save
    with pytest.raises(HoldResolved) as caught:
        racer.execute(parse_command(approve()), actor="manager-b")
    assert (caught.value.field, caught.value.rule) == ("payout_id", "hold_pending")
    assert "approved by rival" in str(caught.value)
    assert (status_of(caught.value), exit_code(caught.value)) == (409, EXIT_CONFLICT)
    assert approvals(setup) == [("C1", "rival")]
    assert int(setup.get_claim("C1").paid) == 20_000


def test_two_processes_approving_the_same_holds_resolve_each_once(db_url: str,
                                                                  tmp_path: Path):
    claim_ids = CLAIMS
    ledger = held(db_url, claim_ids)
    go = tmp_path / "go"
    outs = [tmp_path / f"{a}.json" for a in APPROVERS]
    workers = [subprocess.Popen([sys.executable, "-m", "tests.support.pg_workers", "approve",
                                 db_url, actor, ",".join(claim_ids), str(out), str(go)],
                                stderr=subprocess.PIPE, text=True)
               for actor, out in zip(APPROVERS, outs, strict=True)]
    deadline = time.monotonic() + 120
    while not all(Path(f"{out}.ready").exists() for out in outs):
        assert time.monotonic() < deadline and all(w.poll() is None for w in workers)
        time.sleep(0.01)
    go.touch()  # both ledgers are open: start together
    for w in workers:
        _, err = w.communicate(timeout=300)
        assert w.returncode == 0, err[-2000:]
    results = [json.loads(out.read_text()) for out in outs]
    won = [set(r["won"]) for r in results]
    assert won[0].isdisjoint(won[1]) and won[0] | won[1] == set(claim_ids)
    for mine, theirs in ((results[0], won[1]), (results[1], won[0])):
        assert {c for c, _, _ in mine["refused"]} == theirs
        assert {(kind, rule) for _, kind, rule in mine["refused"]} <= {
            ("HoldResolved", "hold_pending")}
    recorded = approvals(ledger)
    assert sorted(c for c, _ in recorded) == sorted(claim_ids)  # each approved once
    assert {(c, a) for c, a in recorded} == {
        (c, a) for a, w in zip(APPROVERS, won, strict=True) for c in w}
    year = ledger.get_policy_year("P1", 1).coverage("data_media")  # type: ignore[arg-type]
    assert (int(year.drawn), int(year.held)) == (20_000 * len(claim_ids), 0)
