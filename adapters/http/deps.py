"""What the API's routes take from a request: the service, the caller its bearer
token names (checked against the roles a route lets in), the body as JSON
within the limits, the Idempotency-Key, the ``dry_run`` flag of the command
routes, and the time parameters."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from adapters.http.problems import Problem
from adapters.service import Service
from adapters.service.auth import Caller
from adapters.service.times import BadTime, parse_time
from domain.commands import IDENTIFIER
from domain.errors import InvalidCommand, NotAuthorized


def service_of(request: Request) -> Service:
    """The service the app was built on. The command routes and the role check
    call this directly: each dependency FastAPI resolves costs every request."""
    service: Service = request.app.state.service
    return service


async def get_service(request: Request) -> Service:
    """``service_of`` as a dependency (``async``: no worker thread for this)."""
    return service_of(request)


ServiceDep = Annotated[Service, Depends(get_service)]


def bearer(service: Service, request: Request) -> Caller:
    """The caller a request's bearer token names."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "Unauthorized", "a bearer token is required",
                      headers={"WWW-Authenticate": "Bearer"})
    caller = service.tokens.caller(token.strip())
    if caller is None:
        raise Problem(401, "Unauthorized", "the bearer token is not known, or was revoked "
                      "or has expired", headers={"WWW-Authenticate": "Bearer"})
    return caller


def role(*allowed: str) -> Callable[[Request], Awaitable[Caller]]:
    """The dependency that lets in the callers with one of the ``allowed`` roles.
    It is one ``async`` function (it does no I/O): FastAPI runs a plain function
    dependency on a worker thread, a hop each request would pay for."""
    async def check(request: Request) -> Caller:
        caller = bearer(service_of(request), request)
        if caller.role not in allowed:
            raise Problem(403, "Forbidden", f"the {caller.role} role may not do this; "
                          f"it needs: {', '.join(allowed)}")
        return caller

    return check


APPENDER = Depends(role("appender"))
READER = Depends(role("auditor", "operator"))
OPERATOR = Depends(role("operator"))
SUBSCRIBER = Depends(role("subscriber", "operator"))


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
    that checking a hostile megabyte does not hold up the event loop."""
    raw = await request.body()
    if len(raw) > PARSE_ON_THREAD:
        return await run_in_threadpool(parse_body, raw)
    return parse_body(raw)


MAX_BATCH = 1000
"""Most commands one batch may hold."""
MAX_BATCH_KEY = 64 - len(f".{MAX_BATCH - 1}")
"""A batch's Idempotency-Key leaves room for the ids it derives (``KEY.999``)."""


def command_object(data: Any) -> dict[str, Any]:
    """A command: only a JSON object is one (a JSON string holding a command is
    text, not a command, whatever it says)."""
    if not isinstance(data, dict):
        raise InvalidCommand.of(None, "json_object", "a command must be a JSON object")
    return data


OPERATOR_COMMANDS = ("set_authority",)
"""Commands that are an operator's decision: ``POST /commands`` refuses them
to an appender's token (an operator sends ``set_authority`` with
``PUT /authority/{actor_name}``)."""


def appenders(data: dict[str, Any]) -> dict[str, Any]:
    """A command an appender may send: not an operator's decision (``403``,
    field ``command``, rule ``operator_only``; nothing is appended)."""
    if data.get("command") in OPERATOR_COMMANDS:
        raise NotAuthorized.of(
            "command", "operator_only", f"{data['command']} is an operator's decision: an "
            "operator's token sends it with PUT /authority/{actor_name}")
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


DRY_RUN_VALUES = {"true": True, "false": False}
"""What ``dry_run`` may be (nothing else, so that a typo is not taken for a real
run)."""
DRY_RUN_HEADER = {"Dry-Run": "true"}
"""The header of every answer to a dry run."""


def dry_run(request: Request) -> bool:
    """The command routes' ``dry_run`` query parameter (absent: false), or a
    400 naming it (rule ``allowed_values``) if it is anything but one ``true``
    or ``false``."""
    values = request.query_params.getlist("dry_run")
    if not values:
        return False
    if len(values) == 1 and values[0] in DRY_RUN_VALUES:
        return DRY_RUN_VALUES[values[0]]
    message = "must be given once, as true or false"
    raise Problem(400, "Invalid query", f"dry_run: {message} [allowed_values]", [
        {"field": "dry_run", "rule": "allowed_values", "message": message}])


def printable(value: str | None, name: str) -> str | None:
    """An id or filter from the path or query, or a 400 naming it: control
    characters match nothing the ledger records, and some databases refuse them."""
    if value is not None and not value.isprintable():
        message = "must be printable text, without control characters"
        raise Problem(400, "Invalid query", f"{name}: {message} [printable]", [
            {"field": name, "rule": "printable", "message": message}])
    return value


def query_time(value: str | None, name: str, end_of_day: bool = True) -> datetime | None:
    """A time query parameter (``as_of``, ``from``, ``to``), or a 400 naming it."""
    if value is None:
        return None
    try:
        return parse_time(value, end_of_day=end_of_day)
    except BadTime as exc:
        raise Problem(400, "Invalid query", f"{name}: {exc}", [
            {"field": name, "rule": exc.rule, "message": str(exc)}]) from None
