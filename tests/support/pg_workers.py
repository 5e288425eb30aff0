"""Worker processes for the concurrency, load and fault tests, run as
``python -m tests.support.pg_workers …`` (plain processes, not threads)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from eventsourcing.persistence import PersistenceError

from adapters.storage import open_ledger
from domain.commands import parse_command
from domain.errors import ConcurrencyConflict, LedgerError
from tests.builders import approve, file_data_media, file_liability, pay


def commands_for(worker: int, count: int, policies: int) -> list[dict[str, Any]]:
    """Claims and payouts of one worker, spread over a few policy years."""
    out: list[dict[str, Any]] = []
    for k in range(count):
        policy = f"P{k % policies}"
        claim = f"W{worker}-{k}"
        if k % 2:
            filing = file_liability(claim, policy_id=policy, loss=900_000 + 1000 * k)
        else:
            filing = file_data_media(claim, policy_id=policy, loss=300_000 + 1000 * k)
        out.append({**filing, "command_id": f"file-{claim}"})
        out.append({**pay(claim), "command_id": f"pay-{claim}"})
    return out


def run_worker(db: str, worker: int, count: int, policies: int, out: str,
               until_done: bool = False) -> None:
    """Apply this worker's commands; write what was acknowledged (and what failed)
    to ``out`` as JSON. With ``until_done``, a database error is retried with the
    same command id until the command is acknowledged or refused."""
    ledger = open_ledger(db)
    acknowledged: list[dict[str, Any]] = []
    refused: list[str] = []
    outages = 0
    for command in commands_for(worker, count, policies):
        while True:
            try:
                outcome = ledger.execute(parse_command(command), actor=f"worker-{worker}")
            except ConcurrencyConflict:
                refused.append(command["command_id"])
            except LedgerError:
                refused.append(command["command_id"])
            except PersistenceError:
                outages += 1
                if until_done:
                    time.sleep(0.2)
                    continue
                refused.append(command["command_id"])
            else:
                acknowledged.append({
                    "command_id": command["command_id"],
                    "events": [[e.aggregate_id, e.version, e.event] for e in outcome.events],
                    "amount": outcome.result.get("amount"),
                    "at": time.time(),
                })
            break
    Path(out).write_text(json.dumps({"acknowledged": acknowledged, "refused": refused,
                                     "outages": outages}))
    ledger.close()


def pay_worker(db: str, claims: list[str], out: str) -> None:
    """Pay 50,000 on each claim three times over; write the payouts acknowledged."""
    ledger = open_ledger(db)
    accepted = []
    for claim_id in claims:
        for _ in range(3):
            try:
                outcome = ledger.execute(parse_command(pay(claim_id, amount=50_000)),
                                         actor="w")
            except LedgerError:
                continue
            accepted.append([claim_id, outcome.result["payout_id"]])
    Path(out).write_text(json.dumps(accepted))
    ledger.close()


def approve_worker(db: str, actor: str, claims: list[str], out: str, go: str) -> None:
    """Once ``go`` exists, approve the first payout requested on each claim as
    ``actor``; write which approvals were acknowledged and how the others were
    refused. (``out``.ready tells the test the ledger is open.)"""
    ledger = open_ledger(db)
    Path(out + ".ready").touch()
    while not Path(go).exists():
        time.sleep(0.005)
    won, refused = [], []
    for claim_id in claims:
        try:
            ledger.execute(parse_command(approve(claim_id)), actor=actor)
        except LedgerError as error:
            refused.append([claim_id, type(error).__name__, error.rule])
        else:
            won.append(claim_id)
    Path(out).write_text(json.dumps({"won": won, "refused": refused}))
    ledger.close()


if __name__ == "__main__":
    if sys.argv[1] == "pay":
        pay_worker(sys.argv[2], sys.argv[3].split(","), sys.argv[4])
    elif sys.argv[1] == "approve":
        approve_worker(sys.argv[2], sys.argv[3], sys.argv[4].split(","), sys.argv[5],
                       sys.argv[6])
    else:
        db, worker, count, policies, out, until_done = sys.argv[1:7]
        run_worker(db, int(worker), int(count), int(policies), out, until_done == "1")
