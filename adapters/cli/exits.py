"""The CLI's exit statuses, and which one each kind of failure gets.

0 done; 1 a command was refused by a rule (nothing appended for it), ``verify``
found differences, ``seal verify`` or ``replay`` found tampering, or
``explain``/``replay`` found a recorded figure that disagrees with the terms;
2 bad usage or unreadable input; 3 the policy or claim does not exist; 4 a
conflict (command id reused, concurrent writers, or a held payout already
approved or rejected); 5 the database cannot be used; 130 interrupted.
"""

from __future__ import annotations

from domain.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    HoldResolved,
    IdempotencyConflict,
    LedgerError,
    NotFound,
    VersionConflict,
)

(EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_STORAGE) = range(6)
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad usage or unreadable input (exit status 2)."""


def exit_code(error: LedgerError) -> int:
    if isinstance(error, NotFound):
        return EXIT_NOT_FOUND
    if isinstance(error, IdempotencyConflict | ConcurrencyConflict | AlreadyExists
                  | VersionConflict | HoldResolved):
        return EXIT_CONFLICT
    return EXIT_REFUSED
