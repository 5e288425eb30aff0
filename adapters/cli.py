"""The ``claims-ledger`` command line: apply commands, read limits, claims and history.

Exit status: 0 done; 1 a command was refused by a rule (nothing appended for it);
2 bad usage or unreadable input; 3 the policy or claim does not exist;
4 a conflict (command id reused, or concurrent writers); 5 the database cannot
be used.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from importlib import resources
from typing import IO, Any, TextIO

from adapters.storage import DB_ENV, DEFAULT_DB, StorageError, open_ledger
from domain.claim import Claim, claim_id_of
from domain.commands import parse_command
from domain.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    IdempotencyConflict,
    LedgerError,
    NotFound,
)
from domain.events import LedgerEvent
from domain.ledger import Ledger, Outcome
from domain.policy import policy_id_of
from domain.terms import TERM_SETS, term_set

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_STORAGE = range(6)


def exit_code(error: LedgerError) -> int:
    if isinstance(error, NotFound):
        return EXIT_NOT_FOUND
    if isinstance(error, IdempotencyConflict | ConcurrencyConflict | AlreadyExists):
        return EXIT_CONFLICT
    return EXIT_REFUSED


def error_json(error: LedgerError) -> dict[str, Any]:
    return {
        "error": type(error).__name__,
        "message": str(error),
        "violations": [
            {"field": v.field, "rule": v.rule, "message": v.message} for v in error.violations
        ],
    }


def yen(amount: int | None) -> str:
    return "-" if amount is None else f"{amount:,}"


def table(headers: list[str], rows: Iterable[list[Any]], out: TextIO) -> None:
    body = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h)
              for i, h in enumerate(headers)]
    numeric = [bool(body) and all(r[i].replace(",", "").isdigit() for r in body)
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


class Progress:
    """A progress line on a terminal (items/s, ETA); silent elsewhere."""

    def __init__(self, total: int | None, label: str, stream: IO[str]) -> None:
        self.total, self.label, self.stream = total, label, stream
        self.enabled = stream.isatty()
        self.started = time.monotonic()
        self.last = 0.0
        self.done = 0

    def step(self) -> None:
        self.done += 1
        now = time.monotonic()
        if self.enabled and now - self.last >= 0.2:
            self.last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        if self.total:
            eta = (self.total - self.done) / rate if rate else 0
            text = (f"{self.label}: {self.done:,}/{self.total:,} "
                    f"({100 * self.done // self.total}%) {rate:,.0f}/s ETA {eta:,.0f}s")
        else:
            text = f"{self.label}: {self.done:,} {rate:,.0f}/s"
        print(f"\r{text}\033[K", end="", file=self.stream, flush=True)

    def finish(self) -> None:
        if self.enabled and self.done:
            self._draw(time.monotonic())
            print(file=self.stream)


# apply ----------------------------------------------------------------------


def _lines(source: str) -> tuple[Iterator[str], int | None]:
    if source == "-":
        return iter(sys.stdin), None
    try:
        with open(source, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{source} is not UTF-8 text: {exc}") from exc
    lines = text.splitlines()
    return iter(lines), len(lines)


def _describe(outcome: Outcome) -> str:
    r = outcome.result
    what = {
        "attach_coverage": lambda: f"policy {r['policy_id']} enrolled, year 1 "
        f"{r['period_start']}..{r['period_end']}",
        "end_service": lambda: f"policy {r['policy_id']} service ends {r['service_end']}",
        "issue_payout": lambda: f"claim {r['claim_id']} {r['payout_id']} paid "
        f"{yen(r['amount'])} (annual remaining {yen(r['breakdown']['annual_remaining_after'])})",
        "reverse_payout": lambda: f"claim {r['claim_id']} {r['payout_id']} of "
        f"{yen(r['amount'])} reversed",
    }.get(outcome.command)
    if what is not None:
        text = what()
    else:
        text = (f"claim {r['claim_id']} {r['status']} (year {r['policy_year']}, loss "
                f"{yen(r['loss_amount'])}, payable {yen(r['payable'])}, paid {yen(r['paid'])}"
                + (f", exclusion {r['exclusion']}" if r["exclusion"] else "") + ")")
    events = ", ".join(e.event for e in outcome.events)
    suffix = " [already applied: nothing appended]" if outcome.replayed else f" [{events}]"
    return text + suffix


def apply_lines(
    ledger: Ledger, lines: Iterator[str], actor: str, on_result: Callable[[dict[str, Any]], None],
    progress: Progress,
) -> int:
    refused = 0
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            outcome = ledger.execute(parse_command(line), actor=actor)
        except LedgerError as exc:
            refused += 1
            on_result({"line": number, "ok": False, **error_json(exc)})
        else:
            on_result({"line": number, "ok": True, **outcome.model_dump(mode="json")})
        progress.step()
    progress.finish()
    return refused


def cmd_apply(ledger: Ledger, args: argparse.Namespace, out: TextIO) -> int:
    lines, total = _lines(args.file)
    progress = Progress(total, "applying", sys.stderr)

    def report(result: dict[str, Any]) -> None:
        if args.json:
            print(json.dumps(result, ensure_ascii=False), file=out, flush=True)
        elif result["ok"]:
            outcome = Outcome.model_validate(result)
            print(f"line {result['line']}: ok       {outcome.command}: {_describe(outcome)}",
                  file=out)
        else:
            for v in result["violations"]:
                field = f"{v['field']}: " if v["field"] else ""
                print(f"line {result['line']}: refused  {field}{v['message']} [{v['rule']}]",
                      file=out)

    refused = apply_lines(ledger, lines, args.actor, report, progress)
    if refused and not args.json:
        print(f"{refused} line(s) refused; nothing was appended for them", file=sys.stderr)
    return EXIT_REFUSED if refused else EXIT_OK


# reads ----------------------------------------------------------------------


def limits_rows(ledger: Ledger, policy_id: str | None) -> list[dict[str, Any]]:
    ids = [policy_id] if policy_id else ledger.policy_ids()
    rows = []
    for pid in ids:
        policy = ledger.get_policy(pid)
        for period in sorted(policy.years, key=lambda y: y.year):
            year = ledger.get_policy_year(pid, period.year)
            for c in year.coverages:
                rows.append({
                    "policy_id": pid,
                    "policy_year": period.year,
                    "period_start": period.start.isoformat(),
                    "period_end": period.end.isoformat(),
                    "coverage": str(c.coverage),
                    "terms_version": c.terms_version,
                    "per_incident_limit": int(c.per_incident_limit),
                    "deductible": int(c.deductible),
                    "annual_limit": int(c.annual_limit),
                    "paid": int(c.drawn),
                    "reversed": int(c.reversed),
                    "remaining": int(c.remaining),
                })
    return rows


def cmd_limits(ledger: Ledger, args: argparse.Namespace, out: TextIO) -> int:
    rows = limits_rows(ledger, args.policy)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2), file=out)
        return EXIT_OK
    if not rows:
        print("no policies yet", file=out)
        return EXIT_OK
    table(
        ["policy", "year", "period", "coverage", "annual limit", "paid", "remaining"],
        ([r["policy_id"], r["policy_year"], f"{r['period_start']}..{r['period_end']}",
          r["coverage"], yen(r["annual_limit"]), yen(r["paid"]), yen(r["remaining"])]
         for r in rows),
        out,
    )
    return EXIT_OK


def claim_json(claim: Claim) -> dict[str, Any]:
    wording = None
    if claim.exclusion:
        w = term_set(claim.terms_version).coverage(claim.coverage).exclusion(claim.exclusion)
        wording = {"ja": w.ja, "en": w.en} if w else None
    return {
        "claim_id": claim.claim_id,
        "policy_id": claim.policy_id,
        "policy_year": claim.policy_year,
        "coverage": str(claim.coverage),
        "cause": claim.cause,
        "incident_date": claim.incident_date.isoformat(),
        "claim_made_on": claim.claim_made_on.isoformat() if claim.claim_made_on else None,
        "status": str(claim.status),
        "loss_amount": int(claim.loss),
        "deductible": int(claim.deductible),
        "per_incident_limit": int(claim.per_incident_limit),
        "payable": int(claim.payable),
        "paid": int(claim.paid),
        "exclusion": claim.exclusion,
        "exclusion_wording": wording,
        "payouts": [
            {"payout_id": p.payout_id, "amount": int(p.amount), "reversed": p.reversed,
             "breakdown": p.breakdown.model_dump(mode="json")}
            for p in claim.payouts
        ],
        "version": claim.version,
    }


def cmd_claim(ledger: Ledger, args: argparse.Namespace, out: TextIO) -> int:
    data = claim_json(ledger.get_claim(args.claim_id))
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2), file=out)
        return EXIT_OK
    for key in ("claim_id", "policy_id", "policy_year", "coverage", "cause", "incident_date",
                "claim_made_on", "status"):
        if data[key] is not None:
            print(f"{key:<20}{data[key]}", file=out)
    for key in ("loss_amount", "deductible", "per_incident_limit", "payable", "paid"):
        print(f"{key:<20}{yen(data[key])}", file=out)
    if data["exclusion"]:
        w = data["exclusion_wording"] or {}
        print(f"{'exclusion':<20}{data['exclusion']} ({w.get('ja', '')})", file=out)
    if data["payouts"]:
        print(file=out)
        table(
            ["payout", "amount", "loss", "deductible", "cap", "paid before", "annual before",
             "annual after", "reversed"],
            ([p["payout_id"], yen(p["amount"]), yen(p["breakdown"]["loss"]),
              yen(p["breakdown"]["deductible"]), yen(p["breakdown"]["per_incident_limit"]),
              yen(p["breakdown"]["paid_before"]), yen(p["breakdown"]["annual_remaining_before"]),
              yen(p["breakdown"]["annual_remaining_after"]), "yes" if p["reversed"] else "no"]
             for p in data["payouts"]),
            out,
        )
    return EXIT_OK


def history_events(
    ledger: Ledger, entity_id: str, kind: str | None = None
) -> list[tuple[int, LedgerEvent]]:
    """Every event of a policy (with its years and claims) or of a claim, in log order."""
    policy = ledger.find_policy(entity_id) if kind != "claim" else None
    claim = ledger.find_claim(entity_id) if kind != "policy" else None
    if policy is not None and claim is not None:
        raise UsageError(f"{entity_id} is both a policy and a claim id: add --kind policy "
                         "or --kind claim")
    if policy is None and claim is None:
        raise NotFound.of("id", "exists", f"no policy or claim {entity_id}")
    wanted = {claim_id_of(entity_id)} if claim else {policy_id_of(entity_id)}
    found = []
    for n in ledger.notifications():
        if n.originator_id in wanted or (
            policy and str(n.originator_id).startswith(f"policy:{entity_id}:year:")
        ):
            found.append((n.id, ledger.decode(n)))
        elif policy and n.topic == "ClaimFiled":
            event = ledger.decode(n)
            if event.policy_id == entity_id:  # type: ignore[attr-defined]
                wanted.add(event.originator_id)
                found.append((n.id, event))
    return found


def event_json(position: int, event: LedgerEvent) -> dict[str, Any]:
    payload = event.model_dump(
        mode="json",
        exclude={"originator_id", "originator_version", "timestamp", "actor", "command_id"},
    )
    return {
        "position": position,
        "event": event.event_name,
        "aggregate_id": event.originator_id,
        "version": event.originator_version,
        "recorded_at": event.timestamp.isoformat(),
        "actor": event.actor,
        "command_id": event.command_id,
        "payload": payload,
    }


def _summary(payload: dict[str, Any]) -> str:
    skip = ("policy_id", "claim_id", "breakdown", "description", "customer_name", "wording_en",
            "wording_ja", "command", "events", "result", "fingerprint")
    return " ".join(f"{k}={v}" for k, v in payload.items() if k not in skip and v is not None)


def cmd_history(ledger: Ledger, args: argparse.Namespace, out: TextIO) -> int:
    entity = args.id
    rows = [event_json(p, e) for p, e in history_events(ledger, entity, args.kind)]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2), file=out)
        return EXIT_OK
    table(
        ["pos", "recorded at", "actor", "aggregate", "v", "event", "details"],
        ([r["position"], r["recorded_at"][:19], r["actor"], r["aggregate_id"], r["version"],
          r["event"], _summary(r["payload"])] for r in rows),
        out,
    )
    return EXIT_OK


def cmd_terms(args: argparse.Namespace, out: TextIO) -> int:
    data = [t.model_dump(mode="json") for t in TERM_SETS]
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2), file=out)
        return EXIT_OK
    for terms in TERM_SETS:
        print(f"terms {terms.version} (in force from {terms.effective_from})", file=out)
        for c in terms.coverages:
            print(f"\n{c.coverage} {c.name_ja} ({c.trigger}): per incident "
                  f"{yen(c.per_incident_limit)}, annual {yen(c.annual_limit)}, deductible "
                  f"{yen(c.deductible)}", file=out)
            for e in c.exclusions:
                print(f"  {e.code:<36}{e.ja}", file=out)
        print("\ncauses: " + ", ".join(c.code for c in terms.causes), file=out)
    return EXIT_OK


def cmd_demo(ledger: Ledger, args: argparse.Namespace, out: TextIO) -> int:
    existing = ledger.recorder.max_notification_id()
    if existing:
        print(f"the database already holds {existing:,} events; the demo loads into a fresh "
              "database: pass --db with a new file", file=sys.stderr)
        return EXIT_USAGE
    text = resources.files("adapters").joinpath("demo.jsonl").read_text(encoding="utf-8")
    results: list[dict[str, Any]] = []
    refused = apply_lines(ledger, iter(text.splitlines()), args.actor, results.append,
                          Progress(None, "demo", sys.stderr))
    if args.json:
        print(json.dumps({"applied": results, "limits": limits_rows(ledger, None)},
                         ensure_ascii=False, indent=2), file=out)
        return EXIT_REFUSED if refused else EXIT_OK
    print("データ保険 demo: the cases of the product terms, applied as commands\n", file=out)
    for r in results:
        if r["ok"]:
            print(f"  {r['command']:<16}{_describe(Outcome.model_validate(r))}", file=out)
        else:
            print(f"  refused: {r['message']}", file=out)
    print("\nRemaining annual limits:\n", file=out)
    cmd_limits(ledger, argparse.Namespace(policy=None, json=False), out)
    print(f"\nTry: claims-ledger --db {args.db} claim C-DEMO-1", file=out)
    return EXIT_REFUSED if refused else EXIT_OK


class UsageError(Exception):
    """Bad usage or unreadable input (exit status 2)."""


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db", default=argparse.SUPPRESS,
        help=f"SQLite file or postgresql:// URL (default: ${DB_ENV} or ./{DEFAULT_DB})",
    )
    common.add_argument(
        "--actor", default=argparse.SUPPRESS,
        help="who is recording (default: $CLAIMS_LEDGER_ACTOR or cli:<user>)",
    )
    reads = argparse.ArgumentParser(add_help=False)
    reads.add_argument("--json", action="store_true", help="machine-readable output")

    parser = argparse.ArgumentParser(
        prog="claims-ledger",
        description="Event-sourced claims ledger for データ保険 (data insurance).",
        parents=[common],
        epilog="Exit status: 0 ok, 1 refused by a rule, 2 usage, 3 not found, "
        "4 conflict, 5 database unavailable.",
    )
    sub = parser.add_subparsers(dest="action", required=True, metavar="COMMAND")
    p = sub.add_parser("apply", parents=[common, reads],
                       help="apply commands from a JSON Lines file (or - for stdin)")
    p.add_argument("file", metavar="FILE.jsonl")
    p = sub.add_parser("limits", parents=[common, reads],
                       help="annual limit, paid and remaining per policy year and coverage")
    p.add_argument("--policy", metavar="ID")
    p = sub.add_parser("claim", parents=[common, reads],
                       help="a claim's state, payouts with their breakdowns, exclusion")
    p.add_argument("claim_id", metavar="ID")
    p = sub.add_parser("history", parents=[common, reads],
                       help="every event of a policy (with its years and claims) or a claim")
    p.add_argument("id", metavar="ID")
    p.add_argument("--kind", choices=["policy", "claim"],
                   help="which kind of id, when a policy and a claim share it")
    sub.add_parser("terms", parents=[common, reads],
                   help="the product terms: limits, deductibles, exclusion codes, causes")
    sub.add_parser("demo", parents=[common, reads],
                   help="load the terms' cases into a fresh database and show the result")
    return parser


ACTIONS: dict[str, Callable[[Ledger, argparse.Namespace, TextIO], int]] = {
    "apply": cmd_apply,
    "limits": cmd_limits,
    "claim": cmd_claim,
    "history": cmd_history,
    "demo": cmd_demo,
}


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    try:
        return run(argv, out or sys.stdout)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as other tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


def run(argv: list[str] | None, out: TextIO) -> int:
    args = build_parser().parse_args(argv)
    args.db = getattr(args, "db", None) or os.environ.get(DB_ENV) or DEFAULT_DB
    args.actor = (getattr(args, "actor", None) or os.environ.get("CLAIMS_LEDGER_ACTOR")
                  or f"cli:{getpass.getuser()}")
    if args.action == "terms":
        return cmd_terms(args, out)
    try:
        ledger = open_ledger(args.db)
    except StorageError as exc:
        print(f"claims-ledger: {exc}", file=sys.stderr)
        return EXIT_STORAGE
    try:
        return ACTIONS[args.action](ledger, args, out)
    except UsageError as exc:
        print(f"claims-ledger: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except LedgerError as exc:
        if getattr(args, "json", False):
            print(json.dumps(error_json(exc), ensure_ascii=False), file=out)
        print(f"claims-ledger: {exc}", file=sys.stderr)
        return exit_code(exc)
    finally:
        ledger.close()


if __name__ == "__main__":
    sys.exit(main())
