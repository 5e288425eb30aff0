"""The product terms as data: the contract codes and their Japanese wording."""

from __future__ import annotations

from datetime import date

from domain.terms import TERM_SETS, TERMS_2006, Coverage, Trigger, terms_in_force

BOTH = {"intentional_or_gross_negligence", "natural_disaster", "war_or_unrest"}
DATA_ONLY = {"public_authority", "inherent_defect_or_wear", "misplacement_or_disposal"}
LIABILITY_ONLY = {
    "contractually_increased_liability", "prior_cause", "analysis_or_forecast_error",
    "non_performance_or_delay", "satellite_damage", "bodily_injury_or_property_damage",
    "ip_infringement", "unapproved_settlement",
}


def codes(coverage: Coverage) -> set[str]:
    return {e.code for e in TERMS_2006.coverage(coverage).exclusions}


def test_exclusion_catalogue_has_exactly_the_contract_codes_per_coverage() -> None:
    assert codes(Coverage.DATA_MEDIA) == BOTH | DATA_ONLY
    assert codes(Coverage.IT_LIABILITY) == BOTH | LIABILITY_ONLY


def test_every_exclusion_carries_the_terms_japanese_wording() -> None:
    for coverage in TERMS_2006.coverages:
        for exclusion in coverage.exclusions:
            assert exclusion.ja and exclusion.en
    data = TERMS_2006.coverage(Coverage.DATA_MEDIA).exclusion("natural_disaster")
    liability = TERMS_2006.coverage(Coverage.IT_LIABILITY).exclusion("natural_disaster")
    assert data and liability
    assert "台風" in data.ja and "台風" not in liability.ja  # only data/media lists typhoons


def test_limits_deductibles_and_triggers_match_the_terms() -> None:
    data = TERMS_2006.coverage(Coverage.DATA_MEDIA)
    liability = TERMS_2006.coverage(Coverage.IT_LIABILITY)
    assert (data.per_incident_limit, data.annual_limit, data.deductible, data.trigger) == (
        1_000_000, 1_000_000, 100_000, Trigger.OCCURRENCE)
    assert (liability.per_incident_limit, liability.annual_limit, liability.deductible,
            liability.trigger) == (2_500_000, 5_000_000, 300_000, Trigger.CLAIMS_MADE)


def test_covered_causes_are_the_contract_codes() -> None:
    assert {c.code for c in TERMS_2006.causes} == {
        "unauthorized_access", "virus", "misoperation", "server_failure", "other"}


def test_the_term_set_in_force_is_the_newest_effective_one() -> None:
    assert terms_in_force(date(2030, 1, 1)) is TERM_SETS[-1]
    assert TERMS_2006.eligibility.firewall_applied_on_or_after == date(2006, 5, 29)


def test_every_reserve_reason_and_recovery_kind_has_its_japanese_wording() -> None:
    from domain.office_commands import SETTABLE_REASONS, RecoveryKind, ReserveReason, SetReserve
    from domain.terms import RECOVERY_KINDS, RESERVE_REASONS

    assert [w.code for w in RESERVE_REASONS] == [r.value for r in ReserveReason]
    assert [w.code for w in RECOVERY_KINDS] == [k.value for k in RecoveryKind]
    assert all(w.ja and w.en for w in (*RESERVE_REASONS, *RECOVERY_KINDS))
    assert set(SETTABLE_REASONS) < set(ReserveReason)
    settable = SetReserve.model_fields["reason"].annotation.__args__  # type: ignore[union-attr]
    assert set(settable) == {r.value for r in SETTABLE_REASONS}
