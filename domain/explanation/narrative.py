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
    lines.append(_summary(state, lang))
    return Explanation(claim_id=filed.claim_id, lang=lang, lines=lines)


def _summary(state: Claim, lang: Lang) -> Line:
    """Where the claim stands: its status, what is paid, and, when there is
    any, its case reserve, what awaits approval and what came back."""
    status_ja, status_en = _STATUS[state.status.value]
    figures = {"paid": int(state.paid)}
    if lang == "ja":
        text = f"状態: {status_ja}; 支払合計 {yen(state.paid, lang)} (取消分を除く)"
    else:
        text = f"Status: {status_en}; paid in all {yen(state.paid, lang)} (net of reversals)"
    if state.reserve is not None:
        figures["reserve"] = int(state.reserve)
        text += (f"; 支払備金 {yen(state.reserve, lang)}" if lang == "ja" else
                 f"; case reserve {yen(state.reserve, lang)}")
    if state.held:
        figures["held"] = int(state.held)
        text += (f"; 承認待ち {yen(state.held, lang)}" if lang == "ja" else
                 f"; held for approval {yen(state.held, lang)}")
    if state.recoveries:
        insurer, insured = state.insurer_recovered, state.insured_recovered
        figures |= {"insurer_recovered": int(insurer), "insured_recovered": int(insured)}
        text += (f"; 回収 保険会社分 {yen(insurer, lang)}, 被保険者分 {yen(insured, lang)}"
                 if lang == "ja" else f"; recovered: the insurer's share "
                 f"{yen(insurer, lang)}, the insured's {yen(insured, lang)}")
    return Line(kind="summary", recorded_at=None, text=text, figures=figures)
