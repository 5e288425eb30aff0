"""Why the ledger refuses a command: a small hierarchy of domain errors.

Every error names the field it is about (when there is one) and the rule that
refused it, in words adapters can show as they are. Adapters map the classes to
exit codes and HTTP statuses; nothing here knows about either.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    """One broken rule: which field, which rule, and a sentence for people."""

    field: str | None
    rule: str
    message: str

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return f"{where}{self.message} [{self.rule}]"


class LedgerError(Exception):
    """A command the ledger refused; nothing was appended."""

    def __init__(self, *violations: Violation) -> None:
        if not violations:
            msg = "a LedgerError needs at least one violation"
            raise ValueError(msg)
        self.violations = violations
        super().__init__("; ".join(str(v) for v in violations))

    @classmethod
    def of(cls, field: str | None, rule: str, message: str) -> LedgerError:
        return cls(Violation(field, rule, message))

    def violations_json(self) -> list[dict[str, str | None]]:
        """The violations as JSON objects (what the CLI and the HTTP API show)."""
        return [{"field": v.field, "rule": v.rule, "message": v.message}
                for v in self.violations]

    @property
    def rule(self) -> str:
        return self.violations[0].rule

    @property
    def field(self) -> str | None:
        return self.violations[0].field


class InvalidCommand(LedgerError):
    """The command is malformed: missing fields, wrong types, unknown codes."""


class CoverageNotEligible(LedgerError):
    """The customer or the firewall option does not meet the eligibility rules."""


class NotFound(LedgerError):
    """The policy or claim the command names does not exist."""


class AlreadyExists(LedgerError):
    """The policy or claim the command would create exists already."""


class ClaimDenied(LedgerError):
    """The claim is denied by an exclusion; it pays nothing."""


class ClaimNotOpen(LedgerError):
    """The claim is closed or withdrawn and takes no more changes."""


class PayoutRefused(LedgerError):
    """Nothing (or less than asked) is payable under the payout rule."""


class RuleViolated(LedgerError):
    """Any other business rule (dates out of order, service already ended, …)."""


class IdempotencyConflict(LedgerError):
    """A command id was used before for a different command."""


class VersionConflict(LedgerError):
    """The command was decided on a version of the record that is no longer current."""


class ConcurrencyConflict(LedgerError):
    """Concurrent writers kept winning the race until the retries ran out."""


class DecisionFailed(LedgerError):
    """The ledger failed unexpectedly while deciding this command; nothing was
    appended for it, and the commands beside it were decided without it."""


class NotAuthorized(LedgerError):
    """The actor's authority (set by an operator) does not cover this decision,
    or the decision needs another actor than the one who asked for it."""


class HoldResolved(LedgerError):
    """The held payout was already approved or rejected (it resolves once)."""
