"""The HTTP API: commands from internal services, reads for auditors and operators.

Commands are the same contract v1 models as the CLI's (one JSON object, or a
batch of them), parsed strictly by the domain's own ``parse_command``. Every
request but ``GET /health`` needs a bearer token; the token's name is the actor
recorded on the events, whatever the body says. ``Idempotency-Key`` (or the
body's ``command_id``) makes retries safe. Every error is
``application/problem+json`` (RFC 9457) naming the field and the rule; a
refused command appends nothing; no response carries a stack trace.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import queue
import re
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from datetime import datetime
from typing import Any

import orjson
from eventsourcing.persistence import PersistenceError
from fastapi import Depends, FastAPI, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import TypeAdapter
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters import views
from adapters.auth import Caller, Tokens
from adapters.console import MAX_POSITION, BadTime, parse_time
from adapters.storage import open_ledger, redact
from adapters.web import api_docs, error_page, in_console, mount_console
from domain.commands import COMMAND_TYPES, IDENTIFIER, Command, parse_command
from domain.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    IdempotencyConflict,
    InvalidCommand,
    LedgerError,
    NotFound,
    VersionConflict,
)
from domain.explanation import Lang
from domain.ledger import Ledger, Outcome
from projections.audit_trail import AuditQuery
from projections.read_models import PROJECTIONS, NotBuilt, ReadModels, Stalled
from projections.verify import verify

log = logging.getLogger("claims_ledger.http")

MAX_BODY = 1 << 20
"""Largest request body accepted (1 MiB); a larger one is refused with 413."""
MAX_BATCH = 1000
PROBLEM = "application/problem+json"


class CompactJSON(JSONResponse):
    """A JSON response written by orjson (the same compact JSON as the default,
    in a fraction of the time)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class Problem(Exception):
    """An HTTP error with a problem+json body."""

    def __init__(self, status: int, title: str, detail: str,
                 violations: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.violations = violations or []
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"urn:claims-ledger:problem:{self.title.lower().replace(' ', '-')}",
            "title": self.title, "status": self.status, "detail": self.detail,
        }
        if self.violations:
            body["violations"] = self.violations
        return body

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, media_type=PROBLEM,
                            headers=self.headers)


PARAMETER_RULES = {"greater_than_equal": "minimum", "less_than_equal": "maximum",
                   "int_parsing": "integer"}
"""The rules a query parameter's violations name, for pydantic's error types."""


def answer(request: Request, problem: Problem) -> Response:
    """The error as problem+json, or as the console's error page for a console
    request (with the console's security headers)."""
    if in_console(request):
        return error_page(request, problem.status, problem.detail)
    return problem.response()


def status_of(error: LedgerError) -> int:
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, AlreadyExists | IdempotencyConflict | VersionConflict
                  | ConcurrencyConflict):
        return 409
    if isinstance(error, InvalidCommand) and error.rule in ("json", "json_object"):
        return 400
    return 422


def problem_of(error: LedgerError) -> Problem:
    words = "".join(f" {c}" if c.isupper() else c for c in type(error).__name__).strip()
    return Problem(status_of(error), words.capitalize(), str(error), error.violations_json())


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_large = Problem(413, "Content too large",
                            f"the request body is larger than {self.limit:,} bytes")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await answer(Request(scope), too_large)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise too_large
            return message

        await self.app(scope, limited, send)


class GroupCommit:
    """Commands from concurrent requests share commits: one writer thread takes
    whatever has queued (up to ``max_batch``) and runs it as one batch with
    ``Ledger.execute_many``. Each request still gets its own outcome or refusal,
    and only after the commit that holds its events."""

    def __init__(self, ledger: Ledger, max_batch: int = 500) -> None:
        self.ledger, self.max_batch = ledger, max_batch
        self._queue: queue.SimpleQueue[tuple[Command, str, Future[Outcome]]] = (
            queue.SimpleQueue())
        threading.Thread(target=self._run, name="group-commit", daemon=True).start()

    def submit(self, command: Command, actor: str) -> Future[Outcome]:
        done: Future[Outcome] = Future()
        self._queue.put((command, actor, done))
        return done

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                results = self.ledger.execute_many([c for c, _, _ in batch],
                                                   actor=[a for _, a, _ in batch])
            except Exception as exc:
                for _, _, done in batch:
                    done.set_exception(exc)
                continue
            for (_, _, done), result in zip(batch, results, strict=True):
                if isinstance(result, Exception):
                    done.set_exception(result)
                else:
                    done.set_result(result)


