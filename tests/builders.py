"""Command builders with sensible defaults, and a fake clock and id source."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

NOW = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)  # 2026-01-15 12:00 in Japan
AFTER_THREE_YEARS = datetime(2027, 6, 10, 3, 0, tzinfo=UTC)
"""A recorded time after the time bar of an incident on 2024-06-01 (2027-06-01)."""


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


class SequentialIds:
    def __init__(self) -> None:
        self._n = itertools.count(1)

    def __call__(self) -> str:
        return f"cmd-{next(self._n)}"


def attach(policy_id: str = "P1", **over: Any) -> dict[str, Any]:
    return {
        "command": "attach_coverage",
        "policy_id": policy_id,
        "customer_id": "CU1",
        "customer_name": "株式会社テスト",
        "financial_institution": False,
        "screening_passed": True,
        "firewall_option": "shared",
        "firewall_applied_on": "2024-04-01",
        "service_start": "2024-04-01",
        **over,
    }


def file_data_media(
    claim_id: str = "C1", loss: int = 800_000, incident: str = "2024-06-01", **over: Any
) -> dict[str, Any]:
    return {
        "command": "file_claim",
        "claim_id": claim_id,
        "policy_id": "P1",
        "coverage": "data_media",
        "cause": "virus",
        "incident_date": incident,
        "loss_amount": loss,
        "description": "data damaged by a virus",
        **over,
    }


def file_liability(
    claim_id: str = "L1",
    loss: int = 1_800_000,
    incident: str = "2024-06-01",
    made_on: str = "2024-06-20",
    **over: Any,
) -> dict[str, Any]:
    return {
        "command": "file_claim",
        "claim_id": claim_id,
        "policy_id": "P1",
        "coverage": "it_liability",
        "cause": "virus",
        "incident_date": incident,
        "claim_made_on": made_on,
        "loss_amount": loss,
        "description": "a customer's partner claims damages",
        **over,
    }


def pay(claim_id: str = "C1", amount: int | None = None, **over: Any) -> dict[str, Any]:
    cmd: dict[str, Any] = {"command": "issue_payout", "claim_id": claim_id, **over}
    if amount is not None:
        cmd["amount"] = amount
    return cmd


def reverse(claim_id: str = "C1", payout_id: str = "payout-1", **over: Any) -> dict[str, Any]:
    return {
        "command": "reverse_payout",
        "claim_id": claim_id,
        "payout_id": payout_id,
        "reason": "paid in error",
        **over,
    }


def assess(claim_id: str = "C1", loss: int = 500_000, **over: Any) -> dict[str, Any]:
    return {"command": "assess_loss", "claim_id": claim_id, "loss_amount": loss, **over}


def exclude(claim_id: str = "C1", code: str = "natural_disaster", **over: Any) -> dict[str, Any]:
    return {
        "command": "apply_exclusion",
        "claim_id": claim_id,
        "exclusion": code,
        "reason": "caused by an earthquake",
        **over,
    }


def close(claim_id: str = "C1", **over: Any) -> dict[str, Any]:
    return {"command": "close_claim", "claim_id": claim_id, "reason": "settled", **over}


def withdraw(claim_id: str = "C1", **over: Any) -> dict[str, Any]:
    return {"command": "withdraw_claim", "claim_id": claim_id, "reason": "customer withdrew",
            **over}


def end_service(policy_id: str = "P1", on: str = "2025-09-30", **over: Any) -> dict[str, Any]:
    return {"command": "end_service", "policy_id": policy_id, "service_end": on, **over}


def withdraw_denial(claim_id: str = "C1", **over: Any) -> dict[str, Any]:
    return {"command": "withdraw_denial", "claim_id": claim_id,
            "reason": "the exclusion was applied to the wrong claim", **over}


def reopen(claim_id: str = "C1", **over: Any) -> dict[str, Any]:
    return {"command": "reopen_claim", "claim_id": claim_id,
            "reason": "the bank transfer was returned", **over}


def cancel_firewall(policy_id: str = "P1", on: str = "2025-06-30", **over: Any) -> dict[str, Any]:
    return {"command": "cancel_firewall_option", "policy_id": policy_id, "cancelled_on": on,
            "reason": "the customer cancelled the firewall option", **over}


def exclude_part(claim_id: str = "L1", amount: Any = 500_000, **over: Any) -> dict[str, Any]:
    """An exclusion of part of a liability claim's loss."""
    return exclude(claim_id, "unapproved_settlement", amount=amount,
                   reason="part of the settlement was paid without the insurer", **over)


def incident_liability(claim_id: str, made_on: str = "2024-06-20", **over: Any) -> dict[str, Any]:
    """A liability claim of incident INC-1 (of 2024-06-01) on policy P1."""
    return file_liability(claim_id, loss=3_000_000, incident="2024-06-01", made_on=made_on,
                          **{"incident_id": "INC-1", **over})


def incident_data_media(claim_id: str, loss: int = 300_000, **over: Any) -> dict[str, Any]:
    """A data-media claim of incident INC-1 (of 2024-06-01) on policy P1."""
    return file_data_media(claim_id, loss=loss, incident="2024-06-01",
                           **{"incident_id": "INC-1", **over})


def request_payout(claim_id: str = "C1", **over: Any) -> dict[str, Any]:
    """A payout requested (held for approval beyond the requester's authority)."""
    return {"command": "request_payout", "claim_id": claim_id, **over}


def approve(claim_id: str = "C1", payout_id: str = "payout-1", **over: Any) -> dict[str, Any]:
    return {"command": "approve_payout", "claim_id": claim_id, "payout_id": payout_id,
            "reason": "invoices checked", **over}


def reject(claim_id: str = "C1", payout_id: str = "payout-1", **over: Any) -> dict[str, Any]:
    return {"command": "reject_payout", "claim_id": claim_id, "payout_id": payout_id,
            "reason": "the invoice is a duplicate", **over}


def set_authority(actor: str, pay_up_to: int = 0, approve_up_to: int = 0,
                  **over: Any) -> dict[str, Any]:
    return {"command": "set_authority", "actor_name": actor, "pay_up_to": pay_up_to,
            "approve_up_to": approve_up_to, **over}
