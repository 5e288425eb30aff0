"""The lines an explanation gives for the claims office's money on a claim: its
case reserve (支払備金), payouts requested, approved or rejected, and money
that came back (recoveries), each checked against what the claim and its
year's records recompute (a disagreement gets a line of its own).
"""

from __future__ import annotations

from domain.claim import (
    Claim,
    ClaimEvent,
    ClaimStatus,
    HoldStatus,
    PayoutApproved,
    PayoutRejected,
    PayoutRequested,
    RecoveryRecorded,
    ReserveSet,
)
from domain.claim.recoveries import SHARED_WITH_INSURED, split
from domain.errors import RuleViolated
from domain.explanation.checks import check_breakdown, check_year_change
from domain.explanation.records import YearRecord
from domain.explanation.words import Lang, Line, day, mismatch, payout_text, yen
from domain.office_commands import RecoveryKind, ReserveReason

_REASONS: dict[str, tuple[str, str]] = {
    ReserveReason.INITIAL: ("受付時の当初設定 (支払対象額)",
                            "initial reserve at filing: what is payable"),
    ReserveReason.REASSESSED: ("再評価", "reassessed"),
    ReserveReason.LITIGATION: ("訴訟中", "in litigation"),
    ReserveReason.RECOVERY_EXPECTED: ("回収見込み", "a recovery expected"),
    ReserveReason.OTHER: ("その他", "other"),
    ReserveReason.CLOSED: ("請求終了により取崩し", "released: the claim is closed"),
    ReserveReason.WITHDRAWN: ("請求取下げにより取崩し", "released: the claim is withdrawn"),
    ReserveReason.DENIED: ("支払対象外により取崩し", "released: the claim is denied"),
    ReserveReason.REOPENED: ("請求の再開により未払額に戻す",
                             "the claim is open again: back to what is still payable"),
}
_ENDED = (ReserveReason.CLOSED, ReserveReason.WITHDRAWN, ReserveReason.DENIED)
_KINDS: dict[str, tuple[str, str]] = {
    RecoveryKind.SUBROGATION: ("代位 (保険法25条)", "subrogation (Insurance Act art. 25)"),
    RecoveryKind.SALVAGE: ("残存物 (保険法24条)", "salvage (Insurance Act art. 24)"),
    RecoveryKind.OTHER_INSURANCE: ("他の保険契約からの分担", "another insurer's share"),
    RecoveryKind.OVERPAYMENT: ("過払金の返還", "an overpayment returned"),
}


def office_lines(event: ClaimEvent, state: Claim, year: YearRecord, at: str,
                 lang: Lang) -> list[Line]:
    """The lines of one of the claim's money events (``state``: the claim before it)."""
    if isinstance(event, ReserveSet):
        return _reserve(event, state, at, lang)
    if isinstance(event, PayoutRequested):
        return _requested(event, state, year, at, lang)
    if isinstance(event, PayoutApproved | PayoutRejected):
        return _decided(event, state, year, at, lang)
    assert isinstance(event, RecoveryRecorded), type(event).__name__
    return _recovery(event, state, at, lang)


def _words(table: dict[str, tuple[str, str]], key: str, lang: Lang) -> str:
    ja, en = table.get(key, (key, key))
    return ja if lang == "ja" else en


def _signed(amount: int, lang: Lang) -> str:
    return f"{amount:+,}円" if lang == "ja" else f"{amount:+,} yen"


def _reserve(event: ReserveSet, state: Claim, at: str, lang: Lang) -> list[Line]:
    none = "なし" if lang == "ja" else "none"
    before = none if event.reserve_before is None else yen(event.reserve_before, lang)
    reason = _words(_REASONS, event.reason, lang)
    if lang == "ja":
        text = (f"{at} 支払備金: {before} → {yen(event.reserve, lang)} "
                f"({_signed(event.change, lang)}); {reason}")
        if event.effective_on is not None:
            text += f"; 基準日 {day(event.effective_on, lang)}"
    else:
        text = (f"{at} Case reserve: {before} → {yen(event.reserve, lang)} "
                f"({_signed(event.change, lang)}); {reason}")
        if event.effective_on is not None:
            text += f"; as of {day(event.effective_on, lang)}"
    if event.note:
        text += f" ({event.note})"
    figures = {"reserve": event.reserve, "change": event.change}
    if event.reserve_before is not None:
        figures["reserve_before"] = event.reserve_before
    lines = [Line(kind="reserve", recorded_at=event.timestamp, text=text, figures=figures)]
    checks: list[tuple[str, int | None, int | None]] = [
        ("reserve_before", event.reserve_before, state.reserve),
        ("change", event.change, int(event.reserve) - int(event.reserve_before or 0))]
    # The ledger's own reserves are 0 when a claim ends and what is still payable
    # at filing and reopening; any other is at most what is still payable.
    outstanding = state.outstanding if state.status is ClaimStatus.OPEN else 0
    if event.reason in _ENDED:
        checks.append(("reserve", event.reserve, 0))
    elif event.reason in (ReserveReason.INITIAL, ReserveReason.REOPENED) or \
            event.reserve > outstanding:
        checks.append(("reserve", event.reserve, outstanding))
    lines += [mismatch(field, recorded, again, "ReserveSet", lang)
              for field, recorded, again in checks if recorded != again]
    return lines