class Service:
    """The ledger and its read models, shared by the request handlers."""

    def __init__(self, ledger: Ledger, models: ReadModels, tokens: Tokens) -> None:
        self.ledger, self.models, self.tokens = ledger, models, tokens
        self._catch_up = threading.Lock()
        self.writer = GroupCommit(ledger)

    def fresh(self) -> ReadModels:
        """The read models, caught up with every acknowledged command."""
        with self._catch_up:
            self.models.catch_up()
        return self.models

    async def execute(self, data: dict[str, Any], actor: str) -> Outcome:
        """One command, committed together with whatever else is arriving."""
        return await asyncio.wrap_future(self.writer.submit(parse_command(data), actor))

    def execute_many(self, commands: list[Command], actor: str) -> list[Outcome | LedgerError]:
        """Many commands, one commit (see ``Ledger.execute_many``)."""
        if not commands:
            return []
        return self.ledger.execute_many(commands, actor=actor)


def bearer(request: Request) -> Caller:
    """The caller a request's bearer token names."""
    service: Service = request.app.state.service
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "Unauthorized", "a bearer token is required",
                      headers={"WWW-Authenticate": "Bearer"})
    caller = service.tokens.caller(token.strip())
    if caller is None:
        raise Problem(401, "Unauthorized", "the bearer token is not known",
                      headers={"WWW-Authenticate": "Bearer"})
    return caller


def role(*allowed: str) -> Callable[[Request], Awaitable[Caller]]:
    """The dependency that lets in the callers with one of the ``allowed`` roles.
    It is one ``async`` function (it does no I/O): FastAPI runs a plain function
    dependency on a worker thread, and those hops took a third of the server's
    CPU per command."""
    async def check(request: Request) -> Caller:
        caller = bearer(request)
        if caller.role not in allowed:
            raise Problem(403, "Forbidden", f"the {caller.role} role may not do this; "
                          f"it needs: {', '.join(allowed)}")
        return caller

    return check


APPENDER = Depends(role("appender"))
READER = Depends(role("auditor", "operator"))
OPERATOR = Depends(role("operator"))


MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects a body may have (a batch of commands
is 3 deep). Checked before parsing, which would otherwise recurse as deep as
the body goes."""
MAX_JSON_NUMBER = 100
"""Most characters one number in a body may have: far more than any amount or
position, far fewer than Python's integer conversion limit (4,300 digits)."""
PARSE_ON_THREAD = 64 << 10
"""Bodies larger than this (64 KiB) are parsed on a worker thread."""
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_ONLY_BRACKETS = {c: None for c in range(128) if chr(c) not in "[]{}"} | {
    ord("{"): "[", ord("}"): "]"}
"""Deletes every ASCII character but brackets, and makes braces brackets
(anything else left outside strings is not JSON, and stops the pairs meeting)."""


def _bad_body(rule: str, message: str) -> Problem:
    return Problem(400, "Invalid command", f"the body {message}", [
        {"field": None, "rule": rule, "message": message}])


