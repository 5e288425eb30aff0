"""Authority as data: per actor, up to which amount they pay alone and up to
which they approve, set by an operator as events in the log, so who could
approve what at any past time is a replay of the log as of that time. An
actor never set has none. A refusal by authority is told apart from a rule's
(HTTP 403, exit 1), and a hold resolved already from both (409, exit 4).

Each test: given commands, when a command, then events or a refusal naming the
field and rule (and nothing appended)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from adapters.cli.exits import EXIT_CONFLICT, EXIT_REFUSED, exit_code
from adapters.http.problems import status_of
from domain.authority import AuthoritySet
from domain.claim import PayoutApproved
from domain.errors import HoldResolved, InvalidCommand, NotAuthorized, RuleViolated
from domain.replay import evolve_any
from tests.builders import approve, attach, authorize, file_data_media, request
from tests.harness import Harness

CLERK, MANAGER = "clerk", "manager"


@pytest.fixture
def filed(h: Harness) -> Harness:
    """Claims C1 and C2: 700,000 payable on each (C2 in the next year)."""
    h.given(attach(), file_data_media(loss=800_000),
            file_data_media("C2", loss=800_000, incident="2025-06-01"))
    return h


def as_of(h: Harness, at: datetime) -> dict[str, Any]:
    """Every record as the log held it at recorded time ``at``, replayed."""
    states: dict[str, Any] = {}
    for n in h.ledger.notifications():
        event = h.ledger.decode(n)
        if event.timestamp <= at:
            evolve_any(states, event)
    return states


# Setting authority ---------------------------------------------------------------


def test_set_authority_records_it_with_the_authority_before(h: Harness):
    h.given(authorize(MANAGER, pay_up_to=100_000, approve_up_to=500_000))
    (event,) = h.then_events(authorize(MANAGER, pay_up_to=200_000, approve_up_to=1_000_000,
                                       reason="promoted"))
    assert isinstance(event, AuthoritySet)
    assert (event.originator_id, event.originator_version, event.actor_name) == (
        "authority:manager", 2, MANAGER)
    assert (event.pay_up_to_before, event.approve_up_to_before, event.pay_up_to,
            event.approve_up_to, event.reason) == (100_000, 500_000, 200_000, 1_000_000,
                                                   "promoted")


def test_an_actor_never_set_has_no_authority_before_the_first(h: Harness):
    (event,) = h.then_events(authorize(MANAGER, pay_up_to=100_000))
    assert (event.pay_up_to_before, event.approve_up_to_before) == (0, 0)  # type: ignore[attr-defined]


def test_an_authority_set_to_what_it_is_is_refused(h: Harness):
    h.given(authorize(MANAGER, pay_up_to=100_000, approve_up_to=500_000))
    h.then_refused(authorize(MANAGER, pay_up_to=100_000, approve_up_to=500_000),
                   RuleViolated, "pay_up_to", "authority_changed")


@pytest.mark.parametrize("field", ["pay_up_to", "approve_up_to"])
def test_an_authority_is_never_negative(h: Harness, field: str):
    h.then_refused(authorize(MANAGER, **{field: -1}), InvalidCommand, field, "non_negative")


def test_set_authority_answers_the_actor_and_their_authority(h: Harness):
    result = h.when(authorize(MANAGER, pay_up_to=1, approve_up_to=2)).result
    assert result == {"actor_name": MANAGER, "pay_up_to": 1, "approve_up_to": 2}


# Authority in force ----------------------------------------------------------------


def test_an_actor_never_set_pays_nothing_alone_and_approves_nothing(filed: Harness):
    filed.given(request(amount=1), actor="newcomer")
    assert int(filed.ledger.get_claim("C1").held) == 1
    filed.then_refused(approve(), NotAuthorized, "actor", "approval_authority",
                       actor="another newcomer")


def test_a_raised_authority_applies_to_the_next_request(filed: Harness):
    filed.given(authorize(CLERK, pay_up_to=100_000))
    filed.given(request(amount=200_000), actor=CLERK)
    filed.given(authorize(CLERK, pay_up_to=200_000))
    filed.given(request("C2", amount=200_000), actor=CLERK)
    assert [int(filed.ledger.get_claim(c).paid) for c in ("C1", "C2")] == [0, 200_000]


def test_a_lowered_authority_applies_to_the_next_approval(filed: Harness):
    filed.given(authorize(MANAGER, approve_up_to=1_000_000), request(), actor=CLERK)
    filed.given(authorize(MANAGER, approve_up_to=500_000))
    filed.then_refused(approve(), NotAuthorized, "actor", "approval_authority",
                       actor=MANAGER)


def test_the_request_and_the_approval_copy_the_authority_in_force(filed: Harness):
    filed.given(authorize(CLERK, pay_up_to=50_000), authorize(MANAGER, approve_up_to=700_000))
    (requested, _) = filed.then_events(request(), actor=CLERK)
    approved = filed.then_events(approve(), actor=MANAGER)[0]
    assert isinstance(approved, PayoutApproved)
    assert (requested.pay_up_to, approved.approve_up_to) == (50_000, 700_000)  # type: ignore[attr-defined]


def test_who_could_approve_what_at_a_past_time_is_a_replay_of_the_log(filed: Harness):
    filed.given(authorize(MANAGER, approve_up_to=700_000), request(), actor=CLERK)
    then = filed.clock.now
    filed.clock.advance(hours=1)
    filed.given(approve(), actor=MANAGER)
    filed.clock.advance(hours=1)
    filed.given(authorize(MANAGER, approve_up_to=100_000, reason="moved to another desk"))
    past, now = as_of(filed, then)["authority:manager"], as_of(filed, filed.clock.now)[
        "authority:manager"]
    assert (past.approve_up_to, now.approve_up_to) == (700_000, 100_000)
    assert filed.ledger.find_authority(MANAGER) == now
    hold = as_of(filed, then)["claim:C1"].hold("payout-1")
    assert (str(hold.status), hold.resolved_by) == ("pending", None)


# How a refusal is told -------------------------------------------------------------


def test_a_refusal_by_authority_is_forbidden_and_exits_as_refused(filed: Harness):
    filed.given(request(), actor=CLERK)
    refused = filed.then_refused(approve(), NotAuthorized, "actor", "approval_authority",
                                 actor=MANAGER)
    assert (status_of(refused), exit_code(refused)) == (403, EXIT_REFUSED)


def test_a_hold_resolved_already_is_a_conflict(filed: Harness):
    filed.given(authorize(MANAGER, approve_up_to=700_000), request(), actor=CLERK)
    filed.given(approve(), actor=MANAGER)
    refused = filed.then_refused(approve(), HoldResolved, "payout_id", "hold_pending",
                                 actor=MANAGER)
    assert (status_of(refused), exit_code(refused)) == (409, EXIT_CONFLICT)
