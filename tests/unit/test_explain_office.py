"""Explanations of the claims office's money: case reserves, payouts requested,
approved and rejected, and recoveries, in figures, in Japanese and English,
each checked against what the claim and its year recompute."""

from __future__ import annotations

from typing import Any

import pytest

from domain.claim import (
    PayoutApproved,
    PayoutRequested,
    ReserveSet,
)
from domain.explanation import Lang, explain
from domain.ledger import Ledger
from domain.money import Yen
from tests.builders import (
    approve,
    assess,
    close,
    exclude,
    file_data_media,
    incident_data_media,
    pay,
    reject,
    reopen,
    request,
    set_reserve,
    withdraw,
)
from tests.support.office_explanations import AT, by, events_of, lines_of, told

# Case reserves -----------------------------------------------------------------


@pytest.mark.parametrize(("lang", "expected"), [
    ("ja", "支払備金: なし → 700,000円 (+700,000円); 受付時の当初設定 (支払対象額)"),
    ("en", "Case reserve: none → 700,000 yen (+700,000 yen); initial reserve at filing: "
           "what is payable")])
def test_a_claim_filed_gets_an_initial_reserve_of_what_is_payable(
        office: Ledger, lang: Lang, expected: str) -> None:
    by(office, "clerk", file_data_media(loss=800_000))
    explanation = told(office, lang)
    (reserve,) = lines_of(explanation, "reserve")
    assert reserve.text == f"{AT[lang]} {expected}"
    assert reserve.figures == {"reserve": 700_000, "change": 700_000}
    assert explanation.mismatches == []


@pytest.mark.parametrize(("lang", "expected"), [
    ("ja", "支払備金: 700,000円 → 300,000円 (-400,000円); 訴訟中; 基準日 2026年1月10日 "
           "(court date set)"),
    ("en", "Case reserve: 700,000 yen → 300,000 yen (-400,000 yen); in litigation; as of "
           "2026-01-10 (court date set)")])
def test_a_reserve_set_by_the_office_shows_before_after_change_reason_and_date(
        office: Ledger, lang: Lang, expected: str) -> None:
    by(office, "clerk", file_data_media(loss=800_000),
       set_reserve(amount=300_000, reason="litigation", effective_on="2026-01-10",
                   note="court date set"))
    explanation = told(office, lang)
    assert lines_of(explanation, "reserve")[-1].text == f"{AT[lang]} {expected}"
    assert explanation.mismatches == []


@pytest.mark.parametrize(("ending", "ja", "en"), [
    (close(), "請求終了により取崩し", "released: the claim is closed"),
    (withdraw(), "請求取下げにより取崩し", "released: the claim is withdrawn"),
    (exclude(), "支払対象外により取崩し", "released: the claim is denied")])
def test_a_claim_that_ends_has_its_reserve_released_to_zero_in_words(
        office: Ledger, ending: dict[str, Any], ja: str, en: str) -> None:
    by(office, "clerk", file_data_media(loss=800_000), set_reserve(amount=500_000), ending)
    for lang, words in (("ja", f"支払備金: 500,000円 → 0円 (-500,000円); {ja}"),
                        ("en", f"Case reserve: 500,000 yen → 0 yen (-500,000 yen); {en}")):
        explanation = told(office, lang)  # type: ignore[arg-type]
        assert lines_of(explanation, "reserve")[-1].text == f"{AT[lang]} {words}"
        assert explanation.mismatches == []


def test_a_reopened_claim_has_its_reserve_back_to_what_is_still_payable(
        office: Ledger) -> None:
    by(office, "clerk", file_data_media(loss=800_000), pay(amount=200_000), close(),
       reopen())
    for lang, words in (("ja", "支払備金: 0円 → 500,000円 (+500,000円); "
                               "請求の再開により未払額に戻す"),
                        ("en", "Case reserve: 0 yen → 500,000 yen (+500,000 yen); the claim "
                               "is open again: back to what is still payable")):
        explanation = told(office, lang)  # type: ignore[arg-type]
        assert lines_of(explanation, "reserve")[-1].text == f"{AT[lang]} {words}"
        assert explanation.mismatches == []


