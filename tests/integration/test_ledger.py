"""The ledger service: atomic commands, idempotent retries, concurrency, replay."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from adapters.storage import persistence_env
from domain.commands import parse_command
from domain.errors import (
    IdempotencyConflict,
    InvalidCommand,
    NotFound,
)
from domain.ledger import Ledger, Outcome
from tests.builders import FakeClock, attach, file_data_media, pay
from tests.harness import Harness, RacingLedger, make_ledger


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


def test_a_batch_whose_answer_was_lost_is_not_applied_twice(db_url: str):
    env = persistence_env(db_url)
    setup = make_ledger(env)
    for command in (attach(), file_data_media()):
        setup.execute(parse_command(command), actor="t")
    ledger = LostAnswerLedger(env, clock=FakeClock(), new_id=lambda: uuid.uuid4().hex)
    [outcome] = ledger.execute_many([parse_command(pay())], actor="t")
    assert isinstance(outcome, Outcome) and outcome.replayed
    assert outcome.result["amount"] == 700_000
    assert all(e.position for e in outcome.events)  # found in the log
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
