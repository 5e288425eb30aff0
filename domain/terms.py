"""The product terms of データ保険, as data.

Everything the ledger knows about the product lives here: the two coverages with
their limits, deductibles and triggers, the covered causes, the eligibility
rules and the exclusion catalogue (免責事項), each code beside the terms' own
Japanese wording. A new term year is a new ``TermSet`` in ``TERM_SETS``, not a
code change. Decisions pick the set in force on a policy year's start date, and
the figures in force are copied into the ``CoverageAttached`` events.
"""

from __future__ import annotations

from datetime import date, timedelta, timezone
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.money import Yen

JST = timezone(timedelta(hours=9), "JST")
"""Business dates (incidents, service start and end) are dates in Japan."""


class Coverage(StrEnum):
    DATA_MEDIA = "data_media"
    IT_LIABILITY = "it_liability"


class Trigger(StrEnum):
    OCCURRENCE = "occurrence"
    """The policy year in which the incident occurred pays."""
    CLAIMS_MADE = "claims_made"
    """The policy year in which the third party made its claim pays."""


class FirewallOption(StrEnum):
    SHARED = "shared"
    DEDICATED = "dedicated"


class NoticeChannel(StrEnum):
    """How the insurer was told of an incident (事故の通知)."""

    CUSTOMER_SERVICE = "customer_service"
    AGENT = "agent"
    EMAIL = "email"
    PHONE = "phone"
    OTHER = "other"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Wording(_Frozen):
    code: str
    ja: str
    en: str


class CoverageTerms(_Frozen):
    coverage: Coverage
    name_ja: str
    name_en: str
    per_incident_limit: Yen
    annual_limit: Yen
    deductible: Yen
    trigger: Trigger
    exclusions: tuple[Wording, ...]

    def exclusion(self, code: str) -> Wording | None:
        return next((e for e in self.exclusions if e.code == code), None)


class Eligibility(_Frozen):
    firewall_options: tuple[FirewallOption, ...]
    firewall_applied_on_or_after: date
    financial_institutions_excluded: bool
    screening_required: bool
    rules: tuple[Wording, ...]


class TermSet(_Frozen):
    version: str
    effective_from: date
    causes: tuple[Wording, ...]
    eligibility: Eligibility
    coverages: tuple[CoverageTerms, ...]

    def coverage(self, coverage: Coverage) -> CoverageTerms:
        return next(c for c in self.coverages if c.coverage == coverage)

    def cause(self, code: str) -> Wording | None:
        return next((c for c in self.causes if c.code == code), None)


def _w(code: str, ja: str, en: str) -> Wording:
    return Wording(code=code, ja=ja, en=en)


_INTENTIONAL = _w(
    "intentional_or_gross_negligence",
    "被保険者などの故意・重過失",
    "Wilful act or gross negligence of the insured",
)
_WAR = _w(
    "war_or_unrest",
    "戦争、外国の武力行使、革命、内乱などの暴動",
    "War, foreign armed force, revolution, civil war or similar unrest",
)

