"""``make bench`` figures for the auditor tools: what the seal costs an append,
how fast the seal is verified and the log exported and replayed, and how long
each console page takes to render. Called by ``tests.bench.run``."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

from adapters.audit import export, seal
from adapters.console.desk import Desk
from adapters.console.pages import (
    AuditFilters,
    View,
    audit_page,
    claim_page,
    policies_page,
    policy_page,
    seal_page,
    year_page,
)
from adapters.console.work_pages import search_page, work_page
from adapters.http import Service
from adapters.service.auth import Tokens
from adapters.storage import new_command_id, persistence_env, system_clock
from adapters.storage.sealed_recorders import sealed_log
from domain.events import event_names
from domain.ledger import Ledger
from projections.read_models import ReadModels
from projections.store import open_store


def unsealed_ledger(db: str) -> Ledger:
    """The ledger on the library's own recorder, without the seal: the baseline."""
    env = persistence_env(db)
    del env["APPLICATION_RECORDER_TOPIC"]
    return Ledger(env, clock=system_clock, new_id=new_command_id)


def seal_rates(db: str, folder: Path) -> dict[str, float]:
    """Events per second: verifying the seal, exporting, replaying the export."""
    ledger = Ledger(persistence_env(db), clock=system_clock, new_id=new_command_id)
    log = sealed_log(ledger.recorder)
    started = time.perf_counter()
    report = seal.verify(log)
    verified = report.events / (time.perf_counter() - started)
    assert report.ok, report.finding
    path = folder / "export.jsonl"
    started = time.perf_counter()
    with path.open("wb") as out:
        trailer = export.export(log, out)
    exported = trailer.events / (time.perf_counter() - started)
    started = time.perf_counter()
    replayed = export.replay(str(path))
    replay_rate = replayed.events / (time.perf_counter() - started)
    ledger.close()
    return {"seal verify (events/s)": verified, "export (events/s)": exported,
            "replay of the export, no database (events/s)": replay_rate}


def page_render_ms(db: str, policies: list[str], claims: list[str],
                   renders: int = 30, read_db: str | None = None) -> dict[str, float]:
    """Median milliseconds to render each console page (no HTTP), on read models
    caught up with the whole log (``read_db``: where they are, if not in ``db``);
    the work queue and the search on a desk that has read the log once (that
    first read is timed on its own)."""
    ledger = Ledger(persistence_env(db), clock=system_clock, new_id=new_command_id)
    models = ReadModels(ledger, open_store(read_db or db))
    models.catch_up()
    service = Service(ledger, models, Tokens([]))
    view = View("ja")
    step = max(1, len(claims) // renders)
    desk = Desk()
    started = time.perf_counter()
    with desk.read(ledger):
        first_read = (time.perf_counter() - started) * 1000
    pages: dict[str, Callable[[int], str]] = {
        "console: policies list (ms)": lambda i: policies_page(service, view),
        "console: policy (ms)":
            lambda i: policy_page(service, view, policies[i % len(policies)]),
        "console: policy year chart (ms)":
            lambda i: year_page(service, view, policies[i % len(policies)], 1),
        "console: claim with explanation (ms)":
            lambda i: claim_page(service, view, claims[i * step % len(claims)]),
        "console: audit trail page (ms)":
            lambda i: audit_page(service, view, AuditFilters(after=i * 1000), event_names()),
        "console: seal (ms)": lambda i: seal_page(service, view, None),
        "console: work queue (ms)": lambda i: work_page(service, view, desk),
        "console: search by holder's name (ms)":
            lambda i: search_page(service, view, desk, "株式会社", ""),
    }
    if not policies:  # a page of one policy or claim needs one to show
        del pages["console: policy (ms)"], pages["console: policy year chart (ms)"]
    if not claims:
        del pages["console: claim with explanation (ms)"]
    timings: dict[str, float] = {"console: work place, first read of the log (ms)": first_read}
    for name, render in pages.items():
        samples = []
        for i in range(renders):
            started = time.perf_counter()
            render(i)
            samples.append((time.perf_counter() - started) * 1000)
        timings[name] = statistics.median(samples)
    models.close()
    ledger.close()
    return timings
