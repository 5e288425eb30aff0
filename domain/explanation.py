"""Explanations: a claim's decisions in words and figures, in Japanese or English.

``explain`` reads a claim's events and its policy year's events, and for every
payout recomputes the payout rule from the terms copied into
``CoverageAttached`` (not from today's terms), the claim's assessed loss, the
part of it exclusions took and what was paid before, and the annual remaining
replayed from the year's own draws and restorations. For a claim of an
incident of several claims, the incident's own events say what its other
claims had taken of the deductible and been paid against the per-incident
limit before each payout; the filing, each payout and each reversal say so
too. A notice that came after the 3-year time bar gets a line of its own. Each
figure recorded in an event that disagrees with the recomputation gets a line
of its own. Pure: no clock, no storage.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from domain import claim as claim_module
from domain import incident as incident_module
from domain.claim import (
    Claim,
    ClaimClosed,
    ClaimEvent,
    ClaimFiled,
    ClaimReopened,
    ClaimWithdrawn,
    DenialWithdrawn,
    ExclusionApplied,
    LossAssessed,
    PartialExclusionApplied,
    PayoutIssued,
    PayoutReversed,
    notice_time_barred,
    time_bar_ends,
)
from domain.errors import PayoutRefused
from domain.events import LedgerEvent
from domain.incident import Incident, IncidentDrawn, IncidentRestored
from domain.money import ZERO, Yen
from domain.payout import PayoutBreakdown, calculate_payout
from domain.policy_year import AnnualLimitDrawn, AnnualLimitRestored, CoverageAttached
from domain.terms import JST, NOTICE_TIME_BAR, denial_wording, notice_channel, term_set

Lang = Literal["ja", "en"]
LANGS: tuple[Lang, ...] = ("ja", "en")


class Line(BaseModel):
    """One decision (or one disagreement) in words, with its figures."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["filed", "assessed", "excluded", "payout", "reversal", "closed",
                  "withdrawn", "summary", "mismatch", "time_bar", "partly_excluded",
                  "denial_withdrawn", "reopened"]
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
    "loss": "損害額", "excluded": "一部免責額", "loss_after_exclusion": "一部免責控除後",
    "deductible": "免責金額", "loss_after_deductible": "免責控除後",
    "per_incident_limit": "1事故限度額", "payable_for_incident": "1事故の支払対象額",
    "paid_before": "既払額", "payable_on_claim": "未払額", "annual_limit": "年間限度額",
    "annual_remaining_before": "年間残額", "requested": "内払請求額", "amount": "支払額",
    "annual_remaining_after": "残額",
    "deductible_taken_by_others": "同一事故の先の請求で充当済の免責金額",
    "incident_paid_by_others": "同一事故の他の請求への支払",
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

    taken, others = b.deductible_taken_by_others, b.incident_paid_by_others
    capped = b.loss_after_deductible > b.per_incident_limit - others
    if lang == "ja":
        excluded = f" − 一部免責 {y(b.excluded)}" if b.excluded else ""
        parts = [f"損害額 {y(b.loss)}{excluded} − 免責金額 {y(b.deductible)}"
                 + (f" (うち同一事故の先の請求で充当済 {y(taken)})" if taken else "")
                 + f" = {y(b.loss_after_deductible)}",
                 f"1事故限度額 {y(b.per_incident_limit)}"
                 + (f" (同一事故の他の請求への支払 {y(others)}、残り "
                    f"{y(b.per_incident_limit - others)})" if others else "")
                 + ("まで" if capped else "以内")]
        if b.paid_before:
            parts.append(f"既払額 {y(b.paid_before)} → 未払額 {y(b.payable_on_claim)}")
        if b.requested is not None:
            parts.append(f"内払請求額 {y(b.requested)}")
        parts.append(f"年間残額 {y(b.annual_remaining_before)} → 支払額 {y(b.amount)}, "
                     f"残額 {y(b.annual_remaining_after)}")
    else:
        excluded = f" − excluded {y(b.excluded)}" if b.excluded else ""
        parts = [f"loss {y(b.loss)}{excluded} − deductible {y(b.deductible)}"
                 + (f" (of which {y(taken)} already taken by the incident's earlier claims)"
                    if taken else "")
                 + f" = {y(b.loss_after_deductible)}",
                 (f"capped at the per-incident limit of {y(b.per_incident_limit)}" if capped
                  else f"within the per-incident limit of {y(b.per_incident_limit)}")
                 + (f" (the incident's other claims are paid {y(others)}, leaving "
                    f"{y(b.per_incident_limit - others)})" if others else "")]
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


