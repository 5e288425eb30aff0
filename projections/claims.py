"""Read model: claims, one row each, with their payouts.

Per claim: policy, year, coverage, cause, dates, status, assessed loss, the part
of it partial exclusions took, what is payable under the payout rule, paid (net
of reversals), the exclusion that denied it, when and how the insurer was told
(with the 3-year time-bar flag; unknown for claims filed before notices were
recorded), the incident the claim is one of (none: it is its own incident;
for a claim of an incident, payable is the most the claim can be paid, its loss
after exclusions within the per-incident limit, since the incident's deductible
and limit are shared with its other claims), its case reserve (null for a
claim filed before reserves were kept, until one is set; a payout erodes it,
never below 0), what its payouts awaiting approval hold, and the insurer's and
the insured's shares of the money recovered on it; per payout: amount, whether
reversed, and the breakdown recorded with it. Its holds and recoveries are in
tables of their own (``claim_office``).

The description is free text and is kept exactly, whatever its characters: one
the database cannot hold as it is (a NUL, which PostgreSQL's text refuses) is
stored escaped (``storable``) and read back as it was (``text_of``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
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
    bindparam,
    select,
)
from sqlalchemy.sql import Select

from projections import claim_office
from projections.base import Fact
from projections.store import chunks, execute_many, insert_rows

NAME = "claims"
_STATUS = {"ExclusionApplied": "denied", "ClaimClosed": "closed", "ClaimWithdrawn": "withdrawn",
           "DenialWithdrawn": "open", "ClaimReopened": "open"}
_EVENTS = {"ClaimFiled", "LossAssessed", "PayoutIssued", "PayoutReversed",
           "PartialExclusionApplied", "ReserveSet", *claim_office.EVENTS, *_STATUS}
_ESCAPED = "\ue000"
"""Begins a text stored escaped, as its JSON string (ASCII only): a text with a NUL,
or one that begins with this mark itself (so every text reads back as it was)."""


def storable(text: str) -> str:
    """``text`` as the read model stores it (itself, but for a NUL or the mark)."""
    if "\x00" in text or text.startswith(_ESCAPED):
        return _ESCAPED + json.dumps(text)
    return text


def text_of(stored: str) -> str:
    """A text as it was given to ``storable``."""
    return json.loads(stored[1:]) if stored.startswith(_ESCAPED) else stored


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
        Column("excluded", BigInteger, nullable=False),
        Column("notified_on", String(10), nullable=True),
        Column("channel", String(32), nullable=True),
        Column("notice_time_barred", Boolean, nullable=False),
        Column("incident_id", String(64), nullable=True),
        Column("reserve", BigInteger, nullable=True),
        Column("held", BigInteger, nullable=False),
        Column("recovered", BigInteger, nullable=False),
        Column("insured_recovered", BigInteger, nullable=False),
        sqlite_with_rowid=False,
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
    schema_version = 6
    events: frozenset[str] | None = frozenset(_EVENTS)

    def tables(self, generation: int) -> list[Table]:
        return [*_tables(generation), *claim_office.tables(generation)]

    @cache  # noqa: B019 (one instance; an index object per generation)
    def indexes(self, generation: int, dialect: str) -> list[Index]:
        claims, _ = _tables(generation)
        return [Index(f"ix_rm_claims_g{generation}_policy", claims.c.policy_id),
                *claim_office.indexes(generation)]

    def changes(self, facts: list[Fact]) -> Changes:
        """New claims and payouts (with the rest of the batch folded in), for
        claims and payouts already stored what the batch changes in them, and
        the holds and recoveries it records."""
        claims: dict[str, list[Any]] = {}
        updates: dict[str, list[Any]] = {}
        children = _Children({}, [], claim_office.Batch())
        for fact in facts:
            if fact.name not in _EVENTS:
                continue
            claim_id = fact.state["claim_id"]
            if fact.name == "ClaimFiled":
                claims[claim_id] = _filed(fact)
                continue
            row = claims.get(claim_id)
            at = _IN_ROW
            if row is None:  # stored before this batch: collect what changes
                at = _IN_UPDATE
                row = updates.get(claim_id)
                if row is None:
                    row = updates[claim_id] = [None, None, 0, None, False, None, 0, None, None,
                                               None, 0, 0, 0, False, None, 0, claim_id]
            _apply(fact, row, at, children)
            row[at.updated_at] = fact.recorded_at
            row[at.version] = fact.state["originator_version"]
            row[at.last_position] = fact.position
        return (list(claims.values()), list(updates.values()),
                list(children.payouts.values()), children.reversals,
                children.office.changes())

    def write(self, conn: Connection, generation: int, changes: Changes) -> None:
        claims_t, payouts_t = _tables(generation)
        claims, updates, payouts, reversals, office = changes
        insert_rows(conn, claims_t, claims)
        # A new loss or a new exclusion changes what is payable: recomputed from
        # the stored row and what the batch changes in it.
        assessed = {u[_CLAIM_ID]: u for u in updates if u[0] is not None or u[6]}
        for chunk in chunks(sorted(assessed), 500):
            query = select(claims_t.c.claim_id, claims_t.c.loss_amount, claims_t.c.excluded,
                           claims_t.c.deductible, claims_t.c.per_incident_limit,
                           claims_t.c.incident_id,
                           ).where(claims_t.c.claim_id.in_(chunk))
            for claim_id, loss, excluded, deductible, cap, incident_id in conn.execute(query):
                update = assessed[claim_id]
                new_loss = loss if update[0] is None else update[0]
                update[1] = _payable(new_loss - excluded - update[6], deductible, cap,
                                     incident_id)
        execute_many(conn, _update_claims_sql(claims_t.name),
                     [(*u[:_CLAIM_ID], u[_EROSION], u[_CLAIM_ID]) for u in updates])
        insert_rows(conn, payouts_t, payouts)
        execute_many(conn, _reverse_sql(payouts_t.name), reversals)
        claim_office.write(conn, generation, office)


@dataclass(frozen=True)
class _Children:
    """What a batch records besides the claims' rows: new payouts, reversals of
    payouts stored before it, and the holds and recoveries."""

    payouts: dict[tuple[str, str], list[Any]]
    reversals: list[list[Any]]
    office: claim_office.Batch


def _apply(fact: Fact, row: list[Any], at: _Layout, children: _Children) -> None:
    """Fold one event (not a filing) into a claim's new row or its update."""
    name, s = fact.name, fact.state
    if name == "LossAssessed":
        row[at.loss] = s["loss_amount"]
        if at is _IN_ROW:
            row[12] = _payable(s["loss_amount"] - row[20], row[10], row[11], row[24])
    elif name == "PartialExclusionApplied":
        row[at.excluded] += s["amount"]
        if at is _IN_ROW:
            row[12] = _payable(row[9] - row[20], row[10], row[11], row[24])
    elif name == "PayoutIssued":
        row[at.paid] += s["amount"]
        _erode(row, at, s["amount"])
        children.payouts[(s["claim_id"], s["payout_id"])] = [
            s["claim_id"], s["payout_id"], s["amount"], False,
            orjson.dumps(s["breakdown"]).decode(), fact.position, fact.recorded_at, None]
    elif name == "PayoutReversed":
        row[at.paid] -= s["amount"]
        payout = children.payouts.get((s["claim_id"], s["payout_id"]))
        if payout is not None:
            payout[3], payout[7] = True, fact.position
        else:
            children.reversals.append([True, fact.position, s["claim_id"], s["payout_id"]])
    elif name == "ReserveSet":
        row[at.reserve] = s["reserve"]
        if at is _IN_UPDATE:
            row[_RESERVE_SET] = True
    elif name in claim_office.EVENTS:
        _office(row, at, fact, children.office)
    else:
        row[at.status] = _STATUS[name]
        if name in ("ExclusionApplied", "DenialWithdrawn"):
            row[at.exclusion] = s["exclusion"] if name == "ExclusionApplied" else None
            if at is _IN_UPDATE:
                row[_EXCLUSION_SET] = True


