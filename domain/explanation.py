"""Explanations: a claim's decisions in words and figures, in Japanese or English.

``explain`` reads a claim's events and its policy year's events, and for every
payout recomputes the payout rule from the terms copied into
``CoverageAttached`` (not from today's terms), the claim's assessed loss and
what was paid before, and the annual remaining replayed from the year's own
draws and restorations. Each figure recorded in an event that disagrees with
the recomputation gets a line of its own. Pure: no clock, no storage.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from domain import claim as claim_module
from domain.claim import (
    Claim,
    ClaimClosed,
    ClaimEvent,
    ClaimFiled,
    ClaimWithdrawn,
    ExclusionApplied,
    LossAssessed,
    PayoutIssued,
    PayoutReversed,
)
from domain.errors import PayoutRefused
from domain.events import LedgerEvent
from domain.money import Yen
from domain.payout import PayoutBreakdown, calculate_payout
from domain.policy_year import AnnualLimitDrawn, AnnualLimitRestored, CoverageAttached
from domain.terms import JST, denial_wording, term_set

Lang = Literal["ja", "en"]
LANGS: tuple[Lang, ...] = ("ja", "en")


class Line(BaseModel):
    """One decision (or one disagreement) in words, with its figures."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["filed", "assessed", "excluded", "payout", "reversal", "closed",
                  "withdrawn", "summary", "mismatch"]
    recorded_at: datetime | None
    text: str
    figures: dict[str, int] = {}


class Explanation(BaseModel):
    model_config = ConfigDict(frozen=True)

    claim_id: str
    lang: Lang
    lines: list[Line]

    @property
    def mismatches(self) -> list[Line]:
        return [line for line in self.lines if line.kind == "mismatch"]

    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


def yen(amount: int, lang: Lang) -> str:
    return f"{amount:,}円" if lang == "ja" else f"{amount:,} yen"


def day(value: date, lang: Lang) -> str:
    """A date as the terms write it (2006年7月1日), or ISO in English."""
    return f"{value.year}年{value.month}月{value.day}日" if lang == "ja" else value.isoformat()


def _recorded(event: LedgerEvent, lang: Lang) -> str:
    when = event.timestamp.astimezone(JST)
    return f"{day(when.date(), lang)} {when:%H:%M}"


_FIELDS_JA = {
    "loss": "損害額", "deductible": "免責金額", "loss_after_deductible": "免責控除後",
    "per_incident_limit": "1事故限度額", "payable_for_incident": "1事故の支払対象額",
    "paid_before": "既払額", "payable_on_claim": "未払額", "annual_limit": "年間限度額",
    "annual_remaining_before": "年間残額", "requested": "内払請求額", "amount": "支払額",
    "annual_remaining_after": "残額",
}
_STATUS = {"open": ("処理中", "open"), "denied": ("支払対象外", "denied"),
           "closed": ("終了", "closed"), "withdrawn": ("取下げ", "withdrawn")}


def _mismatch(field: str, recorded: int | None, recomputed: int | None, where: str,
              lang: Lang) -> Line:
    def shown(v: int | None) -> str:
        return "-" if v is None else yen(v, lang)

    if lang == "ja":
        text = (f"※ {where}: 記録された{_FIELDS_JA.get(field, field)} {shown(recorded)} は"
                f"約款からの再計算 {shown(recomputed)} と一致しません")
    else:
        text = (f"* {where}: the recorded {field.replace('_', ' ')} of {shown(recorded)} "
                f"disagrees with the recomputation from the terms: {shown(recomputed)}")
    return Line(kind="mismatch", recorded_at=None, text=text)


def payout_text(b: PayoutBreakdown, lang: Lang) -> str:
    """The payout rule's working: the worked-example form of the terms."""
    def y(amount: int) -> str:
        return yen(amount, lang)

    capped = b.loss_after_deductible > b.per_incident_limit
    if lang == "ja":
        parts = [f"損害額 {y(b.loss)} − 免責金額 {y(b.deductible)} = {y(b.loss_after_deductible)}",
                 f"1事故限度額 {y(b.per_incident_limit)}" + ("まで" if capped else "以内")]
        if b.paid_before:
            parts.append(f"既払額 {y(b.paid_before)} → 未払額 {y(b.payable_on_claim)}")
        if b.requested is not None:
            parts.append(f"内払請求額 {y(b.requested)}")
        parts.append(f"年間残額 {y(b.annual_remaining_before)} → 支払額 {y(b.amount)}, "
                     f"残額 {y(b.annual_remaining_after)}")
    else:
        parts = [f"loss {y(b.loss)} − deductible {y(b.deductible)} = "
                 f"{y(b.loss_after_deductible)}",
                 (f"capped at the per-incident limit of {y(b.per_incident_limit)}" if capped
                  else f"within the per-incident limit of {y(b.per_incident_limit)}")]
        if b.paid_before:
            parts.append(f"already paid {y(b.paid_before)} → still payable "
                         f"{y(b.payable_on_claim)}")
        if b.requested is not None:
            parts.append(f"interim payout asked for {y(b.requested)}")
        parts.append(f"annual remaining {y(b.annual_remaining_before)} → paid {y(b.amount)}, "
                     f"remaining {y(b.annual_remaining_after)}")
    return "; ".join(parts)


