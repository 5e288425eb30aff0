"""A dry run: every command decided as a real run would decide it now, each on
the state the ones before it left, and nothing appended, nor kept in the
ledger's cache."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.commands import Command, parse_command
from domain.errors import LedgerError, NotFound
from domain.ledger import Ledger, Outcome
from tests.builders import attach, file_data_media, pay
from tests.harness import Harness, make_ledger
from tests.strategies import commands


def seen(result: Outcome | LedgerError) -> Any:
    """What a run answers for a command, but where its events were stored and
    the ids the ledger made up."""
    if isinstance(result, LedgerError):
        return type(result).__name__, result.field, result.rule
    return (result.command, result.replayed, result.result,
            [(e.aggregate_id, e.version, e.event) for e in result.events])


def tried(ledger: Ledger, *batches: list[Command]) -> list[Outcome | LedgerError]:
    """The results of one dry run of ``batches``, one after another."""
    with ledger.dry_run() as decide:
        return [r for batch in batches for r in decide(batch, actor="t")]


@settings(max_examples=40, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(commands(kinds=("file",)), min_size=3, max_size=8),
       st.lists(commands(), min_size=5, max_size=30), st.integers(min_value=1, max_value=9))
def test_a_dry_run_answers_what_the_real_run_that_follows_does(
    filings: list[dict[str, Any]], sequence: list[dict[str, Any]], size: int,
) -> None:
    ledger = make_ledger({})
    ledger.execute(parse_command(attach()), actor="t")
    parsed = [parse_command(c) for c in [*filings, *sequence]]
    batches = [parsed[start:start + size] for start in range(0, len(parsed), size)]
    head = ledger.recorder.max_notification_id()
    dry = tried(ledger, *batches)
    assert ledger.recorder.max_notification_id() == head
    real = [r for batch in batches for r in ledger.execute_many(batch, actor="t")]
    assert [seen(r) for r in dry] == [seen(r) for r in real]


def test_a_dry_run_appends_nothing_and_its_events_have_no_position(h: Harness):
    h.given(attach())
    before = h.position()
    (outcome,) = tried(h.ledger, [parse_command(file_data_media("C1"))])
    assert isinstance(outcome, Outcome) and outcome.events
    assert {e.position for e in outcome.events} == {None}
    assert h.position() == before
    assert h.ledger.find_claim("C1") is None


def test_each_command_of_a_dry_run_is_decided_on_the_state_the_ones_before_it_left(
    h: Harness,
):
    h.given(attach())
    filed, paid, again = tried(h.ledger, [parse_command(file_data_media("C1"))],
                               [parse_command(pay("C1")), parse_command(pay("C1"))])
    assert isinstance(filed, Outcome) and isinstance(paid, Outcome)
    assert paid.result["amount"] == 700_000
    assert isinstance(again, LedgerError) and again.rule == "payable_on_claim", again


def test_a_command_id_applied_before_answers_its_first_outcome_in_a_dry_run(h: Harness):
    h.given(attach(), file_data_media("C1"))
    first = h.when(pay("C1", command_id="pay-1"))
    before = h.position()
    (replayed,) = tried(h.ledger, [parse_command(pay("C1", command_id="pay-1"))])
    assert isinstance(replayed, Outcome) and replayed.replayed
    assert replayed.events == first.events and replayed.result == first.result
    assert h.position() == before


def test_what_a_dry_run_decided_is_not_kept_for_the_commands_that_follow(h: Harness):
    h.given(attach())
    tried(h.ledger, [parse_command(file_data_media("C1"))])
    h.then_refused(pay("C1"), NotFound, "claim_id", "claim_exists")
    (batched,) = h.ledger.execute_many([parse_command(pay("C1"))], actor="t")
    assert isinstance(batched, NotFound), batched
