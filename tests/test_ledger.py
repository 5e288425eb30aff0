"""The ledger service: atomic commands, idempotent retries, concurrency, replay."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.storage import persistence_env
from domain.commands import parse_command
from domain.errors import (
    IdempotencyConflict,
    InvalidCommand,
    LedgerError,
    NotFound,
    PayoutRefused,
)
from domain.ledger import Ledger
from tests.builders import FakeClock, attach, end_service, file_data_media, pay, reverse
from tests.harness import Harness, RacingLedger, database_reads, make_ledger
from tests.strategies import commands


def test_every_event_records_the_actor_the_command_id_and_the_recorded_time(h: Harness):
    outcome = h.when(attach(command_id="enrol-1"), actor="svc:sales")
    events = h.events_after(0)
    business = [e for e in events if e.event_name != "CommandAccepted"]
    assert len(business) == len(outcome.events) == 5
    assert {(e.actor, e.command_id, e.timestamp) for e in events} == {
        ("svc:sales", "enrol-1", h.clock.now)}
    assert [e.position for e in outcome.events] == [1, 2, 3, 4, 5]


def test_a_command_without_an_id_gets_one_from_the_id_source(h: Harness):
    outcome = h.when(attach())
    assert outcome.command_id == "cmd-1"
    assert {e.command_id for e in h.events_after(0)} == {"cmd-1"}


def test_a_resent_command_id_returns_the_first_outcome_and_appends_nothing(h: Harness):
    h.given(attach(), file_data_media())
    first = h.when(pay(command_id="pay-1"))
    position = h.position()
    h.clock.advance(minutes=5)
    again = h.when(pay(command_id="pay-1"))
    assert h.position() == position
    assert again.replayed and not first.replayed
    assert again.result == first.result
    assert [(e.aggregate_id, e.version, e.event) for e in again.events] == [
        (e.aggregate_id, e.version, e.event) for e in first.events]
    assert int(h.ledger.get_claim("C1").paid) == 700_000


def test_a_command_id_reused_for_a_different_command_is_refused(h: Harness):
    h.given(attach(), file_data_media(), pay(command_id="pay-1", amount=100_000))
    h.then_refused(pay(command_id="pay-1", amount=200_000), IdempotencyConflict,
                   "command_id", "same_command_same_id")


def test_a_refused_command_with_an_id_can_be_sent_again_once_it_is_valid(h: Harness):
    h.given(attach())
    h.then_refused(pay(command_id="p-1"), NotFound, "claim_id", "claim_exists")
    h.given(file_data_media())
    assert not h.when(pay(command_id="p-1")).replayed


def test_an_empty_actor_is_refused(h: Harness):
    with pytest.raises(InvalidCommand) as caught:
        h.when(attach(), actor=" ")
    assert caught.value.field == "actor" and h.position() == 0


@pytest.mark.parametrize("actor", ["clerk\x00", "clerk\nroot", "\x1b[31mclerk"])
def test_an_actor_with_control_characters_is_refused(h: Harness, actor: str):
    with pytest.raises(InvalidCommand) as caught:
        h.when(attach(), actor=actor)
    assert (caught.value.field, caught.value.rule) == ("actor", "printable")
    with pytest.raises(InvalidCommand) as caught:
        h.ledger.execute_many([parse_command(attach())], actor=actor)
    assert (caught.value.field, caught.value.rule) == ("actor", "printable")
    assert h.position() == 0


def test_a_payout_that_loses_a_race_is_decided_again_on_fresh_state(db_url: str):
    env = persistence_env(db_url)
    clock = FakeClock()
    setup = make_ledger(env, clock)
    for command in (attach(), file_data_media("C1"), file_data_media("C2")):
        setup.execute(parse_command(command), actor="t")
    racer = RacingLedger(env, clock=clock, new_id=lambda: "racer")
    racer.rival = setup
    racer.race = pay("C2")  # the rival pays 700,000 first
    outcome = racer.execute(parse_command(pay("C1")), actor="t")
    assert outcome.result["amount"] == 300_000  # decided again: only 300,000 remained
    year = setup.get_policy_year("P1", 1)
    assert int(year.coverage("data_media").remaining) == 0  # type: ignore[arg-type]
    assert [int(setup.get_claim(c).paid) for c in ("C1", "C2")] == [300_000, 700_000]


def test_concurrent_processes_never_pay_more_than_the_annual_limit(db_url: str,
                                                                   tmp_path: Path):
    db = db_url
    setup = make_ledger(persistence_env(db))
    setup.execute(parse_command(attach()), actor="t")
    claims = [f"C{n}" for n in range(8)]
    for claim_id in claims:
        setup.execute(parse_command(file_data_media(claim_id)), actor="t")
    outs = [tmp_path / f"w{n}.json" for n in range(4)]
    workers = [subprocess.Popen([sys.executable, "-m", "tests.support.pg_workers", "pay", db,
                                 ",".join(claims), str(out)], stderr=subprocess.PIPE, text=True)
               for out in outs]
    for w in workers:
        _, err = w.communicate(timeout=300)
        assert w.returncode == 0, err[-2000:]
    accepted = [tuple(item) for out in outs for item in json.loads(out.read_text())]
    paid = {c: int(setup.get_claim(c).paid) for c in claims}
    year = setup.get_policy_year("P1", 1).coverage("data_media")  # type: ignore[arg-type]
    assert sum(paid.values()) == int(year.drawn) <= 1_000_000
    assert len(accepted) == 1_000_000 // 50_000  # every acknowledged payout is in the log
    recorded = {(c, p.payout_id) for c in claims for p in setup.get_claim(c).payouts}
    assert recorded == set(accepted)


def test_replaying_the_log_in_a_new_ledger_gives_identical_aggregates(db_url: str):
    env = persistence_env(db_url)
    first = make_ledger(env)
    for command in (attach(), file_data_media("C1"), pay("C1"),
                    file_data_media("C2", incident="2025-05-01"), pay("C2", amount=1000)):
        first.execute(parse_command(command), actor="t")
    second = make_ledger(env)
    assert second.get_policy("P1") == first.get_policy("P1")
    for year in (1, 2):
        assert second.get_policy_year("P1", year) == first.get_policy_year("P1", year)
    for claim_id in ("C1", "C2"):
        assert second.get_claim(claim_id) == first.get_claim(claim_id)


class LostAnswerLedger(Ledger):
    """Storage that commits a save but reports a conflict, as the library's
    retry does when a connection drops after the commit."""

    name = Ledger.name
    lose_next = True

    def append(self, events: Any) -> Any:
        recordings = super().append(events)
        if self.lose_next:
            self.lose_next = False
            from eventsourcing.persistence import IntegrityError

            raise IntegrityError("duplicate key (the first try had committed)")
        return recordings


def test_a_command_whose_answer_was_lost_is_not_applied_twice(db_url: str):
    env = persistence_env(db_url)
    setup = make_ledger(env)
    for command in (attach(), file_data_media()):
        setup.execute(parse_command(command), actor="t")
    ledger = LostAnswerLedger(env, clock=FakeClock(), new_id=lambda: uuid.uuid4().hex)
    outcome = ledger.execute(parse_command(pay()), actor="t")
    assert outcome.replayed and outcome.result["amount"] == 700_000
    claim = setup.get_claim("C1")
    assert [(p.payout_id, int(p.amount)) for p in claim.payouts] == [("payout-1", 700_000)]


def test_a_command_decided_on_a_stale_version_is_refused(h: Harness):
    from domain.errors import VersionConflict

    h.given(attach(), file_data_media())
    version = h.ledger.get_claim("C1").version
    h.given(pay(amount=100_000, expected_version=version))
    h.then_refused(pay(amount=100_000, expected_version=version), VersionConflict,
                   "expected_version", "current_version")
    assert int(h.ledger.get_claim("C1").paid) == 100_000


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


@settings(max_examples=40, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(commands(kinds=("file",)), min_size=3, max_size=8),
       st.lists(commands(), min_size=5, max_size=30), st.integers(min_value=1, max_value=9))
def test_batched_commands_leave_the_same_ledger_as_one_at_a_time(
    filings: list[dict[str, Any]], sequence: list[dict[str, Any]], size: int,
) -> None:
    from tests.harness import fold

    one, many = (make_ledger(persistence_env(":memory:")) for _ in range(2))
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

    from domain.ledger import _BatchCollection

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


def test_an_outcome_as_json_is_what_pydantic_would_dump(db_url: str):
    from domain.ledger import Outcome
    from tests.workload import commands as workload

    ledger = make_ledger(persistence_env(db_url))
    parsed = [parse_command(c) for c in workload(2000, 4)]
    first = ledger.execute_many(parsed, actor="a")
    again = ledger.execute_many([c for c in parsed if c.command_id], actor="a")
    outcomes = [o for o in [*first, *again] if isinstance(o, Outcome)]
    assert {o.command for o in outcomes} >= {"attach_coverage", "file_claim", "issue_payout"}
    assert any(o.replayed for o in outcomes)
    # the same keys, values and order: the same JSON text
    assert ([json.dumps(o.as_json()) for o in outcomes]
            == [json.dumps(o.model_dump(mode="json")) for o in outcomes])