def test_a_reassessment_below_the_reserve_brings_it_down_to_what_is_payable(
        office: Ledger) -> None:
    by(office, "clerk", file_data_media(loss=800_000), assess(loss=500_000))
    for lang, words in (("ja", "支払備金: 700,000円 → 400,000円 (-300,000円); 再評価"),
                        ("en", "Case reserve: 700,000 yen → 400,000 yen (-300,000 yen); "
                               "reassessed")):
        explanation = told(office, lang)  # type: ignore[arg-type]
        assert lines_of(explanation, "reserve")[-1].text == f"{AT[lang]} {words}"
        assert explanation.mismatches == []


def test_a_claim_filed_before_reserves_were_kept_has_no_reserve_line(office: Ledger) -> None:
    by(office, "clerk", file_data_media(loss=800_000), pay(amount=200_000))
    claim_events, year_events = events_of(office)
    before_reserves = [e for e in claim_events if not isinstance(e, ReserveSet)]
    for lang, summary in (("ja", "状態: 処理中; 支払合計 200,000円 (取消分を除く)"),
                          ("en", "Status: open; paid in all 200,000 yen (net of reversals)")):
        explanation = explain(before_reserves, year_events, lang)  # type: ignore[arg-type]
        assert lines_of(explanation, "reserve") == []
        assert explanation.lines[-1].text == summary
        assert explanation.mismatches == []


def test_a_recorded_reserve_above_what_is_still_payable_is_called_out(office: Ledger) -> None:
    by(office, "clerk", file_data_media(loss=800_000), set_reserve(amount=300_000))
    claim_events, year_events = events_of(office)
    forged = claim_events[-1].model_copy(update={"reserve": Yen(900_000), "change": 200_000})
    explanation = explain([*claim_events[:-1], forged], year_events, "ja")
    assert [m.text for m in explanation.mismatches] == [
        "※ ReserveSet: 記録された支払備金 900,000円 は約款からの再計算 700,000円 と一致しません"]


# Payouts requested, approved and rejected ----------------------------------------


@pytest.mark.parametrize(("lang", "expected"), [
    ("ja", "支払請求 payout-1: clerk が 50,000円 を請求; 請求者の支払権限 100,000円 以内のため"
           "承認を待たずに支払; 支払期日 2026年1月31日"),
    ("en", "Payout payout-1 requested by clerk: 50,000 yen; within the requester's authority "
           "to pay up to 100,000 yen: issued at once; due on 2026-01-31")])
def test_a_request_within_the_requesters_authority_is_issued_at_once(
        office: Ledger, lang: Lang, expected: str) -> None:
    by(office, "clerk", file_data_media(loss=800_000),
       request(amount=50_000, due_on="2026-01-31"))
    explanation = told(office, lang)
    assert [line.kind for line in explanation.lines] == [
        "filed", "reserve", "payout_requested", "payout", "summary"]
    (requested,) = lines_of(explanation, "payout_requested")
    assert requested.text == f"{AT[lang]} {expected}"
    assert requested.figures["pay_up_to"] == 100_000
    assert explanation.mismatches == []


@pytest.mark.parametrize(("lang", "expected"), [
    ("ja", "支払請求 payout-1: clerk が 300,000円 を請求; 請求者の支払権限 100,000円 を超えるため"
           "承認待ちとして留保: 損害額 800,000円 − 免責金額 100,000円 = 700,000円; 1事故限度額 "
           "1,000,000円以内; 内払請求額 300,000円; 年間残額 1,000,000円 → 支払額 300,000円, "
           "残額 700,000円"),
    ("en", "Payout payout-1 requested by clerk: 300,000 yen; above the requester's authority "
           "to pay up to 100,000 yen: held for approval: loss 800,000 yen − deductible "
           "100,000 yen = 700,000 yen; within the per-incident limit of 1,000,000 yen; interim "
           "payout asked for 300,000 yen; annual remaining 1,000,000 yen → paid 300,000 yen, "
           "remaining 700,000 yen")])