class _Year:
    """The policy year's coverage as its own events tell it, up to each draw."""

    def __init__(self, year_events: Sequence[LedgerEvent], claim: ClaimFiled) -> None:
        self.attached = next(
            (e for e in year_events if isinstance(e, CoverageAttached)
             and e.coverage == claim.coverage), None)
        self.remaining_before: dict[tuple[str, str, str], int] = {}
        self.recorded: dict[tuple[str, str, str], AnnualLimitDrawn | AnnualLimitRestored] = {}
        remaining = self.attached.annual_limit if self.attached else 0
        for e in year_events:
            if isinstance(e, AnnualLimitDrawn | AnnualLimitRestored) and \
                    e.coverage == claim.coverage:
                kind = "drawn" if isinstance(e, AnnualLimitDrawn) else "restored"
                key = (kind, e.claim_id, e.payout_id)
                self.remaining_before[key] = remaining
                self.recorded[key] = e
                remaining += -e.amount if kind == "drawn" else e.amount


def explain(claim_events: Sequence[ClaimEvent], year_events: Sequence[LedgerEvent],
            lang: Lang) -> Explanation:
    """The claim's decisions, each with its figures, and any disagreement."""
    filed = claim_events[0]
    assert isinstance(filed, ClaimFiled)
    year = _Year(year_events, filed)
    lines: list[Line] = []
    state: Claim | None = None
    for event in claim_events:
        lines.extend(_explain_event(event, state, year, lang))
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


def _explain_event(event: ClaimEvent, state: Claim | None, year: _Year,
                   lang: Lang) -> list[Line]:
    at = _recorded(event, lang)
    if isinstance(event, ClaimFiled):
        return _filed(event, year, at, lang)
    assert state is not None
    if isinstance(event, LossAssessed):
        text = (f"{at} 再査定: 損害額 {yen(event.loss_before, lang)} → "
                f"{yen(event.loss_amount, lang)}" if lang == "ja" else
                f"{at} Re-assessed: loss {yen(event.loss_before, lang)} → "
                f"{yen(event.loss_amount, lang)}")
        if event.reason:
            text += f" ({event.reason})"
        return [Line(kind="assessed", recorded_at=event.timestamp, text=text,
                     figures={"loss": event.loss_amount})]
    if isinstance(event, ExclusionApplied):
        return _excluded(event, state, at, lang)
    if isinstance(event, PayoutIssued):
        return _payout(event, state, year, at, lang)
    if isinstance(event, PayoutReversed):
        return _reversal(event, year, at, lang)
    closing = isinstance(event, ClaimClosed)
    assert closing or isinstance(event, ClaimWithdrawn)
    if lang == "ja":
        text = f"{at} {'請求終了' if closing else '請求取下げ'} ({event.reason})"  # type: ignore[attr-defined]
    else:
        text = f"{at} {'Closed' if closing else 'Withdrawn'} ({event.reason})"  # type: ignore[attr-defined]
    return [Line(kind="closed" if closing else "withdrawn", recorded_at=event.timestamp,
                 text=text)]


def _filed(event: ClaimFiled, year: _Year, at: str, lang: Lang) -> list[Line]:
    terms = term_set(event.terms_version)
    cover = terms.coverage(event.coverage)
    cause = terms.cause(event.cause)
    cause_text = (cause.ja if lang == "ja" else cause.en) if cause else event.cause
    if lang == "ja":
        text = (f"{at} 受付: {cover.name_ja} (第{event.policy_year}保険年度), 原因 {cause_text}, "
                f"事故日 {day(event.incident_date, lang)}")
        if event.claim_made_on:
            text += f", 賠償請求日 {day(event.claim_made_on, lang)}"
        text += (f", 損害額 {yen(event.loss_amount, lang)}; 免責金額 "
                 f"{yen(event.deductible, lang)}, 1事故限度額 "
                 f"{yen(event.per_incident_limit, lang)}")
    else:
        text = (f"{at} Filed: {cover.name_en} (policy year {event.policy_year}), cause "
                f"{cause_text}, incident on {day(event.incident_date, lang)}")
        if event.claim_made_on:
            text += f", claim made on {day(event.claim_made_on, lang)}"
        text += (f", loss {yen(event.loss_amount, lang)}; deductible "
                 f"{yen(event.deductible, lang)}, per-incident limit "
                 f"{yen(event.per_incident_limit, lang)}")
    figures = {"loss": event.loss_amount, "deductible": event.deductible,
               "per_incident_limit": event.per_incident_limit}
    if year.attached is not None:
        figures["annual_limit"] = year.attached.annual_limit
    lines = [Line(kind="filed", recorded_at=event.timestamp, text=text, figures=figures)]
    where = "ClaimFiled"
    if year.attached is None:
        lines.append(_mismatch("annual_limit", None, None, where, lang))
        return lines
    for field in ("deductible", "per_incident_limit"):
        recorded, in_force = getattr(event, field), getattr(year.attached, field)
        if recorded != in_force:
            lines.append(_mismatch(field, recorded, in_force, where, lang))
    return lines


