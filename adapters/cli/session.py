"""What one CLI run works with: the ledger and its read models, opened by the
rules for read-only copies (a replica of the log or of the read models, or a
SQLite file this process cannot write).

The ledger is opened when a command first uses it, and a read of read models
that are caught up with a SQLite log already (told in one statement on each
database) opens neither the ledger nor what a catch-up takes (``reads``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from adapters.cli.exits import UsageError
from adapters.cli.output import Progress
from adapters.storage import (
    StorageError,
    is_postgres,
    read_only_uri,
    redact,
    sqlite_head,
    sqlite_path,
    sqlite_writable,
)

if TYPE_CHECKING:
    from domain.ledger import Ledger
    from projections.read_models import ReadModels
    from projections.reading import Reads

LOG_WRITERS = {"apply", "demo", "authority set"}
LOG_CREATORS = {"apply", "demo", "seal", "seal checkpoint"}
"""Commands that create a SQLite log that does not exist (``seal`` records a
checkpoint, but ``seal verify`` does not); every other command refuses one, so
a mistyped ``--db`` is not answered from a new, empty ledger."""
READ_MODEL_WRITERS = {"apply", "demo", "project", "rebuild"}


class Session:
    """What one CLI run works with: its arguments and output, and (once
    ``open``) the ledger, its read models, who is acting."""

    def __init__(self, args: argparse.Namespace, out: TextIO) -> None:
        self.args, self.out = args, out
        self._ledger: Ledger | None = None
        self._models: ReadModels | None = None
        self._reads: Reads | None = None
        self._scratch: str | None = None
        self._open = False

    def open(self) -> None:
        """Open the ledger (when first used: ``ledger``), refusing what a
        read-only copy cannot do."""
        args = self.args
        if args.log_replica and _verb(args) in LOG_WRITERS:
            raise UsageError(f"`{_verb(args)}` appends to the log; --log-replica names a "
                             "read-only copy of it: give the primary's --db")
        if args.read_replica and args.action in READ_MODEL_WRITERS:
            raise UsageError(f"`{args.action}` writes the read models; --read-replica names "
                             "a read-only copy of them: give the primary's --read-db")
        if not _creates_log(args):
            _require_existing(args.db)
        self.read_only = args.log_replica or not (
            _writes_log(args) or is_postgres(args.db) or sqlite_writable(args.db))
        """The log is opened read-only: a replica, or a SQLite file this process
        cannot write (an auditor's copy on read-only media)."""
        self._open = True

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            assert self._open, "the session is not open"
            from adapters.storage import open_ledger

            self._ledger = open_ledger(self.args.db, read_only=self.read_only)
        return self._ledger

    @property
    def models(self) -> ReadModels:
        if self._models is None:
            from projections.read_models import ReadModels

            ledger, read_db = self.ledger, self.args.read_db
            opened = self._readable(read_db)
            with _opening(read_db):
                self._models = ReadModels.open(ledger, opened)
            if self._scratch is not None:
                self._models.catch_up(progress=Progress("building read models", sys.stderr))
        return self._models

    def _readable(self, read_db: str) -> str:
        """Where to open the read models. Read models that cannot be written
        (in a read-only log's own SQLite file, or in a file this process cannot
        write) are read as they are with --read-replica, and otherwise built
        from the log in a temporary database, removed at the end."""
        if self._in_place(read_db):
            return read_db
        if self.args.read_replica:
            return f"sqlite:///{read_only_uri(read_db)}&uri=true"
        if self.args.action in READ_MODEL_WRITERS:
            raise UsageError(f"`{self.args.action}` writes the read models, and {read_db} "
                             "is read-only here: name a writable --read-db")
        import tempfile

        self._scratch = tempfile.mkdtemp(prefix="claims-ledger-read-models-")
        print(f"{read_db} is read-only here: reading from read models built from the log "
              "in a temporary database", file=sys.stderr)
        return str(Path(self._scratch) / "read-models.db")

    def _in_place(self, read_db: str) -> bool:
        """Whether the read models are read and caught up where they are (not
        in the read-only log's own SQLite file, nor in a file this process
        cannot write)."""
        if is_postgres(read_db):
            return True
        db = self.args.db
        shared = self.read_only and not is_postgres(db) and _same_file(read_db, db)
        return not shared and sqlite_writable(read_db)

    def reads(self) -> Reads:
        """The read models to read now, as ``fresh`` gives them; but when they
        are caught up with a SQLite log already (the common case), opened
        without the ledger and without what a catch-up imports."""
        if self._models is None and self._reads is None:
            self._reads = self._caught_up()
        return self._reads if self._reads is not None else self.fresh()

    def _caught_up(self) -> Reads | None:
        """The read models, if a catch-up would apply nothing to them: the log
        a SQLite file (its last position read in one statement), the read
        models read where they are, and every one at that position."""
        args = self.args
        if args.read_replica or is_postgres(args.db) or not self._in_place(args.read_db):
            return None
        head = sqlite_head(args.db)
        if head is None:
            return None
        from projections.reading import Reads
        from projections.store import open_store

        with _opening(args.read_db):
            reads = Reads(open_store(args.read_db))
        if reads.caught_up(head):
            return reads
        reads.close()
        return None

    def fresh(self) -> ReadModels:
        """The read models, caught up with the log first (unless they are a
        read-only replica: then as replicated, see `status` for the lag)."""
        models = self.models
        if not self.args.read_replica:
            progress = Progress("catching up", sys.stderr)
            models.catch_up(progress=progress)
            if progress.tty and progress.last > progress.started:
                progress.finish()  # a bar was drawn: end its line
        return models

    def close(self) -> None:
        if self._reads is not None:
            self._reads.close()
        if self._models is not None:
            self._models.close()
        if self._ledger is not None:
            self._ledger.close()
        if self._scratch is not None:
            import shutil

            shutil.rmtree(self._scratch, ignore_errors=True)


@contextmanager
def _opening(read_db: str) -> Iterator[None]:
    """Opening the read models of ``read_db``: any failure is said as a
    ``StorageError`` naming it."""
    try:
        yield
    except Exception as exc:
        reason = getattr(exc, "orig", None) or exc
        msg = redact(f"{read_db}: cannot open the read-model database: {reason}")
        raise StorageError(msg) from exc


def _verb(args: argparse.Namespace) -> str:
    """The command as typed, with its action if it has one (``seal verify``,
    ``authority set``)."""
    what = getattr(args, "what", None)
    return f"{args.action} {what}" if what else str(args.action)


def _writes_log(args: argparse.Namespace) -> bool:
    return _verb(args) in LOG_CREATORS | LOG_WRITERS


def _creates_log(args: argparse.Namespace) -> bool:
    return _verb(args) in LOG_CREATORS and not args.log_replica


def _same_file(a: str, b: str) -> bool:
    first, second = Path(sqlite_path(a)), Path(sqlite_path(b))
    if first.exists() and second.exists():
        return first.samefile(second)
    return first.resolve() == second.resolve()


def _require_existing(db: str) -> None:
    """Refuse a SQLite log that does not exist (rather than create an empty one)."""
    if is_postgres(db):
        return
    path = sqlite_path(db)
    if path != ":memory:" and not Path(path).exists():
        msg = (f"{db}: no such ledger database: the file does not exist (only `apply`, "
               "`demo` and `seal` create one)")
        raise StorageError(msg)
