"""The ledger under test: a given/when/then harness over it, how a test builds one
(on any recorder, with a fake clock and sequential ids), and the doubles and
helpers that several test modules share."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from adapters.service import reads as views
from domain import claim as claim_module
from domain import incident as incident_module
from domain import policy as policy_module
from domain import policy_year as policy_year_module
from domain.commands import parse_command
from domain.errors import LedgerError
from domain.events import LedgerEvent
from domain.ledger import Ledger, Outcome
from tests.builders import FakeClock, SequentialIds


class Harness:
    """Given commands / when a command / then events or an error."""

    def __init__(self, ledger: Ledger, clock: FakeClock) -> None:
        self.ledger = ledger
        self.clock = clock

    def given(self, *commands: dict[str, Any], actor: str = "tester") -> None:
        for command in commands:
            self.ledger.execute(parse_command(command), actor=actor)

    def position(self) -> int:
        return self.ledger.recorder.max_notification_id() or 0

    def when(self, command: dict[str, Any], actor: str = "tester") -> Outcome:
        return self.ledger.execute(parse_command(command), actor=actor)

    def events_after(self, position: int) -> list[LedgerEvent]:
        notifications = self.ledger.recorder.select_notifications(position + 1, 10_000)
        return [self.ledger.mapper.to_domain_event(n) for n in notifications]

    def then_events(self, command: dict[str, Any], actor: str = "tester") -> list[LedgerEvent]:
        before = self.position()
        self.when(command, actor)
        return self.events_after(before)

    def then_refused(
        self, command: dict[str, Any], error: type[LedgerError], field: str | None, rule: str,
        actor: str = "tester",
    ) -> LedgerError:
        before = self.position()
        with pytest.raises(error) as caught:
            self.when(command, actor)
        assert (caught.value.field, caught.value.rule) == (field, rule), caught.value
        assert self.position() == before, "a refused command appended events"
        return caught.value


def make_ledger(env: dict[str, str], clock: FakeClock | None = None) -> Ledger:
    """A ledger on the persistence ``env`` (``{}``: the library's in-memory recorder)."""
    return Ledger(env, clock=clock or FakeClock(), new_id=SequentialIds())


def given(ledger: Ledger, *commands: dict[str, Any]) -> None:
    """Run ``commands`` on ``ledger``; a refusal fails the test."""
    for command in commands:
        ledger.execute(parse_command(command), actor="tester")


def explanation_text(ledger: Ledger, claim_id: str, lang: str = "ja") -> str:
    """A claim's explanation in ``lang``, as ``claims-ledger explain`` prints it."""
    return views.explanation(ledger, claim_id, lang).text()  # type: ignore[arg-type]


def run_all(ledger: Ledger, sequence: list[dict[str, Any]], after_each: Any = None) -> None:
    """Run ``sequence`` on ``ledger``, refusals included, calling ``after_each``
    after every command."""
    for command in sequence:
        with contextlib.suppress(LedgerError):  # refusals are part of the mix
            ledger.execute(parse_command(command), actor="t")
        if after_each is not None:
            after_each()


def fold(events: list[LedgerEvent]) -> dict[str, Any]:
    """Rebuild every aggregate from events with the domain's own evolve functions."""
    states: dict[str, Any] = {}
    for e in events:
        aid = e.originator_id
        if aid.startswith("claim:"):
            states[aid] = claim_module.evolve(states.get(aid), e)
        elif aid.startswith("incident:"):
            states[aid] = incident_module.evolve(states.get(aid), e)
        elif ":year:" in aid:
            states[aid] = policy_year_module.evolve(states.get(aid), e)
        elif aid.startswith("policy:"):
            states[aid] = policy_module.evolve(states.get(aid), e)
    return states


class RacingLedger(Ledger):
    """A ledger that lets a rival writer commit just before its first save."""

    name = Ledger.name  # the same log (PostgreSQL names tables after the application)
    rival: Ledger
    race: dict[str, Any]

    def append(self, events: Any) -> Any:
        if self.race:
            command, self.race = self.race, {}
            self.rival.execute(parse_command(command), actor="rival")
        return super().append(events)


def database_reads(ledger: Ledger) -> list[str]:
    """From now on, the ids of the records ``ledger`` reads from the database."""
    reads: list[str] = []
    get = ledger.repository.get

    def counted(aggregate_id: str, **kwargs: Any) -> Any:
        reads.append(aggregate_id)
        return get(aggregate_id, **kwargs)

    ledger.repository.get = counted  # type: ignore[method-assign]
    return reads


def data_media_year(h: Harness) -> policy_year_module.CoverageInForce:
    """Policy P1's first year's data/media coverage, as the ledger has it now."""
    return h.ledger.get_policy_year("P1", 1).coverage("data_media")  # type: ignore[arg-type]


def paid_and_held(h: Harness, claim_id: str = "C1") -> tuple[int, int]:
    """What the claim is paid, and what payouts awaiting approval hold on it."""
    claim = h.ledger.get_claim(claim_id)
    return int(claim.paid), int(claim.held)
