"""The event feed's figures for ``make bench``: how fast a reader pages through
the whole log by the feed, and how long an event takes from its commit to a
reader waiting for it (the server's long-poll: ``LogWatch``, then a page)."""

from __future__ import annotations

import asyncio
import threading
import time

from adapters.service import feed
from adapters.service.log_watch import LogWatch
from adapters.storage import open_ledger
from domain.commands import parse_command

COMMITS = 200
"""Commits timed from their start to a waiting reader having their events."""


def feed_rate(db: str) -> float:
    """Events per second of reading the whole log through the feed, 1,000 a page."""
    ledger = open_ledger(db)
    try:
        started, after, count = time.perf_counter(), 0, 0
        while (done := feed.page(ledger, after, feed.MAX_LIMIT)).items:
            count += len(done.items)
            after = done.next_after
        return count / (time.perf_counter() - started)
    finally:
        ledger.close()


def commit_to_reader(db: str, commits: int = COMMITS) -> dict[str, float]:
    """p50 and p99 milliseconds from the start of a commit (one command, in
    another thread) to a reader waiting on the log having its first event."""
    ledger = open_ledger(db)
    watch = LogWatch(ledger)
    taken: list[float] = []

    async def one(n: int) -> None:
        after = feed.head(ledger)
        started = time.perf_counter()
        writer = threading.Thread(target=ledger.execute, args=(parse_command({
            "command": "attach_coverage", "policy_id": f"FEED-BENCH-{n}-{started}",
            "customer_id": "CU-B", "customer_name": "bench", "financial_institution": False,
            "screening_passed": True, "firewall_option": "shared",
            "firewall_applied_on": "2024-04-01", "service_start": "2024-04-01"}),),
            kwargs={"actor": "bench"})
        writer.start()
        while not feed.page(ledger, after, 1).items:
            await watch.wait(after, 5)
        taken.append(time.perf_counter() - started)
        writer.join()

    async def all_of_them() -> None:
        for n in range(commits):
            await one(n)

    try:
        asyncio.run(all_of_them())
    finally:
        ledger.close()
    taken.sort()
    return {"feed_commit_to_reader_p50_ms": 1000 * taken[len(taken) // 2],
            "feed_commit_to_reader_p99_ms": 1000 * taken[max(int(len(taken) * 0.99) - 1, 0)]}
