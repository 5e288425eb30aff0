"""Terminal output: yen, tables, JSON, the audit trail, count and time
arguments, progress lines, the wording of a line's result, and files written
whole or not at all.

Progress goes to stderr: a redrawn line with rate and ETA on a terminal, a plain
log line every few seconds elsewhere (so a job's log shows it is alive).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TextIO, TypeVar

import orjson

from adapters.cli.exits import UsageError
from adapters.storage import redact

if TYPE_CHECKING:
    from adapters.apply.results import Result

T = TypeVar("T")


def yen(amount: int | None) -> str:
    return "-" if amount is None else f"{amount:,}"


def table(headers: list[str], rows: Iterable[list[Any]], out: TextIO) -> None:
    body = [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in body)]) for i, h in enumerate(headers)]
    numeric = [bool(body) and all(not r[i] or r[i].replace(",", "").lstrip("-").isdigit()
                                  for r in body)
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


def dump(data: Any, out: TextIO) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2), file=out)


def error(text: str) -> None:
    """Say why the command failed, on stderr, with any database password masked."""
    print(f"claims-ledger: {redact(text)}", file=sys.stderr)


def utc_text(when: datetime | None) -> str | None:
    """A time as the ledger records it (UTC text), for queries and headings."""
    from projections.base import recorded_time

    return None if when is None else recorded_time(when)


def _summary(payload: dict[str, Any] | None) -> str:
    if payload is None:
        return "(the log no longer holds this event: run `claims-ledger seal verify`)"
    skip = ("policy_id", "claim_id", "policy_year", "coverage", "breakdown", "description",
            "customer_name", "wording_en", "wording_ja", "command", "events", "result",
            "fingerprint")
    return " ".join(f"{k}={v}" for k, v in payload.items() if k not in skip and v is not None)


def print_audit(rows: list[dict[str, Any]], fmt: str, out: TextIO) -> None:
    """Rows of the audit trail (or a history) as a table, JSON or CSV."""
    if fmt == "json":
        dump(rows, out)
    elif fmt == "csv":
        from adapters.console import spreadsheet

        columns = ["position", "recorded_at", "actor", "command_id", "aggregate_type",
                   "aggregate_id", "version", "event_type", "policy_id", "policy_year",
                   "claim_id", "coverage", "business_dates", "amount", "balance_before",
                   "balance_after", "payload"]
        spreadsheet.write(out, columns, (
            [json.dumps(r["business_dates"]) if c == "business_dates"
             else json.dumps(r["payload"], ensure_ascii=False) if c == "payload"
             else r[c] for c in columns] for r in rows), lineterminator="\n")
    else:
        table(
            ["pos", "recorded at (UTC)", "actor", "aggregate", "v", "event", "amount",
             "balance", "details"],
            ([r["position"], r["recorded_at"][:19], r["actor"], r["aggregate_id"], r["version"],
              r["event_type"], yen(r["amount"]),
              "" if r["balance_before"] is None
              else f"{yen(r['balance_before'])}->{yen(r['balance_after'])}",
              _summary(r["payload"])] for r in rows),
            out,
        )


def write_atomically(path: str, write: Callable[[IO[bytes]], T]) -> T:
    """Write ``path`` whole or not at all: nothing is left behind on failure."""
    target = Path(path)
    if not target.parent.is_dir():
        raise UsageError(f"--out {path}: the folder {target.parent} does not exist")
    partial = target.with_name(f".{target.name}.partial")
    try:
        with partial.open("wb") as f:
            result = write(f)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return result


_HOLDS = {
    "request_payout": {"pending": "of {held} held for another actor's approval",
                       "issued": "paid {amount} within the requester's authority"},
    "approve_payout": {"approved": "approved: paid {amount} of {held} held"},
    "reject_payout": {"rejected": "rejected: {held} held released"},
}
"""How a payout requested, approved or rejected is worded, by the hold's status
after it."""


def describe(outcome: Result) -> str:
    """One line about an applied command, from its outcome as JSON."""
    r = outcome["result"]
    command = outcome["command"]
    if command == "attach_coverage":
        text = (f"policy {r['policy_id']} enrolled, year 1 "
                f"{r['period_start']}..{r['period_end']}")
    elif command in ("end_service", "cancel_firewall_option"):
        text = (f"policy {r['policy_id']} cover {r['cover_start']}..{r['cover_end']}"
                + (f", denied {', '.join(r['denied'])}" if r["denied"] else ""))
    elif command == "issue_payout":
        text = (f"claim {r['claim_id']} {r['payout_id']} paid {yen(r['amount'])} "
                f"(annual remaining {yen(r['breakdown']['annual_remaining_after'])})")
    elif command == "reverse_payout":
        text = f"claim {r['claim_id']} {r['payout_id']} of {yen(r['amount'])} reversed"
    elif command in _HOLDS:
        text = f"claim {r['claim_id']} {r['payout_id']} " + _HOLDS[command][r["hold"]].format(
            amount=yen(r["amount"]), held=yen(r["held_amount"]))
    elif command == "set_authority":
        text = (f"{r['actor_name']} may pay up to {yen(r['pay_up_to'])} alone and approve "
                f"up to {yen(r['approve_up_to'])}")
    elif command == "record_recovery":
        text = (f"claim {r['claim_id']} {r['recovery_id']} of "
                f"{yen(r['insured_share'] + r['insurer_share'])}: the insured's share "
                f"{yen(r['insured_share'])}, the insurer's {yen(r['insurer_share'])}")
    elif command == "set_reserve":
        text = (f"claim {r['claim_id']} case reserve {yen(r['reserve'])} (payable "
                f"{yen(r['payable'])}, paid {yen(r['paid'])})")
    else:
        text = (f"claim {r['claim_id']} {r['status']} (year {r['policy_year']}, loss "
                f"{yen(r['loss_amount'])}, payable {yen(r['payable'])}, paid {yen(r['paid'])}"
                + (f", exclusion {r['exclusion']}" if r["exclusion"] else "") + ")")
    if outcome["replayed"]:
        return text + " [already applied: nothing appended]"
    return text + f" [{', '.join(e['event'] for e in outcome['events'])}]"


def render_json(result: Result) -> str:
    """A line's result for ``apply --json``: one JSON object."""
    return orjson.dumps(result).decode()


def render_text(result: Result) -> str:
    """A line's result for people: what it did, or each rule it broke (each
    line of it led by ``dry run:`` in a dry run)."""
    text = _text(result)
    if result.get("dry_run"):
        return "\n".join(f"dry run: {line}" for line in text.split("\n"))
    return text


def _text(result: Result) -> str:
    if result["ok"]:
        return f"line {result['line']}: ok       {result['command']}: {describe(result)}"
    if not result["violations"]:
        return f"line {result['line']}: failed   {result['message']}"
    lines = []
    for v in result["violations"]:
        name = f"{v['field']}: " if v["field"] else ""
        lines.append(f"line {result['line']}: refused  {name}{v['message']} [{v['rule']}]")
    return "\n".join(lines)
