"""Single commands (``Ledger.execute``) decided on the records the ledger keeps
between commands: the same answers as reads from the log, without replaying a
record that nobody else changed, and catching up the ones others changed."""

from __future__ import annotations

from typing import Any

from adapters.storage import persistence_env
from domain.commands import parse_command
from domain.errors import LedgerError
from domain.ledger import Ledger
from tests.builders import (
    FakeClock,
    SequentialIds,
    attach,
    end_service,
    file_data_media,
    pay,
)
from tests.harness import RacingLedger, database_reads, fold, given, make_ledger
from tests.support.databases import fresh_db
from tests.workload import commands as workload


def _answers(ledgers: list[Ledger], commands: list[dict[str, Any]]) -> list[Any]:
    """Each command's result (or refusal), run on the ledgers in turn."""
    answers: list[Any] = []
    for n, command in enumerate(commands):
        try:
            answers.append(ledgers[n % len(ledgers)].execute(
                parse_command(command), actor="t").result)
        except LedgerError as refused:
            answers.append((type(refused).__name__, refused.rule))
    return answers


def test_two_ledgers_taking_turns_on_one_log_answer_as_one_ledger_alone(
    db_url: str, tmp_path: Any,
):
    commands = list(workload(800))
    clock, ids = FakeClock(), SequentialIds()
    pair = [Ledger(persistence_env(db_url), clock=clock, new_id=ids) for _ in range(2)]
    with fresh_db("sqlite", tmp_path) as other:
        alone = Ledger(persistence_env(other), clock=FakeClock(), new_id=SequentialIds())
        assert _answers(pair, commands) == _answers([alone], commands)
        assert (fold([alone.decode(n) for n in alone.notifications()])
                == fold([pair[0].decode(n) for n in pair[0].notifications()]))


def test_a_single_command_reads_no_record_its_ledger_kept(db_url: str):
    ledger = make_ledger(persistence_env(db_url))
    given(ledger, attach(), file_data_media("C1"))
    reads = database_reads(ledger)
    given(ledger, file_data_media("C2"))
    assert reads == ["claim:C2"]  # that it is new; the policy and its year were kept


def test_a_record_another_writer_changed_is_caught_up_from_the_one_kept(db_url: str):
    env = persistence_env(db_url)
    ledger, other = make_ledger(env), make_ledger(env)
    given(ledger, attach(), file_data_media("C1"))
    given(other, end_service(on="2024-09-30"))
    reads = database_reads(ledger)
    filed = ledger.execute(parse_command(file_data_media("C2", incident="2024-12-01")),
                           actor="t")
    assert filed.result["exclusion"] == "outside_cover"  # the end is seen
    assert reads == ["claim:C2"]  # the policy: only the events after the one kept


def test_a_command_that_loses_a_race_on_kept_records_is_decided_on_the_winners(db_url: str):
    env = persistence_env(db_url)
    racer = RacingLedger(env, clock=FakeClock(), new_id=SequentialIds())
    racer.rival, racer.race = make_ledger(env), {}
    given(racer, attach(), file_data_media("C1"), file_data_media("C2"))  # kept
    racer.race = pay("C2")  # the rival pays 700,000 just before the racer's save
    outcome = racer.execute(parse_command(pay("C1")), actor="t")
    assert outcome.result["amount"] == 300_000  # decided again: only 300,000 remained
    assert [int(racer.get_claim(c).paid) for c in ("C1", "C2")] == [300_000, 700_000]
