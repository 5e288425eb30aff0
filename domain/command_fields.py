"""The field types every command is built of (ids, business dates, text, names,
codes) and the two command bases: every command may carry an idempotency key,
and a command on an existing record may name the version it was decided on.
The commands themselves are ``domain/commands.py`` and
``domain/office_commands.py``.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""What an id looks like: 1-64 letters, digits, '.', '_' or '-'."""
Identifier = Annotated[
    str,
    Field(
        pattern=f"^{IDENTIFIER.pattern}$",
        description="1-64 characters: letters, digits, '.', '_' or '-', "
        "starting with a letter or digit",
        examples=["P-2024-0001"],
    ),
]
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)
"""The business dates the ledger serves. The product attaches only to firewall
options applied for from 2006-05-29 on, but a service (and a cause) may be
older; nothing before 2000 or after 2099 can be a date of this product, and
dates far out (year 9999) cannot have policy years cut after them."""


def _served(day: date) -> date:
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise PydanticCustomError(
            "date_range", "must be a date from {earliest} to {latest}",
            {"earliest": EARLIEST_DATE.isoformat(), "latest": LATEST_DATE.isoformat()})
    return day


def _printable(text: str) -> str:
    if not text.isprintable():
        raise PydanticCustomError(
            "printable", "must be printable text, without control characters "
            "(such as NUL, tab or a line break)")
    return text


BusinessDate = Annotated[date, AfterValidator(_served)]
Text = Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(_printable)]
Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_printable)]
Code = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_printable)]


class CommandModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    command_id: Identifier | None = Field(
        default=None,
        description="Idempotency key: re-sending a command with the same id "
        "returns the first result and appends nothing more",
    )


class OnExisting(CommandModel):
    expected_version: int | None = Field(
        default=None,
        ge=1,
        description="Optimistic concurrency: the version of the claim (of the policy, "
        "for end_service and cancel_firewall_option) this command was decided on; "
        "if it has changed since, the command is refused and nothing is appended",
    )


