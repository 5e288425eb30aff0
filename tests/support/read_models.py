"""What the read-model tests share: a scenario of commands that every read model
has rows for, and all of the read models' tables as one value to compare."""

from __future__ import annotations

from typing import Any

from projections.read_models import PROJECTIONS, ReadModels
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


def tables(models: ReadModels) -> dict[str, Any]:
    """Every read model's tables, by read model."""
    return {name: models.snapshot(name) for name in PROJECTIONS}


SCENARIO = [
    attach(), file_data_media("C1"), pay("C1", amount=100_000), file_data_media("C2"),
    pay("C1"), reverse("C1"), assess("C1", loss=900_000), pay("C1"),
    file_liability("L1"), pay("L1"), file_liability("L2", incident="2024-01-01"),
    exclude("C2", code="natural_disaster"), close("C1"),
    file_data_media("C3", incident="2025-05-01"), pay("C3"),
]