def _check_depth(text: str) -> None:
    """Refuse a body nested more than ``MAX_JSON_DEPTH`` deep, or whose
    brackets do not pair up, without recursing: each pass removes the innermost
    pairs, so a body nested d deep is empty after d passes."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return
    brackets = _STRING.sub("", text).translate(_ONLY_BRACKETS)
    too_deep, passes = "[" * (MAX_JSON_DEPTH + 1), 0
    while brackets:
        inner = brackets.replace("[]", "")
        if len(inner) == len(brackets):
            raise _bad_body("json", "is not valid JSON: its brackets do not pair up")
        brackets, passes = inner, passes + 1
        if brackets and (passes == MAX_JSON_DEPTH or too_deep in brackets):
            raise _bad_body("json_depth", f"is nested more than {MAX_JSON_DEPTH} deep")


def _number(text: str) -> None:
    if len(text) > MAX_JSON_NUMBER:
        raise _bad_body("json_number", f"holds a number of more than {MAX_JSON_NUMBER} "
                        "characters")


def _int(text: str) -> int:
    _number(text)
    return int(text)


def _float(text: str) -> float:
    _number(text)
    value = float(text)
    if math.isinf(value):
        raise _bad_body("json_number", f"holds a number too large to represent: {text}")
    return value


def _constant(text: str) -> float:
    raise _bad_body("json_number", f"holds {text}, which is not a JSON number")


_DECODER = json.JSONDecoder(parse_int=_int, parse_float=_float, parse_constant=_constant)


def parse_body(raw: bytes) -> Any:
    """A request body as JSON: UTF-8, at most ``MAX_JSON_DEPTH`` deep, no
    number longer than ``MAX_JSON_NUMBER`` characters, no NaN or Infinity.
    Anything else is a 400 naming the rule (``json``, ``json_depth`` or
    ``json_number``)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _bad_body("json", "is not valid JSON: it is not UTF-8") from None
    _check_depth(text)
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise Problem(400, "Invalid command", f"the body is not valid JSON: {exc}", [
            {"field": None, "rule": "json", "message": "is not valid JSON"}]) from None


async def json_body(request: Request) -> Any:
    """The body, parsed by ``parse_body``: a large one on a worker thread, so
    that a hostile megabyte (up to ~0.1 s to check) does not hold up the
    event loop."""
    raw = await request.body()
    if len(raw) > PARSE_ON_THREAD:
        return await run_in_threadpool(parse_body, raw)
    return parse_body(raw)


MAX_BATCH_KEY = 64 - len(f".{MAX_BATCH - 1}")
"""A batch's Idempotency-Key leaves room for the ids it derives (``KEY.999``)."""


def command_object(data: Any) -> dict[str, Any]:
    """A command: only a JSON object is one (a JSON string holding a command is
    text, not a command, whatever it says)."""
    if not isinstance(data, dict):
        raise InvalidCommand.of(None, "json_object", "a command must be a JSON object")
    return data


def batch_key(key: str | None) -> str | None:
    """A batch's Idempotency-Key, checked before any of its commands: every id it
    derives (``KEY.N``) must be a valid command id."""
    if key is None:
        return None
    if not IDENTIFIER.fullmatch(key):
        raise Problem(400, "Invalid batch", "the Idempotency-Key is not a valid command id", [
            {"field": "Idempotency-Key", "rule": "identifier_format",
             "message": "must be letters, digits, '.', '_' or '-', starting with a letter "
                        "or digit"}])
    if len(key) > MAX_BATCH_KEY:
        raise Problem(400, "Invalid batch", f"a batch's Idempotency-Key may have at most "
                      f"{MAX_BATCH_KEY} characters", [
                          {"field": "Idempotency-Key", "rule": "batch_key_length",
                           "message": f"must be at most {MAX_BATCH_KEY} characters, so that "
                                      f"the ids derived from it (KEY.0 to KEY.{MAX_BATCH - 1}) "
                                      "are valid command ids"}])
    return key


def with_key(data: dict[str, Any], key: str | None) -> dict[str, Any]:
    """The command with the Idempotency-Key as its command id."""
    if key is None:
        return data
    if data.get("command_id") not in (None, key):
        raise Problem(400, "Invalid command",
                      "the Idempotency-Key header and the body's command_id differ", [
                          {"field": "command_id", "rule": "same_as_idempotency_key",
                           "message": "must equal the Idempotency-Key header"}])
    return {**data, "command_id": key}


def _time(value: str | None, name: str, end_of_day: bool = True) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value, end_of_day=end_of_day)
    except BadTime as exc:
        raise Problem(400, "Invalid query", f"{name}: {exc}", [
            {"field": name, "rule": exc.rule, "message": str(exc)}]) from None


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
}
assert set(EXAMPLES) == {t.model_fields["command"].annotation.__args__[0]  # type: ignore[union-attr]
                         for t in COMMAND_TYPES}
