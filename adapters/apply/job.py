"""What applying in this process and applying on worker processes share: each
line's text and command, Ctrl-C, the progress display the caller passes, and
``StoppedAt`` for a database that failed part-way."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from domain.commands import Command, parse_command
from domain.errors import LedgerError, Violation


class Progress(Protocol):
    """What applying needs of the caller's progress display: told how many
    lines are done of ``total`` (0 if unknown), and when the job ends."""

    total: int

    def __call__(self, done: int, total: int) -> None: ...

    def finish(self) -> None: ...


class StoppedAt(Exception):
    """The database failed part-way through ``apply``: the lines reported before
    the failure were applied or refused as reported, this line was not applied,
    nor any line not reported (re-running a file whose commands carry command
    ids applies each of them once)."""

    def __init__(self, line: int, cause: Exception, *, reported_after: bool = False) -> None:
        rest = ("lines after it were applied only where reported as applied"
                if reported_after else "nor any after it")
        super().__init__(f"the database failed at line {line}, which was not applied "
                         f"({rest}): {cause}")
        self.line = line


class Interrupt:
    """Ctrl-C during ``apply``: the first one asks the job to stop once what it
    has sent to the database is reported (``requested``); a second one stops at
    once."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, *_: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    @contextmanager
    def installed(self) -> Iterator[Interrupt]:
        if threading.current_thread() is not threading.main_thread():
            yield self  # signals reach the main thread only
            return
        previous = signal.signal(signal.SIGINT, self)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)


def parse(line: str) -> Command | LedgerError:
    """A line's command, or why it is refused (where it breaks, if not JSON)."""
    text = line.lstrip()
    try:
        return parse_command(text)
    except LedgerError as exc:
        return _located(text, len(line) - len(text), exc) if exc.rule == "json" else exc


def _located(text: str, indent: int, error: LedgerError) -> LedgerError:
    """A line that is not JSON, refused saying where it breaks (the column in
    the line, counted in characters from 1, ``indent`` blanks before ``text``)
    and why."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"column {indent + exc.colno}: {exc.msg}"
    except (ValueError, RecursionError):
        return error
    else:
        return error  # JSON to Python's parser (NaN, say), not to the command's
    return type(error)(Violation(None, "json", f"is not valid JSON ({where})"))


def text_of(raw: str) -> str | None:
    """A line as parsed: without its line break and trailing blanks (leading
    ones stay, so that a column counts from the line's start); None if blank."""
    return raw.rstrip() or None

