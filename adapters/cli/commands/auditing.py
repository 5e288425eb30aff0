"""Auditor tools on the command line: ``seal`` (seal, checkpoint, verify),
``explain``, ``export`` and ``replay`` (an export, without any database; with
``--report reserves``, the reserves report of it)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from adapters.audit import export, seal
from adapters.audit.export import ExportError, ExportTampered
from adapters.audit.seal import CheckpointFile, SealedLog, SealError
from adapters.cli.commands import reports
from adapters.cli.exits import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, UsageError
from adapters.cli.output import Progress, dump, error, table, utc_text, write_atomically, yen
from adapters.cli.session import Session
from adapters.service import reads
from adapters.storage.sealed_recorders import sealed_log


def cmd_seal(s: Session) -> int:
    log = sealed_log(s.ledger.recorder)
    what, a = s.args.what, s.args
    if a.log_replica and what != "verify":
        raise UsageError("`seal` writes the seal into the log; --log-replica names a "
                         "read-only copy of it: give the primary's --db")
    if what != "checkpoint" and a.out:
        raise UsageError("--out is for `seal checkpoint`")
    if what != "verify" and a.checkpoint:
        raise UsageError("--checkpoint is for `seal verify`")
    if what == "verify":
        return _seal_verify(s, log)
    if what == "checkpoint" and not a.out:
        raise UsageError("`seal checkpoint` needs --out FILE")
    if a.out and not Path(a.out).parent.is_dir():
        raise UsageError(f"--out {a.out}: the folder {Path(a.out).parent} does not exist")
    sealed, checkpoint = log.seal_tail()
    if sealed:
        print(f"warning: sealed {sealed:,} event(s) that were not sealed at commit (written "
              "before the seal existed, or outside the ledger: `seal verify` before sealing "
              "tells which)", file=sys.stderr)
    if checkpoint is None:
        raise UsageError("the log is empty: there is nothing to seal")
    data: dict[str, Any] = {"sealed_now": sealed, **checkpoint.model_dump()}
    if what == "checkpoint":
        kept = seal.checkpoint_file(log)
        write_atomically(a.out, lambda f: f.write(
            json.dumps(kept.model_dump(), indent=2).encode() + b"\n"))
        data["out"] = a.out
    if a.json:
        dump(data, s.out)
    else:
        print(f"sealed up to position {checkpoint.position:,}: {checkpoint.hash}"
              + (f"; checkpoint written to {a.out}" if what == "checkpoint" else ""),
              file=s.out)
    return EXIT_OK


def _seal_verify(s: Session, log: SealedLog) -> int:
    kept = CheckpointFile.read(s.args.checkpoint) if s.args.checkpoint else None
    total = log.max_notification_id() or 0
    progress = Progress("verifying the seal", sys.stderr)
    report = seal.verify(log, kept, lambda done: progress(done, total))
    progress.finish()
    if s.args.json:
        dump({"ok": report.ok, **report.model_dump()}, s.out)
    elif report.finding:
        f = report.finding
        print(f"TAMPERED at position {f.position:,} ({f.kind}): {f.detail}", file=s.out)
        print(f"the log is intact up to position {report.intact_to:,}", file=s.out)
    else:
        against = " and the checkpoint kept outside" if kept else ""
        print(f"intact: {report.events:,} events up to position {report.intact_to:,} match "
              f"the seal{against} (head {report.head_hash})", file=s.out)
    return EXIT_OK if report.ok else EXIT_REFUSED


def cmd_explain(s: Session) -> int:
    explanation = reads.explanation(s.ledger, s.args.claim_id, s.args.lang, s.args.as_of)
    if s.args.json:
        dump(explanation.model_dump(mode="json"), s.out)
    else:
        if s.args.as_of:
            print(f"(as of {utc_text(s.args.as_of)})", file=s.out)
        print(explanation.text(), file=s.out)
    return EXIT_REFUSED if explanation.mismatches else EXIT_OK


def cmd_export(s: Session) -> int:
    log = sealed_log(s.ledger.recorder)
    total = log.max_notification_id() or 0
    if s.args.to is not None:
        total = min(total, s.args.to)
    progress = Progress("exporting", sys.stderr)
    try:
        trailer = write_atomically(s.args.out, lambda f: export.export(
            log, f, s.args.to, lambda done: progress(done, total)))
    except ExportTampered as exc:
        progress.finish()
        error(f"REFUSED: {exc}; nothing was written to {s.args.out}")
        return EXIT_REFUSED
    progress.finish()
    data = {"out": s.args.out, "events": trailer.events, **trailer.checkpoint.model_dump()}
    if s.args.json:
        dump(data, s.out)
    else:
        print(f"exported {trailer.events:,} events up to position "
              f"{trailer.checkpoint.position:,} to {s.args.out} (head "
              f"{trailer.checkpoint.hash})", file=s.out)
    return EXIT_OK


def cmd_replay(s: Session) -> int:
    args, out = s.args, s.out
    fold = reports.replay_fold(args)
    try:
        kept = CheckpointFile.read(args.checkpoint) if args.checkpoint else None
        progress = Progress("replaying", sys.stderr)
        result = export.replay(args.file, args.as_of, kept,
                               lambda done: progress(done, 0),
                               None if fold is None else fold.add)
        progress.finish()
    except ExportTampered as exc:
        print(f"claims-ledger: REFUSED: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except (ExportError, SealError) as exc:
        print(f"claims-ledger: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if fold is not None:
        return reports.print_replayed(result, fold, args, out)
    limits, summary = result.limits(), result.summary()
    if args.json:
        dump({"ledger_id": result.ledger_id, "position": result.position,
              "events": result.events, "head": result.head,
              "as_of": utc_text(args.as_of), "limits": limits, "claims": summary,
              "claim_details": result.claim_rows(), "discrepancies": result.discrepancies},
             out)
    else:
        when = f", as of {utc_text(args.as_of)}" if args.as_of else ""
        print(f"chain intact: {result.events:,} events up to position {result.position:,} "
              f"(head {result.head}){when}", file=out)
        table(["policy", "year", "coverage", "annual limit", "paid", "remaining",
               "open claims"],
              ([r["policy_id"], r["policy_year"], r["coverage"], yen(r["annual_limit"]),
                yen(r["paid"]), yen(r["remaining"]), r["claims_open"]] for r in limits), out)
        statuses = ", ".join(f"{k} {v:,}" for k, v in summary["by_status"].items())
        print(f"claims: {summary['claims']:,} ({statuses}); payouts {summary['payouts']:,}; "
              f"paid {yen(summary['paid'])} yen", file=out)
        for line in result.discrepancies:
            print(f"DISCREPANCY {line}", file=out)
    return EXIT_REFUSED if result.discrepancies else EXIT_OK