PROBLEM_RESPONSE = {"content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
_STATUSES = {
    400: "malformed request", 401: "no or unknown bearer token",
    403: "the token's role may not do this", 404: "no such policy or claim",
    409: "concurrency conflict, or a command id reused for a different command",
    413: "request body too large", 422: "refused by a rule of the ledger",
    503: "the database is unavailable"}
ERRORS: dict[int | str, dict[str, Any]] = {
    str(s): {"description": d, **PROBLEM_RESPONSE} for s, d in _STATUSES.items()}


def create_app(service: Service, max_body: int = MAX_BODY) -> FastAPI:
    # No Swagger UI or ReDoc: they load their scripts from a CDN. /docs is a page
    # of our own that lists the routes and links /openapi.json.
    app = FastAPI(
        title="claims-ledger",
        version="1",
        description="Event-sourced claims ledger for データ保険 (data insurance). "
        "Commands follow command contract v1; errors are application/problem+json.",
        docs_url=None, redoc_url=None,
    )
    app.add_api_route("/docs", api_docs, include_in_schema=False)
    app.state.service = service
    app.add_middleware(BodyLimit, limit=max_body)

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return answer(request, exc)

    @app.exception_handler(LedgerError)
    async def _refused(request: Request, exc: LedgerError) -> Response:
        return answer(request, problem_of(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        violations = [{"field": ".".join(str(p) for p in e["loc"][1:]) or None,
                       "rule": PARAMETER_RULES.get(e["type"], e["type"]), "message": e["msg"]}
                      for e in exc.errors()]
        return answer(request, Problem(400, "Invalid request",
                                       "the request's parameters are not valid", violations))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        return answer(request, Problem(exc.status_code, str(exc.detail), str(exc.detail)))

    @app.exception_handler(NotBuilt)
    async def _not_built(request: Request, exc: NotBuilt) -> Response:
        found = exc.stalls if isinstance(exc, Stalled) else []
        problem = Problem(503, "Read model stalled" if found else "Read model not built",
                          str(exc))
        if in_console(request):
            return answer(request, problem)
        body = problem.body()
        if found:
            body["stalled"] = [s.as_json() for s in found]
        return JSONResponse(body, status_code=503, media_type=PROBLEM)

    @app.exception_handler(PersistenceError)
    @app.exception_handler(SQLAlchemyError)
    async def _down(request: Request, exc: Exception) -> Response:
        log.warning("database unavailable: %s", redact(str(exc)))
        return answer(request, Problem(503, "Service unavailable", "the database is "
                                       "unavailable; try again shortly"))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error")
        return answer(request, Problem(500, "Internal server error", "the ledger failed "
                                       "unexpectedly; nothing is reported back, the server "
                                       "log has the details"))

    @app.post("/commands", status_code=201, tags=["commands"], responses={
        201: {"description": "applied (or, with a command id seen before, the first "
              "outcome again: `replayed` is true and nothing was appended)"}, **ERRORS},
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Command"},
            "examples": {k: {"value": v} for k, v in EXAMPLES.items()}}}},
            "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                            "schema": {"type": "string"},
                            "description": "the command id: a retry with the same key "
                            "returns the first outcome"}]})
    async def post_command(request: Request, caller: Caller = APPENDER) -> JSONResponse:
        """Apply one command."""
        data = with_key(command_object(await json_body(request)),
                        request.headers.get("idempotency-key"))
        outcome = await service.execute(data, caller.name)
        return CompactJSON(outcome.as_json(), status_code=201,
                           headers={"Idempotent-Replayed": "true"} if outcome.replayed
                           else {})

    @app.post("/commands/batch", tags=["commands"], responses=ERRORS, openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["commands"], "properties": {"commands": {
                "type": "array", "maxItems": MAX_BATCH,
                "items": {"$ref": "#/components/schemas/Command"}}}},
            "example": {"commands": [EXAMPLES["file_claim"], EXAMPLES["issue_payout"]]}}}}})
    async def post_batch(request: Request, caller: Caller = APPENDER) -> JSONResponse:
        """Apply many commands in order; each is applied or refused on its own.
        With an Idempotency-Key, a command without its own id gets `KEY.N`."""
        data = await json_body(request)
        commands = data.get("commands") if isinstance(data, dict) else None
        if not isinstance(commands, list) or len(commands) > MAX_BATCH:
            raise Problem(400, "Invalid batch", f"the body must be {{\"commands\": [...]}} "
                          f"with at most {MAX_BATCH:,} commands", [
                              {"field": "commands", "rule": "batch",
                               "message": f"a list of at most {MAX_BATCH:,} commands"}])
        key = batch_key(request.headers.get("idempotency-key"))

        def apply_all() -> list[dict[str, Any]]:
            parsed: list[Command | LedgerError] = []
            for index, item in enumerate(commands):
                try:
                    command = command_object(item)
                    if key is not None and not command.get("command_id"):
                        command = {**command, "command_id": f"{key}.{index}"}
                    parsed.append(parse_command(command))
                except LedgerError as exc:
                    parsed.append(exc)
            outcomes = iter(service.execute_many(
                [c for c in parsed if not isinstance(c, LedgerError)], caller.name))
            results = []
            for index, item in enumerate(parsed):
                result = item if isinstance(item, LedgerError) else next(outcomes)
                if isinstance(result, LedgerError):
                    problem = problem_of(result)
                    results.append({"index": index, "ok": False, "status": problem.status,
                                    "problem": problem.body()})
                else:
                    results.append({"index": index, "ok": True,
                                    "outcome": result.as_json()})
            return results

        return JSONResponse({"results": await run_in_threadpool(apply_all)})

    @app.get("/policies/{policy_id}/limits", tags=["reads"], responses=ERRORS)
    def get_limits(policy_id: str, as_of: str | None = None,
                   _: Caller = READER) -> list[dict[str, Any]]:
        """Annual limit, paid, reversed and remaining per policy year and coverage."""
        when = _time(as_of, "as_of")
        return views.limits(service.ledger, service.fresh() if when is None else None,
                            policy_id, when)

    @app.get("/claims/{claim_id}", tags=["reads"], responses=ERRORS)
    def get_claim(claim_id: str, as_of: str | None = None,
                  _: Caller = READER) -> dict[str, Any]:
        """A claim's state, payouts with their breakdowns, and exclusion."""
        when = _time(as_of, "as_of")
        return views.claim(service.ledger, service.fresh() if when is None else None,
                           claim_id, when)

    @app.get("/claims/{claim_id}/explanation", tags=["reads"], responses=ERRORS)
    def get_claim_explanation(claim_id: str, lang: Lang = "ja", as_of: str | None = None,
                              _: Caller = READER) -> dict[str, Any]:
        """The claim's decisions in words and figures (Japanese or English), each payout
        recomputed from the terms copied into its policy year; ``mismatches`` lists any
        recorded figure that disagrees with the recomputation."""
        explanation = views.explanation(service.ledger, claim_id, lang,
                                        _time(as_of, "as_of"))
        return {**explanation.model_dump(mode="json"), "text": explanation.text(),
                "mismatches": [m.text for m in explanation.mismatches]}

    def _history(entity_id: str, kind: str, after: int, limit: int) -> dict[str, Any]:
        rows = views.history(service.ledger, service.fresh(), entity_id, kind, after, limit)
        return {"items": jsonable_encoder(rows),
                "next_after": rows[-1]["position"] if len(rows) == limit else None}

    @app.get("/policies/{policy_id}/history", tags=["reads"], responses=ERRORS)
    def get_policy_history(policy_id: str, after: int = Query(0, ge=0, le=MAX_POSITION),
                           limit: int = Query(1000, ge=1, le=10_000),
                           _: Caller = READER) -> dict[str, Any]:
        """Every event of a policy, its years and its claims, in log order."""
        return _history(policy_id, "policy", after, limit)

    @app.get("/claims/{claim_id}/history", tags=["reads"], responses=ERRORS)
    def get_claim_history(claim_id: str, after: int = Query(0, ge=0, le=MAX_POSITION),
                          limit: int = Query(1000, ge=1, le=10_000),
                          _: Caller = READER) -> dict[str, Any]:
        """Every event of a claim, in log order."""
        return _history(claim_id, "claim", after, limit)

    @app.get("/audit", tags=["reads"], responses=ERRORS)
    def get_audit(policy_id: str | None = None, claim_id: str | None = None,
                  actor: str | None = None, event_type: str | None = None,
                  recorded_from: str | None = Query(None, alias="from"),
                  recorded_to: str | None = Query(None, alias="to"),
                  after: int = Query(0, ge=0, le=MAX_POSITION,
                                     description="cursor: rows after this position"),
                  limit: int = Query(100, ge=1, le=10_000),
                  _: Caller = READER) -> dict[str, Any]:
        """The audit trail, filtered; follow `next_after` for the next page."""
        from projections.base import recorded_time

        start = _time(recorded_from, "from", end_of_day=False)
        end = _time(recorded_to, "to")
        query = AuditQuery(policy_id=policy_id, claim_id=claim_id, actor=actor,
                           event_type=event_type, after=after, limit=limit,
                           recorded_from=recorded_time(start) if start else None,
                           recorded_to=recorded_time(end) if end else None)
        rows = service.fresh().audit(query)
        return {"items": jsonable_encoder(rows),
                "next_after": rows[-1]["position"] if len(rows) == limit else None}

    @app.get("/health", tags=["operations"])
    def get_health() -> JSONResponse:
        """Whether the databases answer, and how far each read model lags the log.
        A read model stopped at an event it cannot apply makes the status
        `degraded`, with the stall (its position, event and error) under its
        name: still `200`, since commands and the other read models work (`503`
        is for a database that does not answer)."""
        try:
            status = service.models.status()
        except (PersistenceError, SQLAlchemyError) as exc:
            log.warning("health: database unavailable: %s", redact(str(exc)))
            return JSONResponse({"status": "unavailable"}, status_code=503)
        stalled = any(s.stall is not None for s in status)
        return JSONResponse({"status": "degraded" if stalled else "ok",
                             "log_head": status[0].head if status else 0,
                             "read_models": [{"name": s.name, "generation": s.active,
                                              "position": s.position, "lag": s.lag,
                                              "stalled": s.stall and s.stall.as_json()}
                                             for s in status]})

    @app.post("/admin/rebuild", tags=["operations"], responses=ERRORS)
    def post_rebuild(read_models: list[str] | None = Query(None),
                     restart: bool = Query(False), _: Caller = OPERATOR) -> dict[str, Any]:
        """Rebuild read models (default all) into fresh tables and switch readers."""
        names = read_models or list(PROJECTIONS)
        unknown = [n for n in names if n not in PROJECTIONS]
        if unknown:
            raise Problem(422, "Unknown read model", f"unknown: {', '.join(unknown)}", [
                {"field": "read_models", "rule": "known_read_model",
                 "message": f"expected some of {', '.join(PROJECTIONS)}"}])
        applied = service.models.rebuild(names, restart=restart)
        return {"rebuilt": names, "events": applied, "position": service.models.head()}

    @app.post("/admin/verify", tags=["operations"], responses=ERRORS)
    def post_verify(_: Caller = OPERATOR) -> dict[str, Any]:
        """Replay the log and compare every read model with it."""
        problems = verify(service.models)
        return {"ok": not problems, "differences": problems}

    for route in app.routes:
        if isinstance(route, APIRoute):
            route.operation_id = route.name

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(COMMAND_SCHEMA.pop("$defs", {}))
            components["Command"] = COMMAND_SCHEMA
            components["Problem"] = {"type": "object", "required": ["type", "title", "status"],
                                     "properties": {
                                         "type": {"type": "string"}, "title": {"type": "string"},
                                         "status": {"type": "integer"},
                                         "detail": {"type": "string"},
                                         "violations": {"type": "array", "items": {
                                             "type": "object", "properties": {
                                                 "field": {"type": ["string", "null"]},
                                                 "rule": {"type": "string"},
                                                 "message": {"type": "string"}}}}}}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    # After the API's routes: a request is matched against the routes in order,
    # so the console's pages no longer come before every command.
    mount_console(app)
    return app


def build(db: str, read_db: str, tokens: Tokens) -> FastAPI:
    """The app on the named databases (what `claims-ledger serve` runs)."""
    ledger = open_ledger(db)
    return create_app(Service(ledger, ReadModels.open(ledger, read_db), tokens))

