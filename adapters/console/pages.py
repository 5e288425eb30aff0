"""The console's pages: what each one shows, gathered from the read models and
rendered with the Jinja2 templates in ``adapters/console/templates``.

Each page is a function from the service and a ``View`` (language, as-of time,
who is signed in, the page's own query) to HTML, so a page can be rendered and
timed without HTTP. Pages read the read models; an as-of page answers with the
replays of ``adapters.service.reads`` instead, as the API's ``as_of`` does. What
the read models do not hold, a policy's holder and dates and a claim's reserve,
holds and recoveries, is replayed from the record's own events (``replays``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from itertools import groupby
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from adapters.audit.seal import SealReport
from adapters.console import replays, spreadsheet, svg
from adapters.console.desk import SEARCH_LONGEST
from adapters.console.i18n import Words, yen
from adapters.service import Service, reads
from adapters.service.auth import Caller
from adapters.storage.sealed_recorders import sealed_log
from domain.claim import time_bar_ends
from domain.errors import NotFound
from domain.terms import JST
from projections.audit_trail import AuditQuery
from projections.base import recorded_time

CONSOLE = "/console"
POLICIES_PER_PAGE = 20
CSS = (Path(__file__).parent / "static" / "console.css").read_text(encoding="utf-8")
"""The console's style sheet, inlined in every page (no request, no outside asset)."""
AUDIT_COLUMNS = ("position", "recorded_at", "actor", "event", "policy", "policy_year",
                 "claim", "coverage", "business_dates", "amount", "balance", "command_id")
"""The audit page's columns (their headers' words), in order: its table and its CSV."""
NUMERIC_COLUMNS = ("position", "amount", "balance")
"""The columns the page aligns as figures."""
_LIMIT_EVENTS = ("AnnualLimitDrawn", "AnnualLimitRestored")


@dataclass(frozen=True)
class View:
    """What a page is shown with: the language, the recorded time it looks back
    to (None: now), who is signed in, the page's own path and query, and the
    session's form token."""

    lang: str = "ja"
    as_of: datetime | None = None
    as_of_text: str = ""
    user: Caller | None = None
    path: str = f"{CONSOLE}/policies"
    query: dict[str, str] = field(default_factory=dict)
    csrf: str = ""
    """The token the session's forms carry (sign-out, "verify now")."""

    @property
    def words(self) -> Words:
        return Words(self.lang)

    def url(self, path: str, **params: Any) -> str:
        """A console link that keeps the language and the as-of time."""
        query = {k: str(v) for k, v in params.items() if v not in (None, "")}
        if self.lang != "ja":
            query["lang"] = self.lang
        if self.as_of_text:
            query["as_of"] = self.as_of_text
        return f"{path}?{urlencode(query)}" if query else path

    def switch(self, lang: str) -> str:
        """This page in another language."""
        return View(lang, self.as_of, self.as_of_text).url(self.path, **self.query)

    def now(self) -> str:
        """This page as the ledger stands now."""
        return View(self.lang).url(self.path, **self.query)


