"""A line's result as data: what ``apply --json`` prints for it, before any
wording (the CLI's ``adapters.cli.output`` words it for people)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.errors import LedgerError
from domain.ledger import Outcome

Result = dict[str, Any]
Render = Callable[[Result], str]
"""How the caller turns a line's result into the text it reports."""


def error_json(error: LedgerError) -> dict[str, Any]:
    return {
        "error": type(error).__name__,
        "message": str(error),
        "violations": error.violations_json(),
    }


def line_result(number: int, result: Outcome | LedgerError) -> Result:
    """One line's result as ``apply --json`` prints it."""
    if isinstance(result, LedgerError):
        return {"line": number, "ok": False, **error_json(result)}
    return {"line": number, "ok": True, **result.as_json()}


def storage_failed(number: int, cause: Exception) -> Result:
    return {"line": number, "ok": False, "error": "StorageUnavailable",
            "message": str(cause), "violations": []}

