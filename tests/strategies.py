"""Hypothesis strategies: commands of every kind on a few policies and claims,
some of them sharing an incident, as the property tests and the read-model
tests draw them; and the claims office's commands (requests, approvals,
recoveries, reserves, authority), each with the actor who sends it."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.builders import (
    approve,
    assess,
    authorize,
    close,
    exclude,
    file_data_media,
    file_liability,
    pay,
    recover,
    reject,
    reopen,
    request,
    reverse,
    set_reserve,
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


ACTORS = ["ana", "ben", "chie", "dai"]
OFFICE_CLAIMS = ("C1", "C2", "L1")
"""The claims the office's commands are sent about (each filed first)."""
pay_up_to = st.sampled_from([0, 0, 100_000, 300_000, 1_000_000])
approve_up_to = st.sampled_from([0, 300_000, 700_000, 3_000_000, 3_000_000])
some_yen = st.integers(min_value=0, max_value=1_500_000)
LATEST = "latest"
"""A payout id the test resolves when it sends the command: the claim's latest
request, whatever its id."""
OFFICE_KINDS = ("hold", "hold", "hold", "approve", "reject", "pay", "interim", "reverse",
                "recover", "reserve", "reserve", "authority", "assess", "assess", "close",
                "reopen")
Step = tuple[str, dict[str, Any]]
"""An actor and the command they send."""


@st.composite
def office_filing(draw: Any, claim_id: str) -> dict[str, Any]:
    """The filing of ``claim_id``, in cover and mostly above the deductible,
    perhaps one of incident I1."""
    filed_loss = draw(st.sampled_from([800_000, 200_000, 1_200_000, 3_000_000])
                      | st.integers(min_value=0, max_value=3_500_000))
    shared = draw(st.sampled_from([{"incident_id": "I1"}, {}]))
    if claim_id.startswith("C"):
        return file_data_media(claim_id, loss=filed_loss, incident=INCIDENTS["I1"], **shared)
    return file_liability(claim_id, loss=filed_loss, incident="2024-04-20",
                          made_on="2024-05-01", **shared)


@st.composite
def decision(draw: Any, claim_id: str, kind: str | None = None) -> Step:
    """An approval or a rejection of one of the claim's requests, by anyone."""
    actor = draw(st.sampled_from(ACTORS))
    payout_id = draw(st.sampled_from([LATEST, LATEST, "payout-1", "payout-2"]))
    if (kind or draw(st.sampled_from(["approve", "approve", "reject"]))) == "reject":
        return actor, reject(claim_id, payout_id)
    amount = draw(st.one_of(st.none(), st.none(), some_yen))
    return actor, approve(claim_id, payout_id, amount=amount)


@st.composite
def office_steps(draw: Any) -> list[Step]:
    """A claims office's command on one of ``OFFICE_CLAIMS`` (or a payout,
    reversal, re-assessment, closing or reopening among them); a request comes
    with the decisions on it that follow."""
    actor = draw(st.sampled_from(ACTORS))
    claim_id = draw(st.sampled_from(OFFICE_CLAIMS))
    kind = draw(st.sampled_from(OFFICE_KINDS))
    if kind == "hold":
        asked = request(claim_id, amount=draw(st.one_of(st.none(), some_yen)))
        return [(actor, asked), *draw(st.lists(decision(claim_id), max_size=2))]
    if kind in ("approve", "reject"):
        return [draw(decision(claim_id, kind))]
    if kind == "recover":
        return [(actor, recover(claim_id, amount=draw(some_yen), kind=draw(st.sampled_from(
            ["subrogation", "salvage", "other_insurance", "overpayment"]))))]
    if kind == "reserve":
        return [(actor, set_reserve(claim_id, amount=draw(some_yen), reason=draw(
            st.sampled_from(["reassessed", "litigation", "recovery_expected", "other"]))))]
    if kind == "authority":
        return [(actor, authorize(draw(st.sampled_from(ACTORS)), pay_up_to=draw(pay_up_to),
                                  approve_up_to=draw(approve_up_to)))]
    if kind == "reverse":
        return [(actor, reverse(claim_id, payout_id=f"payout-{draw(st.integers(1, 3))}"))]
    if kind == "interim":
        return [(actor, pay(claim_id, amount=draw(some_yen)))]
    others = {"pay": pay, "assess": lambda c: assess(c, loss=draw(loss)), "close": close,
              "reopen": reopen}
    return [(actor, others[kind](claim_id))]