TERMS_2006 = TermSet(
    version="2006-05-29",
    effective_from=date(2006, 5, 29),
    causes=(
        _w("unauthorized_access", "不正アクセス", "Unauthorised access (hacking)"),
        _w("virus", "コンピューターウイルス", "Computer virus"),
        _w("misoperation", "誤操作", "Mis-operation"),
        _w("server_failure", "サーバー障害", "Server failure"),
        _w("other", "その他の不測かつ突発的な事由", "Other unforeseen and sudden cause"),
    ),
    eligibility=Eligibility(
        firewall_options=(FirewallOption.SHARED, FirewallOption.DEDICATED),
        firewall_applied_on_or_after=date(2006, 5, 29),
        financial_institutions_excluded=True,
        screening_required=True,
        rules=(
            _w(
                "screening_passed",
                "加入審査に合格されたお客様",
                "The customer passed enrolment screening",
            ),
            _w(
                "not_financial_institution",
                "金融機関のお客様は、データ保険にご加入頂けません",
                "Financial institutions cannot enrol",
            ),
            _w(
                "firewall_option",
                "共用型ファイアーウォール、または専用型ファイアーウォールオプションのお申し込みが必要です",
                "A shared or dedicated firewall option is required",
            ),
            _w(
                "firewall_applied_on_or_after",
                "2006年5月29日以降に新規お申し込みいただいた共用型または専用型ファイアーウォールオプションに自動付帯されます",
                "Only firewall options newly applied for on or after 29 May 2006",
            ),
        ),
    ),
    coverages=(
        CoverageTerms(
            coverage=Coverage.DATA_MEDIA,
            name_ja="データ・メディア保険",
            name_en="Data/media insurance",
            per_incident_limit=Yen(1_000_000),
            annual_limit=Yen(1_000_000),
            deductible=Yen(100_000),
            trigger=Trigger.OCCURRENCE,
            exclusions=(
                _INTENTIONAL,
                _w(
                    "natural_disaster",
                    "地震、噴火、津波、台風、洪水等の天災",
                    "Earthquake, eruption, tsunami, typhoon, flood or other natural disaster",
                ),
                _WAR,
                _w(
                    "public_authority",
                    "差押、徴発、没収、破壊等、国または公共団体の公権力の行使",
                    "Seizure, requisition, confiscation, destruction or other exercise "
                    "of public authority",
                ),
                _w(
                    "inherent_defect_or_wear",
                    "保険目的のかしや、自然の消耗または性質によるさび、カビ等",
                    "Defect of the insured object, natural wear, rust or mould",
                ),
                _w(
                    "misplacement_or_disposal",
                    "保険目的の置忘れ、紛失または不注意による廃棄",
                    "Misplacement, loss or careless disposal of the insured object",
                ),
            ),
        ),
        CoverageTerms(
            coverage=Coverage.IT_LIABILITY,
            name_ja="ITビジネス賠償責任保険",
            name_en="IT business liability insurance",
            per_incident_limit=Yen(2_500_000),
            annual_limit=Yen(5_000_000),
            deductible=Yen(300_000),
            trigger=Trigger.CLAIMS_MADE,
            exclusions=(
                _INTENTIONAL,
                _w(
                    "natural_disaster",
                    "地震、噴火、津波、洪水などの天災",
                    "Earthquake, eruption, tsunami, flood or other natural disaster",
                ),
                _WAR,
                _w(
                    "contractually_increased_liability",
                    "特別な約定により加重された賠償責任",
                    "Liability increased by special agreement",
                ),
                _w(
                    "prior_cause",
                    "初年度の保険期間開始以前に発生した原因または事由に起因する賠償請求",
                    "Claims arising from a cause that occurred before the first policy "
                    "year began",
                ),
                _w(
                    "analysis_or_forecast_error",
                    "販売分析もしくは販売予測または財務分析の過誤",
                    "Errors in sales analysis, sales forecasts or financial analysis",
                ),
                _w(
                    "non_performance_or_delay",
                    "履行不能または履行遅滞",
                    "Non-performance or delayed performance",
                ),
                _w(
                    "satellite_damage",
                    "人工衛星の損壊または故障に起因する賠償責任",
                    "Liability arising from damage to or failure of a satellite",
                ),
                _w(
                    "bodily_injury_or_property_damage",
                    "他人の身体の障害または財物の滅失、き損、汚損、紛失、盗難もしくは詐取",
                    "Bodily injury to others, or loss, damage, soiling, loss, theft or "
                    "fraud of their property",
                ),
                _w(
                    "ip_infringement",
                    "特許権、著作権または商標検討の知的財産権の侵害",
                    "Infringement of patents, copyrights, trademarks or other "
                    "intellectual property",
                ),
                _w(
                    "unapproved_settlement",
                    "お客さまの独自の判断で示談金を支払った場合など",
                    "Settlement paid on the insured's own judgment, not a legal "
                    "liability",
                ),
            ),
        ),
    ),
)

TERM_SETS: tuple[TermSet, ...] = (TERMS_2006,)
"""Every term set the product has had, oldest first."""

NOTICE_CHANNELS: tuple[Wording, ...] = (
    _w(NoticeChannel.CUSTOMER_SERVICE.value, "カスタマーサービスセンター",
       "The customer service centre"),
    _w(NoticeChannel.AGENT.value, "引受保険代理店", "The underwriting insurance agent"),
    _w(NoticeChannel.EMAIL.value, "電子メール", "E-mail"),
    _w(NoticeChannel.PHONE.value, "電話", "Telephone"),
    _w(NoticeChannel.OTHER.value, "その他", "Other"),
)
"""How a notice can reach the insurer: the terms send the insured to the
customer service centre (「申請方法については カスタマーサービスセンター まで」);
the underwriting agent (引受保険代理店) and other ways are recorded as they came."""