@cache
def _environment() -> Environment:
    env = Environment(loader=PackageLoader("adapters.console", "templates"),
                      autoescape=select_autoescape(default=True), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.globals.update(yen=yen, css=CSS, console=CONSOLE, search_longest=SEARCH_LONGEST)
    return env


def render(template: str, view: View, **context: Any) -> str:
    return _environment().get_template(template).render(view=view, w=view.words, **context)


def _bar(row: dict[str, Any], w: Words) -> Any:
    return svg.bar(row["paid"], row["annual_limit"], w(
        "bar_text", limit=yen(row["annual_limit"]), paid=yen(row["paid"]),
        remaining=yen(row["remaining"])))


def _years(rows: list[dict[str, Any]], w: Words) -> list[dict[str, Any]]:
    """Limits rows grouped by policy year, each row with its bar."""
    return [{"year": year, "rows": [{**r, "bar": _bar(r, w)} for r in group]}
            for year, group in groupby(rows, key=lambda r: r["policy_year"])]


def policies_page(service: Service, view: View, prefix: str = "", after: str = "") -> str:
    """Policies whose id starts with ``prefix``, a page at a time, each with its
    years and coverages drawn as bars."""
    rows = service.fresh().policies(prefix, after, POLICIES_PER_PAGE + 1)
    ids = list(dict.fromkeys(r["policy_id"] for r in rows))
    shown = ids[:POLICIES_PER_PAGE]
    by_policy = {pid: [r for r in rows if r["policy_id"] == pid] for pid in shown}
    if view.as_of is not None:
        by_policy = {pid: reads.limits(lambda: service.ledger, None, pid, view.as_of)
                     for pid in shown}
    policies = [{"policy_id": pid, "years": _years(by_policy[pid], view.words)}
                for pid in shown if by_policy[pid]]
    return render("policies.html", view, policies=policies, prefix=prefix, after=after,
                  next_after=shown[-1] if len(ids) > POLICIES_PER_PAGE else None)


def policy_page(service: Service, view: View, policy_id: str) -> str:
    """A policy's years and coverages as bars, and its claims."""
    now = view.as_of is None
    models = service.fresh()
    rows = reads.limits(lambda: service.ledger, models if now else None, policy_id, view.as_of)
    # By the policy's own index: a policy has a few hundred events, while an event
    # type has many thousands across the log.
    filed = [r for r in models.audit(AuditQuery(policy_id=policy_id,
                                                recorded_to=_recorded_to(view),
                                                limit=10**9))
             if r["event_type"] == "ClaimFiled"]
    claims = [models.claim(r["claim_id"]) if now
              else reads.claim(lambda: service.ledger, None, r["claim_id"], view.as_of)
              for r in filed]
    return render("policy.html", view, policy_id=policy_id, years=_years(rows, view.words),
                  claims=[c for c in claims if c is not None],
                  holder=replays.holder(replays.policy(service.ledger, policy_id, view.as_of)))


def year_page(service: Service, view: View, policy_id: str, year: int) -> str:
    """One policy year: per coverage, the remaining limit over recorded time as a
    step chart, with each payout and reversal linking to its claim."""
    now = view.as_of is None
    models = service.fresh()
    rows = [r for r in reads.limits(lambda: service.ledger, models if now else None, policy_id,
                                    view.as_of) if r["policy_year"] == year]
    if not rows:
        raise NotFound.of("policy_year", "policy_year_exists",
                          f"policy {policy_id} has no policy year {year}")
    events = [r for r in reads.audit_pages(models, AuditQuery(
        policy_id=policy_id, recorded_to=_recorded_to(view), limit=10**9))
        if r["policy_year"] == year and r["aggregate_type"] == "policy_year"]
    end = view.as_of or datetime.now(UTC)
    coverages = []
    for row in rows:
        mine = [e for e in events if e["coverage"] == row["coverage"]]
        attached = next((e for e in mine if e["event_type"] == "CoverageAttached"), None)
        changes = [e for e in mine if e["event_type"] in _LIMIT_EVENTS]
        coverages.append({**row, "bar": _bar(row, view.words), "changes": changes,
                          "chart": _chart(view, row, attached, changes, end)})
    return render("year.html", view, policy_id=policy_id, year=year, coverages=coverages,
                  holder=replays.holder(replays.policy(service.ledger, policy_id, view.as_of)))


def _chart(view: View, row: dict[str, Any], attached: dict[str, Any] | None,
           changes: list[dict[str, Any]], end: datetime) -> Any:
    w = view.words
    points = [svg.Point(
        at=datetime.fromisoformat(c["recorded_at"]), remaining=c["balance_after"],
        reversal=c["event_type"] == "AnnualLimitRestored",
        href=view.url(f"{CONSOLE}/claims/{c['claim_id']}"),
        text=f"{w.event(c['event_type'])} {c['claim_id']} {yen(c['amount'])}, "
             f"{w('remaining')} {yen(c['balance_after'])} ({w.time(c['recorded_at'])})")
        for c in changes]
    start = (datetime.fromisoformat(attached["recorded_at"]) if attached
             else points[0].at if points else end)
    end = max([end, *(p.at for p in points)])
    limit = row["annual_limit"]
    text = f"{w('chart')}: {w.coverage(row['coverage'])}"
    axis = (w.date(start.astimezone(JST).date()), w.date(end.astimezone(JST).date()))
    money = [(limit, yen(limit)), (limit // 2, yen(limit // 2)), (0, yen(0))]
    return svg.step_chart(start, end, limit, points, text, axis, money)


def claim_page(service: Service, view: View, claim_id: str) -> str:
    """A claim: its policy's holder and dates, its figures (its reserve, holds and
    recoveries replayed from its events), its timeline of events, and its payouts."""
    models = service.fresh()
    data = reads.claim(lambda: service.ledger, models if view.as_of is None else None, claim_id,
                       view.as_of)
    timeline = reads.audit_pages(models, AuditQuery(
        claim_id=claim_id, recorded_to=_recorded_to(view), limit=10**9))
    explanation = reads.explanation(service.ledger, claim_id, view.lang,  # type: ignore[arg-type]
                                    view.as_of)
    replayed = replays.claim(service.ledger, claim_id, view.as_of)
    assert replayed is not None  # (the read or the replay above found it)
    return render("claim.html", view, claim=data, timeline=timeline, explanation=explanation,
                  time_bar_ends=time_bar_ends(date.fromisoformat(data["incident_date"])),
                  office=replays.office(replayed),
                  holder=replays.holder(replays.policy(service.ledger, data["policy_id"],
                                                       view.as_of)))


@dataclass(frozen=True)
class SealCheck:
    """The last verification of the seal the console ran, and when."""

    report: SealReport
    checked_at: datetime


def seal_page(service: Service, view: View, check: SealCheck | None) -> str:
    """The seal: the last checkpoint, and whether the log verifies up to it."""
    checkpoints = sealed_log(service.ledger.recorder).select_checkpoints()
    last = checkpoints[-1] if checkpoints else None
    covered = check is not None and last is not None and check.report.intact_to >= last.position
    return render("seal.html", view, checkpoint=last, check=check, covered=covered)


@dataclass(frozen=True)
class AuditFilters:
    """The audit page's filters and cursor, as given in its query."""

    policy_id: str = ""
    claim_id: str = ""
    actor: str = ""
    event_type: str = ""
    recorded_from: datetime | None = None
    recorded_to: datetime | None = None
    after: int = 0
    limit: int = 50

    def query(self, view: View) -> AuditQuery:
        ends = [t for t in (self.recorded_to, view.as_of) if t is not None]
        return AuditQuery(
            policy_id=self.policy_id or None, claim_id=self.claim_id or None,
            actor=self.actor or None, event_type=self.event_type or None,
            recorded_from=recorded_time(self.recorded_from) if self.recorded_from else None,
            recorded_to=recorded_time(min(ends)) if ends else None,
            after=self.after, limit=self.limit)


def audit_rows(service: Service, view: View, filters: AuditFilters) -> list[dict[str, Any]]:
    """The rows the audit page shows (and its CSV holds) for these filters."""
    return service.fresh().audit(filters.query(view))


def audit_page(service: Service, view: View, filters: AuditFilters,
               event_types: tuple[str, ...]) -> str:
    """The audit trail, filtered, a page at a time by position."""
    rows = audit_rows(service, view, filters)
    next_after = rows[-1]["position"] if len(rows) == filters.limit else None
    first = {k: v for k, v in view.query.items() if k != "after"}
    return render("audit.html", view, rows=rows, filters=filters, event_types=event_types,
                  columns=AUDIT_COLUMNS, numeric=NUMERIC_COLUMNS,
                  next_after=next_after, first_query=first,
                  next_query={**first, "after": next_after})


def _audit_cells(row: dict[str, Any], w: Words) -> list[Any]:
    """One row of the audit page as its cells read (a line break where the page
    has one), but the position and the amount as plain whole numbers."""
    before, after = row["balance_before"], row["balance_after"]
    return [
        row["position"], w.time(row["recorded_at"]), row["actor"],
        f"{w.event(row['event_type'])}\n{row['aggregate_id']} v{row['version']}",
        row["policy_id"], w("year_n", n=row["policy_year"]) if row["policy_year"] else None,
        row["claim_id"], w.coverage(row["coverage"]) if row["coverage"] else None,
        "\n".join(f"{w.date_name(k)}: {w.date(v)}" for k, v in row["business_dates"].items()),
        row["amount"], None if before is None else f"{yen(before)} → {yen(after)}",
        row["command_id"]]


def audit_csv(rows: list[dict[str, Any]], view: View) -> str:
    """The audit page's table as CSV for a spreadsheet (Excel included, in
    Japanese too): a byte order mark (so it is read as UTF-8), the page's headers
    in the page's language, then one line per row; formula-like text is escaped."""
    out = io.StringIO()
    out.write("\ufeff")
    spreadsheet.write(out, [view.words(c) for c in AUDIT_COLUMNS],
                      (_audit_cells(r, view.words) for r in rows))
    return out.getvalue()


def _recorded_to(view: View) -> str | None:
    return recorded_time(view.as_of) if view.as_of else None
