"""The console's words for the claims office's work, in Japanese and English: a
policy's holder and dates, a claim's reserve, holds and recoveries, the work
queue, the search and the reserves report (``i18n.Words`` says them)."""

from __future__ import annotations

OFFICE_LABELS: dict[str, tuple[str, str]] = {
    "holder": ("契約者と期間", "Policy holder and dates"),
    "customer_name": ("契約者名", "Policy holder"),
    "customer_id": ("顧客番号", "Customer id"),
    "firewall_option": ("ファイアーウォールオプション", "Firewall option"),
    "not_recorded": ("記録なし", "not recorded"),
    "cover_end": ("保険期間の終了日", "Cover end"),
    "cover_open_ended": ("未定（サービス利用中）", "not yet (the service continues)"),
    "office": ("支払備金・支払申請・回収", "Reserve, payouts requested and recoveries"),
    "reserve": ("支払備金（個別）", "Case reserve"),
    "no_reserve": ("支払備金なし: 支払備金の記録開始前に受け付けた請求です",
                   "no reserve: filed before reserves were kept"),
    "held": ("承認待ちの保留額", "Held awaiting approval"),
    "outstanding": ("未払の支払対象額", "Still payable"),
    "holds": ("支払の申請", "Payouts requested"),
    "requested_by": ("申請者", "Requested by"),
    "resolved_by": ("承認・却下した者", "Resolved by"),
    "due_on": ("支払期日", "Due on"),
    "recoveries": ("回収", "Recoveries"),
    "recovery": ("回収", "Recovery"),
    "recovery_kind": ("種類", "Kind"),
    "insured_share": ("被保険者の取り分", "Insured's share"),
    "insurer_share": ("保険会社の取り分", "Insurer's share"),
    "recovered_total": ("合計", "Total"),
    "recovery_rule": (
        "保険法25条2項: 回収金はまず被保険者の填補されていない損害に充て、"
        "残りを保険会社が支払額を限度に取得します。",
        "Insurance Act art. 25(2): money recovered goes first to the insured's unpaid "
        "loss; the insurer takes the rest, up to what it paid."),
    "work": ("作業一覧", "Work queue"),
    "work_intro": (
        "このコンソールは閲覧専用です。支払の承認・却下は API のコマンド"
        "（approve_payout / reject_payout）で行います。",
        "This console only shows: approving or rejecting a payout is a command through "
        "the API (approve_payout / reject_payout)."),
    "pending_holds": ("承認待ちの支払", "Payouts awaiting approval"),
    "no_pending": ("承認待ちの支払はありません。", "No payout awaits approval."),
    "requested_at": ("申請（記録時刻）", "Requested (recorded)"),
    "may_approve": ("承認できる者", "Who may approve"),
    "nobody_may_approve": (
        "権限のある者がいません（claims-ledger authority set で設定）",
        "nobody has the authority (an operator sets it: claims-ledger authority set)"),
    "open_claims": ("未決の請求（古い順）", "Open claims, oldest first"),
    "open_count": ("未決 {n} 件のうち古い順に {shown} 件を表示",
                   "The {shown} oldest of {n} open claims"),
    "no_open": ("未決の請求はありません。", "No claim is open."),
    "show_more": ("さらに表示", "Show more"),
    "since": ("起算日（通知日、不明なら受付日）", "Since (the notice, else the filing)"),
    "age_days": ("経過日数", "Age (days)"),
    "flagged": ("要確認", "Flagged"),
    "late_notices": ("時効期間後の通知（未決の請求）",
                     "Notices after the time bar (open claims)"),
    "no_late": ("該当する請求はありません。", "No such claim."),
    "over_reserved": ("支払備金が年間支払限度額の残額を超える保険年度",
                      "Years whose reserves exceed what remains of the limit"),
    "no_over": ("該当する保険年度はありません。", "No such year."),
    "reserves": ("支払備金", "Reserves"),
    "over_by": ("超過額", "Over by"),
    "filed_on": ("受付日", "Filed on"),
    "search_page": ("検索", "Search"),
    "search_label": ("契約者名・契約番号・請求番号", "Holder's name, policy or claim id"),
    "claim_status": ("請求の状態", "Claim status"),
    "search_empty": ("名前か番号を入力するか、請求の状態を選んでください。",
                     "Type a name or an id, or choose a claim status."),
    "results_count": ("{n} 件中 {shown} 件を表示", "{shown} of {n} shown"),
    "no_results": ("該当するものはありません。", "Nothing matches."),
}

HOLD_STATUS = {
    "pending": ("承認待ち", "awaiting approval"),
    "issued": ("即時支払（申請者の権限内）", "issued at once (within the requester's authority)"),
    "approved": ("承認済", "approved"),
    "rejected": ("却下", "rejected"),
}

RECOVERY_KINDS = {
    "subrogation": ("代位（保険法25条）", "Subrogation (Insurance Act art. 25)"),
    "salvage": ("残存物（保険法24条）", "Salvage (Insurance Act art. 24)"),
    "other_insurance": ("他の保険契約", "Other insurance"),
    "overpayment": ("過払金の返還", "Overpayment returned"),
}

FIREWALL_OPTIONS = {
    "shared": ("共用ファイアーウォール", "Shared firewall"),
    "dedicated": ("専用ファイアーウォール", "Dedicated firewall"),
}

OFFICE_EVENTS = {
    "ReserveSet": ("支払備金の設定", "Reserve set"),
    "PayoutRequested": ("支払の申請", "Payout requested"),
    "PayoutApproved": ("支払の承認", "Payout approved"),
    "PayoutRejected": ("支払の却下", "Payout rejected"),
    "RecoveryRecorded": ("回収の記録", "Recovery recorded"),
    "AnnualLimitHeld": ("年間限度額の保留", "Annual limit held"),
    "AnnualLimitReleased": ("年間限度額の保留解除", "Annual limit released"),
    "AuthoritySet": ("権限の設定", "Authority set"),
}
