"""The console's words in Japanese (the default) and English: labels, yen as
1,234,567円, business dates as the terms write them (2006年7月1日 / 1 July 2006)
and recorded times in Japan time."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from adapters.console.office_words import (
    FIREWALL_OPTIONS,
    HOLD_STATUS,
    OFFICE_EVENTS,
    OFFICE_LABELS,
    RECOVERY_KINDS,
)
from domain.terms import JST, NOTICE_TIME_BAR, TERM_SETS, Coverage, notice_channel

LANGUAGES = ("ja", "en")

LABELS: dict[str, tuple[str, str]] = {
    "title": ("データ保険 監査コンソール", "Data insurance audit console"),
    "skip": ("本文へ移動", "Skip to content"),
    "policies": ("契約", "Policies"),
    "seal": ("封印", "Seal"),
    "seal_intro": (
        "封印は記録された全イベントのハッシュチェーンです。チェックポイントを台帳の外に保管すると、"
        "その時点以前の改ざんを後から検出できます。",
        "The seal is a hash chain over every recorded event. Keep a checkpoint outside the "
        "ledger to detect later tampering with anything before it."),
    "last_checkpoint": ("最新のチェックポイント", "Last checkpoint"),
    "no_checkpoint": ("チェックポイントはまだありません。", "No checkpoint yet."),
    "chain_hash": ("ハッシュ", "Hash"),
    "sealed_at": ("記録時刻", "Recorded at"),
    "download_checkpoint": ("チェックポイント (JSON) をダウンロード",
                            "Download the checkpoint (JSON)"),
    "verification": ("検証", "Verification"),
    "not_verified": ("このサーバーの起動後、まだ検証していません。",
                     "Not verified since this server started."),
    "verify_now": ("今すぐ全体を検証", "Verify the whole log now"),
    "verified_at": ("検証時刻", "Verified at"),
    "seal_intact": ("改ざんなし: 位置 {to} までの {n} 件が封印と一致します。",
                    "Intact: {n} events up to position {to} match the seal."),
    "seal_covers": ("最新のチェックポイントまで検証済みです。",
                    "Verified up to the last checkpoint."),
    "seal_not_covering": (
        "最新のチェックポイントは前回の検証より後のものです。再検証してください。",
        "The last checkpoint is newer than the last verification: verify again."),
    "seal_tampered": ("改ざんを検出: 位置 {position}（{kind}）",
                      "Tampered at position {position} ({kind})"),
    "intact_to": ("改ざんのない範囲: 位置 {to} まで", "Intact up to position {to}"),
    "explanation": ("支払いの説明", "Explanation"),
    "explanation_mismatch": ("記録と再計算の不一致", "Recorded figures that disagree"),
    "audit": ("監査証跡", "Audit trail"),
    "sign_in": ("サインイン", "Sign in"),
    "sign_out": ("サインアウト", "Sign out"),
    "signed_in_as": ("サインイン中", "Signed in as"),
    "token": ("トークン（監査担当者または運用担当者）", "Token (auditor or operator)"),
    "sign_in_intro": (
        "監査担当者（auditor）または運用担当者（operator）のトークンでサインインしてください。",
        "Sign in with an auditor or operator token."),
    "language": ("表示言語", "Language"),
    "as_of": ("時点（記録時刻）", "As of (recorded time)"),
    "as_of_hint": ("例: 2026-01-15 または 2026-01-15T12:00（日本時間）",
                   "e.g. 2026-01-15 or 2026-01-15T12:00 (Japan time)"),
    "show": ("表示", "Show"),
    "now": ("現在の表示に戻る", "Back to now"),
    "historical": ("過去の時点の表示です", "Historical view"),
    "historical_detail": ("台帳がこの時点（記録時刻）までに記録していた内容を表示しています:",
                          "What the ledger had recorded by this recorded time:"),
    "search": ("契約番号（前方一致）", "Policy id starts with"),
    "search_button": ("検索", "Search"),
    "no_policies": ("該当する契約はありません。", "No policy matches."),
    "next_page": ("次のページ", "Next page"),
    "first_page": ("最初のページ", "First page"),
    "policy": ("契約", "Policy"),
    "policy_year": ("保険年度", "Policy year"),
    "year_n": ("第{n}年度", "Year {n}"),
    "period": ("保険期間", "Period"),
    "coverage": ("補償", "Coverage"),
    "annual_limit": ("年間支払限度額", "Annual limit"),
    "paid": ("支払済", "Paid"),
    "reversed": ("取消額", "Reversed"),
    "remaining": ("残額", "Remaining"),
    "usage": ("使用状況", "Use of the limit"),
    "bar_text": ("年間支払限度額 {limit} のうち支払済 {paid}、残額 {remaining}",
                 "{paid} paid of an annual limit of {limit}, {remaining} remaining"),
    "claims": ("請求", "Claims"),
    "no_claims": ("請求はありません。", "No claims."),
    "claim": ("請求", "Claim"),
    "status": ("状態", "Status"),
    "cause": ("事故の原因", "Cause"),
    "incident_date": ("事故発生日", "Incident date"),
    "claim_made_on": ("賠償請求日", "Claim made on"),
    "description": ("内容", "Description"),
    "loss_amount": ("損害額（査定）", "Assessed loss"),
    "deductible": ("免責金額", "Deductible"),
    "per_incident_limit": ("1事故あたり支払限度額", "Per-incident limit"),
    "payable": ("支払対象額", "Payable"),
    "exclusion": ("免責事由", "Exclusion"),
    "excluded": ("一部免責額（損害額から除外）", "Excluded from the loss"),
    "notified_on": ("事故の通知日", "Insurer told on"),
    "notice_unknown": ("不明（通知日の記録前に受付）",
                       "unknown (filed before notices were recorded)"),
    "time_bar": ("時効の注意", "Time bar"),
    "time_bar_text": ("通知は事故日から3年を過ぎています（{ends} まで）。",
                      "The notice came more than 3 years after the incident (they ended "
                      "{ends})."),
    "incident_id": ("同一事故", "Incident"),
    "incident_shared": ("(免責金額と1事故限度額を同一事故の全請求で共有)",
                        "(its claims share one deductible and one per-incident limit)"),
    "timeline": ("経過", "Timeline"),
    "position": ("位置", "Position"),
    "recorded_at": ("記録時刻", "Recorded"),
    "actor": ("記録者", "Actor"),
    "command_id": ("コマンドID", "Command id"),
    "event": ("イベント", "Event"),
    "business_dates": ("業務日付", "Business dates"),
    "amount": ("金額", "Amount"),
    "balance": ("残額（前→後）", "Remaining (before → after)"),
    "payouts": ("支払", "Payouts"),
    "no_payouts": ("支払はありません。", "No payouts."),
    "payout": ("支払", "Payout"),
    "issued_at": ("支払記録時刻", "Issued (recorded)"),
    "breakdown": ("計算の内訳", "Breakdown"),
    "is_reversed": ("取消済", "Reversed"),
    "chart": ("残額の推移（記録時刻）", "Remaining limit over recorded time"),
    "chart_points": ("支払と取消", "Payouts and reversals"),
    "no_points": ("支払も取消もありません。", "No payouts or reversals."),
    "filters": ("絞り込み", "Filters"),
    "any": ("すべて", "any"),
    "event_type": ("イベント種別", "Event type"),
    "from": ("記録時刻（から）", "Recorded from"),
    "to": ("記録時刻（まで）", "Recorded to"),
    "rows_per_page": ("1ページの件数", "Rows per page"),
    "apply": ("絞り込む", "Apply"),
    "csv": ("表示中の行をCSVでダウンロード", "Download the rows shown as CSV"),
    "no_rows": ("該当するイベントはありません。", "No event matches."),
    "rows_shown": ("{n}件を表示（位置 {first}〜{last}）",
                   "{n} rows shown (positions {first}–{last})"),
    "not_found": ("見つかりません", "Not found"),
    "bad_request": ("入力が正しくありません", "Bad request"),
    "unknown_token": ("このトークンは登録されていません。", "This token is not known."),
    "role_refused": (
        "appender（記録用）や subscriber（イベント配信用）のトークンではサインインできません。"
        "監査担当者または運用担当者のトークンを使ってください。",
        "An appender or subscriber token cannot sign in: use an auditor or operator token."),
    "back_to_policies": ("契約の一覧へ", "To the policies"),
    "forbidden": ("受け付けられません", "Refused"),
    "origin_refused": (
        "Origin: このフォームは別のサイト（{origin}）から送信されたため受け付けません。",
        "Origin: this form was sent from another site ({origin}) and is refused."),
    "form_token_refused": (
        "csrf: このフォームには表示時に渡したトークンがありません。"
        "ページを開き直してから送信してください。",
        "csrf: this form does not carry the token its page was given: open the page "
        "again and send it from there."),
    "api_docs": ("HTTP API", "HTTP API"),
    "api_docs_intro": (
        "HTTP API の完全な仕様（パラメータ、本文、応答、各コマンドの例）は OpenAPI 文書にあります。"
        "ベアラートークンが必要です（/health を除く）。",
        "The HTTP API in full (parameters, bodies, responses, an example of every command) "
        "is its OpenAPI document. Every route but /health needs a bearer token."),
    "openapi_document": ("OpenAPI 文書（JSON）", "The OpenAPI document (JSON)"),
    "api_docs_viewer": (
        "このサーバーは外部から何も読み込まないため、対話型のビューアーは提供しません。"
        "文書を手元の OpenAPI ビューアーやエディターで開くか、次のように読んでください:",
        "This server loads nothing from elsewhere, so it serves no interactive viewer: open "
        "the document in an OpenAPI viewer or editor of your own, or read it so:"),
    "method": ("メソッド", "Method"),
    "route": ("パス", "Path"),
    "what": ("内容", "What it does"),
    "verify_running": ("検証を実行中です", "A verification is running"),
    "verify_running_detail": (
        "全体の検証はすでに実行中のため、新たには開始していません。"
        "終わると封印のページに結果が表示されます。",
        "A verification of the whole log is already running, so this one was not "
        "started; its result will show on the seal page when it ends."),
    **OFFICE_LABELS,
}

STATUS = {"open": ("未決", "open"), "closed": ("完了", "closed"),
          "denied": ("免責（不払）", "denied"), "withdrawn": ("取下げ", "withdrawn")}

EVENTS = {
    "PolicyEnrolled": ("加入", "Policy enrolled"),
    "PolicyYearOpened": ("保険年度の開始", "Policy year opened"),
    "ServiceEnded": ("サービス終了", "Service ended"),
    "CoverStarted": ("保険期間の開始日", "Cover started"),
    "ServiceEndChanged": ("サービス終了日の訂正", "Service end changed"),
    "FirewallOptionCancelled": ("ファイアーウォールオプションの解約", "Firewall option cancelled"),
    "ClaimRegistered": ("請求の記録 (契約)", "Claim registered on the policy"),
    "CoverPeriodChanged": ("保険期間の終了日の変更", "Cover period changed"),
    "CoverageAttached": ("補償の付帯", "Coverage attached"),
    "AnnualLimitDrawn": ("年間限度額の使用", "Annual limit drawn"),
    "AnnualLimitRestored": ("年間限度額の回復", "Annual limit restored"),
    "ClaimFiled": ("請求の受付", "Claim filed"),
    "LossAssessed": ("損害額の査定", "Loss assessed"),
    "ExclusionApplied": ("免責の適用", "Exclusion applied"),
    "PayoutIssued": ("支払", "Payout issued"),
    "PayoutReversed": ("支払の取消", "Payout reversed"),
    "ClaimClosed": ("請求の完了", "Claim closed"),
    "ClaimWithdrawn": ("請求の取下げ", "Claim withdrawn"),
    "PartialExclusionApplied": ("一部免責の適用", "Exclusion applied in part"),
    "DenialWithdrawn": ("免責の取消", "Denial withdrawn"),
    "ClaimReopened": ("請求の再開", "Claim reopened"),
    "CommandAccepted": ("コマンドの受付", "Command accepted"),
    **OFFICE_EVENTS,
}

DATES = {
    "service_start": ("サービス開始日", "Service start"),
    "service_end": ("サービス終了日", "Service end"),
    "firewall_applied_on": ("ファイアーウォール申込日", "Firewall applied on"),
    "period_start": ("保険期間の開始", "Period start"),
    "period_end": ("保険期間の終了", "Period end"),
    "cover_start": ("保険期間の開始日", "Cover start"),
    "cancelled_on": ("オプション解約日", "Option cancelled on"),
    "cover_date": ("保険期間の判定日", "Date of cover"),
    "incident_date": ("事故発生日", "Incident date"),
    "claim_made_on": ("賠償請求日", "Claim made on"),
    "notified_on": ("事故の通知日", "Insurer told on"),
}

BREAKDOWN = {
    "loss": ("損害額", "Loss"),
    "excluded": ("一部免責額", "Excluded"),
    "loss_after_exclusion": ("一部免責控除後", "Loss after exclusion"),
    "deductible": ("免責金額", "Deductible"),
    "loss_after_deductible": ("免責金額控除後", "Loss after deductible"),
    "per_incident_limit": ("1事故あたり支払限度額", "Per-incident limit"),
    "payable_for_incident": ("この事故の支払対象額", "Payable for the incident"),
    "paid_before": ("既払額", "Paid before"),
    "payable_on_claim": ("この請求の未払額", "Still payable on the claim"),
    "annual_limit": ("年間支払限度額", "Annual limit"),
    "annual_remaining_before": ("年間残額（支払前）", "Annual remaining before"),
    "requested": ("指定額", "Requested"),
    "amount": ("支払額", "Amount"),
    "annual_remaining_after": ("年間残額（支払後）", "Annual remaining after"),
    "deductible_taken_by_others": ("同一事故の先の請求で充当済の免責金額",
                                   "Deductible taken by the incident's earlier claims"),
    "incident_paid_by_others": ("同一事故の他の請求への支払",
                                "Paid on the incident's other claims"),
}

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


class Words:
    """Everything a template says, in one language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._i = LANGUAGES.index(lang)

    def __call__(self, key: str, **values: Any) -> str:
        text = LABELS[key][self._i]
        return text.format(**values) if values else text

    def _pick(self, table: dict[str, tuple[str, str]], key: str | None) -> str:
        if key is None:
            return "-"
        return table[key][self._i] if key in table else key

    def status(self, code: str) -> str:
        return self._pick(STATUS, code)

    def event(self, name: str) -> str:
        return self._pick(EVENTS, name)

    def date_name(self, field: str) -> str:
        return self._pick(DATES, field)

    def breakdown(self, field: str) -> str:
        return self._pick(BREAKDOWN, field)

    def hold(self, status: str) -> str:
        return self._pick(HOLD_STATUS, status)

    def recovery(self, kind: str) -> str:
        return self._pick(RECOVERY_KINDS, kind)

    def firewall(self, option: str) -> str:
        return self._pick(FIREWALL_OPTIONS, option)

    def channel(self, code: str) -> str:
        """How the insurer was told, as the terms' data words it."""
        wording = notice_channel(code)
        if wording is None:
            return code
        return wording.ja if self.lang == "ja" else wording.en

    def time_bar(self) -> str:
        """The law a late notice is flagged under (保険法95条)."""
        return NOTICE_TIME_BAR.ja if self.lang == "ja" else NOTICE_TIME_BAR.en

    def coverage(self, code: str) -> str:
        terms = TERM_SETS[-1].coverage(Coverage(code))
        return terms.name_ja if self.lang == "ja" else terms.name_en

    def cause(self, code: str, terms_version: str) -> str:
        wording = next((t for t in TERM_SETS if t.version == terms_version),
                       TERM_SETS[-1]).cause(code)
        if wording is None:
            return code
        return wording.ja if self.lang == "ja" else wording.en

    def date(self, value: str | date | None) -> str:
        """A business date as the terms write it."""
        if value is None:
            return "-"
        day = date.fromisoformat(value) if isinstance(value, str) else value
        if self.lang == "ja":
            return f"{day.year}年{day.month}月{day.day}日"
        return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"

    def time(self, value: str | datetime | None) -> str:
        """A recorded time, in Japan time."""
        if value is None:
            return "-"
        when = datetime.fromisoformat(value) if isinstance(value, str) else value
        when = when.astimezone(JST)
        clock = when.strftime("%H:%M:%S")
        if self.lang == "ja":
            return f"{self.date(when.date())} {clock}"
        return f"{self.date(when.date())} {clock} JST"


def yen(amount: int | None) -> str:
    """1,234,567円."""
    return "-" if amount is None else f"{amount:,}円"
