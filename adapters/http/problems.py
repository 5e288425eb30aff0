"""Errors as ``application/problem+json`` (RFC 9457): the ``Problem`` every
refusal becomes, the status each ledger error maps to, and the problem for each
kind of exception a request can end in (no response carries a stack trace)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import DataError as PersistenceDataError
from eventsourcing.persistence import PersistenceError
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, SQLAlchemyError
from starlette.exceptions import HTTPException

from adapters.storage import redact
from domain.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    HoldResolved,
    IdempotencyConflict,
    InvalidCommand,
    LedgerError,
    NotAuthorized,
    NotFound,
    VersionConflict,
)
from projections.read_models import NotBuilt, Stalled

log = logging.getLogger("claims_ledger.http")

PROBLEM = "application/problem+json"


class Problem(Exception):
    """An HTTP error with a problem+json body (``extra`` adds members after the
    standard ones)."""

    def __init__(self, status: int, title: str, detail: str,
                 violations: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.violations = violations or []
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"urn:claims-ledger:problem:{self.title.lower().replace(' ', '-')}",
            "title": self.title, "status": self.status, "detail": self.detail,
        }
        if self.violations:
            body["violations"] = self.violations
        return body | self.extra

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, media_type=PROBLEM,
                            headers=self.headers)


PARAMETER_RULES = {"greater_than_equal": "minimum", "less_than_equal": "maximum",
                   "int_parsing": "integer", "literal_error": "allowed_values"}
"""The rules a query parameter's violations name, for pydantic's error types."""


def status_of(error: LedgerError) -> int:
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, NotAuthorized):
        return 403
    if isinstance(error, AlreadyExists | IdempotencyConflict | VersionConflict
                  | ConcurrencyConflict | HoldResolved):
        return 409
    if isinstance(error, InvalidCommand) and error.rule in ("json", "json_object"):
        return 400
    return 422


def problem_of(error: LedgerError) -> Problem:
    words = "".join(f" {c}" if c.isupper() else c for c in type(error).__name__).strip()
    return Problem(status_of(error), words.capitalize(), str(error), error.violations_json())


def _invalid(exc: RequestValidationError) -> Problem:
    violations = [{"field": ".".join(str(p) for p in e["loc"][1:]) or None,
                   "rule": PARAMETER_RULES.get(e["type"], e["type"]), "message": e["msg"]}
                  for e in exc.errors()]
    return Problem(400, "Invalid request", "the request's parameters are not valid",
                   violations)


def _http(exc: HTTPException) -> Problem:
    return Problem(exc.status_code, str(exc.detail), str(exc.detail))


def _not_built(exc: NotBuilt) -> Problem:
    found = exc.stalls if isinstance(exc, Stalled) else []
    return Problem(503, "Read model stalled" if found else "Read model not built", str(exc),
                   extra={"stalled": [s.as_json() for s in found]} if found else None)


def _down(exc: Exception) -> Problem:
    log.warning("database unavailable: %s", redact(str(exc)))
    return Problem(503, "Service unavailable", "the database is unavailable; try again "
                   "shortly")


def _bug(_: Exception) -> Problem:
    log.exception("unexpected error")
    return Problem(500, "Internal server error", "the ledger failed unexpectedly; nothing "
                   "is reported back, the server log has the details")


PROBLEMS: dict[type[Exception], Callable[[Any], Problem]] = {
    Problem: lambda problem: problem,
    LedgerError: problem_of,
    RequestValidationError: _invalid,
    HTTPException: _http,
    NotBuilt: _not_built,
    PersistenceError: _down,
    SQLAlchemyError: _down,
    # A value the database refused got past the checks before it: a bug to find
    # in the log, not an outage for health checks and clients to wait out.
    DataError: _bug,
    PersistenceDataError: _bug,
    Exception: _bug,
}
"""The problem each kind of exception a request can end in becomes."""


def problem_for(exc: Exception) -> Problem:
    """The problem for ``exc``: the nearest kind in its class hierarchy answers,
    as Starlette picks an exception handler."""
    for kind in type(exc).__mro__:
        if kind in PROBLEMS:
            return PROBLEMS[kind](exc)
    return _bug(exc)
