"""The command line's grammar: every command, its options and their help, and
the defaults taken from the environment.

Every command is listed (``--help`` shows them all), but its options are added
only when the arguments name it: their checks and defaults come from the modules
that do the work, which ``--help`` or a read should not import for nothing.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from typing import TypeAlias

from adapters.cli import arg_types
from adapters.cli.output import whole_number
from adapters.storage import DB_ENV, DEFAULT_DB, READ_DB_ENV

MAX_PROCESSES = 32
"""Most server processes `serve --processes` starts (each holds its own
database connections)."""
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Parser: TypeAlias = argparse.ArgumentParser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The arguments, with the database, read database and actor filled in
    from the environment where not given."""
    args = build_parser(sys.argv[1:] if argv is None else argv).parse_args(argv)
    args.db = getattr(args, "db", None) or os.environ.get(DB_ENV) or DEFAULT_DB
    args.read_db = getattr(args, "read_db", None) or os.environ.get(READ_DB_ENV) or args.db
    args.actor = (getattr(args, "actor", None) or os.environ.get("CLAIMS_LEDGER_ACTOR")
                  or f"cli:{getpass.getuser()}")
    args.log_replica = getattr(args, "log_replica", False)
    args.read_replica = getattr(args, "read_replica", False)
    return args


def build_parser(named: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser of every command; with ``named`` (the arguments about to be
    parsed), only the commands named there get their options."""
    common, reads, as_of = _parents()
    parser = argparse.ArgumentParser(
        prog="claims-ledger",
        description="Event-sourced claims ledger for データ保険 (data insurance).",
        parents=[common],
        epilog="Exit status: 0 ok, 1 refused by a rule (or verify found differences, seal "
        "verify or replay found tampering, explain or replay a figure that disagrees), "
        "2 usage, 3 not found, 4 conflict, 5 database unavailable, 130 interrupted.",
    )
    sub = parser.add_subparsers(dest="action", required=True, metavar="COMMAND")
    parents = {"common": common, "reads": reads, "as_of": as_of}
    wanted = None if named is None else set(named)
    for name, kinds, text, options in _COMMANDS:
        if wanted is None or name in wanted:
            options(sub.add_parser(name, parents=[parents[k] for k in kinds], help=text),
                    parents)
        else:  # listed, with its help, but never parsed with
            sub.add_parser(name, help=text)
    return parser


def _parents() -> tuple[argparse.ArgumentParser, ...]:
    """The options several commands share: where the ledger is and who acts
    (``common``), ``--json`` (``reads``) and ``--as-of``."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db", default=argparse.SUPPRESS,
        help=f"event log: SQLite file or postgresql:// URL (default: ${DB_ENV} or ./{DEFAULT_DB})",
    )
    common.add_argument(
        "--read-db", default=argparse.SUPPRESS,
        help=f"read models: SQLite file or postgresql:// URL (default: ${READ_DB_ENV}, "
        "else the event log's database)",
    )
    common.add_argument(
        "--log-replica", action="store_true", default=argparse.SUPPRESS,
        help="--db is a read-only streaming replica of the log: create and append nothing",
    )
    common.add_argument(
        "--read-replica", action="store_true", default=argparse.SUPPRESS,
        help="--read-db is a read-only replica of the read models: read them as "
        "replicated, without catching up",
    )
    common.add_argument(
        "--actor", default=argparse.SUPPRESS,
        help="who is recording (default: $CLAIMS_LEDGER_ACTOR or cli:<user>)",
    )
    reads = argparse.ArgumentParser(add_help=False)
    reads.add_argument("--json", action="store_true", help="machine-readable output")
    as_of = argparse.ArgumentParser(add_help=False)
    as_of.add_argument("--as-of", type=arg_types.time_value, metavar="TIME",
                       help="the state as the ledger knew it at this recorded time, replayed "
                       "from the log (ISO date or date-time; Japan time without an offset)")
    return common, reads, as_of


Parents: TypeAlias = dict[str, argparse.ArgumentParser]


def _no_options(p: Parser, parents: Parents) -> None:
    """A command with only the options it shares with others."""


