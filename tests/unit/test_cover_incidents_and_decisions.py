"""Where cover, incidents and decisions meet: the loss an incident counts is each
claim's loss after exclusions (and nothing while it is denied), and the ledger's
own outside-cover denial stands until cover includes the claim's date."""

from __future__ import annotations

import pytest

from domain.errors import RuleViolated
from tests.builders import (
    attach,
    end_service,
    exclude,
    file_data_media,
    pay,
    withdraw_denial,
)
from tests.harness import Harness


def _incident(claim_id: str, loss: int = 300_000) -> dict[str, object]:
    return file_data_media(claim_id, loss=loss, incident="2024-07-01",
                           incident_id="INC-1")


def _paid(h: Harness, *claims: str) -> int:
    return sum(int(h.ledger.get_claim(c).paid) for c in claims)


@pytest.fixture
def enrolled(h: Harness) -> Harness:
    h.given(attach())
    return h


def test_a_partial_exclusion_on_a_claim_of_an_incident_lowers_the_incidents_loss(
    enrolled: Harness,
):
    # given one incident of 150,000 + 300,000, 100,000 of the first excluded
    enrolled.given(_incident("C1", loss=150_000), _incident("C2"),
                   exclude("C1", code="inherent_defect_or_wear", amount=100_000))
    # when the second claim is paid
    enrolled.given(pay("C2"))
    # then the incident's loss is 50,000 + 300,000: the first claim takes only
    # 50,000 of the deductible, and the second bears the other 50,000
    assert _paid(enrolled, "C2") == 250_000


def test_a_withdrawn_denial_counts_the_claims_loss_in_its_incident_again(enrolled: Harness):
    # given one incident: the first claim denied, the second paid (bearing the
    # whole deductible, since the denied claim counts no loss)
    enrolled.given(_incident("C1"), exclude("C1"), _incident("C2"), pay("C2"))
    assert _paid(enrolled, "C2") == 200_000
    # when the denial is withdrawn and both claims are paid what they still can be
    enrolled.given(withdraw_denial("C1"), pay("C1"), pay("C2"))
    # then the incident pays 600,000 less one deductible, not less two
    assert _paid(enrolled, "C1", "C2") == 500_000


def test_the_ledgers_outside_cover_denial_stands_until_cover_includes_the_claim(h: Harness):
    # given cover that ends on 2025-03-31, and a claim of an incident after it
    h.given(attach(service_end="2025-03-31"),
            file_data_media("C1", incident="2025-06-01"))
    assert h.ledger.get_claim("C1").exclusion == "outside_cover"
    # when the denial is withdrawn while cover still ends before the incident
    h.then_refused(withdraw_denial("C1"), RuleViolated, "claim_id", "outside_cover")
    # then once the service's end is corrected past the incident, it can be
    h.given(end_service(on="2025-12-31", reason="the end was recorded a year early"),
            withdraw_denial("C1"), pay("C1"))
    assert _paid(h, "C1") == 700_000
