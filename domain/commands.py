"""Command contract v1: the commands every adapter sends, as pydantic models.

One JSON object per command, told apart by its ``command`` field; the CLI's
``apply`` reads them one per line and the HTTP API takes the same bodies.
Parsing is strict: integers stay integers (no ``1.5`` or ``"100"`` yen),
booleans stay booleans, unknown fields are refused. ``parse_command`` turns a
pydantic validation failure into an ``InvalidCommand`` naming each field and
rule. Rules that need the terms or the ledger's state (eligibility, causes,
exclusion codes, policy periods) are checked by the decisions, not here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError

from domain.command_fields import IDENTIFIER as IDENTIFIER  # re-exported
from domain.command_fields import (
    BusinessDate,
    Code,
    CommandModel,
    Identifier,
    Name,
    OnExisting,
    Text,
)
from domain.errors import InvalidCommand, Violation
from domain.money import Yen
from domain.office_commands import (
    ApprovePayout,
    RecordRecovery,
    RejectPayout,
    RequestPayout,
    SetAuthority,
    SetReserve,
)
from domain.terms import Coverage, FirewallOption, NoticeChannel

CONTRACT_VERSION = 1

class AttachCoverage(CommandModel):
    """Enrol a policy: coverage attaches to a shared/dedicated firewall option."""

    command: Literal["attach_coverage"]
    policy_id: Identifier
    customer_id: Identifier
    customer_name: Name
    financial_institution: bool
    screening_passed: bool
    firewall_option: FirewallOption
    firewall_applied_on: BusinessDate
    service_start: BusinessDate
    service_end: BusinessDate | None = None


class EndService(OnExisting):
    """The private-server service ended (or its recorded end is corrected): cover
    ends at the end of that day, or of the option's cancellation if earlier."""

    command: Literal["end_service"]
    policy_id: Identifier
    service_end: BusinessDate
    reason: Text | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="why; required to correct an end already recorded",
    )


class FileClaim(CommandModel):
    """A claim for one incident under one coverage."""

    command: Literal["file_claim"]
    claim_id: Identifier
    policy_id: Identifier
    coverage: Coverage
    cause: Code
    incident_date: BusinessDate
    claim_made_on: BusinessDate | None = Field(
        default=None,
        description="it_liability only: the day the third party made its claim",
    )
    loss_amount: Yen
    description: Text
    notified_on: BusinessDate | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="the day the insurer was told of the incident (not before it, not "
        "after today); default: the day the command is recorded, in Japan",
    )
    channel: NoticeChannel | None = Field(
        default=None, exclude_if=lambda v: v is None,
        description="optional: how the insurer was told",
    )
    incident_id: Identifier | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="optional: claims with the same incident_id under one policy and "
        "coverage are one incident (one deductible, one per-incident limit; a liability "
        "incident's claims draw on the year of its first claim); without it the claim "
        "is its own incident",
    )


class AssessLoss(OnExisting):
    """Re-assess the loss of a claim (restoration cost, damages and legal costs)."""

    command: Literal["assess_loss"]
    claim_id: Identifier
    loss_amount: Yen
    reason: Text | None = None


class ApplyExclusion(OnExisting):
    """Deny a claim under one of its coverage's exclusions (免責事項), or, with
    ``amount``, exclude that part of its loss."""

    command: Literal["apply_exclusion"]
    claim_id: Identifier
    exclusion: Code
    reason: Text
    amount: Yen | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="optional: exclude only this part of the loss (the deductible and "
        "limits apply to the rest); without it the whole claim is denied",
    )


class IssuePayout(OnExisting):
    """Pay what the payout rule allows, or a smaller interim amount."""

    command: Literal["issue_payout"]
    claim_id: Identifier
    amount: Yen | None = Field(
        default=None, description="optional: pay less than is payable (interim)"
    )


class ReversePayout(OnExisting):
    """Correct a payout by reversing it; the annual limit is restored."""

    command: Literal["reverse_payout"]
    claim_id: Identifier
    payout_id: Identifier
    reason: Text


class CloseClaim(OnExisting):
    """Close a claim: no more payouts, re-assessments or exclusions."""

    command: Literal["close_claim"]
    claim_id: Identifier
    reason: Text


class WithdrawClaim(OnExisting):
    """The customer withdrew the claim (allowed while nothing is paid on it)."""

    command: Literal["withdraw_claim"]
    claim_id: Identifier
    reason: Text


class WithdrawDenial(OnExisting):
    """Withdraw a claim's denial by a decision: the claim is open again."""

    command: Literal["withdraw_denial"]
    claim_id: Identifier
    reason: Text


class ReopenClaim(OnExisting):
    """Reopen a closed claim (it draws on its original policy year)."""

    command: Literal["reopen_claim"]
    claim_id: Identifier
    reason: Text