def _requested(event: PayoutRequested, state: Claim, year: YearRecord, at: str,
               lang: Lang) -> list[Line]:
    b, who, pid = event.breakdown, event.actor, event.payout_id
    amount, limit = yen(event.amount, lang), yen(event.pay_up_to, lang)
    if lang == "ja":
        text = f"{at} 支払請求 {pid}: {who} が {amount} を請求; " + (
            f"請求者の支払権限 {limit} 以内のため承認を待たずに支払" if event.within_authority
            else f"請求者の支払権限 {limit} を超えるため承認待ちとして留保: "
                 f"{payout_text(b, lang)}")
        if event.due_on is not None:
            text += f"; 支払期日 {day(event.due_on, lang)}"
    else:
        text = f"{at} Payout {pid} requested by {who}: {amount}; " + (
            f"within the requester's authority to pay up to {limit}: issued at once"
            if event.within_authority else
            f"above the requester's authority to pay up to {limit}: held for approval: "
            f"{payout_text(b, lang)}")
        if event.due_on is not None:
            text += f"; due on {day(event.due_on, lang)}"
    figures = {k: v for k, v in b.model_dump().items() if v is not None}
    lines = [Line(kind="payout_requested", recorded_at=event.timestamp, text=text,
                  figures={**figures, "pay_up_to": event.pay_up_to})]
    where = f"PayoutRequested {pid}"
    if event.amount != b.amount:
        lines.append(mismatch("amount", event.amount, b.amount, where, lang))
    within = event.within_authority
    if within != (event.amount <= event.pay_up_to):
        lines.append(_flag(where, (
            f"{'即時支払' if within else '留保'}と記録されていますが、{amount} は請求者の"
            f"支払権限 {limit} を{'超えています' if within else '超えていません'}",
            f"recorded as {'issued at once' if within else 'held'}, but {amount} is "
            f"{'above' if within else 'within'} the requester's authority to pay up to "
            f"{limit}"), lang))
    if event.within_authority:
        return lines  # the payout that follows is recomputed on its own line
    key = ("held", state.claim_id, pid)
    if year.attached is None or key not in year.remaining_before:
        lines.append(mismatch("annual_remaining_before", b.annual_remaining_before, None,
                              where, lang))
        return lines
    _, again = check_breakdown(b, state, year, key, b.deductible_taken_by_others,
                               b.incident_paid_by_others, where, lang)
    return lines + again + check_year_change(year, key, event.amount, "AnnualLimitHeld",
                                             lang)


def _decided(event: PayoutApproved | PayoutRejected, state: Claim, year: YearRecord,
             at: str, lang: Lang) -> list[Line]:
    """An approval or a rejection: who decided, under which authority, on whose
    request, and what of the hold was issued and released."""
    approved = isinstance(event, PayoutApproved)
    issued = event.amount if isinstance(event, PayoutApproved) else 0
    held = event.held if isinstance(event, PayoutApproved) else event.released
    pid, who, by, up_to = event.payout_id, event.actor, event.requested_by, \
        yen(event.approve_up_to, lang)
    if lang == "ja":
        text = (f"{at} {'支払承認' if approved else '支払請求の却下'} {pid}: {who} (承認権限 "
                f"{up_to}) が {by} の請求を{'承認' if approved else '却下'}; 留保 "
                f"{yen(held, lang)}")
        text += f" のうち {yen(issued, lang)} を支払" if approved else " を解除"
        if approved and event.released:
            text += f"、{yen(event.released, lang)} を解除"
    else:
        text = (f"{at} Payout {pid} {'approved' if approved else 'rejected'} by {who} "
                f"(may approve up to {up_to}), requested by {by}: ")
        text += (f"of {yen(held, lang)} held, {yen(issued, lang)} issued" if approved
                 else f"the {yen(held, lang)} held is released")
        if approved and event.released:
            text += f", {yen(event.released, lang)} released"
    text += f" ({event.reason})"
    figures: dict[str, int] = {"held": held, "released": event.released,
                               "approve_up_to": event.approve_up_to}
    if approved:
        figures["amount"] = issued
    lines = [Line(kind="payout_approved" if approved else "payout_rejected",
                  recorded_at=event.timestamp, text=text, figures=figures)]
    return lines + _check_decision(event, held, issued, state, year, lang)


