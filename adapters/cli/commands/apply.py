"""``claims-ledger apply``: commands from a JSON Lines file or a stream, applied
in this process or on worker processes (or, ``--dry-run``, decided and not
appended), each line's result reported."""

from __future__ import annotations

import itertools
import os
import stat
import sys
from collections.abc import Iterator
from typing import IO

from adapters.apply import Workers, apply_lines, default_workers
from adapters.cli.exits import EXIT_OK, EXIT_REFUSED, UsageError
from adapters.cli.output import Progress, render_json, render_text
from adapters.cli.session import Session

PARALLEL_FROM = 20_000
"""Lines in a file from which ``apply`` uses worker processes by default: twice
the length from which a file saves back the time the workers take to start,
for a margin on a noisy machine."""


def _lines(source: str, look_ahead: int) -> tuple[Iterator[str], int | None]:
    """The lines of ``source`` (a file, a pipe, a FIFO, ``/dev/stdin``, or ``-``
    for standard input), streamed and read once, and how many there are: those
    of a regular file are counted first; a stream's are known if it ends within
    ``look_ahead`` lines (held until then), else None."""
    try:
        if source == "-":
            if sys.stdin is None:
                raise UsageError("there is no standard input to read")
            stream: IO[bytes] = sys.stdin.buffer
        else:
            stream = open(source, "rb")  # noqa: SIM115 (closed by _decoded)
        if stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            start = stream.tell()
            total: int | None = sum(1 for _ in stream)
            stream.seek(start)
            return _decoded(source, stream), total
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}") from exc
    ahead = list(itertools.islice(stream, look_ahead))
    total = len(ahead) if len(ahead) < look_ahead else None
    return _decoded(source, stream, ahead), total


def _decoded(source: str, stream: IO[bytes], ahead: list[bytes] | None = None
             ) -> Iterator[str]:
    """Each line (``ahead`` of it first) as text; a UTF-8 byte-order mark before
    the first is dropped. A file is closed at the end, standard input is not."""
    name = "standard input" if source == "-" else source
    try:
        for number, raw in enumerate(itertools.chain(ahead or [], stream), start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                msg = (f"{name} line {number} is not UTF-8 text (byte {exc.start + 1}: "
                       f"{exc.reason})")
                raise UsageError(msg) from exc
            yield text.removeprefix("\ufeff") if number == 1 else text
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}") from exc
    finally:
        if source != "-":
            stream.close()


def cmd_apply(s: Session) -> int:
    args, out = s.args, s.out
    if args.dry_run and (args.workers or 1) > 1:
        raise UsageError("--dry-run decides every line on one view in this process: "
                         "--workers must be 1 (or left out)")
    # A stream of unknown length is looked into only to choose the workers.
    lines, total = _lines(args.file, PARALLEL_FROM if args.workers is None else 0)
    progress = Progress("applying", sys.stderr)
    progress.total = total or 0
    render = render_json if args.json else render_text
    workers = 1 if args.dry_run else args.workers
    if workers is None:
        workers = default_workers() if total is None or total >= PARALLEL_FROM else 1
    reported = 0
    clear_bar = progress.tty and out.isatty()  # the bar and the report share a screen

    def write(text: str) -> None:
        nonlocal reported
        reported += 1
        if clear_bar:
            print("\r\033[K", end="", file=sys.stderr, flush=True)
        print(text, file=out, flush=args.json)

    # The log is opened (on a new database: created) here, before any worker
    # opens it: two processes creating one SQLite file at once may find it locked.
    ledger = s.ledger
    if workers > 1:
        with Workers(args.db, args.actor, workers=workers, batch=args.batch,
                     render=render) as pool:
            refused = pool.apply(ledger, lines, write, progress)
    else:
        refused = apply_lines(ledger, lines, args.actor, lambda r: write(render(r)),
                              progress, args.batch, dry_run=args.dry_run)
    if args.dry_run:
        return _dry_run_summary(args.json, out, reported, refused)
    s.fresh()
    out.flush()
    summary = (f"{reported - refused:,} line(s) applied" if reported
               else "0 lines applied: the input holds no commands")
    if refused:
        summary += f"; {refused:,} line(s) refused; nothing was appended for them"
    print(summary, file=sys.stderr)
    return EXIT_REFUSED if refused else EXIT_OK


def _dry_run_summary(as_json: bool, out: IO[str], reported: int, refused: int) -> int:
    """A dry run's closing line (on stderr; with ``--json`` also the last line
    of the output, ``dry_run`` true): what a real run would have applied and
    refused, and that nothing was appended. Exits as the real run would."""
    if as_json:
        print(render_json({"dry_run": True, "lines": reported,
                           "applied": reported - refused, "refused": refused,
                           "appended": 0}), file=out, flush=True)
    print(f"dry run: {reported - refused:,} line(s) would be applied, {refused:,} "
          "refused; nothing was appended", file=sys.stderr)
    return EXIT_REFUSED if refused else EXIT_OK
