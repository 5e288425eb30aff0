"""What the CLI, the HTTP API and the console show: limits, claims, explanations
and histories as JSON-ready data, from the read models, or replayed from the log
for an ``as_of`` time (was ``adapters/views.py``); the reserves report, folded
from the log; and the claims office's work: the payouts awaiting approval (who may
pay and approve what is ``authorities.py``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from domain.errors import NotFound
from domain.ids import claim_id_of, incident_id_of, policy_year_id
from projections.audit_trail import AuditQuery

if TYPE_CHECKING:
    # (The model, the replays and the catch-up are imported by the reads that use
    # them: a read of read models already caught up needs none of them.)
    from domain.explanation import Explanation, Lang
    from domain.ledger import Ledger
    from projections.read_models import ReadModels
    from projections.reading import Reads
    from projections.reserves_report import Basis, ReservesReport


def limits(ledger: Callable[[], Ledger], models: Reads | None, policy_id: str | None,
           as_of: datetime | None = None) -> list[dict[str, Any]]:
    """Per policy year and coverage; ``models`` must be caught up by the caller.
    ``ledger`` gives the ledger, asked only when a read needs it (as here and in
    ``claim``: a replay ``as_of``, or an unknown policy to tell)."""
    if as_of is None:
        assert models is not None
        rows = models.limits(policy_id)
    else:
        rows = _limits_as_of(ledger(), policy_id, as_of)
    if policy_id and not rows:
        ledger().get_policy(policy_id)  # raises NotFound for an unknown policy
    return rows


def _limits_as_of(ledger: Ledger, policy_id: str | None, at: datetime) -> list[dict[str, Any]]:
    from projections.rows import year_rows

    rows = []
    in_log: dict[str, set[str]] | None = None  # read once, if a policy needs it
    for pid in [policy_id] if policy_id else ledger.policy_ids():
        policy = ledger.find_policy(pid)
        if policy is None:
            continue
        ids = {c.claim_id for c in policy.claims}
        if not policy.registers_claims:
            # A policy enrolled before claims were registered on it: the log's.
            in_log = ledger.claims_in_log_by_policy() if in_log is None else in_log
            ids |= in_log.get(pid, set())
        claims = [c for claim_id in sorted(ids)
                  if (c := ledger.claim_as_of(claim_id, at)) is not None]
        for year in ledger.policy_years_as_of(pid, at):
            rows.extend(year_rows(year, claims))
    return rows


def claim(ledger: Callable[[], Ledger], models: Reads | None, claim_id: str,
          as_of: datetime | None = None) -> dict[str, Any]:
    """A claim with its payouts and the wording of its exclusion."""
    if as_of is None:
        assert models is not None
        data = models.claim(claim_id)
    else:
        from projections.rows import claim_from_state

        state = ledger().claim_as_of(claim_id, as_of)
        data = claim_from_state(state) if state else None
    if data is None:
        when = f" at {as_of.isoformat()}" if as_of else ""
        raise NotFound.of("claim_id", "claim_exists", f"no claim {claim_id} is filed{when}")
    wording = None
    if data["exclusion"]:
        from domain.terms import term_set

        w = term_set(data["terms_version"]).coverage(data["coverage"]).exclusion(
            data["exclusion"])
        wording = {"ja": w.ja, "en": w.en} if w else None
    data["exclusion_wording"] = wording
    return data


def pending_holds(models: Reads) -> list[dict[str, Any]]:
    """Every payout awaiting approval, across every policy, oldest request first
    (``PendingHoldRow``: claim, policy, payout id, amount, requester, when
    requested, due day), from the claims read model; ``models`` must be caught
    up by the caller."""
    return models.pending_holds()


def explanation(ledger: Ledger, claim_id: str, lang: Lang,
                as_of: datetime | None = None) -> Explanation:
    """The claim's decisions in words and figures (see ``domain.explanation``),
    from its events and its policy year's in the log, as known at ``as_of`` if
    given."""
    from domain.events import LedgerEvent
    from domain.explanation import explain

    def known(aggregate_id: str) -> list[Any]:
        events = [e for e in ledger.events.get(aggregate_id) if isinstance(e, LedgerEvent)]
        return [e for e in events if as_of is None or e.timestamp <= as_of]

    claim_events = known(claim_id_of(claim_id))
    if not claim_events:
        when = f" at {as_of.isoformat()}" if as_of else ""
        raise NotFound.of("claim_id", "claim_exists", f"no claim {claim_id} is filed{when}")
    first = claim_events[0]
    year_events = known(policy_year_id(first.policy_id, first.policy_year))
    incident_id = getattr(first, "incident_id", None)
    incident_events = [] if incident_id is None else known(
        incident_id_of(first.policy_id, first.coverage, incident_id))
    return explain(claim_events, year_events, lang, incident_events)


def history(ledger: Ledger, models: ReadModels, entity_id: str, kind: str | None,
            after: int = 0, limit: int = 10**12) -> list[dict[str, Any]]:
    """Every event of a policy (its years and claims too) or of a claim, in log
    order; raises ``ValueError`` when the id names both and ``kind`` is not given."""
    is_policy = kind != "claim" and ledger.has_policy(entity_id)
    is_claim = kind != "policy" and ledger.has_claim(entity_id)
    if is_policy and is_claim:
        msg = f"{entity_id} is both a policy and a claim id: say which kind"
        raise ValueError(msg)
    if not (is_policy or is_claim):
        raise NotFound.of("id", "exists", f"no policy or claim {entity_id}")
    query = (AuditQuery(policy_id=entity_id, after=after, limit=limit) if is_policy
             else AuditQuery(claim_id=entity_id, after=after, limit=limit))
    kinds = {"policy", "policy_year", "claim"} if is_policy else {"claim"}
    return [r for r in audit_pages(models, query) if r["aggregate_type"] in kinds]


def audit_pages(models: ReadModels, query: AuditQuery, page: int = 1000) -> list[dict[str, Any]]:
    """Every row matching ``query`` from its cursor on, read a page at a time."""
    found: list[dict[str, Any]] = []
    after = query.after
    while len(found) < query.limit:
        want = min(page, query.limit - len(found))
        rows = models.audit(AuditQuery(**{**query.__dict__, "after": after, "limit": want}))
        found.extend(rows)
        if len(rows) < want:
            break
        after = rows[-1]["position"]
    return found


def reserves(ledger: Ledger, as_of: datetime, basis: Basis = "accident-year",
             since: date | None = None,
             progress: Callable[[int], None] | None = None) -> ReservesReport:
    """The reserves report as of ``as_of``, folded from the log's events read a
    page at a time in log order (only those the report reads); ``progress``
    is told the position of each."""
    from projections.reserves_report import REPORT_EVENTS, ReservesFold

    fold = ReservesFold(as_of=as_of, basis=basis, period_start=since)
    for notification in ledger.notifications(REPORT_EVENTS):
        fold.add(ledger.decode(notification))
        if progress is not None:
            progress(notification.id)
    return fold.report()
