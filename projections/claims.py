"""Read model: claims, one row each, with their payouts.

Per claim: policy, year, coverage, cause, dates, status, assessed loss, what is
payable under the payout rule, paid (net of reversals) and the exclusion; per
payout: amount, whether reversed, and the breakdown recorded with it.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
    tuple_,
)

from domain.money import Yen
from domain.payout import payable_for_incident
from projections.base import Fact
from projections.store import as_rows, chunks, insert_rows

NAME = "claims"
_STATUS = {"ExclusionApplied": "denied", "ClaimClosed": "closed", "ClaimWithdrawn": "withdrawn"}
_EVENTS = {"ClaimFiled", "LossAssessed", "PayoutIssued", "PayoutReversed", *_STATUS}


@cache
def _tables(generation: int) -> tuple[Table, Table]:
    metadata = MetaData()
    claims = Table(
        f"rm_claims_g{generation}",
        metadata,
        Column("claim_id", String(64), primary_key=True),
        Column("policy_id", String(64), nullable=False),
        Column("policy_year", Integer, nullable=False),
        Column("coverage", String(32), nullable=False),
        Column("cause", String(64), nullable=False),
        Column("incident_date", String(10), nullable=False),
        Column("claim_made_on", String(10), nullable=True),
        Column("description", Text, nullable=False),
        Column("status", String(16), nullable=False),
        Column("loss_amount", BigInteger, nullable=False),
        Column("deductible", BigInteger, nullable=False),
        Column("per_incident_limit", BigInteger, nullable=False),
        Column("payable", BigInteger, nullable=False),
        Column("paid", BigInteger, nullable=False),
        Column("exclusion", String(64), nullable=True),
        Column("terms_version", String(32), nullable=False),
        Column("filed_at", String(32), nullable=False),
        Column("updated_at", String(32), nullable=False),
        Column("version", Integer, nullable=False),
        Column("last_position", BigInteger, nullable=False),
    )
    payouts = Table(
        f"rm_claim_payouts_g{generation}",
        metadata,
        Column("claim_id", String(64), primary_key=True),
        Column("payout_id", String(64), primary_key=True),
        Column("amount", BigInteger, nullable=False),
        Column("reversed", Boolean, nullable=False),
        Column("breakdown", Text, nullable=False),
        Column("issued_position", BigInteger, nullable=False),
        Column("issued_at", String(32), nullable=False),
        Column("reversed_position", BigInteger, nullable=True),
    )
    return claims, payouts


class ClaimsProjection:
    name = NAME
    schema_version = 1

    def tables(self, generation: int) -> list[Table]:
        return list(_tables(generation))

    @cache  # noqa: B019 (one instance; an index object per generation)
    def indexes(self, generation: int) -> list[Index]:
        claims, _ = _tables(generation)
        return [Index(f"ix_rm_claims_g{generation}_policy", claims.c.policy_id)]

    def apply(self, conn: Connection, generation: int, facts: list[Fact]) -> None:
        claims_t, payouts_t = _tables(generation)
        facts = [f for f in facts if f.name in _EVENTS]
        if not facts:
            return
        claims: dict[str, dict[str, Any]] = {}
        payouts: dict[tuple[str, str], dict[str, Any]] = {}
        new_claims: set[str] = set()
        new_payouts: set[tuple[str, str]] = set()
        wanted = sorted({f.state["claim_id"] for f in facts if f.name != "ClaimFiled"})
        for chunk in chunks(wanted, 500):
            for row in conn.execute(select(claims_t).where(claims_t.c.claim_id.in_(chunk))):
                claims[row.claim_id] = dict(row._mapping)
        reversed_ids = sorted({(f.state["claim_id"], f.state["payout_id"])
                               for f in facts if f.name == "PayoutReversed"})
        for chunk in chunks(reversed_ids, 300):
            keys = tuple_(payouts_t.c.claim_id, payouts_t.c.payout_id)
            for row in conn.execute(select(payouts_t).where(keys.in_(chunk))):
                payouts[(row.claim_id, row.payout_id)] = dict(row._mapping)
        for fact in facts:
            s = fact.state
            claim_id = s["claim_id"]
            if fact.name == "ClaimFiled":
                claims[claim_id] = {
                    "claim_id": claim_id, "policy_id": s["policy_id"],
                    "policy_year": s["policy_year"], "coverage": s["coverage"],
                    "cause": s["cause"], "incident_date": s["incident_date"],
                    "claim_made_on": s["claim_made_on"], "description": s["description"],
                    "status": "open", "loss_amount": s["loss_amount"],
                    "deductible": s["deductible"], "per_incident_limit": s["per_incident_limit"],
                    "payable": _payable(s["loss_amount"], s["deductible"],
                                        s["per_incident_limit"]),
                    "paid": 0, "exclusion": None, "terms_version": s["terms_version"],
                    "filed_at": fact.recorded_at,
                }
                new_claims.add(claim_id)
            else:
                claim = claims[claim_id]
                if fact.name == "LossAssessed":
                    claim["loss_amount"] = s["loss_amount"]
                    claim["payable"] = _payable(s["loss_amount"], claim["deductible"],
                                                claim["per_incident_limit"])
                elif fact.name == "PayoutIssued":
                    claim["paid"] += s["amount"]
                    key = (claim_id, s["payout_id"])
                    payouts[key] = {
                        "claim_id": claim_id, "payout_id": s["payout_id"], "amount": s["amount"],
                        "reversed": False, "breakdown": orjson.dumps(s["breakdown"]).decode(),
                        "issued_position": fact.position, "issued_at": fact.recorded_at,
                        "reversed_position": None,
                    }
                    new_payouts.add(key)
                elif fact.name == "PayoutReversed":
                    claim["paid"] -= s["amount"]
                    payout = payouts[(claim_id, s["payout_id"])]
                    payout["reversed"] = True
                    payout["reversed_position"] = fact.position
                else:
                    claim["status"] = _STATUS[fact.name]
                    if fact.name == "ExclusionApplied":
                        claim["exclusion"] = s["exclusion"]
            claim = claims[claim_id]
            claim["updated_at"] = fact.recorded_at
            claim["version"] = s["originator_version"]
            claim["last_position"] = fact.position
        for chunk in chunks([c for c in claims if c not in new_claims], 500):
            conn.execute(claims_t.delete().where(claims_t.c.claim_id.in_(chunk)))
        insert_rows(conn, claims_t, as_rows(claims_t, list(claims.values())))
        old = [k for k in payouts if k not in new_payouts]
        for chunk in chunks(old, 300):
            keys = tuple_(payouts_t.c.claim_id, payouts_t.c.payout_id)
            conn.execute(payouts_t.delete().where(keys.in_(chunk)))
        insert_rows(conn, payouts_t, as_rows(payouts_t, list(payouts.values())))


def _payable(loss: int, deductible: int, cap: int) -> int:
    return int(payable_for_incident(Yen(loss), Yen(deductible), Yen(cap)))


def read(conn: Connection, generation: int, claim_id: str) -> dict[str, Any] | None:
    claims_t, payouts_t = _tables(generation)
    row = conn.execute(select(claims_t).where(claims_t.c.claim_id == claim_id)).first()
    if row is None:
        return None
    claim = dict(row._mapping)
    claim["payouts"] = [
        {**dict(p._mapping), "breakdown": json.loads(p.breakdown)}
        for p in conn.execute(
            select(payouts_t)
            .where(payouts_t.c.claim_id == claim_id)
            .order_by(payouts_t.c.issued_position)
        )
    ]
    return claim