def _apply(p: Parser, parents: Parents) -> None:
    from adapters.apply import MAX_WORKERS
    from adapters.cli.commands.apply import PARALLEL_FROM

    p.add_argument("file", metavar="FILE.jsonl")
    p.add_argument("--batch", type=whole_number(1), default=500, metavar="N",
                   help="commands per commit (group commit; default 500): each command is "
                   "still applied or refused on its own")
    p.add_argument("--workers", type=whole_number(1, MAX_WORKERS), metavar="N",
                   help="worker processes, each applying the commands of its share of the "
                   f"policies (default: one per core, at most 4, for a file of {PARALLEL_FROM:,} "
                   f"lines or more; else 1, in this process; at most {MAX_WORKERS}). A "
                   "policy's commands, and commands that share a claim or command id, keep "
                   "the file's order")
    p.add_argument("--dry-run", action="store_true",
                   help="decide every command as a real run would now, each on the state the "
                   "lines before it left, report each line, and append nothing (in this "
                   "process: --workers above 1 is a usage error)")


def _limits(p: Parser, parents: Parents) -> None:
    p.add_argument("--policy", metavar="ID")


def _claim(p: Parser, parents: Parents) -> None:
    p.add_argument("claim_id", metavar="ID")


def _history(p: Parser, parents: Parents) -> None:
    p.add_argument("id", metavar="ID")
    p.add_argument("--kind", choices=["policy", "claim"],
                   help="which kind of id, when a policy and a claim share it")


def _audit(p: Parser, parents: Parents) -> None:
    p.add_argument("--policy", metavar="ID")
    p.add_argument("--claim", metavar="ID")
    p.add_argument("--by", dest="actor_filter", metavar="ACTOR", help="recorded by this actor")
    p.add_argument("--type", metavar="EVENT", help="event type, e.g. PayoutIssued")
    p.add_argument("--from", dest="recorded_from", type=arg_types.from_time, metavar="TIME",
                   help="recorded at or after (a date means its start, Japan time)")
    p.add_argument("--to", dest="recorded_to", type=arg_types.time_value, metavar="TIME",
                   help="recorded at or before (a date means its end, Japan time)")
    p.add_argument("--after", type=arg_types.position, default=0,
                   metavar="POSITION", help="cursor: only rows after this log position")
    p.add_argument("--limit", type=whole_number(1), default=1000,
                   help="rows at most (default 1000)")
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    p.add_argument("--json", dest="format", action="store_const", const="json",
                   help="the same as --format json, as on the other commands")


def _project(p: Parser, parents: Parents) -> None:
    from projections.read_models import PAGE_SIZE

    p.add_argument("--follow", action="store_true", help="keep following new events")
    p.add_argument("--interval", type=float, default=1.0,
                   help="seconds between polls when idle (default 1)")
    p.add_argument("--page-size", type=whole_number(1), default=PAGE_SIZE,
                   help=f"events per transaction (default {PAGE_SIZE})")


def _rebuild(p: Parser, parents: Parents) -> None:
    from projections.read_models import PAGE_SIZE, PROJECTIONS

    p.add_argument("names", nargs="*", metavar="READ_MODEL",
                   help=f"which ({', '.join(PROJECTIONS)}; default all)")
    p.add_argument("--restart", action="store_true",
                   help="discard a rebuild left part-way instead of resuming it")
    p.add_argument("--page-size", type=whole_number(1), default=PAGE_SIZE,
                   help=f"events per transaction (default {PAGE_SIZE})")


def _demo(p: Parser, parents: Parents) -> None:
    p.add_argument("--if-empty", action="store_true",
                   help="do nothing (and succeed) when the database already holds events")


def _seal(p: Parser, parents: Parents) -> None:
    p.add_argument("what", nargs="?", choices=["checkpoint", "verify"],
                   help="checkpoint: also write the last checkpoint to --out; verify: "
                   "recompute the chain and report the first tampered position")
    p.add_argument("--out", metavar="FILE", help="checkpoint file to write (seal checkpoint)")
    p.add_argument("--checkpoint", metavar="FILE",
                   help="a checkpoint file kept outside the system (seal verify)")


