"""Terminal output: yen, tables, count arguments, and progress lines (was the
terminal half of ``adapters/console.py``, a name the HTML console's package now
takes; moving to ``adapters/cli/output.py`` with the CLI, kept here until then).

Progress goes to stderr: a redrawn line with rate and ETA on a terminal, a plain
log line every few seconds elsewhere (so a job's log shows it is alive).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Iterable
from typing import IO, Any, TextIO


def yen(amount: int | None) -> str:
    return "-" if amount is None else f"{amount:,}"


def table(headers: list[str], rows: Iterable[list[Any]], out: TextIO) -> None:
    body = [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in body)]) for i, h in enumerate(headers)]
    numeric = [bool(body) and all(r[i].replace(",", "").lstrip("-").isdigit() for r in body)
               for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(cells, widths, numeric, strict=True)
        ).rstrip()

    print(line(headers), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in body:
        print(line(row), file=out)


def whole_number(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An option's value: a whole number (``1e6`` allowed) of at least ``minimum``
    (and at most ``maximum``, if given)."""
    def parse(text: str) -> int:
        try:
            value: float = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                value = math.nan
        if not (math.isfinite(value) and value == int(value) and value >= minimum):
            msg = f"must be a whole number of at least {minimum}, not {text!r}"
            raise argparse.ArgumentTypeError(msg)
        if maximum is not None and value > maximum:
            msg = f"must be at most {maximum:,}, not {text!r}"
            raise argparse.ArgumentTypeError(msg)
        return int(value)
    return parse


class Progress:
    """Shows how a long job is going, on stderr."""

    def __init__(self, label: str, stream: IO[str], *, log_every: float = 5.0) -> None:
        self.label, self.stream = label, stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.last = self.started
        self.log_every = log_every
        self.done = self.total = 0

    def __call__(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        now = time.monotonic()
        if now - self.last >= (0.2 if self.tty else self.log_every):
            self.last = now
            self._show(now)

    def _text(self, now: float) -> str:
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        if self.total:
            eta = (self.total - self.done) / rate if rate else 0.0
            return (f"{self.label}: {self.done:,}/{self.total:,} "
                    f"({100 * self.done // self.total}%) {rate:,.0f}/s, ETA {eta:,.0f}s")
        return f"{self.label}: {self.done:,} {rate:,.0f}/s"

    def _show(self, now: float) -> None:
        if self.tty:
            width = 30
            filled = width * self.done // self.total if self.total else 0
            bar = "#" * filled + "." * (width - filled)
            print(f"\r[{bar}] {self._text(now)}\033[K", end="", file=self.stream, flush=True)
        else:
            print(self._text(now), file=self.stream, flush=True)

    def finish(self) -> None:
        if self.done and (self.tty or time.monotonic() - self.started >= self.log_every):
            self._show(time.monotonic())
            if self.tty:
                print(file=self.stream)
