"""The ``claims-ledger`` command line: one table of commands, and the exit
status each kind of failure gets (``adapters.cli.exits``).

Commands are applied to the event log; reads come from the read models, which
are caught up with the log before every read (and after every ``apply``), so
the CLI never shows a stale answer. ``--as-of`` reads replay the log instead.

A command's module is imported when it runs, and the modules it needs with it:
``--help`` imports no command, and a read imports no batch engine.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import NamedTuple, TextIO

from adapters.cli.exits import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STORAGE,
    EXIT_USAGE,
    exit_code,
)
from adapters.cli.output import error
from adapters.cli.parser import parse_args
from adapters.cli.session import Session


class Command(NamedTuple):
    """A command's handler, as ``module:function`` of ``adapters.cli.commands``,
    and whether it works on the ledger (its session opens the ledger first);
    ``terms``, ``token``, ``replay`` and ``serve`` open none here."""

    handler: str
    opens_ledger: bool = True

    def run(self, session: Session) -> int:
        module, _, function = self.handler.partition(":")
        handler = getattr(importlib.import_module(f"adapters.cli.commands.{module}"), function)
        return int(handler(session))


COMMANDS: dict[str, Command] = {
    "apply": Command("apply:cmd_apply"),
    "limits": Command("reads:cmd_limits"),
    "claim": Command("reads:cmd_claim"),
    "history": Command("reads:cmd_history"),
    "audit": Command("reads:cmd_audit"),
    "project": Command("read_models:cmd_project"),
    "rebuild": Command("read_models:cmd_rebuild"),
    "verify": Command("read_models:cmd_verify"),
    "status": Command("read_models:cmd_status"),
    "terms": Command("admin:cmd_terms", opens_ledger=False),
    "demo": Command("admin:cmd_demo"),
    "seal": Command("auditing:cmd_seal"),
    "explain": Command("auditing:cmd_explain"),
    "export": Command("auditing:cmd_export"),
    "replay": Command("auditing:cmd_replay", opens_ledger=False),
    "report": Command("reports:cmd_report"),
    "authority": Command("authority:cmd_authority"),
    "feed": Command("feed:cmd_feed"),
    "serve": Command("admin:cmd_serve", opens_ledger=False),
    "token": Command("admin:cmd_token", opens_ledger=False),
}

_USAGE = ("adapters.cli.exits:UsageError", "adapters.audit.seal:SealError",
          "adapters.audit.export:ExportError")
_STORAGE = ("adapters.storage:StorageError", "projections.reading:NotBuilt",
            "adapters.apply.job:StoppedAt")
_UNAVAILABLE = ("eventsourcing.persistence:PersistenceError",
                "sqlalchemy.exc:SQLAlchemyError", "sqlite3:Error")
_REFUSED = ("domain.errors:LedgerError",)


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    try:
        return run(argv, out or sys.stdout)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as other tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def run(argv: list[str] | None, out: TextIO) -> int:
    args = parse_args(argv)
    command = COMMANDS[args.action]
    session = Session(args, out)
    try:
        if command.opens_ledger:
            session.open()
        return command.run(session)
    except Exception as exc:
        status = _failed(exc, getattr(args, "json", False), out)
        if status is None:
            raise
        return status
    finally:
        session.close()


def _failed(exc: Exception, as_json: bool, out: TextIO) -> int | None:
    """Say why the command failed and give its exit status; None for an
    exception none of these rules covers (raised on)."""
    if _raised(exc, _USAGE):
        error(str(exc))
        return EXIT_USAGE
    if _raised(exc, _STORAGE):
        error(str(exc))
        return EXIT_STORAGE
    if _raised(exc, _UNAVAILABLE):
        error(f"the database is unavailable: {getattr(exc, 'orig', None) or exc}")
        return EXIT_STORAGE
    if _raised(exc, _REFUSED):
        from domain.errors import LedgerError

        assert isinstance(exc, LedgerError)
        if as_json:
            from adapters.apply.results import error_json

            print(json.dumps(error_json(exc), ensure_ascii=False), file=out)
        error(str(exc))
        return exit_code(exc)
    return None


def _raised(exc: Exception, kinds: tuple[str, ...]) -> bool:
    """Whether ``exc`` is of one of ``kinds`` (``module:Class``). A module not
    imported yet has raised nothing, and is not imported to find that out."""
    for kind in kinds:
        module, _, name = kind.partition(":")
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(exc, getattr(loaded, name)):
            return True
    return False