NOTICE_TIME_BAR_YEARS = 3
NOTICE_TIME_BAR = _w(
    "notice_time_bar",
    "保険給付を請求する権利は、3年間行使しないときは、時効によって消滅する（保険法95条）",
    "The right to claim insurance benefits is extinguished by prescription if not "
    "exercised for 3 years (Insurance Act, article 95)",
)
"""A notice that reaches the insurer more than ``NOTICE_TIME_BAR_YEARS`` after the
incident is flagged with this wording; it is recorded, not refused (the insurer
decides whether to invoke prescription)."""


RESERVE_REASONS: tuple[Wording, ...] = (
    _w("initial", "事故受付時の当初見積り (支払われるべき額)",
       "Initial estimate when the claim is filed (what is payable)"),
    _w("reassessed", "損害額の再評価による見直し", "Revised after a re-assessment"),
    _w("litigation", "訴訟係属中の請求 (訴訟支払備金)", "A claim in litigation"),
    _w("recovery_expected", "回収見込みによる見直し", "Revised for an expected recovery"),
    _w("other", "その他の見直し", "Other revision"),
    _w("closed", "事故の終結 (備金の取崩し)", "Claim closed: the reserve released"),
    _w("withdrawn", "請求の取下げ (備金の取崩し)", "Claim withdrawn: the reserve released"),
    _w("denied", "免責 (備金の取崩し)", "Claim denied: the reserve released"),
    _w("reopened", "再開 (支払われるべき額を再計上)",
       "Claim reopened: what is still payable reserved again"),
)
"""Why a case reserve (支払備金: 保険業法117条, 同施行規則72・73条) changed; a
``set_reserve`` gives one of reassessed, litigation, recovery_expected or
other, the ledger itself the rest."""

RECOVERY_KINDS: tuple[Wording, ...] = (
    _w("subrogation", "請求権代位 (保険法25条): 被保険者の未填補損害が優先",
       "Subrogation (Insurance Act, article 25): the insured's unpaid loss comes first"),
    _w("salvage", "残存物代位 (保険法24条)", "Salvage (Insurance Act, article 24)"),
    _w("other_insurance", "他の保険契約からの分担金", "Another insurer's share of the loss"),
    _w("overpayment", "過払金の返還", "An overpayment returned"),
)
"""Money that comes back on a claim; a recovery never restores the annual limit."""


def notice_channel(code: str) -> Wording | None:
    return next((c for c in NOTICE_CHANNELS if c.code == code), None)


PRIOR_CAUSE = "prior_cause"
"""The exclusion the ledger applies by itself to a liability claim whose cause
predates the first policy year (the cover start)."""

OUTSIDE_COVER = _w(
    "outside_cover",
    "保険期間外の事故または保険期間外になされた損害賠償請求 (保険期間: "
    "ファイアーウォールオプションのお申し込み日 (サービスの利用開始日が"
    "それより後ならその日) から、サービスの利用終了日またはオプションの解約日まで)",
    "An incident, or a claim made against the insured, outside the period of cover "
    "(from the day the firewall option was applied for, or the service start if later, "
    "to the service's last day or the option's cancellation, if earlier)",
)
"""The rule the ledger denies a claim under by itself when the date that decides
its year (incident date for data/media, the day the claim was made for IT
liability) is outside cover: 保険期間 is 利用開始日から利用終了日まで, and the
insurance exists only while the firewall option it is attached to does."""

COVER_RULES: tuple[Wording, ...] = (OUTSIDE_COVER,)
"""Denials the ledger decides from the cover period, beside each coverage's
exclusions (免責事項); ``apply_exclusion`` cannot choose them."""


def denial_wording(coverage: CoverageTerms, code: str) -> Wording | None:
    """The wording of an exclusion of ``coverage`` or of a cover rule."""
    return coverage.exclusion(code) or next((r for r in COVER_RULES if r.code == code), None)


def terms_in_force(on: date) -> TermSet:
    """The term set in force on a date (the newest one effective by then)."""
    in_force = [t for t in TERM_SETS if t.effective_from <= on]
    return in_force[-1] if in_force else TERM_SETS[0]


def term_set(version: str) -> TermSet:
    """The term set recorded under ``version`` in an event."""
    for terms in TERM_SETS:
        if terms.version == version:
            return terms
    msg = f"unknown terms version {version!r}"
    raise LookupError(msg)
