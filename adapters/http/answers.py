"""The API's own answer models: what the routes answer besides the read rows
(``projections.rows``) and a command's ``Outcome``. They are the response models
the OpenAPI document describes; each matches, field for field, the JSON its
route writes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, WithJsonSchema

from adapters.http.openapi import PROBLEM_SCHEMA
from domain.explanation import Lang, Line
from domain.ledger import Outcome


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExplanationAnswer(_Answer):
    """``GET /claims/{id}/explanation``: the claim's decisions line by line, the
    whole text, and the text of each line that disagrees with the recomputation."""

    claim_id: str
    lang: Lang
    lines: list[Line]
    text: str
    mismatches: list[str]


class Unavailable(_Answer):
    """``GET /health`` when a database does not answer (``503``)."""

    status: Literal["unavailable"]


class RebuildAnswer(_Answer):
    """``POST /admin/rebuild``: the read models rebuilt, the events applied, and
    the log position they reached."""

    rebuilt: list[str]
    events: int
    position: int


class VerifyAnswer(_Answer):
    """``POST /admin/verify``: whether the read models match a replay of the log,
    and each difference found."""

    ok: bool
    differences: list[str]


ProblemBody = Annotated[dict[str, Any], WithJsonSchema(PROBLEM_SCHEMA)]
"""A problem+json body (the document's hand-written ``Problem`` schema, inline:
pydantic cannot refer to a schema it did not make)."""


class Applied(_Answer):
    """A command of a batch that was applied (or replayed), at its index."""

    index: int
    ok: Literal[True]
    outcome: Outcome


class Refused(_Answer):
    """A command of a batch that was refused, at its index: the status and problem
    it would have had on its own."""

    index: int
    ok: Literal[False]
    status: int
    problem: ProblemBody


class BatchAnswer(_Answer):
    """``POST /commands/batch``: each command's result, in order."""

    dry_run: bool = False
    """True for a dry run (``dry_run=true``): what each would do now; nothing was
    appended. Left out otherwise."""
    results: list[Applied | Refused]


class DryRunOutcome(Outcome):
    """``POST /commands?dry_run=true``: what the command would do now (its
    events, never stored, have no position; a command id applied before
    answers its first outcome, as a real run would)."""

    dry_run: Literal[True]


class AuthorityRow(_Answer):
    """An actor's authority (``GET /authority`` returns a list): what they may
    pay alone and approve, and who set it when (null for an actor no operator
    has set, who has none)."""

    actor_name: str
    pay_up_to: int
    approve_up_to: int
    version: int
    set_at: str | None
    set_by: str | None
    reason: str | None


class AuthorityChange(_Answer):
    """One change to an actor's authority, as the log records it."""

    version: int
    recorded_at: str
    set_by: str
    command_id: str
    pay_up_to_before: int
    pay_up_to: int
    approve_up_to_before: int
    approve_up_to: int
    reason: str | None


class AuthorityAnswer(AuthorityRow):
    """``GET /authority/{actor_name}``: the actor's authority and every change
    to it, oldest first."""

    changes: list[AuthorityChange]


class FeedItem(_Answer):
    """One event of the feed: its position in the log, its aggregate and version,
    its name, when, by whom and under which command it was recorded, and its
    payload exactly as the log stores it."""

    position: int
    aggregate_id: str
    version: int
    event: str
    recorded_at: str | None
    actor: str | None
    command_id: str | None
    payload: Any


class FeedAnswer(_Answer):
    """``GET /feed``: the events after the cursor, in position order, and the
    cursor to go on from (`after=next_after`)."""

    items: list[FeedItem]
    next_after: int
