"""The append contract at the ledger: a command id is applied once, and every
retry of it (in this process, after a restart, or from another process) gets
its first outcome, with the positions its events were first stored at; one bad
command in a group commit fails only itself."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.storage import persistence_env
from domain.commands import parse_command
from domain.errors import IdempotencyConflict, LedgerError
from domain.ledger import Ledger, Outcome
from tests.builders import attach, file_data_media, file_liability, pay, reverse
from tests.harness import database_reads, make_ledger


def _batch(ledger: Ledger, *commands: dict[str, Any]) -> list[Outcome | LedgerError]:
    return ledger.execute_many([parse_command(c) for c in commands], actor="svc")


def _applied(result: Outcome | LedgerError) -> Outcome:
    assert isinstance(result, Outcome), result
    return result


def _shape(outcome: Outcome) -> list[tuple[int | None, str, int, str]]:
    return [(e.position, e.aggregate_id, e.version, e.event) for e in outcome.events]


# Each case: what was applied first (the last command carries the id that is
# retried), and the rule that would refuse the same command if decided afresh.
RETRIED = {
    "payable_on_claim": [attach(), file_data_media("C1"), pay("C1", command_id="k-1")],
    "annual_limit": [attach(), file_data_media("C1"), pay("C1"),
                     file_data_media("C2"), pay("C2", command_id="k-1")],
    "not_reversed": [attach(), file_data_media("C1"), pay("C1"),
                     reverse("C1", command_id="k-1")],
}


@pytest.mark.parametrize("path", ["batch", "single"])
@pytest.mark.parametrize("rule", sorted(RETRIED))
def test_a_retry_after_a_restart_gets_the_first_outcome_with_its_positions(
    db_url: str, rule: str, path: str,
):
    env = persistence_env(db_url)
    first_process = make_ledger(env)
    first = _applied(_batch(first_process, *RETRIED[rule])[-1])
    head = first_process.recorder.max_notification_id()
    first_process.close()

    restarted = make_ledger(env)  # a new process: nothing cached
    retried = RETRIED[rule][-1]
    again = (_batch(restarted, retried)[0] if path == "batch"
             else restarted.execute(parse_command(retried), actor="svc"))

    again = _applied(again)
    assert again.replayed and not first.replayed
    assert again.result == first.result
    assert _shape(again) == _shape(first)
    assert all(e.position is not None for e in again.events)
    assert restarted.recorder.max_notification_id() == head  # nothing appended


def test_a_retry_from_another_process_gets_the_first_outcome(db_url: str):
    env = persistence_env(db_url)
    writer, other = make_ledger(env), make_ledger(env)
    _batch(other, attach(), file_data_media("C1"))  # the other writer has a warm cache
    first = _applied(_batch(writer, pay("C1", command_id="k-1"))[0])
    again = _applied(_batch(other, pay("C1", command_id="k-1"))[0])
    assert again.replayed and _shape(again) == _shape(first)


def test_a_reused_id_with_different_content_after_a_restart_is_a_conflict(db_url: str):
    env = persistence_env(db_url)
    first = make_ledger(env)
    _batch(first, attach(), file_data_media("C1"), pay("C1", command_id="k-1"))
    head = first.recorder.max_notification_id()
    first.close()
    # different content, which the rules would refuse now (nothing is left to pay)
    (refused,) = _batch(make_ledger(env), pay("C1", amount=100_000, command_id="k-1"))
    assert isinstance(refused, IdempotencyConflict)
    assert (refused.field, refused.rule) == ("command_id", "same_command_same_id")
    assert make_ledger(env).recorder.max_notification_id() == head


def test_a_batch_reads_its_command_ids_in_one_query(db_url: str):
    env = persistence_env(db_url)
    setup = make_ledger(env)
    _batch(setup, attach(), *(file_data_media(f"C{n}", loss=110_000) for n in range(20)))
    ledger = make_ledger(env)
    reads = database_reads(ledger)
    results = _batch(ledger, *(pay(f"C{n}", command_id=f"k-{n}") for n in range(20)))
    assert all(isinstance(r, Outcome) and not r.replayed for r in results)
    assert not [r for r in reads if r.startswith("command:")]  # none one at a time


def test_a_command_that_fails_unexpectedly_fails_alone_and_its_neighbours_commit(
    db_url: str, monkeypatch: pytest.MonkeyPatch,
):
    from domain import claim as claim_module

    ledger = make_ledger(persistence_env(db_url))
    _batch(ledger, attach(), file_data_media("C1"), file_liability("L1"))
    real = claim_module.issue_payout

    def faulty(claim: Any, *args: Any) -> Any:
        if claim.claim_id == "L1":
            raise OverflowError("date value out of range")
        return real(claim, *args)

    monkeypatch.setattr(claim_module, "issue_payout", faulty)
    before = ledger.recorder.max_notification_id() or 0
    results = _batch(ledger, pay("C1"), pay("L1"), reverse("C1"))
    assert [type(r).__name__ for r in results] == ["Outcome", "DecisionFailed", "Outcome"]
    failed = results[1]
    assert isinstance(failed, LedgerError) and failed.rule == "decidable"
    assert int(ledger.get_claim("C1").paid) == 0  # paid, then reversed: both committed
    assert int(ledger.get_claim("L1").paid) == 0
    assert (ledger.recorder.max_notification_id() or 0) > before