class _Incident:
    """The incident's record as its own events tell it, before each of the
    claim's draws and restorations (nothing for a claim that is its own
    incident)."""

    def __init__(self, incident_events: Sequence[LedgerEvent], claim: ClaimFiled) -> None:
        self.incident_id = claim.incident_id
        self.before: dict[tuple[str, str], Incident] = {}
        self.recorded: dict[tuple[str, str], IncidentDrawn | IncidentRestored] = {}
        state: Incident | None = None
        for e in incident_events:
            if isinstance(e, IncidentDrawn | IncidentRestored) and state is not None and \
                    e.claim_id == claim.claim_id:
                key = ("drawn" if isinstance(e, IncidentDrawn) else "restored", e.payout_id)
                self.before[key] = state
                self.recorded[key] = e
            state = incident_module.evolve(state, e)


def explain(claim_events: Sequence[ClaimEvent], year_events: Sequence[LedgerEvent],
            lang: Lang, incident_events: Sequence[LedgerEvent] = ()) -> Explanation:
    """The claim's decisions, each with its figures, and any disagreement
    (``incident_events``: those of the incident the claim is one of, if any)."""
    filed = claim_events[0]
    assert isinstance(filed, ClaimFiled)
    year = _Year(year_events, filed)
    incident = _Incident(incident_events, filed)
    lines: list[Line] = []
    state: Claim | None = None
    for event in claim_events:
        lines.extend(_explain_event(event, state, year, incident, lang))
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
                   incident: _Incident, lang: Lang) -> list[Line]:
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
    if isinstance(event, PartialExclusionApplied):
        return _excluded_in_part(event, state, at, lang)
    if isinstance(event, PayoutIssued):
        return _payout(event, state, year, incident, at, lang)
    if isinstance(event, PayoutReversed):
        return _reversal(event, year, incident, at, lang)
    if isinstance(event, DenialWithdrawn):
        text = (f"{at} 免責の取消: 免責事由 {event.exclusion} による支払対象外を取り消し、"
                f"請求を再開 ({event.reason})" if lang == "ja" else
                f"{at} Denial withdrawn: the denial under exclusion {event.exclusion} is "
                f"withdrawn and the claim is open again ({event.reason})")
        return [Line(kind="denial_withdrawn", recorded_at=event.timestamp, text=text)]
    if isinstance(event, ClaimReopened):
        text = (f"{at} 請求の再開: 第{event.policy_year}保険年度のまま ({event.reason})"
                if lang == "ja" else
                f"{at} Reopened: it still draws on policy year {event.policy_year} "
                f"({event.reason})")
        return [Line(kind="reopened", recorded_at=event.timestamp, text=text)]
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
        if event.incident_id is not None:
            text += (f"; 同一事故 {event.incident_id} の請求 (免責金額と1事故限度額を"
                     "同一事故の全請求で共有)")
        text += _notice(event, lang)
    else:
        text = (f"{at} Filed: {cover.name_en} (policy year {event.policy_year}), cause "
                f"{cause_text}, incident on {day(event.incident_date, lang)}")
        if event.claim_made_on:
            text += f", claim made on {day(event.claim_made_on, lang)}"
        text += (f", loss {yen(event.loss_amount, lang)}; deductible "
                 f"{yen(event.deductible, lang)}, per-incident limit "
                 f"{yen(event.per_incident_limit, lang)}")
        if event.incident_id is not None:
            text += (f"; a claim of incident {event.incident_id} (its claims share one "
                     "deductible and one per-incident limit)")
        text += _notice(event, lang)
    figures = {"loss": event.loss_amount, "deductible": event.deductible,
               "per_incident_limit": event.per_incident_limit}
    if year.attached is not None:
        figures["annual_limit"] = year.attached.annual_limit
    lines = [Line(kind="filed", recorded_at=event.timestamp, text=text, figures=figures)]
    if event.notified_on is not None and notice_time_barred(event.incident_date,
                                                            event.notified_on):
        lines.append(_time_bar(event.incident_date, event.notified_on, lang))
    where = "ClaimFiled"
    if year.attached is None:
        lines.append(_mismatch("annual_limit", None, None, where, lang))
        return lines
    for field in ("deductible", "per_incident_limit"):
        recorded, in_force = getattr(event, field), getattr(year.attached, field)
        if recorded != in_force:
            lines.append(_mismatch(field, recorded, in_force, where, lang))
    return lines