def _excluded(event: ExclusionApplied, state: Claim, at: str, lang: Lang) -> list[Line]:
    cover = term_set(state.terms_version).coverage(state.coverage)
    wording = denial_wording(cover, event.exclusion)
    if lang == "ja":
        text = (f"{at} 支払対象外: 免責事由 {event.exclusion}「{event.wording_ja}」"
                f" ({event.reason})")
    else:
        text = (f"{at} Denied under exclusion {event.exclusion}: “{event.wording_en}” "
                f"({event.reason})")
    lines = [Line(kind="excluded", recorded_at=event.timestamp, text=text)]
    if wording is None or wording.ja != event.wording_ja:
        expected = wording.ja if wording else "-"
        lines.append(Line(kind="mismatch", recorded_at=None, text=(
            f"※ ExclusionApplied: 記録された文言「{event.wording_ja}」は約款の文言"
            f"「{expected}」と一致しません" if lang == "ja" else
            f"* ExclusionApplied: the recorded wording “{event.wording_ja}” is not the "
            f"terms' wording “{expected}”")))
    return lines


def _payout(event: PayoutIssued, state: Claim, year: _Year, at: str,
            lang: Lang) -> list[Line]:
    b = event.breakdown
    label = "支払" if lang == "ja" else "Payout"
    lines = [Line(kind="payout", recorded_at=event.timestamp,
                  text=f"{at} {label} {event.payout_id}: {payout_text(b, lang)}",
                  figures={k: v for k, v in b.model_dump().items() if v is not None})]
    where = f"PayoutIssued {event.payout_id}"
    key = ("drawn", state.claim_id, event.payout_id)
    if year.attached is None or key not in year.remaining_before:
        lines.append(_mismatch("annual_remaining_before", b.annual_remaining_before, None,
                               where, lang))
        return lines
    cover = year.attached
    try:
        again = calculate_payout(
            loss=state.loss, deductible=cover.deductible,
            per_incident_limit=cover.per_incident_limit, paid_before=state.paid,
            annual_limit=cover.annual_limit,
            annual_remaining=Yen(year.remaining_before[key]), requested=b.requested)
    except PayoutRefused:
        lines.append(_mismatch("amount", b.amount, 0, where, lang))
        return lines
    for field, recorded in b.model_dump().items():
        recomputed = getattr(again, field)
        if recorded != recomputed:
            lines.append(_mismatch(field, recorded, recomputed, where, lang))
    if event.amount != b.amount:
        lines.append(_mismatch("amount", event.amount, b.amount, where, lang))
    drawn = year.recorded[key]
    for field, recorded, recomputed in (
            ("amount", drawn.amount, again.amount),
            ("annual_remaining_after", drawn.remaining_after, again.annual_remaining_after)):
        if recorded != recomputed:
            lines.append(_mismatch(field, recorded, recomputed, "AnnualLimitDrawn", lang))
    return lines


def _reversal(event: PayoutReversed, year: _Year, at: str, lang: Lang) -> list[Line]:
    key = ("restored", event.claim_id, event.payout_id)
    restored = year.recorded.get(key)
    before = year.remaining_before.get(key)
    if lang == "ja":
        text = f"{at} 支払 {event.payout_id} の取消: {yen(event.amount, lang)}"
        if before is not None:
            text += (f"; 年間残額 {yen(before, lang)} → "
                     f"{yen(before + event.amount, lang)}")
    else:
        text = f"{at} Payout {event.payout_id} reversed: {yen(event.amount, lang)}"
        if before is not None:
            text += (f"; annual remaining {yen(before, lang)} → "
                     f"{yen(before + event.amount, lang)}")
    text += f" ({event.reason})"
    lines = [Line(kind="reversal", recorded_at=event.timestamp, text=text,
                  figures={"amount": event.amount})]
    if restored is None or before is None:
        lines.append(_mismatch("annual_remaining_after", None, None,
                               f"PayoutReversed {event.payout_id}", lang))
    elif restored.remaining_after != before + event.amount:
        lines.append(_mismatch("annual_remaining_after", restored.remaining_after,
                               before + event.amount, "AnnualLimitRestored", lang))
    return lines