def test_a_request_above_the_requesters_authority_is_held_with_its_working(
        office: Ledger, lang: Lang, expected: str) -> None:
    by(office, "clerk", file_data_media(loss=800_000), request(amount=300_000))
    explanation = told(office, lang)
    (requested,) = lines_of(explanation, "payout_requested")
    assert requested.text == f"{AT[lang]} {expected}"
    assert lines_of(explanation, "payout") == []
    assert explanation.lines[-1].figures["held"] == 300_000
    assert explanation.mismatches == []


@pytest.mark.parametrize(("lang", "expected"), [
    ("ja", "支払承認 payout-1: manager (承認権限 2,000,000円) が clerk の請求を承認; 留保 "
           "300,000円 のうち 200,000円 を支払、100,000円 を解除 (invoice checked)"),
    ("en", "Payout payout-1 approved by manager (may approve up to 2,000,000 yen), requested "
           "by clerk: of 300,000 yen held, 200,000 yen issued, 100,000 yen released "
           "(invoice checked)")])
def test_an_approval_names_the_approver_their_authority_and_what_it_issued_and_released(
        office: Ledger, lang: Lang, expected: str) -> None:
    by(office, "clerk", file_data_media(loss=800_000), request(amount=300_000))
    by(office, "manager", approve(amount=200_000))
    explanation = told(office, lang)
    (approved,) = lines_of(explanation, "payout_approved")
    assert approved.text == f"{AT[lang]} {expected}"
    assert approved.figures == {"held": 300_000, "amount": 200_000, "released": 100_000,
                                "approve_up_to": 2_000_000}
    (payout,) = lines_of(explanation, "payout")
    assert payout.figures["amount"] == 200_000
    assert explanation.mismatches == []


@pytest.mark.parametrize(("lang", "expected"), [
    ("ja", "支払請求の却下 payout-1: manager (承認権限 2,000,000円) が clerk の請求を却下; 留保 "
           "300,000円 を解除 (the invoice does not match the loss)"),
    ("en", "Payout payout-1 rejected by manager (may approve up to 2,000,000 yen), requested "
           "by clerk: the 300,000 yen held is released (the invoice does not match the loss)")])
def test_a_rejection_releases_the_whole_hold(office: Ledger, lang: Lang, expected: str) -> None:
    by(office, "clerk", file_data_media(loss=800_000), request(amount=300_000))
    by(office, "manager", reject())
    explanation = told(office, lang)
    (rejected,) = lines_of(explanation, "payout_rejected")
    assert rejected.text == f"{AT[lang]} {expected}"
    assert "held" not in explanation.lines[-1].figures
    assert explanation.mismatches == []


def test_payouts_issued_while_a_request_is_held_and_on_approval_agree_with_the_rule(
        office: Ledger) -> None:
    by(office, "clerk", file_data_media(loss=800_000), request(amount=300_000),
       request(amount=200_000), pay(amount=100_000))
    by(office, "manager", approve("C1", "payout-2"))
    for lang, working in (
            ("ja", ("既払額 0円, 承認待ちの留保 500,000円 → 未払額 200,000円",
                    "既払額 100,000円, 承認待ちの留保 300,000円 → 未払額 300,000円")),
            ("en", ("already paid 0 yen, held for approval 500,000 yen → still payable "
                    "200,000 yen", "already paid 100,000 yen, held for approval 300,000 yen → "
                    "still payable 300,000 yen"))):
        explanation = told(office, lang)  # type: ignore[arg-type]
        issued, approved = lines_of(explanation, "payout")
        assert working[0] in issued.text and working[1] in approved.text
        assert (issued.figures["held_before"], approved.figures["held_before"]) == (
            500_000, 300_000)
        assert explanation.mismatches == [], explanation.text()


