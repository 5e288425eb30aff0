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
    "reports": ("支払備金報告", "Reserves report"),
    "reports_intro": (
        "決算期ごとの支払備金（保険業法117条）: 補償・年度ごとの請求件数、支払額、"
        "個別の支払備金、保留額、回収額と発生額、および事故年度別の損害進展表です。"
        "IBNR の算定は含みません（その入力を示します）。",
        "The figures of each closing (支払備金, Insurance Business Act art. 117): per "
        "coverage and year the claims, paid, case reserves, held, recoveries and "
        "incurred, and the loss development triangle by accident year. IBNR is not "
        "computed here: these are its inputs."),
    "basis": ("集計の基準", "Years by"),
    "basis_accident-year": ("事故年度", "accident year"),
    "basis_policy-year": ("保険年度の開始年度", "policy year start"),
    "period_start": ("期間の開始（支払額の集計）", "Period starts (paid in the period)"),
    "period_hint": ("空欄: 時点の属する事業年度の開始（4月1日）",
                    "empty: the start of the fiscal year (1 April) of the report's time"),
    "report_csv": ("この報告をCSVでダウンロード", "Download this report as CSV"),
    "without_reserve_note": (
        "{n} 件の請求に支払備金がありません（支払備金の記録開始前に受け付け、その後も"
        "設定されていません）。未決のものは、支払備金の額に含まれていません。",
        "{n} claims have no reserve (filed before reserves were kept, none set since): "
        "the reserves of those still open are missing from these figures."),
    "table_rows": ("{basis}別の支払備金", "Reserves by {basis}"),
    "table_paid": ("損害進展表: 支払累計（事故年度別）", "Development: cumulative paid, "
                   "by accident year"),
    "table_incurred": ("損害進展表: 発生額（支払累計＋支払備金、事故年度別）",
                       "Development: case incurred (paid + case reserves), by accident year"),
    "development_year": ("{k}年目", "Year {k}"),
    "fiscal_year": ("{year}年度", "FY{year}"),
    "all_years": ("全年度", "All years"),
    "report_coverage": ("補償", "Coverage"),
    "report_accident_year": ("事故年度", "Accident year"),
    "report_policy_year_start": ("保険年度の開始年度", "Policy year start"),
    "report_claims": ("請求件数", "Claims"),
    "report_claims_open": ("未決", "Open"),
    "report_claims_without_reserve": ("支払備金なし", "Without reserve"),
    "report_paid_in_period": ("期間中の支払", "Paid in the period"),
    "report_paid_to_date": ("支払累計", "Paid to date"),
    "report_reserves": ("支払備金", "Case reserves"),
    "report_held": ("承認待ちの保留", "Held"),
    "report_recovered_insurer": ("回収（保険会社）", "Recovered (insurer)"),
    "report_recovered_insured": ("回収（被保険者）", "Recovered (insured)"),
    "report_incurred": ("発生額", "Incurred"),
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