def _check_decision(event: PayoutApproved | PayoutRejected, held: int, issued: int,
                    state: Claim, year: YearRecord, lang: Lang) -> list[Line]:
    """The hold the decision resolves, its approver's authority, and the year's
    release of the hold."""
    where = f"{event.event_name} {event.payout_id}"
    hold = state.hold(event.payout_id)
    lines: list[Line] = []
    if hold is None or hold.amount != held:
        lines.append(mismatch("held", held, None if hold is None else hold.amount, where,
                              lang))
    elif hold.status is not HoldStatus.PENDING:
        lines.append(_flag(where, (f"留保は既に {hold.status} です",
                                   f"the hold is already {hold.status}"), lang))
    if event.released != held - issued:
        lines.append(mismatch("released", event.released, held - issued, where, lang))
    if hold is not None and hold.requested_by != event.requested_by:
        lines.append(_flag(where, (f"請求者は {hold.requested_by} です",
                                   f"the request was {hold.requested_by}'s"), lang))
    if event.actor == event.requested_by:
        lines.append(_flag(where, ("請求者が自ら判断しています",
                                   "decided by the actor who requested it"), lang))
    if held > event.approve_up_to:  # approving less releases the rest: all of it is decided
        lines.append(_flag(where, (
            f"承認権限 {yen(event.approve_up_to, 'ja')} を超えています",
            f"beyond the approver's authority of {yen(event.approve_up_to, 'en')}"), lang))
    return lines + check_year_change(year, ("released", state.claim_id, event.payout_id),
                                     held, "AnnualLimitReleased", lang)


def _flag(where: str, words: tuple[str, str], lang: Lang) -> Line:
    """A disagreement that is not a figure (who decided, under which authority)."""
    text = f"※ {where}: {words[0]}" if lang == "ja" else f"* {where}: {words[1]}"
    return Line(kind="mismatch", recorded_at=None, text=text)


def _recovery(event: RecoveryRecorded, state: Claim, at: str, lang: Lang) -> list[Line]:
    kind, amount = _words(_KINDS, event.kind, lang), yen(event.amount, lang)
    if lang == "ja":
        text = (f"{at} 回収 {event.recovery_id}: {kind}, {event.counterparty} から {amount}; "
                f"{_split_text(event, state.insured_recovered, lang)}; 回収は年間限度額を"
                f"復元しません ({event.reason})")
    else:
        text = (f"{at} Recovery {event.recovery_id}: {kind}, {amount} from "
                f"{event.counterparty}; {_split_text(event, state.insured_recovered, lang)}; "
                f"a recovery does not restore the annual limit ({event.reason})")
    figures = {f: getattr(event, f) for f in (
        "amount", "insured_share", "insurer_share", "loss", "paid", "insured_unpaid_before",
        "insurer_recovered_before")}
    lines = [Line(kind="recovery", recorded_at=event.timestamp, text=text, figures=figures)]
    return lines + _check_recovery(event, state, lang)


def _split_text(event: RecoveryRecorded, took: int, lang: Lang) -> str:
    """Whose the money is, with the figures the split used (``took``: what the
    insured had recovered before)."""
    def y(amount: int) -> str:
        return yen(amount, lang)

    before = event.insurer_recovered_before
    if event.kind not in SHARED_WITH_INSURED:
        if lang == "ja":
            return (f"保険会社分 {y(event.insurer_share)} (支払済 {y(event.paid)}"
                    + (f" − 既回収 {y(before)}" if before else "") + " まで)")
        return (f"the insurer's share {y(event.insurer_share)} (up to the {y(event.paid)} it "
                f"paid" + (f" less the {y(before)} it had recovered" if before else "") + ")")
    if lang == "ja":
        return (f"保険法25条2項により被保険者の未填補損害を優先: 損害額 {y(event.loss)} − 支払済 "
                f"{y(event.paid)}" + (f" − 被保険者の既回収 {y(took)}" if took else "")
                + f" = 未填補 {y(event.insured_unpaid_before)} → 被保険者分 "
                f"{y(event.insured_share)}, 保険会社分 {y(event.insurer_share)}"
                + (f" (保険会社の既回収 {y(before)})" if before else ""))
    return (f"under art. 25(2) of the Insurance Act the insured's unpaid loss comes first: "
            f"loss {y(event.loss)} − paid {y(event.paid)}"
            + (f" − already recovered by the insured {y(took)}" if took else "")
            + f" = unpaid {y(event.insured_unpaid_before)} → the insured's share "
            f"{y(event.insured_share)}, the insurer's share {y(event.insurer_share)}"
            + (f" (the insurer had recovered {y(before)} before)" if before else ""))


def _check_recovery(event: RecoveryRecorded, state: Claim, lang: Lang) -> list[Line]:
    """The figures the split used, and the split, from the claim before it."""
    unpaid = state.loss_after_exclusion.less(state.paid).less(state.insured_recovered)
    checks: list[tuple[str, int | None, int | None]] = [
        ("loss", event.loss, state.loss_after_exclusion), ("paid", event.paid, state.paid),
        ("insured_unpaid_before", event.insured_unpaid_before, unpaid),
        ("insurer_recovered_before", event.insurer_recovered_before,
         state.insurer_recovered)]
    shares: tuple[int | None, int | None]
    try:
        shares = split(state, RecoveryKind(event.kind), event.amount)
    except (RuleViolated, ValueError):
        shares = (None, None)  # a split the rule refuses: both shares disagree
    checks += [("insured_share", event.insured_share, shares[0]),
               ("insurer_share", event.insurer_share, shares[1])]
    where = f"RecoveryRecorded {event.recovery_id}"
    return [mismatch(field, recorded, again, where, lang)
            for field, recorded, again in checks if recorded != again]
