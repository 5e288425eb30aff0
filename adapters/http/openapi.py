"""The OpenAPI document's hand-written parts: an example of every command, the
command schema (the domain's own models), the request bodies of the command
routes, and the problem+json responses every route may give."""

from __future__ import annotations

import copy
import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import TypeAdapter

from adapters.http.deps import MAX_BATCH
from adapters.http.problems import PROBLEM
from domain.commands import COMMAND_TYPES, Command

COMMAND_SCHEMA = TypeAdapter(Command).json_schema(
    ref_template="#/components/schemas/{model}")
EXAMPLES = {
    "attach_coverage": {"command": "attach_coverage", "policy_id": "P-1",
                        "customer_id": "CU-1", "customer_name": "株式会社サンプル",
                        "financial_institution": False, "screening_passed": True,
                        "firewall_option": "shared", "firewall_applied_on": "2024-04-01",
                        "service_start": "2024-04-01"},
    "end_service": {"command": "end_service", "policy_id": "P-1", "service_end": "2026-03-31"},
    "file_claim": {"command": "file_claim", "claim_id": "C-1", "policy_id": "P-1",
                   "coverage": "data_media", "cause": "virus", "incident_date": "2024-06-10",
                   "loss_amount": 800000, "description": "data rebuilt after a virus",
                   "notified_on": "2024-06-11", "channel": "customer_service",
                   "incident_id": "INC-2024-06-10"},
    "assess_loss": {"command": "assess_loss", "claim_id": "C-1", "loss_amount": 900000,
                    "reason": "final invoice"},
    "apply_exclusion": {"command": "apply_exclusion", "claim_id": "C-1",
                        "exclusion": "natural_disaster", "reason": "caused by a flood"},
    "issue_payout": {"command": "issue_payout", "claim_id": "C-1",
                     "command_id": "pay-C-1-1"},
    "reverse_payout": {"command": "reverse_payout", "claim_id": "C-1",
                       "payout_id": "payout-1", "reason": "paid to the wrong account"},
    "close_claim": {"command": "close_claim", "claim_id": "C-1", "reason": "settled"},
    "withdraw_claim": {"command": "withdraw_claim", "claim_id": "C-1",
                       "reason": "the customer withdrew it"},
    "withdraw_denial": {"command": "withdraw_denial", "claim_id": "C-1",
                        "reason": "the flood did not cause the damage"},
    "reopen_claim": {"command": "reopen_claim", "claim_id": "C-1",
                     "reason": "the bank transfer was returned"},
    "cancel_firewall_option": {"command": "cancel_firewall_option", "policy_id": "P-1",
                               "cancelled_on": "2026-03-31",
                               "reason": "the customer cancelled the firewall option"},
    "set_reserve": {"command": "set_reserve", "claim_id": "C-1", "amount": 600000,
                    "reason": "litigation", "note": "the third party sued",
                    "effective_on": "2025-03-31"},
    "request_payout": {"command": "request_payout", "claim_id": "C-1", "amount": 400000,
                       "due_on": "2024-07-31"},
    "approve_payout": {"command": "approve_payout", "claim_id": "C-1",
                       "payout_id": "payout-2", "reason": "invoices checked"},
    "reject_payout": {"command": "reject_payout", "claim_id": "C-1",
                      "payout_id": "payout-2", "reason": "the invoice is a duplicate"},
    "record_recovery": {"command": "record_recovery", "claim_id": "C-1",
                        "kind": "subrogation", "amount": 200000,
                        "counterparty": "株式会社加害者", "reason": "settlement received"},
    "set_authority": {"command": "set_authority", "actor_name": "claims-desk",
                      "pay_up_to": 300000, "approve_up_to": 1000000,
                      "reason": "senior handler"},
}
assert set(EXAMPLES) == {t.model_fields["command"].annotation.__args__[0]  # type: ignore[union-attr]
                         for t in COMMAND_TYPES}
PROBLEM_RESPONSE = {"content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
_STATUSES = {
    400: "malformed request", 401: "no bearer token, or one unknown, revoked or expired",
    403: "the token's role may not do this (or an operator's command sent by an appender, "
         "or a decision the actor's authority does not cover)",
    404: "no such policy or claim",
    409: "concurrency conflict, a command id reused for a different command, or a held "
         "payout already approved or rejected",
    413: "request body too large", 422: "refused by a rule of the ledger",
    503: "the database is unavailable"}
ERRORS: dict[int | str, dict[str, Any]] = {
    str(s): {"description": d, **PROBLEM_RESPONSE} for s, d in _STATUSES.items()}
"""The problem responses every route but ``/health`` documents."""

DRY_RUN_EXAMPLE = {"command": "issue_payout", "command_id": "pay-C-1-1", "replayed": False,
                   "events": [{"position": None, "aggregate_id": "claim:C-1", "version": 3,
                               "event": "PayoutIssued"},
                              {"position": None, "aggregate_id": "policy:P-1:year:1",
                               "version": 3, "event": "AnnualLimitDrawn"}],
                   "result": {"claim_id": "C-1", "status": "open", "paid": 700000,
                              "payout_id": "payout-1", "amount": 700000},
                   "dry_run": True}
"""What a dry run of ``issue_payout`` answers (events not stored have no position)."""
DRY_RUN_ANSWER = {
    "description": "a dry run (`dry_run=true`): what the command would do now, with "
    "`dry_run: true` and the header `Dry-Run: true`; nothing was appended (a refusal "
    "answers as in a real run, with `dry_run: true` and the header)",
    "content": {"application/json": {"example": DRY_RUN_EXAMPLE}}}
"""``POST /commands``'s ``200`` (the route adds the schema, ``document`` the
example's null positions)."""
COMMAND_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"description": "applied (or, with a command id seen before, the first "
          "outcome again: `replayed` is true and nothing was appended)"}, **ERRORS}
