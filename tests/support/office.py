"""Builders of the claims office's commands (reserves, payouts requested for
approval, their approval or rejection, recoveries, authority), with the
defaults the read-side tests use."""

from __future__ import annotations

from typing import Any


def set_reserve(claim_id: str, amount: int, reason: str = "litigation",
                **over: Any) -> dict[str, Any]:
    return {"command": "set_reserve", "claim_id": claim_id, "amount": amount,
            "reason": reason, **over}


def request(claim_id: str, amount: int | None = None, **over: Any) -> dict[str, Any]:
    command: dict[str, Any] = {"command": "request_payout", "claim_id": claim_id, **over}
    if amount is not None:
        command["amount"] = amount
    return command


def approve(claim_id: str, payout_id: str = "payout-1", **over: Any) -> dict[str, Any]:
    return {"command": "approve_payout", "claim_id": claim_id, "payout_id": payout_id,
            "reason": "documents checked", **over}


def reject(claim_id: str, payout_id: str = "payout-1", **over: Any) -> dict[str, Any]:
    return {"command": "reject_payout", "claim_id": claim_id, "payout_id": payout_id,
            "reason": "invoice not itemised", **over}


def recover(claim_id: str, amount: int, kind: str = "subrogation",
            **over: Any) -> dict[str, Any]:
    return {"command": "record_recovery", "claim_id": claim_id, "kind": kind,
            "amount": amount, "counterparty": "株式会社加害者", "reason": "settled", **over}


def authority(actor: str, pay_up_to: int, approve_up_to: int, **over: Any) -> dict[str, Any]:
    return {"command": "set_authority", "actor_name": actor, "pay_up_to": pay_up_to,
            "approve_up_to": approve_up_to, **over}