def _notice(event: ClaimFiled, lang: Lang) -> str:
    """When and how the insurer was told (nothing for a claim filed before
    notices were recorded: unknown)."""
    if event.notified_on is None:
        return ""
    channel = notice_channel(event.channel) if event.channel else None
    if lang == "ja":
        how = f" ({channel.ja})" if channel else ""
        return f"; 通知日 {day(event.notified_on, lang)}{how}"
    how = f" (by {channel.en.lower()})" if channel else ""
    return f"; insurer told on {day(event.notified_on, lang)}{how}"


def _time_bar(incident: date, notified_on: date, lang: Lang) -> Line:
    ends = time_bar_ends(incident)
    if lang == "ja":
        text = (f"注意 (時効): 通知日 {day(notified_on, 'ja')} は事故日 {day(incident, 'ja')} "
                f"から3年 ({day(ends, 'ja')} まで) を過ぎています。{NOTICE_TIME_BAR.ja}")
    else:
        text = (f"Note (time bar): notified on {day(notified_on, 'en')}, more than 3 years "
                f"after the incident on {day(incident, 'en')} (the 3 years ended "
                f"{day(ends, 'en')}). {NOTICE_TIME_BAR.en}")
    return Line(kind="time_bar", recorded_at=None, text=text)


def _excluded_in_part(event: PartialExclusionApplied, state: Claim, at: str,
                      lang: Lang) -> list[Line]:
    if lang == "ja":
        text = (f"{at} 一部免責: 免責事由 {event.exclusion}「{event.wording_ja}」により "
                f"{yen(event.amount, lang)} を損害額から除外 (除外合計 "
                f"{yen(event.excluded_total, lang)}) ({event.reason})")
    else:
        text = (f"{at} Excluded in part under {event.exclusion}: “{event.wording_en}”: "
                f"{yen(event.amount, lang)} of the loss (excluded in all "
                f"{yen(event.excluded_total, lang)}) ({event.reason})")
    lines = [Line(kind="partly_excluded", recorded_at=event.timestamp, text=text,
                  figures={"amount": event.amount, "excluded": event.excluded_total})]
    if event.excluded_total != state.excluded + event.amount:
        lines.append(_mismatch("excluded", event.excluded_total,
                               state.excluded + event.amount,
                               "PartialExclusionApplied", lang))
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


def _payout(event: PayoutIssued, state: Claim, year: _Year, incident: _Incident, at: str,
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
    taken = others = ZERO
    if incident.incident_id is not None:
        before = incident.before.get(("drawn", event.payout_id))
        if before is None:
            lines.append(_mismatch("incident_paid_by_others", b.incident_paid_by_others,
                                   None, where, lang))
            return lines
        taken = before.deductible_taken_before(state.claim_id)
        others = before.paid_by_others(state.claim_id)
        drawn_on_incident = incident.recorded[("drawn", event.payout_id)]
        if drawn_on_incident.amount != b.amount:
            lines.append(_mismatch("amount", drawn_on_incident.amount, b.amount,
                                   "IncidentDrawn", lang))
    try:
        again = calculate_payout(
            loss=state.loss, deductible=cover.deductible,
            per_incident_limit=cover.per_incident_limit, paid_before=state.paid,
            annual_limit=cover.annual_limit,
            annual_remaining=Yen(year.remaining_before[key]), requested=b.requested,
            excluded=state.excluded,
            deductible_taken_by_others=taken, incident_paid_by_others=others)
    except PayoutRefused:
        lines.append(_mismatch("amount", b.amount, 0, where, lang))
        return lines
    for field in PayoutBreakdown.model_fields:
        recorded, recomputed = getattr(b, field), getattr(again, field)
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


def _reversal(event: PayoutReversed, year: _Year, incident: _Incident, at: str,
              lang: Lang) -> list[Line]:
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
    restored_on_incident = incident.recorded.get(("restored", event.payout_id))
    if restored_on_incident is not None:
        text += (f"; 同一事故の支払 {yen(restored_on_incident.paid_before, lang)} → "
                 f"{yen(restored_on_incident.paid_after, lang)}" if lang == "ja" else
                 f"; paid on the incident {yen(restored_on_incident.paid_before, lang)} → "
                 f"{yen(restored_on_incident.paid_after, lang)}")
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
