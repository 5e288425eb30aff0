"""Invariants over random command sequences (hypothesis).

Whatever commands arrive, in whatever order: paid never exceeds a claim's
payable amount or the per-incident limit; across incidents of several claims,
no incident is paid more than its per-incident limit, nor more than its loss
less one deductible, and no claim of one more than its share; a year's drawn
never exceeds its annual limit (remaining never negative); what claims paid adds
up to what the years drew and to what their incidents drew; a refused command
appends nothing; and replaying the stored events rebuilds exactly the
aggregates the ledger decided with.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.storage import persistence_env
from domain import claim as claim_module
from domain import incident as incident_module
from domain.commands import parse_command
from domain.errors import LedgerError
from domain.ledger import Ledger
from tests.builders import attach
from tests.harness import fold, make_ledger
from tests.strategies import commands
from tests.support.databases import BACKENDS, fresh_db

EXAMPLES = {"sqlite": 200, "postgresql": 40}


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_command_sequence_breaks_the_limits_and_replay_rebuilds_the_same_state(
    backend: str, tmp_path: Path,
) -> None:
    with fresh_db(backend, tmp_path) as db:
        ledger = make_ledger(persistence_env(db))
        attempt = settings(max_examples=EXAMPLES[backend], deadline=None,
                           suppress_health_check=[HealthCheck.too_slow])(
            given(st.lists(commands(kinds=("file",)), min_size=3, max_size=10),
                  st.lists(commands(), min_size=5, max_size=50))(check_sequence))
        attempt(ledger)
        ledger.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_incident_is_paid_more_than_its_limit_less_one_deductible(
    backend: str, tmp_path: Path,
) -> None:
    """Every claim filed for one of two incidents, and mostly paid."""
    with fresh_db(backend, tmp_path) as db:
        ledger = make_ledger(persistence_env(db))
        shared = ("I1", "I2")
        attempt = settings(max_examples=EXAMPLES[backend], deadline=None,
                           suppress_health_check=[HealthCheck.too_slow])(
            given(st.lists(commands(kinds=("file",), incidents=shared), min_size=3,
                           max_size=10),
                  st.lists(commands(kinds=("pay", "pay", "pay", "interim", "reverse",
                                           "assess", "withdraw", "file"),
                                    incidents=shared), min_size=5, max_size=40),
                  )(check_sequence))
        attempt(ledger)
        ledger.close()


def check_sequence(
    ledger: Ledger, filings: list[dict[str, Any]], sequence: list[dict[str, Any]],
) -> None:
    """One random sequence on a fresh policy of the shared ledger."""
    policy = f"P{uuid.uuid4().hex[:10]}"
    prefix = f"{policy}-"
    filings = [_for_policy(c, policy, prefix) for c in filings]
    sequence = [_for_policy(c, policy, prefix) for c in sequence]
    start = ledger.recorder.max_notification_id() or 0
    ledger.execute(parse_command(attach(policy)), actor="t")
    for command in filings + sequence:
        before = ledger.recorder.max_notification_id()
        try:
            ledger.execute(parse_command(command), actor="t")
        except LedgerError:
            assert ledger.recorder.max_notification_id() == before
    events = [ledger.mapper.to_domain_event(n)
              for n in ledger.recorder.select_notifications(start + 1, 100_000)]
    states = fold(events)
    drawn: dict[tuple[int, str], int] = {}
    for aid, state in states.items():
        if aid.startswith("claim:"):
            assert state.paid <= state.payable <= state.per_incident_limit
            assert state == ledger.get_claim(state.claim_id)
            key = (state.policy_year, str(state.coverage))
            drawn[key] = drawn.get(key, 0) + int(state.paid)
            if state.incident_id is not None:
                assert ledger.incident_of(state) == states[
                    incident_module.incident_id_of(state.policy_id, state.coverage,
                                                   state.incident_id)]
        elif aid.startswith("incident:"):
            check_incident(state, states)
        elif ":year:" in aid:
            assert state == ledger.get_policy_year(state.policy_id, state.year)
            for c in state.coverages:
                assert 0 <= c.drawn <= c.annual_limit
                assert c.remaining == c.annual_limit - c.drawn
        else:
            assert state == ledger.get_policy(state.policy_id)
    for aid, state in states.items():
        if ":year:" in aid:
            for c in state.coverages:
                assert drawn.get((state.year, str(c.coverage)), 0) == int(c.drawn)


def check_incident(incident: incident_module.Incident, states: dict[str, Any]) -> None:
    """One incident of several claims: paid at most its limit and its loss less
    one deductible; each claim at most its share; each claim's paid as the
    incident records it, and every claim of it drawing on one year."""
    assert incident.paid <= min(incident.loss.less(incident.deductible),
                                incident.per_incident_limit)
    years = set()
    for c in incident.claims:
        claim = states[claim_module.claim_id_of(c.claim_id)]
        assert c.paid == claim.paid <= incident.share(c.claim_id)
        assert claim.incident_id == incident.incident_id
        years.add(claim.policy_year)
    assert years == {incident.policy_year}


def _for_policy(command: dict[str, Any], policy: str, prefix: str) -> dict[str, Any]:
    """The command moved onto ``policy``, its claim ids made unique to it."""
    moved = dict(command)
    if "claim_id" in moved:
        moved["claim_id"] = prefix + moved["claim_id"]
    if "policy_id" in moved:
        moved["policy_id"] = policy
    return moved
