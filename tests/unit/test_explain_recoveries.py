"""Explanations of recoveries: the 保険法25条2項 split of money that came back,
in figures, in Japanese and English, checked against the domain's own split."""

from __future__ import annotations

import pytest

from domain.claim import RecoveryRecorded
from domain.explanation import Lang, explain
from domain.ledger import Ledger
from domain.money import Yen
from tests.builders import file_data_media, pay, recover, request
from tests.support.office_explanations import AT, by, events_of, lines_of, told

# Recoveries ----------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "expected"), [
    ("ja", "回収 recovery-1: 代位 (保険法25条), 株式会社加害者 から 600,000円; 保険法25条2項により"
           "被保険者の未填補損害を優先: 損害額 800,000円 − 支払済 700,000円 = 未填補 100,000円 → "
           "被保険者分 100,000円, 保険会社分 500,000円; 回収は年間限度額を復元しません "
           "(settlement received)"),
    ("en", "Recovery recovery-1: subrogation (Insurance Act art. 25), 600,000 yen from "
           "株式会社加害者; under art. 25(2) of the Insurance Act the insured's unpaid loss "
           "comes first: loss 800,000 yen − paid 700,000 yen = unpaid 100,000 yen → the "
           "insured's share 100,000 yen, the insurer's share 500,000 yen; a recovery does not "
           "restore the annual limit (settlement received)")])
def test_a_subrogation_recovery_shows_the_insurance_acts_split_and_its_figures(
        office: Ledger, lang: Lang, expected: str) -> None:
    by(office, "clerk", file_data_media(loss=800_000), pay(),
       recover(amount=600_000))
    explanation = told(office, lang)
    (recovery,) = lines_of(explanation, "recovery")
    assert recovery.text == f"{AT[lang]} {expected}"
    assert (recovery.figures["insured_share"], recovery.figures["insurer_share"]) == (
        100_000, 500_000)
    assert explanation.mismatches == []


@pytest.mark.parametrize(("lang", "expected"), [
    ("ja", "回収 recovery-2: 過払金の返還, 株式会社加害者 から 100,000円; 保険会社分 100,000円 "
           "(支払済 700,000円 − 既回収 500,000円 まで)"),
    ("en", "Recovery recovery-2: an overpayment returned, 100,000 yen from 株式会社加害者; the "
           "insurer's share 100,000 yen (up to the 700,000 yen it paid less the 500,000 yen "
           "it had recovered)")])
def test_an_overpayment_returned_is_the_insurers_alone_up_to_what_it_paid(
        office: Ledger, lang: Lang, expected: str) -> None:
    by(office, "clerk", file_data_media(loss=800_000), pay(),
       recover(amount=600_000), recover(amount=100_000, kind="overpayment"))
    explanation = told(office, lang)
    assert lines_of(explanation, "recovery")[-1].text.startswith(f"{AT[lang]} {expected}")
    assert explanation.lines[-1].figures["insurer_recovered"] == 600_000
    assert explanation.mismatches == []


def test_a_recovery_split_that_is_not_the_insurance_acts_is_called_out(
        office: Ledger) -> None:
    by(office, "clerk", file_data_media(loss=800_000), pay(),
       recover(amount=600_000))
    claim_events, year_events = events_of(office)
    recovered = claim_events[-1]
    assert isinstance(recovered, RecoveryRecorded)
    claim_events[-1] = recovered.model_copy(update={"insured_share": Yen(0),
                                                    "insurer_share": Yen(600_000)})
    explanation = explain(claim_events, year_events, "ja")
    assert [m.text for m in explanation.mismatches] == [
        "※ RecoveryRecorded recovery-1: 記録された被保険者分 0円 は約款からの再計算 100,000円 "
        "と一致しません",
        "※ RecoveryRecorded recovery-1: 記録された保険会社分 600,000円 は約款からの再計算 "
        "500,000円 と一致しません"]


@pytest.mark.parametrize(("lang", "expected"), [
    ("ja", "状態: 処理中; 支払合計 100,000円 (取消分を除く); 支払備金 600,000円; 承認待ち "
           "300,000円; 回収 保険会社分 50,000円, 被保険者分 700,000円"),
    ("en", "Status: open; paid in all 100,000 yen (net of reversals); case reserve 600,000 "
           "yen; held for approval 300,000 yen; recovered: the insurer's share 50,000 yen, "
           "the insured's 700,000 yen")])
def test_the_summary_adds_the_reserve_what_is_held_and_the_recoveries(
        office: Ledger, lang: Lang, expected: str) -> None:
    by(office, "clerk", file_data_media(loss=800_000), request(amount=300_000),
       pay(amount=100_000), recover(amount=750_000))
    summary = told(office, lang).lines[-1]
    assert summary.text == expected
    assert summary.figures == {"paid": 100_000, "reserve": 600_000, "held": 300_000,
                               "insurer_recovered": 50_000, "insured_recovered": 700_000}
