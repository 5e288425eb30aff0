"""Group commit: a batch of commands in one commit, each applied or refused on its
own, run again one at a time when another writer beat it, and the records it
caches between batches dropped once another writer changes them."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.storage import persistence_env
from domain.commands import parse_command
from domain.errors import (
    LedgerError,
    NotFound,
    PayoutRefused,
)
from domain.ledger import Ledger, Outcome
from tests.builders import (
    FakeClock,
    SequentialIds,
    attach,
    end_service,
    file_data_media,
    pay,
    reverse,
)
from tests.harness import Harness, RacingLedger, database_reads, make_ledger
from tests.strategies import commands


def test_a_batch_shares_one_commit_and_each_command_is_applied_or_refused_on_its_own(
    h: Harness,
):
    from domain.errors import PayoutRefused

    h.given(attach())
    commands = [parse_command(c) for c in (
        file_data_media("C1"), pay("C1"), pay("C1"),  # the second payout finds nothing left
        file_data_media("C2"), pay("C2", command_id="p2"), pay("C2", command_id="p2"))]
    before = h.position()
    results = h.ledger.execute_many(commands, actor="batch")
    assert [type(r).__name__ for r in results] == [
        "Outcome", "Outcome", "PayoutRefused", "Outcome", "Outcome", "Outcome"]
    assert isinstance(results[2], PayoutRefused)
    assert results[5].replayed and results[5].result == results[4].result  # type: ignore[union-attr]
    assert results[4].result["amount"] == 300_000  # type: ignore[union-attr]  # C1 took 700,000
    positions = [e.position for r in results if not isinstance(r, Exception)
                 and not r.replayed for e in r.events]
    assert positions == list(range(before + 1, before + 1 + len(positions)))
    assert [int(h.ledger.get_claim(c).paid) for c in ("C1", "C2")] == [700_000, 300_000]


def test_a_batch_beaten_by_another_writer_is_run_again_one_command_at_a_time(db_url: str):
    env = persistence_env(db_url)
    rival = make_ledger(env)
    for command in (attach(), file_data_media("C1"), file_data_media("C2")):
        rival.execute(parse_command(command), actor="t")
    ledger = RacingLedger(env, clock=FakeClock(), new_id=lambda: uuid.uuid4().hex)
    ledger.rival, ledger.race = rival, pay("C2")
    results = ledger.execute_many([parse_command(pay("C1"))], actor="t")
    assert results[0].result["amount"] == 300_000  # type: ignore[union-attr]
    assert int(rival.get_policy_year("P1", 1).coverage("data_media").remaining) == 0  # type: ignore[arg-type]


def test_a_command_id_twice_in_a_batch_beaten_by_another_writer_answers_what_committed(
        db_url: str):
    env = persistence_env(db_url)
    rival = make_ledger(env)
    for command in (attach(), file_data_media("C1", loss=300_000),
                    file_data_media("C2", loss=300_000), file_data_media("C3", loss=300_000)):
        rival.execute(parse_command(command), actor="t")
    ledger = RacingLedger(env, clock=FakeClock(), new_id=lambda: uuid.uuid4().hex)
    ledger.rival, ledger.race = rival, pay("C3")  # the batch's commit loses to this payout
    twice = parse_command(pay("C2", command_id="p2"))
    results = ledger.execute_many([parse_command(pay("C1")), twice, twice], actor="t")
    first, again = results[1], results[2]
    assert isinstance(first, Outcome) and isinstance(again, Outcome)
    assert again.replayed and again.events == first.events and again.result == first.result
    logged = {(e.aggregate_id, e.version): e.position for e in first.events}
    assert ledger.positions(list(logged)) == logged  # what the log holds for p2


@settings(max_examples=40, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(commands(kinds=("file",)), min_size=3, max_size=8),
       st.lists(commands(), min_size=5, max_size=30), st.integers(min_value=1, max_value=9),
       st.booleans())
def test_batched_commands_leave_the_same_ledger_as_one_at_a_time(
    filings: list[dict[str, Any]], sequence: list[dict[str, Any]], size: int,
    small_cache: bool,
) -> None:
    from tests.harness import fold

    one = make_ledger(persistence_env(":memory:"))
    # A cache of one record: most records a batch reads are read ahead from the log.
    many = (OneRecordCache if small_cache else Ledger)(
        persistence_env(":memory:"), clock=FakeClock(), new_id=SequentialIds())
    parsed = [parse_command(c) for c in [attach(), *filings, *sequence]]
    singles: list[Any] = []
    for command in parsed:
        try:
            singles.append(one.execute(command, actor="t").result)
        except LedgerError as refused:
            singles.append(type(refused).__name__)
    batched: list[Any] = []
    for start in range(0, len(parsed), size):
        for r in many.execute_many(parsed[start:start + size], actor="t"):
            batched.append(type(r).__name__ if isinstance(r, LedgerError) else r.result)
    assert batched == singles

    def states(ledger: Ledger) -> dict[str, Any]:
        events = [ledger.decode(n) for n in ledger.notifications()]
        return fold(events)

    assert states(one) == states(many)


class OneRecordCache(Ledger):
    cache_size = 1


def test_records_the_cache_let_go_are_read_ahead_for_a_batch_not_one_by_one(db_url: str):
    ledger = OneRecordCache(persistence_env(db_url), clock=FakeClock(), new_id=SequentialIds())
    ledger.execute_many([parse_command(c) for c in (
        attach(), attach("P2"), file_data_media("C1"), file_data_media("C2"))], actor="a")
    reads = database_reads(ledger)
    results = ledger.execute_many([parse_command(c) for c in (
        pay("C1", amount=400_000), file_data_media("C3", policy_id="P2"), pay("C2"))],
        actor="a")
    assert [r.result["paid"] for r in results] == [  # type: ignore[union-attr]
        400_000, 0, 600_000]  # C1 and C2 share P1's first year (1,000,000)
    assert reads == []  # the claims, P1's year and P2 came in the batch's reads ahead


def test_a_refusal_resting_on_a_record_created_in_vain_is_decided_again(db_url: str):
    from domain.errors import AlreadyExists

    ledger = OneRecordCache(persistence_env(db_url), clock=FakeClock(), new_id=SequentialIds())
    ledger.execute_many([parse_command(c) for c in (attach(), file_data_media("C1"))],
                        actor="a")
    ledger.execute_many([parse_command(attach("P2"))], actor="a")  # C1 leaves the cache
    refiled, paid = ledger.execute_many([parse_command(c) for c in (
        file_data_media("C1", loss=100_000), pay("C1"))], actor="a")  # nothing payable on it
    assert isinstance(refiled, AlreadyExists)
    assert paid.result["amount"] == 700_000  # type: ignore[union-attr]  # the stored C1


def test_a_record_cached_between_batches_that_another_writer_changed_is_read_again(
    db_url: str,
):
    env = persistence_env(db_url)
    first, second = make_ledger(env), make_ledger(env)
    first.execute_many([parse_command(c) for c in (
        attach(), file_data_media("C1"), file_data_media("C2"), file_data_media("C3"),
        pay("C1", amount=100_000))], actor="a")  # first now caches year 1 and the claims
    second.execute_many([parse_command(pay("C2"))], actor="b")  # year 1 moves on
    (outcome,) = first.execute_many([parse_command(pay("C3"))], actor="a")
    assert outcome.result["amount"] == 200_000  # type: ignore[union-attr]  # not 700,000
    year = second.get_policy_year("P1", 1).coverage("data_media")  # type: ignore[arg-type]
    assert (int(year.drawn), int(year.remaining)) == (1_000_000, 0)


def test_a_policy_cached_between_batches_is_dropped_once_another_writer_changes_it(
    db_url: str,
):
    env = persistence_env(db_url)
    first, second = make_ledger(env), make_ledger(env)
    first.execute_many([parse_command(c) for c in (
        attach(), file_data_media("C1"))], actor="a")  # first now caches policy P1
    second.execute_many([parse_command(end_service(on="2024-09-30"))], actor="b")
    (outcome,) = first.execute_many(
        [parse_command(file_data_media("C2", incident="2024-12-01"))], actor="a")
    assert outcome.result["exclusion"] == "outside_cover"  # type: ignore[union-attr]  # ended


@pytest.mark.parametrize("others", [[], [attach("P2")]],
                         ids=["only this ledger appends", "another writer enrols P2"])
def test_records_nobody_else_changed_stay_cached_between_batches(
    db_url: str, others: list[dict[str, Any]],
):
    env = persistence_env(db_url)
    ledger, other = make_ledger(env), make_ledger(env)
    ledger.execute_many([parse_command(c) for c in (attach(), file_data_media("C1"))],
                        actor="a")  # the ledger now caches policy P1 and its year
    if others:
        other.execute_many([parse_command(c) for c in others], actor="b")
    reads = database_reads(ledger)
    (outcome,) = ledger.execute_many([parse_command(file_data_media("C2"))], actor="a")
    assert outcome.result["status"] == "open"  # type: ignore[union-attr]
    assert reads == []  # P1's records came from the cache, not the database


def test_a_policy_changed_by_a_writer_that_commits_during_a_batch_is_dropped_after_it(
    db_url: str,
):
    env = persistence_env(db_url)
    setup = make_ledger(env)
    setup.execute_many([parse_command(c) for c in (attach(), file_data_media("C1"))],
                       actor="a")
    racer = RacingLedger(env, clock=FakeClock(), new_id=lambda: uuid.uuid4().hex)
    racer.rival, racer.race = setup, {}
    racer.execute_many([parse_command(file_data_media("C2"))], actor="a")  # caches P1
    racer.race = end_service(on="2024-09-30")  # committed while the next batch saves
    (filed,) = racer.execute_many([parse_command(file_data_media("C3"))], actor="a")
    assert filed.result["status"] == "open"  # type: ignore[union-attr]  # incident before the end
    (late,) = racer.execute_many(
        [parse_command(file_data_media("C4", incident="2024-12-01"))], actor="a")
    assert late.result["exclusion"] == "outside_cover"  # type: ignore[union-attr]  # ended


def test_a_batch_that_refiles_a_stored_claim_or_reuses_a_stored_command_id_is_told_so(
    db_url: str,
):
    from domain.errors import AlreadyExists

    env = persistence_env(db_url)
    earlier = make_ledger(env)
    earlier.execute_many([parse_command(c) for c in (
        attach(), file_data_media("C1"), pay("C1", command_id="p-1"))], actor="a")
    later = make_ledger(env)  # knows nothing yet: its batch decides without reading
    results = later.execute_many([parse_command(c) for c in (
        file_data_media("C1"), pay("C1", command_id="p-1"), file_data_media("C2"))],
        actor="b")
    assert isinstance(results[0], AlreadyExists)
    assert results[1].replayed  # type: ignore[union-attr]
    assert results[2].result["status"] == "open"  # type: ignore[union-attr]
    assert int(later.get_claim("C1").paid) == 700_000


def test_a_refusal_decided_on_a_cached_record_is_checked_against_the_database(db_url: str):
    env = persistence_env(db_url)
    first, second = make_ledger(env), make_ledger(env)
    first.execute_many([parse_command(c) for c in (
        attach(), file_data_media("C1"), pay("C1"), file_data_media("C2"), pay("C2"),
        file_data_media("C3"))], actor="a")  # the year is used up; first caches it
    second.execute_many([parse_command(reverse("C1"))], actor="b")  # 700,000 back
    (outcome,) = first.execute_many([parse_command(pay("C3"))], actor="a")
    assert outcome.result["amount"] == 700_000  # type: ignore[union-attr]


def test_a_refusal_on_a_cache_nobody_else_has_written_past_reads_nothing_again(
    db_url: str,
):
    env = persistence_env(db_url)
    ledger = make_ledger(env)
    ledger.execute_many([parse_command(c) for c in (
        attach(), file_data_media("C1"), pay("C1"), file_data_media("C2"), pay("C2"),
        file_data_media("C3"))], actor="a")  # the year is used up; the ledger caches it
    reads = database_reads(ledger)
    (refused,) = ledger.execute_many([parse_command(pay("C3"))], actor="a")
    assert isinstance(refused, PayoutRefused) and refused.rule == "annual_limit"
    assert reads == []  # the log's head showed no other writer: the cache is current


def test_a_refusal_returned_by_a_batch_keeps_no_traceback_alive(h: Harness):
    (refused,) = h.ledger.execute_many([parse_command(file_data_media("C9"))], actor="a")
    assert isinstance(refused, NotFound)
    assert refused.__traceback__ is None and refused.__context__ is None


def test_the_cycle_collector_runs_again_after_a_batch_and_gets_back_what_was_frozen():
    import gc

    from domain.ledger.collector import BatchCollection as _BatchCollection

    collection = _BatchCollection()
    try:
        for n in range(1, collection.UNFREEZE_EVERY + 1):
            with collection.batch():
                assert not gc.isenabled()
            assert gc.isenabled()
            frozen = gc.get_freeze_count()
            assert (frozen == 0) if n == collection.UNFREEZE_EVERY else (frozen > 0)
        with pytest.raises(RuntimeError), collection.batch():
            raise RuntimeError("storage failed")
        assert gc.isenabled()
    finally:
        gc.unfreeze()
