"""``explain``: a claim's events told in order, each with its figures, and a
summary of where the claim stands.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain import claim as claim_module
from domain.claim import Claim, ClaimEvent, ClaimFiled
from domain.events import LedgerEvent
from domain.explanation.lines import event_lines
from domain.explanation.records import IncidentRecord, YearRecord
from domain.explanation.words import Explanation, Lang, Line, yen

_STATUS = {"open": ("処理中", "open"), "denied": ("支払対象外", "denied"),
           "closed": ("終了", "closed"), "withdrawn": ("取下げ", "withdrawn")}


def explain(claim_events: Sequence[ClaimEvent], year_events: Sequence[LedgerEvent],
            lang: Lang, incident_events: Sequence[LedgerEvent] = ()) -> Explanation:
    """The claim's decisions, each with its figures, and any disagreement
    (``incident_events``: those of the incident the claim is one of, if any)."""
    filed = claim_events[0]
    assert isinstance(filed, ClaimFiled)
    year = YearRecord(year_events, filed)
    incident = IncidentRecord(incident_events, filed)
    lines: list[Line] = []
    state: Claim | None = None
    for event in claim_events:
        lines.extend(event_lines(event, state, year, incident, lang))
        state = claim_module.evolve(state, event)
    assert state is not None
    status_ja, status_en = _STATUS[state.status.value]
    if lang == "ja":
        summary = f"状態: {status_ja}; 支払合計 {yen(state.paid, lang)} (取消分を除く)"
    else:
        summary = f"Status: {status_en}; paid in all {yen(state.paid, lang)} (net of reversals)"
    lines.append(Line(kind="summary", recorded_at=None, text=summary,
                      figures={"paid": state.paid}))
    return Explanation(claim_id=filed.claim_id, lang=lang, lines=lines)