def _erode(row: list[Any], at: _Layout, amount: int) -> None:
    """A payout erodes the reserve by its amount, never below 0 (a claim without
    one keeps none); for a stored claim whose reserve the batch has not set, the
    update does it."""
    if at is _IN_UPDATE and not row[_RESERVE_SET]:
        row[_EROSION] += amount
    elif row[at.reserve] is not None:
        row[at.reserve] = max(row[at.reserve] - amount, 0)


def _office(row: list[Any], at: _Layout, fact: Fact, office: claim_office.Batch) -> None:
    """A payout requested, approved or rejected, or money recovered: the claim's
    held and recovered figures, and the hold's or recovery's own row."""
    s = fact.state
    office.apply(fact)
    if fact.name == "PayoutRequested":
        if not s["within_authority"]:
            row[at.held] += s["amount"]
    elif fact.name == "PayoutApproved":
        row[at.held] -= s["held"]
    elif fact.name == "PayoutRejected":
        row[at.held] -= s["released"]
    else:
        row[at.recovered] += s["insurer_share"]
        row[at.insured_recovered] += s["insured_share"]


def _filed(fact: Fact) -> list[Any]:
    """A new claim's row, in the claims table's column order."""
    from domain.claim import notice_time_barred  # (the model: for writing, not reading)

    s = fact.state
    notified_on = s.get("notified_on")
    return [
        s["claim_id"], s["policy_id"], s["policy_year"], s["coverage"], s["cause"],
        s["incident_date"], s["claim_made_on"], storable(s["description"]), "open",
        s["loss_amount"], s["deductible"], s["per_incident_limit"],
        _payable(s["loss_amount"], s["deductible"], s["per_incident_limit"],
                 s.get("incident_id")),
        0, None, s["terms_version"], fact.recorded_at,
        fact.recorded_at, s["originator_version"], fact.position,
        0, notified_on, s.get("channel"),
        notice_time_barred(date.fromisoformat(s["incident_date"]),
                           date.fromisoformat(notified_on) if notified_on else None),
        s.get("incident_id"), None, 0, 0, 0,
    ]


