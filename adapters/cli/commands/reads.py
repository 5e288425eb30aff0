"""Reading commands: ``limits``, ``claim``, ``history`` and ``audit``, from the
read models caught up with the log (or, with ``--as-of``, replayed from it)."""

from __future__ import annotations

import sys
from typing import Any

from adapters.cli.exits import EXIT_OK, UsageError
from adapters.cli.output import dump, print_audit, table, utc_text, yen
from adapters.cli.session import Session
from adapters.service import reads
from projections.audit_trail import AuditQuery


def cmd_limits(s: Session) -> int:
    args = s.args
    models = s.reads() if args.as_of is None else None
    rows = reads.limits(lambda: s.ledger, models, args.policy, args.as_of)
    if args.json:
        dump(rows, s.out)
        return EXIT_OK
    if args.as_of is not None:
        print(f"as the ledger knew it at {args.as_of.isoformat()}", file=s.out)
    if not rows:
        print("no policies yet", file=s.out)
        return EXIT_OK
    table(
        ["policy", "year", "period", "coverage", "annual limit", "paid", "reversed", "held",
         "remaining", "reserved", "incurred", "open claims", "unreserved", "flag"],
        ([r["policy_id"], r["policy_year"], f"{r['period_start']}..{r['period_end']}",
          r["coverage"], yen(r["annual_limit"]), yen(r["paid"]), yen(r["reversed"]),
          yen(r["held"]), yen(r["remaining"]), yen(r["reserved"]), yen(r["incurred"]),
          r["claims_open"], r["unreserved"],
          "reserves > remaining" if r["reserves_exceed_remaining"] else ""] for r in rows),
        s.out,
    )
    if any(r["unreserved"] for r in rows):
        print("unreserved: claims filed before reserves were kept have no reserve until one "
              "is set; reserved and incurred leave them out", file=s.out)
    return EXIT_OK


def cmd_claim(s: Session) -> int:
    args = s.args
    models = s.reads() if args.as_of is None else None
    data = reads.claim(lambda: s.ledger, models, args.claim_id, args.as_of)
    wording = data["exclusion_wording"]
    if args.json:
        dump(data, s.out)
        return EXIT_OK
    if args.as_of is not None:
        print(f"as the ledger knew it at {args.as_of.isoformat()}", file=s.out)
    for key in ("claim_id", "policy_id", "policy_year", "coverage", "cause", "incident_date",
                "claim_made_on", "notified_on", "channel", "status"):
        if data[key] is not None:
            print(f"{key:<20}{data[key]}", file=s.out)
    if data["notice_time_barred"]:
        print(f"{'time bar':<20}notified more than 3 years after the incident (保険法95条)",
              file=s.out)
    for key in ("loss_amount", "excluded", "deductible", "per_incident_limit", "payable",
                "paid", "held", "recovered", "insured_recovered"):
        if key not in ("excluded", "held", "recovered", "insured_recovered") or data[key]:
            print(f"{key:<20}{yen(data[key])}", file=s.out)
    reserve = data["reserve"]
    print(f"{'reserve':<20}"
          f"{yen(reserve) if reserve is not None else 'none (filed before reserves were kept)'}",
          file=s.out)
    if data["exclusion"]:
        print(f"{'exclusion':<20}{data['exclusion']} ({(wording or {}).get('ja', '')})",
              file=s.out)
    if data["payouts"]:
        print(file=s.out)
        table(
            ["payout", "amount", "loss", "deductible", "cap", "paid before", "annual before",
             "annual after", "reversed"],
            ([p["payout_id"], yen(p["amount"]), yen(p["breakdown"]["loss"]),
              yen(p["breakdown"]["deductible"]), yen(p["breakdown"]["per_incident_limit"]),
              yen(p["breakdown"]["paid_before"]), yen(p["breakdown"]["annual_remaining_before"]),
              yen(p["breakdown"]["annual_remaining_after"]), "yes" if p["reversed"] else "no"]
             for p in data["payouts"]),
            s.out,
        )
    _office_tables(data, s)
    return EXIT_OK


def _office_tables(data: dict[str, Any], s: Session) -> None:
    """A claim's payouts requested for approval, and the money recovered on it."""
    if data["holds"]:
        print(file=s.out)
        table(["request", "amount", "requested by", "due on", "status", "resolved by"],
              ([h["payout_id"], yen(h["amount"]), h["requested_by"], h["due_on"], h["status"],
                h["resolved_by"]] for h in data["holds"]), s.out)
    if data["recoveries"]:
        print(file=s.out)
        table(["recovery", "kind", "amount", "counterparty", "insured share", "insurer share"],
              ([r["recovery_id"], r["kind"], yen(r["amount"]), r["counterparty"],
                yen(r["insured_share"]), yen(r["insurer_share"])] for r in data["recoveries"]),
              s.out)


def cmd_history(s: Session) -> int:
    args = s.args
    try:
        rows = reads.history(s.ledger, s.fresh(), args.id, args.kind)
    except ValueError as exc:
        raise UsageError(f"{exc}: add --kind policy or --kind claim") from None
    print_audit(rows, "json" if args.json else "table", s.out)
    return EXIT_OK


def cmd_audit(s: Session) -> int:
    args = s.args
    query = AuditQuery(
        policy_id=args.policy, claim_id=args.claim, actor=args.actor_filter,
        event_type=args.type, after=args.after, limit=args.limit,
        recorded_from=utc_text(args.recorded_from), recorded_to=utc_text(args.recorded_to),
    )
    rows = reads.audit_pages(s.fresh(), query)
    print_audit(rows, args.format, s.out)
    if rows and len(rows) == args.limit and args.format == "table":
        print(f"more rows may follow: add --after {rows[-1]['position']}", file=sys.stderr)
    return EXIT_OK