class CancelFirewallOption(OnExisting):
    """The firewall option was cancelled: the insurance attached to it (cover)
    ends at the end of that day, or of the service's last day if earlier."""

    command: Literal["cancel_firewall_option"]
    policy_id: Identifier
    cancelled_on: BusinessDate
    reason: Text


Command = Annotated[
    AttachCoverage
    | EndService
    | FileClaim
    | AssessLoss
    | ApplyExclusion
    | IssuePayout
    | ReversePayout
    | CloseClaim
    | WithdrawClaim
    | WithdrawDenial
    | ReopenClaim
    | CancelFirewallOption
    | SetReserve
    | RequestPayout
    | ApprovePayout
    | RejectPayout
    | RecordRecovery
    | SetAuthority,
    Field(discriminator="command"),
]

COMMAND_TYPES: tuple[type[CommandModel], ...] = (
    AttachCoverage,
    EndService,
    FileClaim,
    AssessLoss,
    ApplyExclusion,
    IssuePayout,
    ReversePayout,
    CloseClaim,
    WithdrawClaim,
    WithdrawDenial,
    ReopenClaim,
    CancelFirewallOption,
    SetReserve,
    RequestPayout,
    ApprovePayout,
    RejectPayout,
    RecordRecovery,
    SetAuthority,
)

_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)


def _violation(error: Any) -> Violation:
    loc = [str(p) for p in error["loc"]]
    # The discriminated union puts the command name first in the location.
    if len(loc) > 1 and loc[0] in _NAMES:
        loc = loc[1:]
    field = ".".join(loc) or None
    kind = error["type"]
    rule, message = _RULES.get(kind, (kind, error["msg"]))
    if kind == "union_tag_invalid":
        field = "command"
        message = f"{message}; expected one of: {', '.join(sorted(_NAMES))}"
    elif kind == "union_tag_not_found":
        field = "command"
    elif kind in ("enum", "literal_error"):
        message = f"must be one of {error['ctx']['expected']}"
    elif kind == "less_than_equal":
        message = f"must be at most {error['ctx']['le']:,}"
    return Violation(field, rule, message)


_RULES: dict[str, tuple[str, str]] = {
    "missing": ("required", "is required"),
    "extra_forbidden": ("unknown_field", "is not a field of this command"),
    "int_type": ("integer_yen", "must be a whole number of yen (an integer)"),
    "greater_than_equal": ("non_negative", "must not be negative"),
    "less_than_equal": ("maximum", "is too large"),
    "string_pattern_mismatch": (
        "identifier_format",
        "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter "
        "or digit",
    ),
    "string_too_short": ("required", "must not be empty"),
    "string_too_long": ("too_long", "is too long"),
    "bool_type": ("boolean", "must be true or false"),
    "date_parsing": ("date_format", "must be a date written YYYY-MM-DD"),
    "date_from_datetime_parsing": ("date_format", "must be a date written YYYY-MM-DD"),
    "date_type": ("date_format", "must be a date written YYYY-MM-DD"),
    "enum": ("allowed_values", "must be one of the allowed values"),
    "literal_error": ("allowed_values", "must be one of the allowed values"),
    "union_tag_invalid": ("unknown_command", "unknown command"),
    "union_tag_not_found": ("required", "is required: it names the command"),
    "json_invalid": ("json", "is not valid JSON"),
    "model_type": ("json_object", "a command must be a JSON object"),
    "dict_type": ("json_object", "a command must be a JSON object"),
    "string_type": ("text", "must be a string"),
}


_NAMES = frozenset(
    t.model_fields["command"].annotation.__args__[0]  # type: ignore[union-attr]
    for t in COMMAND_TYPES
)


def parse_command(data: str | bytes | dict[str, Any]) -> Command:
    """Validate one command (a JSON text or an already decoded object)."""
    try:
        if isinstance(data, dict):
            # Decoded JSON: dates arrive as strings, so validate in JSON mode.
            return _ADAPTER.validate_json(json.dumps(data))
        return _ADAPTER.validate_json(data)
    except ValidationError as exc:
        violations = [_violation(e) for e in exc.errors()]
        raise InvalidCommand(*violations) from None


def check_actor(actor: str) -> None:
    """An actor is recorded on every event and shown to auditors: a name of
    printable text (the contract's rule for whoever sends a command)."""
    if not actor.strip():
        raise InvalidCommand.of("actor", "required", "an actor name is required")
    if not actor.isprintable():
        raise InvalidCommand.of("actor", "printable",
                                "an actor name must be printable text, without control "
                                "characters")


def actors_of(commands: Sequence[Command], actor: str | Sequence[str]) -> list[str]:
    """The actor of each command (``actor``: one name for all, or one each)."""
    actors = [actor] * len(commands) if isinstance(actor, str) else list(actor)
    if len(actors) != len(commands):
        raise InvalidCommand.of("actor", "required", "an actor name is required")
    for name in set(actors):
        check_actor(name)
    return actors