Changes = tuple[list[list[Any]], list[list[Any]], list[list[Any]], list[list[Any]],
                claim_office.Changes]


@dataclass(frozen=True)
class _Layout:
    """Where the fields a later event changes are, in a new claim's row or in the
    parameters of ``_update_claims_sql``."""

    loss: int
    paid: int
    status: int
    exclusion: int
    excluded: int
    updated_at: int
    version: int
    last_position: int
    reserve: int
    held: int
    recovered: int
    insured_recovered: int


_IN_ROW = _Layout(loss=9, paid=13, status=8, exclusion=14, excluded=20, updated_at=17,
                  version=18, last_position=19, reserve=25, held=26, recovered=27,
                  insured_recovered=28)
_IN_UPDATE = _Layout(loss=0, paid=2, status=3, exclusion=5, excluded=6, updated_at=7,
                     version=8, last_position=9, held=10, recovered=11, insured_recovered=12,
                     reserve=14)
_EXCLUSION_SET = 4
"""In an update: whether the batch set (or cleared) the exclusion."""
_RESERVE_SET, _EROSION, _CLAIM_ID = 13, 15, 16
"""In an update: whether the batch set the reserve (``reserve`` is then the
reserve it leaves), what its payouts before that erode of the stored one, and
the claim."""


@cache
def _update_claims_sql(table: str) -> str:
    return (f'UPDATE "{table}" SET loss_amount = COALESCE(?, loss_amount), '
            "payable = COALESCE(?, payable), paid = paid + ?, status = COALESCE(?, status), "
            "exclusion = CASE WHEN ? THEN ? ELSE exclusion END, excluded = excluded + ?, "
            "updated_at = ?, version = ?, last_position = ?, held = held + ?, "
            "recovered = recovered + ?, insured_recovered = insured_recovered + ?, "
            "reserve = CASE WHEN ? THEN ? WHEN reserve IS NULL THEN NULL "
            "WHEN reserve > ? THEN reserve - ? ELSE 0 END WHERE claim_id = ?")


@cache
def _reverse_sql(table: str) -> str:
    return (f'UPDATE "{table}" SET reversed = ?, reversed_position = ? '
            "WHERE claim_id = ? AND payout_id = ?")


def _payable(loss: int, deductible: int, cap: int, incident_id: str | None) -> int:
    """``Claim.payable``: a claim of an incident bears no deductible of its own."""
    from domain.money import Yen  # (the model: for writing, not reading)
    from domain.payout import payable_for_incident

    return int(payable_for_incident(Yen(loss), Yen(0 if incident_id else deductible),
                                    Yen(cap)))


@cache
def _read_query(generation: int) -> Select[Any]:
    """A claim with its payouts in issue order, in one statement (so the two are
    read in one snapshot without a transaction), built once: SQLAlchemy then
    reuses its compiled form."""
    claims_t, payouts_t = _tables(generation)
    return (select(claims_t, *(c.label(f"payout_{c.name}") for c in payouts_t.c))
            .select_from(claims_t.outerjoin(
                payouts_t, payouts_t.c.claim_id == claims_t.c.claim_id))
            .where(claims_t.c.claim_id == bindparam("claim_id", type_=String(64)))
            .order_by(payouts_t.c.issued_position))


def read(conn: Connection, generation: int, claim_id: str) -> dict[str, Any] | None:
    """A claim with its payouts, holds and recoveries (``conn`` in a transaction:
    one snapshot)."""
    claims_t, payouts_t = _tables(generation)
    rows = [r._mapping for r in conn.execute(_read_query(generation), {"claim_id": claim_id})]
    if not rows:
        return None
    claim = {c.name: rows[0][c.name] for c in claims_t.c}
    claim["description"] = text_of(claim["description"])
    claim["payouts"] = [
        {**{c.name: r[f"payout_{c.name}"] for c in payouts_t.c},
         "breakdown": json.loads(r["payout_breakdown"])}
        for r in rows if r["payout_payout_id"] is not None
    ]
    claim["holds"], claim["recoveries"] = claim_office.read(conn, generation, claim_id)
    return claim