def _explain(p: Parser, parents: Parents) -> None:
    from domain.explanation import LANGS

    p.add_argument("claim_id", metavar="CLAIM")
    p.add_argument("--lang", choices=LANGS, default="ja", help="ja (default) or en")


def _export(p: Parser, parents: Parents) -> None:
    p.add_argument("--out", metavar="FILE", required=True)
    p.add_argument("--to", type=whole_number(1), metavar="POSITION",
                   help="only events up to this log position")


def _replay(p: Parser, parents: Parents) -> None:
    p.add_argument("file", metavar="FILE")
    p.add_argument("--checkpoint", metavar="FILE",
                   help="also check the export against a checkpoint file kept outside")
    p.add_argument("--report", choices=["reserves"],
                   help="print this report of the export instead (as `claims-ledger report`)")
    _report_options(p, default=None)


def _report(p: Parser, parents: Parents) -> None:
    p.add_argument("which", choices=["reserves"], metavar="reserves",
                   help="which report: reserves")
    _report_options(p, default="table")
    p.add_argument("--json", dest="format", action="store_const", const="json",
                   help="the same as --format json")


def _report_options(p: argparse.ArgumentParser, default: str | None) -> None:
    """A report's options (``default`` None: only with ``--report``)."""
    from projections.reserves_report import BASES

    p.add_argument("--by", choices=BASES, default=None if default is None else BASES[0],
                   help="rows by accident year (default: data/media the incident's, "
                   "liability the claim made's) or by the year the policy year started; "
                   "fiscal years from 1 April")
    p.add_argument("--since", type=arg_types.from_time, metavar="DATE",
                   help="paid in the period counts from this day (Japan time; default: the "
                   "start of the fiscal year --as-of falls in)")
    p.add_argument("--format", choices=["table", "csv", "json"], default=default,
                   help="table (default), csv (its tables one after another, for a "
                   "spreadsheet) or json")


def _authority(p: Parser, parents: Parents) -> None:
    common, reads, as_of = parents["common"], parents["reads"], parents["as_of"]
    what = p.add_subparsers(dest="what", required=True, metavar="ACTION")
    s = what.add_parser("set", parents=[common, reads],
                        help="record an actor's authority (a set_authority command, "
                        "recorded as --actor)")
    s.add_argument("name", metavar="NAME", type=arg_types.actor_name,
                   help="the actor: a token's name (or a CLI --actor)")
    s.add_argument("--pay-up-to", type=arg_types.yen, required=True, metavar="YEN",
                   help="a payout request of at most this is paid at once, without approval")
    s.add_argument("--approve-up-to", type=arg_types.yen, required=True, metavar="YEN",
                   help="the largest payout another actor requested that NAME may approve "
                   "or reject")
    s.add_argument("--reason", metavar="TEXT", help="why (recorded with the change)")
    what.add_parser("list", parents=[common, reads, as_of],
                    help="every actor whose authority an operator has set, replayed from "
                    "the log")
    s = what.add_parser("show", parents=[common, reads, as_of],
                        help="one actor's authority and every change to it, replayed from "
                        "the log")
    s.add_argument("name", metavar="NAME", type=arg_types.actor_name)


def _feed(p: Parser, parents: Parents) -> None:
    p.add_argument("--after", type=arg_types.position, default=0,
                   metavar="POSITION", help="cursor: only events after this log position")
    p.add_argument("--limit", type=whole_number(1), metavar="N",
                   help="events at most, then stop (default: every one)")
    p.add_argument("--types", metavar="EVENT,…",
                   help="only these event names, comma-separated (e.g. PayoutIssued)")
    p.add_argument("--follow", action="store_true",
                   help="keep writing new events as they commit (Ctrl-C stops)")
    p.add_argument("--interval", type=arg_types.seconds, default=0.2, metavar="S",
                   help="seconds between two reads of the log when idle (default 0.2)")