KEY_HEADER = {"name": "Idempotency-Key", "in": "header", "required": False,
              "schema": {"type": "string"},
              "description": "the command id: a retry with the same key returns the first "
              "outcome"}
DRY_RUN = {"name": "dry_run", "in": "query", "required": False,
           "schema": {"type": "boolean", "default": False}, "example": True,
           "description": "`true`: decide as a real run would now, report it, and append "
           "nothing (no events, no command id recorded, no read model changed); only "
           "`true` or `false`, else `400` naming `dry_run`"}
COMMAND_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Command"},
        "examples": {k: {"value": v} for k, v in EXAMPLES.items()}}}},
    "parameters": [KEY_HEADER, DRY_RUN]}
"""``POST /commands``'s body, header and query (the route reads them itself)."""
BATCH_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["commands"], "properties": {"commands": {
            "type": "array", "maxItems": MAX_BATCH,
            "items": {"$ref": "#/components/schemas/Command"}}}},
        "example": {"commands": [EXAMPLES["file_claim"], EXAMPLES["issue_payout"]]}}}},
    "parameters": [KEY_HEADER, DRY_RUN]}
"""``POST /commands/batch``'s body, header and query (the route reads them itself)."""


def _authority_body() -> dict[str, Any]:
    """``set_authority``'s schema without what the route gives (``command``, and
    ``actor_name`` from the path)."""
    schema: dict[str, Any] = copy.deepcopy(COMMAND_SCHEMA["$defs"]["SetAuthority"])
    for name in ("command", "actor_name"):
        del schema["properties"][name]
        schema["required"].remove(name)
    schema["description"] = ("What the actor may pay alone (a payout request of at most "
                             "`pay_up_to` is paid at once) and approve (another actor's "
                             "request of at most `approve_up_to`).")
    return schema


AUTHORITY_EXAMPLE = {"pay_up_to": 300000, "approve_up_to": 1000000, "reason": "senior handler"}
AUTHORITY_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {
        "schema": _authority_body(), "example": AUTHORITY_EXAMPLE}}},
    "parameters": [KEY_HEADER]}
"""``PUT /authority/{actor_name}``'s body and header (the route reads them itself)."""
AUTHORITY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "recorded (or, with a command id seen before, the first outcome "
          "again: `replayed` is true and nothing was appended)"}, **ERRORS}

_FEED_ITEM = {
    "position": 42, "aggregate_id": "claim:C-1", "version": 3, "event": "PayoutIssued",
    "recorded_at": "2024-06-20T01:02:03.456789Z", "actor": "claims-desk",
    "command_id": "pay-C-1-1",
    "payload": {"timestamp": "2024-06-20T01:02:03.456789Z", "actor": "claims-desk",
                "command_id": "pay-C-1-1", "claim_id": "C-1", "payout_id": "payout-1",
                "amount": 700000}}
FEED_EXAMPLE = {"items": [_FEED_ITEM], "next_after": 42}
"""``GET /feed``'s answer, for the document (the payload abridged)."""
FEED_STREAM_EXAMPLE = "retry: 1000\n\nid: 42\ndata: " + json.dumps(
    _FEED_ITEM, ensure_ascii=False, separators=(",", ":")) + "\n\n"
"""The same event as Server-Sent Events."""

PROBLEM_SCHEMA = {"type": "object", "required": ["type", "title", "status"],
                  "properties": {
                      "type": {"type": "string"}, "title": {"type": "string"},
                      "status": {"type": "integer"},
                      "detail": {"type": "string"},
                      "violations": {"type": "array", "items": {
                          "type": "object", "properties": {
                              "field": {"type": ["string", "null"]},
                              "rule": {"type": "string"},
                              "message": {"type": "string"}}}}}}


def document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document, with the command and problem schemas added."""
    schema = get_openapi(title=app.title, version=app.version,
                         description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    command = copy.deepcopy(COMMAND_SCHEMA)  # shared by every app built in the process
    components.update(command.pop("$defs", {}))
    components["Command"] = command
    components["Problem"] = copy.deepcopy(PROBLEM_SCHEMA)
    # The null positions of the dry run's example (FastAPI's document drops nulls).
    schema["paths"]["/commands"]["post"]["responses"]["200"]["content"][
        "application/json"]["example"] = copy.deepcopy(DRY_RUN_EXAMPLE)
    components["ReservesCsv"] = {
        "type": "string", "description": "the reserves report's tables as CSV, one after "
        "another, each under a line with its title (see the README)"}
    components["FeedStream"] = {
        "type": "string", "description": "the feed's events as Server-Sent Events: for each, "
        "`id:` its position and `data:` the item as JSON (see `FeedItem`)"}
    return schema


def use_document(app: FastAPI) -> None:
    """Make ``app.openapi()`` give ``document(app)``, made once."""
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
