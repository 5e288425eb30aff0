"""``claims-ledger authority``: an operator sets an actor's authority (``set``,
a ``set_authority`` command appended to the log), and anyone reading the log
sees every actor's (``list``) or one actor's with its changes (``show``), now or
as of a past recorded time."""

from __future__ import annotations

from typing import Any

from adapters.cli.exits import EXIT_OK
from adapters.cli.output import dump, table, yen
from adapters.cli.session import Session
from adapters.service.authorities import authorities, authority
from domain.commands import parse_command


def cmd_authority(s: Session) -> int:
    return {"set": _set, "list": _list, "show": _show}[s.args.what](s)


def _set(s: Session) -> int:
    args = s.args
    data: dict[str, Any] = {"command": "set_authority", "actor_name": args.name,
                            "pay_up_to": args.pay_up_to, "approve_up_to": args.approve_up_to}
    if args.reason is not None:
        data["reason"] = args.reason
    outcome = s.ledger.execute(parse_command(data), actor=args.actor)
    if args.json:
        dump(outcome.as_json(), s.out)
        return EXIT_OK
    r = outcome.result
    where = ", ".join(f"{e.event} at position {e.position}" for e in outcome.events)
    print(f"{r['actor_name']} may now pay up to {yen(r['pay_up_to'])} alone and approve up "
          f"to {yen(r['approve_up_to'])} [{where}]", file=s.out)
    return EXIT_OK


def _as_of(s: Session) -> None:
    if s.args.as_of is not None:
        print(f"as the ledger knew it at {s.args.as_of.isoformat()}", file=s.out)


def _list(s: Session) -> int:
    rows = authorities(s.ledger, s.args.as_of)
    if s.args.json:
        dump(rows, s.out)
        return EXIT_OK
    _as_of(s)
    if not rows:
        print("no authority is set: every actor's payout requests wait, and no one may "
              "approve them", file=s.out)
        return EXIT_OK
    table(["actor", "pay up to", "approve up to", "v", "set at (UTC)", "set by", "reason"],
          ([r["actor_name"], yen(r["pay_up_to"]), yen(r["approve_up_to"]), r["version"],
            r["set_at"][:19], r["set_by"], r["reason"]] for r in rows), s.out)
    return EXIT_OK


def _show(s: Session) -> int:
    data = authority(s.ledger, s.args.name, s.args.as_of)
    if s.args.json:
        dump(data, s.out)
        return EXIT_OK
    _as_of(s)
    print(f"{'actor':<16}{data['actor_name']}", file=s.out)
    print(f"{'pay up to':<16}{yen(data['pay_up_to'])}", file=s.out)
    print(f"{'approve up to':<16}{yen(data['approve_up_to'])}", file=s.out)
    if not data["changes"]:
        print("no operator has set this actor's authority: none (their payout requests "
              "wait, and they approve nothing)", file=s.out)
        return EXIT_OK
    print(file=s.out)
    table(["v", "recorded at (UTC)", "set by", "pay up to", "approve up to", "reason"],
          ([c["version"], c["recorded_at"][:19], c["set_by"],
            f"{yen(c['pay_up_to_before'])}->{yen(c['pay_up_to'])}",
            f"{yen(c['approve_up_to_before'])}->{yen(c['approve_up_to'])}", c["reason"]]
           for c in data["changes"]), s.out)
    return EXIT_OK
