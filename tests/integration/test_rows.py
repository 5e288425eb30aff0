"""The typed read rows (projections/rows.py) describe exactly what the read models
and the API return: each real row validates and dumps back to the same JSON, and
a row with a wrong, missing or extra field is refused."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, TypeAdapter, ValidationError

from adapters.http import Service, create_app
from adapters.service.auth import Tokens
from adapters.service.token_file import new_token
from adapters.storage import persistence_env
from domain.commands import parse_command
from domain.errors import LedgerError
from domain.ledger import Ledger
from projections.audit_trail import AuditQuery
from projections.read_models import ReadModels
from projections.rows import (
    AuditPage,
    AuditRow,
    ClaimAnswer,
    ClaimRow,
    Health,
    LimitsRow,
    ReplayedClaimRow,
    claim_from_state,
    year_rows,
)
from projections.store import open_store
from tests.builders import (
    FakeClock,
    assess,
    attach,
    close,
    exclude,
    file_data_media,
    file_liability,
    pay,
    reverse,
)
from tests.conftest import make_ledger

SCENARIO = [
    attach(), file_data_media("C1"), pay("C1", amount=100_000), file_data_media("C2"),
    pay("C1"), reverse("C1"), assess("C1", loss=900_000), pay("C1"),
    file_liability("L1", notified_on="2024-06-21", channel="email"), pay("L1"),
    file_liability("L2", incident="2024-01-01"), exclude("C2", code="natural_disaster"),
    close("C1"),
]


def run_all(ledger: Ledger) -> None:
    for command in SCENARIO:
        with contextlib.suppress(LedgerError):
            ledger.execute(parse_command(command), actor="t")


def same_json(model: BaseModel, row: Any) -> bool:
    """The model dumps to exactly the JSON of the row it was validated from."""
    return model.model_dump(mode="json") == json.loads(json.dumps(row))


@pytest.fixture
def models(ledger: Ledger, db_url: str) -> Iterator[ReadModels]:
    run_all(ledger)
    models = ReadModels(ledger, open_store(db_url), workers=1)
    models.catch_up()
    yield models
    models.close()


def test_every_row_of_the_read_models_validates_as_it_is(models: ReadModels) -> None:
    limits = models.limits("P1")
    assert limits
    for row in limits:
        assert same_json(LimitsRow.model_validate(row), row)
    for claim_id in ("C1", "C2", "L1", "L2"):
        row = models.claim(claim_id)
        assert row is not None
        assert same_json(ClaimRow.model_validate(row), {**row, "exclusion_wording": None})
    audit = models.audit(AuditQuery())
    assert len(audit) == models.head()
    for row in audit:
        assert same_json(AuditRow.model_validate(row), row)


def test_replayed_rows_validate_in_the_same_shapes(models: ReadModels) -> None:
    ledger = models.ledger
    years = ledger.policy_years_as_of("P1", datetime(2030, 1, 1, tzinfo=UTC))
    assert years
    claims = [ledger.get_claim(c) for c in ("C1", "C2", "L1", "L2")]
    for year in years:
        for row in year_rows(year, claims):
            assert same_json(LimitsRow.model_validate(row), row)
    for claim_id in ("C1", "C2", "L1"):
        row = claim_from_state(ledger.get_claim(claim_id))
        claim = TypeAdapter(ClaimAnswer).validate_python(row)
        assert isinstance(claim, ReplayedClaimRow)
        assert same_json(claim, {**row, "exclusion_wording": None})


def good_rows(models: ReadModels) -> dict[type[BaseModel], dict[str, Any]]:
    claim = models.claim("C1")
    assert claim is not None
    return {LimitsRow: models.limits("P1")[0], ClaimRow: claim,
            AuditRow: models.audit(AuditQuery(limit=1))[0]}


@pytest.mark.parametrize("field", ["policy_id", "position", "paid"])
def test_a_row_with_a_wrong_missing_or_extra_field_is_refused(
    models: ReadModels, field: str,
) -> None:
    for model, row in good_rows(models).items():
        if field not in row:
            continue
        for bad in ({**row, field: ["not", "a", "value"]},
                    {k: v for k, v in row.items() if k != field},
                    {**row, "unexpected": 1}):
            with pytest.raises(ValidationError):
                model.model_validate(bad)


def test_a_read_models_claim_is_not_taken_for_a_replayed_one(models: ReadModels) -> None:
    row = models.claim("C1")
    assert row is not None
    assert isinstance(TypeAdapter(ClaimAnswer).validate_python(row), ClaimRow)
    with pytest.raises(ValidationError):
        ReplayedClaimRow.model_validate(row)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    clock = FakeClock()
    ledger = make_ledger(persistence_env(str(tmp_path / "ledger.db")), clock)
    run_all(ledger)
    tokens_file = str(tmp_path / "tokens.json")
    token = new_token("reader", "auditor", tokens_file)
    models = ReadModels.open(ledger, str(tmp_path / "ledger.db"))
    service = Service(ledger, models, Tokens.load(tokens_file))
    with TestClient(create_app(service), base_url="http://127.0.0.1",
                    headers={"Authorization": f"Bearer {token}"}) as client:
        yield client
    models.close()
    ledger.close()


def test_the_apis_answers_are_exactly_the_models(api: TestClient) -> None:
    def get(path: str, **params: Any) -> Any:
        response = api.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    limits = get("/policies/P1/limits")
    assert limits and all(same_json(LimitsRow.model_validate(r), r) for r in limits)
    then = get("/policies/P1/limits", as_of="2030-01-01")
    assert then and all(same_json(LimitsRow.model_validate(r), r) for r in then)
    for claim_id in ("C1", "C2", "L1"):
        body = get(f"/claims/{claim_id}")
        assert same_json(ClaimRow.model_validate(body), body)
        body = get(f"/claims/{claim_id}", as_of="2030-01-01")
        assert same_json(ReplayedClaimRow.model_validate(body), body)
    assert get("/claims/C2")["exclusion_wording"] is not None
    for path in ("/audit", "/policies/P1/history", "/claims/C1/history"):
        body = get(path, limit=3)
        assert body["items"] and same_json(AuditPage.model_validate(body), body)
    body = get("/health")
    assert same_json(Health.model_validate(body), body)