def test_a_request_and_its_approval_on_a_claim_of_an_incident_agree_with_the_rule(
        office: Ledger) -> None:
    by(office, "clerk", incident_data_media("C1"), incident_data_media("C2"), pay("C1"),
       request("C2"))
    by(office, "manager", approve("C2"))
    for lang in ("ja", "en"):
        explanation = told(office, lang, "C2")
        assert explanation.lines[-1].figures["paid"] == 300_000
        assert explanation.mismatches == [], explanation.text()


def test_an_approval_beyond_the_approvers_authority_or_by_the_requester_is_called_out(
        office: Ledger) -> None:
    by(office, "clerk", file_data_media(loss=800_000), request(amount=300_000))
    by(office, "manager", approve())
    claim_events, year_events = events_of(office)
    at = next(i for i, e in enumerate(claim_events) if isinstance(e, PayoutApproved))
    claim_events[at] = claim_events[at].model_copy(
        update={"approve_up_to": Yen(250_000), "actor": "clerk"})
    for lang, expected in (
            ("ja", ["※ PayoutApproved payout-1: 請求者が自ら判断しています",
                    "※ PayoutApproved payout-1: 承認権限 250,000円 を超えています"]),
            ("en", ["* PayoutApproved payout-1: decided by the actor who requested it",
                    "* PayoutApproved payout-1: beyond the approver's authority of "
                    "250,000 yen"])):
        explanation = explain(claim_events, year_events, lang)  # type: ignore[arg-type]
        assert [m.text for m in explanation.mismatches] == expected


def test_approving_part_of_a_hold_needs_authority_over_all_of_it_or_is_called_out(
        office: Ledger) -> None:
    by(office, "clerk", file_data_media(loss=800_000), request(amount=300_000))
    by(office, "manager", approve(amount=100_000))
    claim_events, year_events = events_of(office)
    at = next(i for i, e in enumerate(claim_events) if isinstance(e, PayoutApproved))
    claim_events[at] = claim_events[at].model_copy(update={"approve_up_to": Yen(150_000)})
    explanation = explain(claim_events, year_events, "en")
    assert [m.text for m in explanation.mismatches] == [
        "* PayoutApproved payout-1: beyond the approver's authority of 150,000 yen"]


def test_a_held_request_whose_amount_the_year_did_not_hold_is_called_out(
        office: Ledger) -> None:
    by(office, "clerk", file_data_media(loss=800_000), request(amount=300_000))
    claim_events, year_events = events_of(office)
    held = year_events[-1]
    year_events[-1] = held.model_copy(update={"amount": Yen(200_000),
                                              "remaining_after": Yen(800_000)})
    explanation = explain(claim_events, year_events, "en")
    assert [m.text for m in explanation.mismatches] == [
        "* AnnualLimitHeld: the recorded amount of 200,000 yen disagrees with the "
        "recomputation from the terms: 300,000 yen",
        "* AnnualLimitHeld: the recorded remaining after of 800,000 yen disagrees with the "
        "recomputation from the terms: 700,000 yen"]


def test_a_request_issued_at_once_beyond_the_requesters_authority_is_called_out(
        office: Ledger) -> None:
    by(office, "clerk", file_data_media(loss=800_000), request(amount=50_000))
    claim_events, year_events = events_of(office)
    at = next(i for i, e in enumerate(claim_events) if isinstance(e, PayoutRequested))
    claim_events[at] = claim_events[at].model_copy(update={"pay_up_to": Yen(40_000)})
    for lang, expected in (
            ("ja", "※ PayoutRequested payout-1: 即時支払と記録されていますが、50,000円 は"
                   "請求者の支払権限 40,000円 を超えています"),
            ("en", "* PayoutRequested payout-1: recorded as issued at once, but 50,000 yen "
                   "is above the requester's authority to pay up to 40,000 yen")):
        explanation = explain(claim_events, year_events, lang)  # type: ignore[arg-type]
        assert [m.text for m in explanation.mismatches] == [expected]
