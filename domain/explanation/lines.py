"""The lines an explanation gives for each event of a claim, each checked
against what the terms and the records recompute (a disagreement gets a line
of its own).
"""

from __future__ import annotations

from datetime import date

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
    PayoutApproved,
    PayoutIssued,
    PayoutRejected,
    PayoutRequested,
    PayoutReversed,
    RecoveryRecorded,
    ReserveSet,
    notice_time_barred,
    time_bar_ends,
)
from domain.explanation.checks import check_breakdown
from domain.explanation.office import office_lines
from domain.explanation.records import IncidentRecord, YearRecord
from domain.explanation.words import Lang, Line, day, mismatch, payout_text, when_recorded, yen
from domain.money import ZERO
from domain.terms import NOTICE_TIME_BAR, denial_wording, notice_channel, term_set


def event_lines(event: ClaimEvent, state: Claim | None, year: YearRecord,
                incident: IncidentRecord, lang: Lang) -> list[Line]:
    """The lines of one of the claim's events (``state``: the claim before it)."""
    at = when_recorded(event, lang)
    if isinstance(event, ClaimFiled):
        return _filed(event, year, at, lang)
    assert state is not None
    if isinstance(event, ReserveSet | PayoutRequested | PayoutApproved | PayoutRejected
                  | RecoveryRecorded):
        return office_lines(event, state, year, at, lang)
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


def _filed(event: ClaimFiled, year: YearRecord, at: str, lang: Lang) -> list[Line]:
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
        lines.append(mismatch("annual_limit", None, None, where, lang))
        return lines
    for field in ("deductible", "per_incident_limit"):
        recorded, in_force = getattr(event, field), getattr(year.attached, field)
        if recorded != in_force:
            lines.append(mismatch(field, recorded, in_force, where, lang))
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
        lines.append(mismatch("excluded", event.excluded_total,
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


def _payout(event: PayoutIssued, state: Claim, year: YearRecord, incident: IncidentRecord,
            at: str, lang: Lang) -> list[Line]:
    b = event.breakdown
    label = "支払" if lang == "ja" else "Payout"
    lines = [Line(kind="payout", recorded_at=event.timestamp,
                  text=f"{at} {label} {event.payout_id}: {payout_text(b, lang)}",
                  figures={k: v for k, v in b.model_dump().items() if v is not None})]
    where = f"PayoutIssued {event.payout_id}"
    key = ("drawn", state.claim_id, event.payout_id)
    if year.attached is None or key not in year.remaining_before:
        lines.append(mismatch("annual_remaining_before", b.annual_remaining_before, None,
                               where, lang))
        return lines
    taken = others = ZERO
    if incident.incident_id is not None:
        before = incident.before.get(("drawn", event.payout_id))
        if before is None:
            lines.append(mismatch("incident_paid_by_others", b.incident_paid_by_others,
                                   None, where, lang))
            return lines
        taken = before.deductible_taken_before(state.claim_id)
        others = before.paid_by_others(state.claim_id)
        drawn_on_incident = incident.recorded[("drawn", event.payout_id)]
        if drawn_on_incident.amount != b.amount:
            lines.append(mismatch("amount", drawn_on_incident.amount, b.amount,
                                   "IncidentDrawn", lang))
    again, lines_again = check_breakdown(b, state, year, key, taken, others, where, lang)
    lines += lines_again
    if again is None:
        return lines
    if event.amount != b.amount:
        lines.append(mismatch("amount", event.amount, b.amount, where, lang))
    drawn = year.recorded[key]
    for field, recorded, recomputed in (
            ("amount", drawn.amount, again.amount),
            ("annual_remaining_after", drawn.remaining_after, again.annual_remaining_after)):
        if recorded != recomputed:
            lines.append(mismatch(field, recorded, recomputed, "AnnualLimitDrawn", lang))
    return lines


def _reversal(event: PayoutReversed, year: YearRecord, incident: IncidentRecord,
              at: str, lang: Lang) -> list[Line]:
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
        lines.append(mismatch("annual_remaining_after", None, None,
                               f"PayoutReversed {event.payout_id}", lang))
    elif restored.remaining_after != before + event.amount:
        lines.append(mismatch("annual_remaining_after", restored.remaining_after,
                               before + event.amount, "AnnualLimitRestored", lang))
    return lines
