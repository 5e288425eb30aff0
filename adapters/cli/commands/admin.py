"""The rest: ``terms`` (the product terms), ``demo`` (the terms' cases in a fresh
database), ``token`` (the API's bearer tokens: make, list, revoke, rotate) and
``serve`` (the HTTP API)."""

from __future__ import annotations

import sys
from datetime import datetime
from importlib import resources
from typing import Any

from adapters.apply import apply_lines
from adapters.cli.commands.reads import cmd_limits
from adapters.cli.exits import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, UsageError
from adapters.cli.output import Progress, describe, dump, table, yen
from adapters.cli.session import Session
from adapters.storage import is_postgres, redact
from domain.terms import (
    COVER_RULES,
    NOTICE_CHANNELS,
    NOTICE_TIME_BAR,
    NOTICE_TIME_BAR_YEARS,
    RECOVERY_KINDS,
    RESERVE_REASONS,
    TERM_SETS,
)


def cmd_terms(s: Session) -> int:
    args, out = s.args, s.out
    if args.json:
        dump([t.model_dump(mode="json") for t in TERM_SETS], out)
        return EXIT_OK
    for terms in TERM_SETS:
        print(f"terms {terms.version} (in force from {terms.effective_from})", file=out)
        for c in terms.coverages:
            print(f"\n{c.coverage} {c.name_ja} ({c.trigger}): per incident "
                  f"{yen(c.per_incident_limit)}, annual {yen(c.annual_limit)}, deductible "
                  f"{yen(c.deductible)} per incident (the claims filed with one "
                  "incident_id share both)", file=out)
            for e in c.exclusions:
                print(f"  {e.code:<36}{e.ja}", file=out)
        print("\ncauses: " + ", ".join(c.code for c in terms.causes), file=out)
    print("\ndenied by the ledger itself, for both coverages:", file=out)
    for rule in COVER_RULES:
        print(f"  {rule.code:<36}{rule.ja}", file=out)
    print("\nnotice channels (file_claim channel):", file=out)
    for channel in NOTICE_CHANNELS:
        print(f"  {channel.code:<36}{channel.ja}", file=out)
    print(f"notice time bar: {NOTICE_TIME_BAR_YEARS} years after the incident (flagged, "
          f"not refused): {NOTICE_TIME_BAR.ja}", file=out)
    for title, wordings in (("case reserve reasons (set_reserve reason)", RESERVE_REASONS),
                            ("recovery kinds (record_recovery kind)", RECOVERY_KINDS)):
        print(f"\n{title}:", file=out)
        for w in wordings:
            print(f"  {w.code:<36}{w.ja}", file=out)
    return EXIT_OK


def cmd_demo(s: Session) -> int:
    existing = s.ledger.recorder.max_notification_id()
    if existing and s.args.if_empty:
        print(f"the database already holds {existing:,} events: the demo is not loaded "
              "again", file=sys.stderr)
        return EXIT_OK
    if existing:
        print(f"the database already holds {existing:,} events; the demo loads into a fresh "
              "database: pass --db with a new file", file=sys.stderr)
        return EXIT_USAGE
    text = resources.files("adapters.cli").joinpath("demo.jsonl").read_text(encoding="utf-8")
    results: list[dict[str, Any]] = []
    refused = apply_lines(s.ledger, iter(text.splitlines()), s.args.actor, results.append,
                          Progress("demo", sys.stderr))
    limits = s.fresh().limits()
    if s.args.json:
        dump({"applied": results, "limits": limits}, s.out)
        return EXIT_REFUSED if refused else EXIT_OK
    print("データ保険 demo: the cases of the product terms, applied as commands\n", file=s.out)
    for r in results:
        if r["ok"]:
            print(f"  {r['command']:<16}{describe(r)}", file=s.out)
        else:
            print(f"  refused: {r['message']}", file=s.out)
    print("\nRemaining annual limits (from the read models):\n", file=s.out)
    s.args.policy, s.args.as_of = None, None
    cmd_limits(s)
    print(f"\nTry: .venv/bin/claims-ledger --db {redact(s.args.db)} claim C-DEMO-4",
          file=s.out)
    return EXIT_REFUSED if refused else EXIT_OK


