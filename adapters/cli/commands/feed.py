"""``claims-ledger feed``: the event feed as JSON Lines, one event per line in
position order (the same items as ``GET /feed``), once or ``--follow``; the
cursor to resume from is printed on stderr at the end."""

from __future__ import annotations

import sys
import time

import orjson

from adapters.cli.exits import EXIT_OK, UsageError
from adapters.cli.session import Session
from adapters.service import feed

PAGE = 1000
"""Events read per query."""


def cmd_feed(s: Session) -> int:
    args = s.args
    try:
        names = feed.event_types(args.types)
    except feed.BadFeedQuery as exc:
        raise UsageError(f"--types: {exc.message} [{exc.rule}]") from None
    cursor, left = args.after, args.limit
    try:
        while left is None or left > 0:
            want = PAGE if left is None else min(PAGE, left)
            done = feed.page(s.ledger, cursor, want, names)
            for item in done.items:
                s.out.write(orjson.dumps(item).decode() + "\n")
            s.out.flush()
            cursor = done.next_after
            left = None if left is None else left - len(done.items)
            if len(done.items) < want:
                if not args.follow:
                    break
                time.sleep(args.interval)
    finally:
        print(f"next after: {cursor}", file=sys.stderr)
    return EXIT_OK
