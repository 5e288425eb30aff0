"""Hypothesis strategies: commands of every kind on a few policies and claims,
some of them sharing an incident, as the property tests and the read-model
tests draw them."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.builders import (
    assess,
    close,
    exclude,
    file_data_media,
    file_liability,
    pay,
    reverse,
    withdraw,
)

CLAIMS = ["C1", "C2", "C3", "C4", "L1", "L2", "L3"]
loss = st.one_of(
    st.sampled_from([0, 100_000, 300_000, 600_000, 700_000, 800_000, 1_800_000, 3_000_000]),
    st.integers(min_value=0, max_value=3_500_000),
)
incident = st.sampled_from(["2024-04-01", "2024-12-31", "2025-03-31", "2025-04-01",
                            "2024-03-15"])
INCIDENTS = {"I1": "2024-06-01", "I2": "2025-04-01"}
"""Incidents that several claims may share, and the day each occurred."""


@st.composite
def commands(draw: Any, kinds: tuple[str, ...] = (
        "file", "pay", "pay", "pay", "interim", "interim", "reverse", "assess", "exclude",
        "close", "withdraw"), incidents: tuple[str | None, ...] = (None, None, "I1", "I2"),
        ) -> dict[str, Any]:
    claim_id = draw(st.sampled_from(CLAIMS))
    kind = draw(st.sampled_from(kinds))
    if kind == "file":
        shared = draw(st.sampled_from(incidents))
        one_of = {} if shared is None else {"incident_id": shared}
        if claim_id.startswith("C"):
            day = draw(incident) if shared is None else INCIDENTS[shared]
            return file_data_media(claim_id, loss=draw(loss), incident=day, **one_of)
        made = draw(st.sampled_from(["2024-05-01", "2025-01-10", "2025-06-01"]))
        if shared is not None:
            return file_liability(claim_id, loss=draw(loss), incident="2024-04-20",
                                  made_on=made, **one_of)
        return file_liability(claim_id, loss=draw(loss), incident="2024-03-20"
                              if draw(st.booleans()) and made > "2024-05" else "2024-04-20",
                              made_on=made)
    if kind == "pay":
        return pay(claim_id)
    if kind == "interim":
        return pay(claim_id, amount=draw(st.integers(min_value=0, max_value=1_500_000)))
    if kind == "reverse":
        return reverse(claim_id, payout_id=f"payout-{draw(st.integers(1, 3))}")
    if kind == "assess":
        return assess(claim_id, loss=draw(loss))
    if kind == "exclude":
        code = "natural_disaster" if draw(st.booleans()) else "ip_infringement"
        return exclude(claim_id, code=code)
    return close(claim_id) if kind == "close" else withdraw(claim_id)