def cmd_token(s: Session) -> int:
    """``token NAME --role ROLE``, ``token list``, ``token revoke NAME`` or
    ``token rotate NAME``: over the tokens file; a refusal (exit 2) names the
    rule."""
    from adapters.service.auth import TokenConfigError
    from adapters.service.token_file import ACTIONS, expiry

    args = s.args
    words = [w for w in (args.what, args.name) if w is not None]
    action, names = ((words[0], words[1:]) if words[0] in ACTIONS else ("new", words))
    wanted = 0 if action == "list" else 1
    if len(names) != wanted:
        raise UsageError(f"token {'' if action == 'new' else action + ' '}takes "
                         f"{'no name' if wanted == 0 else 'one NAME'}, not {len(names)}")
    if (args.role is None) == (action == "new"):
        raise UsageError("--role is needed to make a token, and only then")
    if action in ("list", "revoke") and (args.expires_in or args.expires_at):
        raise UsageError("--expires-in and --expires-at are for making or rotating a token")
    try:
        until = expiry(args.expires_in, args.expires_at)
        return _token_action(s, action, names[0] if names else "", until)
    except (TokenConfigError, OSError, ValueError) as exc:  # a refusal names its rule
        print(f"claims-ledger: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _token_action(s: Session, action: str, name: str, until: datetime | None) -> int:
    from adapters.service.token_file import new_token, revoke_token, rotate_token, token_rows

    args, out, path = s.args, s.out, s.args.tokens_file
    if action == "list":
        rows = token_rows(path)
        if args.json:
            dump(rows, out)
            return EXIT_OK
        table(["name", "role", "created", "rotated", "expires", "revoked"],
              [[r["name"], r["role"], r["created"], r.get("rotated"), r["expires"],
                r["revoked"]] for r in rows], out)
        return EXIT_OK
    if action == "revoke":
        revoke_token(name, path)
        print(f"revoked {name}'s token in {path}: it is refused from now on, and the name "
              "is not handed out again", file=sys.stderr)
        return EXIT_OK
    if action == "rotate":
        print(rotate_token(name, path, until), file=out)
        print(f"a new token for {name} in {path}; the old one is refused from now on; keep "
              "the token above, it is not stored", file=sys.stderr)
        return EXIT_OK
    print(new_token(name, args.role, path, until), file=out)
    print(f"added {name} ({args.role}) to {path}; keep the token above, it is not stored",
          file=sys.stderr)
    return EXIT_OK


def cmd_serve(s: Session) -> int:
    import uvicorn

    from adapters.http import build
    from adapters.service.auth import TokenConfigError, Tokens

    args = s.args
    if args.processes > 1 and not (is_postgres(args.db) and is_postgres(args.read_db)):
        raise UsageError(f"--processes {args.processes}: more than one server process needs "
                         "the log (--db) and the read models (--read-db) on PostgreSQL: "
                         "SQLite commits one writer at a time [one_writer]")
    try:
        tokens = Tokens.load(args.tokens_file)
    except TokenConfigError as exc:
        raise UsageError(str(exc)) from None
    if not len(tokens):
        print("claims-ledger: no bearer tokens are configured: every request but /health "
              "will be refused (make one with `claims-ledger token`)", file=sys.stderr)
    app = build(args.db, args.read_db, tokens) if args.processes == 1 else None
    if app is None:
        _prepare_processes(args.db, args.read_db, args.tokens_file)
    print(f"claims-ledger API listening on http://{args.host}:{args.port} "
          f"(docs: http://{args.host}:{args.port}/docs; console: "
          f"http://{args.host}:{args.port}/console/)"
          + (f", {args.processes} server processes" if app is None else ""), flush=True)
    # A stop waits at most this long for requests still open (an event stream
    # never ends by itself), then cancels them.
    if app is not None:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning",
                    timeout_graceful_shutdown=10)
    else:
        uvicorn.run("adapters.http.app:from_environment", factory=True,
                    workers=args.processes, host=args.host, port=args.port,
                    log_level="warning", timeout_graceful_shutdown=10)
    return EXIT_OK


def _prepare_processes(db: str, read_db: str, tokens_file: str | None) -> None:
    """Before ``serve`` starts several server processes: create the tables and
    catch the read models up here, once (so the processes do not all build
    them at once), and name the databases and the tokens file in the
    environment the processes inherit (``adapters.http.app.from_environment``)."""
    import os

    from adapters.service.auth import TOKENS_FILE_ENV
    from adapters.storage import DB_ENV, READ_DB_ENV, open_ledger
    from projections.read_models import ReadModels

    ledger = open_ledger(db)
    try:
        models = ReadModels.open(ledger, read_db)
        try:
            models.catch_up()
        finally:
            models.close()
    finally:
        ledger.close()
    os.environ[DB_ENV], os.environ[READ_DB_ENV] = db, read_db
    if tokens_file:
        os.environ[TOKENS_FILE_ENV] = os.path.abspath(tokens_file)
