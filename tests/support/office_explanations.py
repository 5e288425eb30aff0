"""What the tests of the claims office's explanations share: commands sent as
an actor, and the explanation of a claim and its events (the ``office``
ledger, with a clerk and a manager of known authority, is a fixture of the
unit tier's conftest)."""

from __future__ import annotations

from typing import Any

from adapters.service import reads as views
from domain.claim import claim_id_of
from domain.commands import parse_command
from domain.explanation import Explanation, Lang, Line
from domain.ledger import Ledger
from domain.policy_year import policy_year_id

AT = {"ja": "2026年1月15日 12:00", "en": "2026-01-15 12:00"}
"""When the test clock records everything."""


def by(ledger: Ledger, actor: str, *commands: dict[str, Any]) -> None:
    for command in commands:
        ledger.execute(parse_command(command), actor=actor)


def told(ledger: Ledger, lang: Lang, claim_id: str = "C1") -> Explanation:
    return views.explanation(ledger, claim_id, lang)


def lines_of(explanation: Explanation, kind: str) -> list[Line]:
    return [line for line in explanation.lines if line.kind == kind]


def events_of(ledger: Ledger, claim_id: str = "C1") -> tuple[list[Any], list[Any]]:
    claim_events = list(ledger.events.get(claim_id_of(claim_id)))
    first = claim_events[0]
    return claim_events, list(ledger.events.get(policy_year_id(first.policy_id,
                                                               first.policy_year)))
