"""The words and figures of an explanation: its lines, money and dates as the
terms write them (Japanese) or in English, and the payout rule's working.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from domain.events import LedgerEvent
from domain.payout import PayoutBreakdown
from domain.terms import JST

Lang = Literal["ja", "en"]
LANGS: tuple[Lang, ...] = ("ja", "en")


class Line(BaseModel):
    """One decision (or one disagreement) in words, with its figures."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["filed", "assessed", "excluded", "payout", "reversal", "closed",
                  "withdrawn", "summary", "mismatch", "time_bar", "partly_excluded",
                  "denial_withdrawn", "reopened", "reserve", "payout_requested",
                  "payout_approved", "payout_rejected", "recovery"]
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


def when_recorded(event: LedgerEvent, lang: Lang) -> str:
    """When the event was recorded, in Japan time."""
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
    "held_before": "承認待ちの留保額", "held": "留保額", "released": "解除額",
    "remaining_before": "年間残額", "remaining_after": "残額",
    "reserve_before": "変更前の支払備金", "reserve": "支払備金", "change": "支払備金の増減",
    "insured_share": "被保険者分", "insurer_share": "保険会社分",
    "paid": "支払済額", "insured_unpaid_before": "被保険者の未填補損害",
    "insurer_recovered_before": "保険会社の既回収額",
}


def mismatch(field: str, recorded: int | None, recomputed: int | None, where: str,
             lang: Lang) -> Line:
    """A line saying that the figure ``field`` recorded in ``where`` is not what
    the terms recompute (None: there is no figure)."""
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
        if b.paid_before or b.held_before:
            held = f", 承認待ちの留保 {y(b.held_before)}" if b.held_before else ""
            parts.append(f"既払額 {y(b.paid_before)}{held} → 未払額 {y(b.payable_on_claim)}")
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
        if b.paid_before or b.held_before:
            held = f", held for approval {y(b.held_before)}" if b.held_before else ""
            parts.append(f"already paid {y(b.paid_before)}{held} → still payable "
                         f"{y(b.payable_on_claim)}")
        if b.requested is not None:
            parts.append(f"interim payout asked for {y(b.requested)}")
        parts.append(f"annual remaining {y(b.annual_remaining_before)} → paid {y(b.amount)}, "
                     f"remaining {y(b.annual_remaining_after)}")
    return "; ".join(parts)
