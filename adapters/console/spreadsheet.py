"""CSV that a spreadsheet opens as data, never as formulas (OWASP "CSV injection").

Every export of the ledger in CSV (``claims-ledger audit --format csv``, the
console's ``/console/audit.csv`` and the reserves report's, ``reserves_csv``)
is written by ``write``. A text cell that starts
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (or, for Japanese
input, the full-width ``＝``, ``＋``, ``－``, ``＠``) is written behind a single
quote, which spreadsheets read as "this cell is text". A number the ledger itself
writes (a position, a version, a policy year, an amount, a balance) is an ``int``
and is written as it is: its text is digits with at most a leading minus, which
no spreadsheet reads as anything but that number, and a quote would turn a
negative amount into text that no longer adds up.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from projections.reserves_report import ReservesReport

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def cell(value: Any) -> Any:
    """``value`` as a CSV cell: None as empty, a whole number as it is, anything
    else as text, behind a single quote if it starts like a formula."""
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def write(out: TextIO, header: Sequence[str], rows: Iterable[Sequence[Any]], *,
          lineterminator: str = "\r\n") -> None:
    """A header line and one line per row, every cell through ``cell``."""
    writer = csv.writer(out, lineterminator=lineterminator)
    writer.writerow([cell(h) for h in header])
    writer.writerows([cell(v) for v in row] for row in rows)


def reserves_csv(report: ReservesReport) -> str:
    """The report's basis and times, then its tables one after another, each
    under a line with its title and separated by an empty line, then its notes:
    CRLF line ends, yen as plain whole numbers, every cell through
    ``cell``."""
    out = io.StringIO()
    write(out, ["reserves report"], [
        ["basis", report.basis], ["as_of", report.as_of.isoformat()],
        ["period_start", report.period_start.isoformat()]])
    for table in report.tables():
        out.write("\r\n")
        write(out, [table.title], [])
        write(out, table.columns, table.rows)
    if report.notes:
        out.write("\r\n")
        write(out, ["notes"], [[note] for note in report.notes])
    return out.getvalue()
