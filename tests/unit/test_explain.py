"""Explanations: every decision of a claim in words and figures, recomputed from
the terms copied into its policy year, in Japanese and English."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.service import reads as views
from domain.claim import PayoutIssued, claim_id_of
from domain.explanation import explain
from domain.ledger import Ledger
from domain.money import Yen
from domain.policy_year import CoverageAttached, policy_year_id
from domain.terms import TERMS_2006, Coverage
from tests.builders import (
    assess,
    attach,
    close,
    exclude,
    file_data_media,
    file_liability,
    pay,
    reverse,
)
from tests.harness import explanation_text as text
from tests.harness import given

# The terms' four worked examples, in the terms' own figures ----------------------


@pytest.mark.parametrize("command,expected", [
    (file_data_media(loss=700_000),
     "損害額 700,000円 − 免責金額 100,000円 = 600,000円; 1事故限度額 1,000,000円以内; "
     "年間残額 1,000,000円 → 支払額 600,000円, 残額 400,000円"),
    (file_data_media(loss=800_000),
     "損害額 800,000円 − 免責金額 100,000円 = 700,000円; 1事故限度額 1,000,000円以内; "
     "年間残額 1,000,000円 → 支払額 700,000円, 残額 300,000円"),
    (file_liability("C1", loss=1_800_000),
     "損害額 1,800,000円 − 免責金額 300,000円 = 1,500,000円; 1事故限度額 2,500,000円以内; "
     "年間残額 5,000,000円 → 支払額 1,500,000円, 残額 3,500,000円"),
    (file_liability("C1", loss=600_000),
     "損害額 600,000円 − 免責金額 300,000円 = 300,000円; 1事故限度額 2,500,000円以内; "
     "年間残額 5,000,000円 → 支払額 300,000円, 残額 4,700,000円"),
])
def test_the_worked_examples_of_the_terms_are_explained_in_their_figures(
        ledger: Ledger, command: dict[str, Any], expected: str) -> None:
    given(ledger, attach(), command, pay("C1"))
    explanation = views.explanation(ledger, "C1", "ja")
    payout = next(line for line in explanation.lines if line.kind == "payout")
    assert payout.text.endswith(f"支払 payout-1: {expected}")
    assert explanation.mismatches == []


def test_the_english_explanation_carries_the_same_figures(ledger: Ledger) -> None:
    given(ledger, attach(), file_data_media(loss=800_000), pay("C1"))
    assert ("Payout payout-1: loss 800,000 yen − deductible 100,000 yen = 700,000 yen; within "
            "the per-incident limit of 1,000,000 yen; annual remaining 1,000,000 yen → paid "
            "700,000 yen, remaining 300,000 yen") in text(ledger, "C1", "en")


def test_the_per_incident_limit_caps_a_large_loss(ledger: Ledger) -> None:
    given(ledger, attach(), file_liability("C1", loss=3_000_000), pay("C1"))
    assert ("損害額 3,000,000円 − 免責金額 300,000円 = 2,700,000円; 1事故限度額 2,500,000円まで; "
            "年間残額 5,000,000円 → 支払額 2,500,000円, 残額 2,500,000円") in text(ledger, "C1")


def test_the_annual_remaining_caps_the_second_claim_of_a_year(ledger: Ledger) -> None:
    given(ledger, attach(), file_data_media("C1", loss=800_000), pay("C1"),
          file_data_media("C2", loss=800_000), pay("C2"))
    assert "年間残額 300,000円 → 支払額 300,000円, 残額 0円" in text(ledger, "C2")


def test_interim_payouts_reassessments_and_reversals_each_get_a_line(ledger: Ledger) -> None:
    given(ledger, attach(), file_data_media(loss=800_000), pay("C1", amount=200_000),
          assess("C1", loss=900_000), reverse("C1", "payout-1"), pay("C1"), close("C1"))
    explanation = views.explanation(ledger, "C1", "ja")
    assert [line.kind for line in explanation.lines] == [
        "filed", "reserve", "payout", "assessed", "reversal", "payout", "closed", "summary"]
    lines = [line.text for line in explanation.lines]
    assert ("内払請求額 200,000円; 年間残額 1,000,000円 → 支払額 200,000円, 残額 800,000円"
            in lines[2])
    assert "再査定: 損害額 800,000円 → 900,000円" in lines[3]
    assert "支払 payout-1 の取消: 200,000円; 年間残額 800,000円 → 1,000,000円" in lines[4]
    assert ("損害額 900,000円 − 免責金額 100,000円 = 800,000円; 1事故限度額 1,000,000円以内; "
            "年間残額 1,000,000円 → 支払額 800,000円, 残額 200,000円") in lines[5]
    assert lines[7] == "状態: 終了; 支払合計 800,000円 (取消分を除く); 支払備金 0円"
    assert explanation.mismatches == []


def test_a_payout_after_another_shows_what_was_paid_before(ledger: Ledger) -> None:
    given(ledger, attach(), file_data_media(loss=800_000), pay("C1", amount=300_000),
          pay("C1"))
    assert "既払額 300,000円 → 未払額 400,000円; 年間残額 700,000円 → 支払額 400,000円" in \
        text(ledger, "C1")


@pytest.mark.parametrize("coverage,claim,code", [
    (Coverage.DATA_MEDIA, file_data_media(), "natural_disaster"),
    (Coverage.IT_LIABILITY, file_liability("C1"), "contractually_increased_liability"),
])
def test_a_denial_names_the_exclusion_with_the_terms_own_wording(
        ledger: Ledger, coverage: Coverage, claim: dict[str, Any], code: str) -> None:
    given(ledger, attach(), claim, exclude("C1", code))
    wording = TERMS_2006.coverage(coverage).exclusion(code)
    assert wording is not None
    assert f"支払対象外: 免責事由 {code}「{wording.ja}」" in text(ledger, "C1")
    assert f"Denied under exclusion {code}: “{wording.en}”" in text(ledger, "C1", "en")


# Disagreements between the record and the recomputation --------------------------


def _events(ledger: Ledger, claim_id: str) -> tuple[list[Any], list[Any]]:
    claim_events = list(ledger.events.get(claim_id_of(claim_id)))
    first = claim_events[0]
    year_events = list(ledger.events.get(policy_year_id(first.policy_id, first.policy_year)))
    return claim_events, year_events


def test_a_recorded_payout_that_the_terms_would_not_pay_is_called_out(ledger: Ledger) -> None:
    given(ledger, attach(), file_data_media(loss=800_000), pay("C1"))
    claim_events, year_events = _events(ledger, "C1")
    paid = claim_events[2]  # after the filing and its initial reserve
    assert isinstance(paid, PayoutIssued)
    forged = paid.breakdown.model_copy(update={"amount": Yen(750_000),
                                               "annual_remaining_after": Yen(250_000)})
    claim_events[2] = paid.model_copy(update={"amount": Yen(750_000), "breakdown": forged})
    for lang, expected in (
            ("ja", "※ PayoutIssued payout-1: 記録された支払額 750,000円 は約款からの再計算 "
                   "700,000円 と一致しません"),
            ("en", "* PayoutIssued payout-1: the recorded amount of 750,000 yen disagrees "
                   "with the recomputation from the terms: 700,000 yen")):
        explanation = explain(claim_events, year_events, lang)  # type: ignore[arg-type]
        assert expected in [m.text for m in explanation.mismatches]
        assert len(explanation.mismatches) == 2  # the amount, and the remaining after it


def test_a_claim_whose_deductible_is_not_the_one_in_force_is_called_out(
        ledger: Ledger) -> None:
    given(ledger, attach(), file_data_media(loss=800_000))
    claim_events, year_events = _events(ledger, "C1")
    year_events = [e.model_copy(update={"deductible": Yen(50_000)})
                   if isinstance(e, CoverageAttached) and e.coverage == Coverage.DATA_MEDIA
                   else e for e in year_events]
    explanation = explain(claim_events, year_events, "ja")
    assert [m.text for m in explanation.mismatches] == [
        "※ ClaimFiled: 記録された免責金額 100,000円 は約款からの再計算 50,000円 と一致しません"]
