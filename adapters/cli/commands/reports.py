"""Reports on the command line: ``report reserves`` (the year-end reserves
report, 支払備金, replayed from the log), and its printing as a table, CSV or
JSON, which ``replay FILE --report reserves`` shares."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import TextIO

from adapters.audit.export import Replay
from adapters.cli.exits import EXIT_OK, EXIT_REFUSED, UsageError
from adapters.cli.output import Progress, dump, table, yen
from adapters.cli.session import Session
from adapters.console.spreadsheet import reserves_csv
from adapters.service import reads
from domain.terms import JST
from projections.reserves_report import ReservesFold, ReservesReport


def cmd_report(s: Session) -> int:
    args = s.args
    as_of = _as_of(args)
    total = s.ledger.recorder.max_notification_id() or 0
    progress = Progress("reading the log", sys.stderr)
    report = reads.reserves(s.ledger, as_of, args.by, args.since,
                            lambda position: progress(position, total))
    progress.finish()
    print_report(report, args.format, s.out)
    return EXIT_OK


def _as_of(args: argparse.Namespace) -> datetime:
    """``--as-of`` (default now), with ``--since`` not after it."""
    as_of: datetime = args.as_of or datetime.now(UTC)
    if args.since is not None and args.since > as_of:
        raise UsageError(f"--since {args.since.isoformat()} is after --as-of "
                         f"{as_of.isoformat()} [dates_in_order]")
    return as_of


def replay_fold(args: argparse.Namespace) -> ReservesFold | None:
    """The report ``replay --report`` folds the export into (None without
    ``--report``, whose options are then refused)."""
    if args.report is None:
        for option, value in (("--by", args.by), ("--since", args.since),
                              ("--format", args.format)):
            if value is not None:
                raise UsageError(f"{option} is for `replay --report reserves`")
        return None
    return ReservesFold(as_of=_as_of(args), basis=args.by or "accident-year",
                        period_start=args.since)


def print_replayed(result: Replay, fold: ReservesFold, args: argparse.Namespace,
                   out: TextIO) -> int:
    """The report of a replayed export; what the replay says of the chain and any
    payout that disagrees with the terms go to stderr (exit 1 for those)."""
    print(f"chain intact: {result.events:,} events up to position {result.position:,} "
          f"(head {result.head})", file=sys.stderr)
    for line in result.discrepancies:
        print(f"DISCREPANCY {line}", file=sys.stderr)
    print_report(fold.report(), args.format or ("json" if args.json else "table"), out)
    return EXIT_REFUSED if result.discrepancies else EXIT_OK


def print_report(report: ReservesReport, fmt: str, out: TextIO) -> None:
    if fmt == "json":
        dump(report.model_dump(mode="json"), out)
    elif fmt == "csv":
        out.write(reserves_csv(report))
    else:
        _print_table(report, out)


def _when(moment: datetime) -> str:
    return moment.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S JST")


def _print_table(report: ReservesReport, out: TextIO) -> None:
    by_year, paid, incurred = report.tables()
    print(f"reserves (支払備金) by {report.basis.replace('-', ' ')} as of "
          f"{_when(report.as_of)}; paid in the period from {_when(report.period_start)}; "
          "fiscal years from 1 April", file=out)
    if not by_year.rows:
        print("no claims yet", file=out)
        return
    table(["coverage", "year", "claims", "open", "no reserve", "paid in period",
           "paid to date", "case reserves", "held", "recovered", "insured's share",
           "incurred"],
          ([row[0], row[1] if row[1] == "all" else f"FY{row[1]}", *row[2:5],
            *map(yen, row[5:])] for row in by_year.rows), out)
    for triangle in (paid, incurred):
        width = len(triangle.columns) - 2
        print(f"\n{triangle.title} (development year k: at the end of fiscal year AY+k-1, "
              "the last as of the report)", file=out)
        table(["coverage", "accident year", *(str(k) for k in range(1, width + 1))],
              ([row[0], f"FY{row[1]}", *map(yen, row[2:]), *[""] * (width + 2 - len(row))]
               for row in triangle.rows), out)
    for note in report.notes:
        print(f"\nnote: {note}", file=out)
