"""What each way in answers a refusal of the claims office's rules with: a hold
already resolved is a conflict (HTTP 409, exit 4), a decision beyond the
actor's authority is forbidden (HTTP 403) and refused (exit 1)."""

from __future__ import annotations

from adapters.cli.exits import EXIT_CONFLICT, EXIT_REFUSED, exit_code
from adapters.http.problems import problem_of, status_of
from domain.errors import HoldResolved, NotAuthorized


def test_a_hold_already_resolved_is_a_conflict() -> None:
    error = HoldResolved.of("payout_id", "hold_pending", "payout payout-1 is already approved")

    assert (status_of(error), exit_code(error)) == (409, EXIT_CONFLICT)
    assert problem_of(error).body()["violations"][0]["rule"] == "hold_pending"


def test_a_decision_beyond_the_actors_authority_is_forbidden_and_refused() -> None:
    error = NotAuthorized.of("actor", "approval_authority", "may approve up to 0")

    assert (status_of(error), exit_code(error)) == (403, EXIT_REFUSED)
    assert problem_of(error).title == "Not authorized"