def _serve(p: Parser, parents: Parents) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    p.add_argument("--tokens-file", metavar="FILE",
                   help="bearer tokens (default $CLAIMS_LEDGER_TOKENS_FILE; or give the "
                   "JSON in $CLAIMS_LEDGER_TOKENS instead: a file and the variable together "
                   "are refused)")
    p.add_argument("--processes", type=whole_number(1, MAX_PROCESSES), default=1, metavar="N",
                   help="server processes on the port, each with its own group commit "
                   f"(default 1, at most {MAX_PROCESSES}); more than 1 needs --db and "
                   "--read-db on PostgreSQL")


def _token(p: Parser, parents: Parents) -> None:
    from adapters.service.auth import ROLES

    p.add_argument("what", metavar="NAME|list|revoke|rotate",
                   help="NAME: who the token is for, recorded as the actor of its commands")
    p.add_argument("name", nargs="?", metavar="NAME", help="the token to revoke or rotate")
    p.add_argument("--role", choices=list(ROLES),
                   help="the new token's role (NAME only)")
    until = p.add_mutually_exclusive_group()
    until.add_argument("--expires-in", metavar="DAYS", type=arg_types.days,
                       help="the token stops working DAYS days from now (NAME, rotate)")
    until.add_argument("--expires-at", metavar="TIME", type=arg_types.from_time,
                       help="the token stops working at TIME (NAME, rotate)")
    p.add_argument("--tokens-file", metavar="FILE", required=True)
    p.add_argument("--json", action="store_true", help="list as JSON")


_C, _R, _A = "common", "reads", "as_of"
_COMMANDS: list[tuple[str, tuple[str, ...], str, Callable[[Parser, Parents], None]]] = [
    ("apply", (_C, _R), "apply commands from a JSON Lines file (or - for stdin)", _apply),
    ("limits", (_C, _R, _A), "annual limit, paid, held, remaining and case reserves per "
     "policy year and coverage", _limits),
    ("claim", (_C, _R, _A), "a claim's state, payouts with their breakdowns, exclusion, "
     "reserve, holds and recoveries", _claim),
    ("history", (_C, _R), "every event of a policy (with its years and claims) or a claim",
     _history),
    ("audit", (_C,), "the audit trail, filtered, a page at a time", _audit),
    ("project", (_C,), "catch the read models up with the log, once or --follow", _project),
    ("rebuild", (_C, _R), "rebuild read models from position 0 into fresh tables, then "
     "switch readers to them", _rebuild),
    ("verify", (_C, _R), "replay the log and compare every read model with it", _no_options),
    ("status", (_C, _R), "each read model's generation, position and lag behind the log",
     _no_options),
    ("terms", (_C, _R), "the product terms: limits, deductibles, exclusion codes, causes",
     _no_options),
    ("demo", (_C, _R), "load the terms' cases into a fresh database and show the result",
     _demo),
    ("seal", (_C, _R), "the seal over the log: seal up to the end now, write a checkpoint "
     "file (checkpoint --out FILE), or verify the log (verify [--checkpoint FILE])", _seal),
    ("explain", (_C, _R, _A), "a claim's decisions in words and figures, recomputed from the "
     "terms (exit 1 if a recorded figure disagrees)", _explain),
    ("export", (_C, _R), "write the sealed log to a self-contained file for auditors",
     _export),
    ("replay", (_R, _A), "check and replay an exported file without any database: limits "
     "per policy year and a summary of claims", _replay),
    ("report", (_C, _A), "the year-end reserves report (支払備金) per coverage and year, with "
     "the loss development triangle, replayed from the log", _report),
    ("authority", (_C,), "who may pay and approve what: set an actor's authority (an "
     "operator's decision, recorded in the log), list every actor's, or show one actor's "
     "with its changes", _authority),
    ("feed", (_C,), "the log's events in position order as JSON Lines, once or --follow "
     "(the same items as GET /feed)", _feed),
    ("serve", (_C,), "serve the HTTP API (commands, reads, health)", _serve),
    ("token", (), "the bearer tokens of a tokens file: NAME --role ROLE makes one (printed "
     "once), list shows them, revoke NAME ends one, rotate NAME gives NAME a new token",
     _token),
]
"""Every command in the order ``--help`` lists them: its name, the option groups
it shares (``_parents``), its help, and what adds its own options."""
