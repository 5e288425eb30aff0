"""The ``claims-ledger`` command line: one table of commands, and the exit
status each kind of failure gets (``adapters.cli.exits``).

Commands are applied to the event log; reads come from the read models, which
are caught up with the log before every read (and after every ``apply``), so
the CLI never shows a stale answer. ``--as-of`` reads replay the log instead.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections.abc import Callable
from typing import NamedTuple, TextIO

from eventsourcing.persistence import PersistenceError
from sqlalchemy.exc import SQLAlchemyError

from adapters.apply import StoppedAt, error_json
from adapters.audit.export import ExportError
from adapters.audit.seal import SealError
from adapters.cli.commands import (
    admin,
    apply,
    auditing,
    authority,
    feed,
    read_models,
    reads,
    reports,
)
from adapters.cli.exits import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STORAGE,
    EXIT_USAGE,
    UsageError,
    exit_code,
)
from adapters.cli.output import error
from adapters.cli.parser import parse_args
from adapters.cli.session import Session
from adapters.storage import StorageError
from domain.errors import LedgerError
from projections.read_models import NotBuilt


class Command(NamedTuple):
    """A command's handler, and whether it works on the ledger (its session
    opens the ledger first); ``terms``, ``token``, ``replay`` and ``serve``
    open none here."""

    run: Callable[[Session], int]
    opens_ledger: bool = True


COMMANDS: dict[str, Command] = {
    "apply": Command(apply.cmd_apply),
    "limits": Command(reads.cmd_limits),
    "claim": Command(reads.cmd_claim),
    "history": Command(reads.cmd_history),
    "audit": Command(reads.cmd_audit),
    "project": Command(read_models.cmd_project),
    "rebuild": Command(read_models.cmd_rebuild),
    "verify": Command(read_models.cmd_verify),
    "status": Command(read_models.cmd_status),
    "terms": Command(admin.cmd_terms, opens_ledger=False),
    "demo": Command(admin.cmd_demo),
    "seal": Command(auditing.cmd_seal),
    "explain": Command(auditing.cmd_explain),
    "export": Command(auditing.cmd_export),
    "replay": Command(auditing.cmd_replay, opens_ledger=False),
    "report": Command(reports.cmd_report),
    "authority": Command(authority.cmd_authority),
    "feed": Command(feed.cmd_feed),
    "serve": Command(admin.cmd_serve, opens_ledger=False),
    "token": Command(admin.cmd_token, opens_ledger=False),
}


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
    except (UsageError, SealError, ExportError) as exc:
        error(str(exc))
        return EXIT_USAGE
    except (StorageError, NotBuilt, StoppedAt) as exc:
        error(str(exc))
        return EXIT_STORAGE
    except (PersistenceError, SQLAlchemyError, sqlite3.Error) as exc:
        error(f"the database is unavailable: {getattr(exc, 'orig', None) or exc}")
        return EXIT_STORAGE
    except LedgerError as exc:
        if getattr(args, "json", False):
            print(json.dumps(error_json(exc), ensure_ascii=False), file=out)
        error(str(exc))
        return exit_code(exc)
    finally:
        session.close()
