"""The aggregate-id scheme: how each record is named in the log, and how a name
is read back.

Every record's id starts with its kind: ``policy:<policy>``,
``policy:<policy>:year:<n>``, ``claim:<claim>``,
``incident:<policy>:<coverage>:<incident>``, ``authority:<actor>`` (what an
actor may pay and approve) and ``command:<command id>`` (the idempotency
records). The ids commands carry cannot hold a ':' (see
``commands.IDENTIFIER``), so a name reads back one way only. This module is the
only place that writes or reads the scheme.
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["policy", "policy_year", "claim", "incident", "authority", "command"]
"""What a record is: a policy, one of its years, a claim, an incident, an
actor's authority, or the idempotency record of a command."""


def policy_id_of(policy_id: str) -> str:
    return f"policy:{policy_id}"


def policy_year_id(policy_id: str, year: int) -> str:
    return f"policy:{policy_id}:year:{year}"


def claim_id_of(claim_id: str) -> str:
    return f"claim:{claim_id}"


def incident_id_of(policy_id: str, coverage: str, incident_id: str) -> str:
    return f"incident:{policy_id}:{coverage}:{incident_id}"


def authority_id_of(actor: str) -> str:
    return f"authority:{actor}"


def command_record_id(command_id: str) -> str:
    return f"command:{command_id}"


def aggregate_kind(aggregate_id: str) -> Kind:
    """Which kind of record an aggregate id names."""
    if aggregate_id.startswith("claim:"):
        return "claim"
    if aggregate_id.startswith("incident:"):
        return "incident"
    if aggregate_id.startswith("command:"):
        return "command"
    if aggregate_id.startswith("authority:"):
        return "authority"
    return "policy_year" if ":year:" in aggregate_id else "policy"


def command_id_in(aggregate_id: str) -> str:
    """The command id an idempotency record (``command:<id>``) is kept under."""
    if aggregate_kind(aggregate_id) != "command":
        msg = f"{aggregate_id!r} is not the id of a command record"
        raise ValueError(msg)
    return aggregate_id.removeprefix("command:")
