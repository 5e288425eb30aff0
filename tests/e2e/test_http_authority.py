"""Holds, approvals and authority through the HTTP API: the actor of a request
or an approval is its token's name; only another actor whose authority covers
the amount approves; a hold resolves once; and an authority is an operator's
decision (``PUT /authority/{name}``), refused to an appender with nothing
appended, and read back by auditors as of any time."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.builders import approve, authorize, request
from tests.support.api import Api, refusal

pytestmark = pytest.mark.usefixtures("no_unexpected_errors")


def _send(api: Api, token: str, command: dict[str, Any]) -> httpx.Response:
    return api.client.post("/commands", json=command, headers=api.as_(token))


def _set(api: Api, actor: str, **body: Any) -> httpx.Response:
    return api.client.put(f"/authority/{actor}", json=body, headers=api.as_("operator"))


def _held(api: Api) -> dict[str, Any]:
    """C1's payout of 700,000 requested by ``t-appender``, who has no authority."""
    response = _send(api, "appender", request("C1"))
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_a_request_is_recorded_as_the_tokens_actor_and_held_beyond_its_authority(api: Api):
    held = _held(api)

    assert (held["result"]["hold"], held["result"]["held_amount"]) == ("pending", 700_000)
    rows = api.get("/audit", event_type="PayoutRequested").json()["items"]
    assert [r["actor"] for r in rows] == ["t-appender"]


def test_another_appender_whose_authority_covers_the_hold_approves_it(api: Api):
    _held(api)
    assert _set(api, "t-approver", pay_up_to=0, approve_up_to=1_000_000).status_code == 200

    approved = _send(api, "approver", approve("C1"))

    assert approved.status_code == 201, approved.text
    assert (approved.json()["result"]["hold"], approved.json()["result"]["amount"]) == (
        "approved", 700_000)
    rows = api.get("/audit", event_type="PayoutApproved").json()["items"]
    assert [(r["actor"], r["payload"]["requested_by"]) for r in rows] == [
        ("t-approver", "t-appender")]


@pytest.mark.parametrize(("token", "approve_up_to", "rule"), [
    ("appender", 1_000_000, "another_approver"),
    ("approver", 699_999, "approval_authority"),
])
def test_an_approval_by_the_requester_or_beyond_the_approvers_authority_is_403(
        api: Api, token: str, approve_up_to: int, rule: str):
    _held(api)
    _set(api, f"t-{token}", pay_up_to=0, approve_up_to=approve_up_to)
    head = api.head()

    response = _send(api, token, approve("C1"))

    assert refusal(response, 403) == [("actor", rule)]
    assert api.head() == head


def test_a_hold_already_resolved_is_a_conflict(api: Api):
    _held(api)
    _set(api, "t-approver", pay_up_to=0, approve_up_to=1_000_000)
    assert _send(api, "approver", approve("C1")).status_code == 201
    head = api.head()

    again = _send(api, "approver", approve("C1", reason="a second look"))

    assert refusal(again, 409) == [("payout_id", "hold_pending")]
    assert api.head() == head


def test_an_appender_may_not_set_an_authority_and_nothing_is_appended(api: Api):
    head = api.head()

    alone = api.post("/commands", json.dumps(authorize("t-appender", 10**9, 10**9)))
    batch = api.post("/commands/batch", json.dumps({"commands": [
        authorize("t-appender", 10**9, 10**9), request("C1")]}))

    assert refusal(alone, 403) == [("command", "operator_only")]
    first, second = batch.json()["results"]
    assert (first["status"], first["problem"]["violations"][0]["rule"]) == (
        403, "operator_only")
    assert second["ok"] and second["outcome"]["result"]["hold"] == "pending"
    assert api.head() == head + len(second["outcome"]["events"])
    assert api.client.get("/authority", headers=api.as_("auditor")).json() == []


def test_an_operator_sets_an_authority_and_auditors_read_it_as_of_any_time(api: Api):
    body = {"pay_up_to": 800_000, "approve_up_to": 0, "reason": "senior"}
    operator = {**api.as_("operator"), "Idempotency-Key": "a-1"}
    first = api.client.put("/authority/t-appender", json=body, headers=operator)
    retried = api.client.put("/authority/t-appender", json=body, headers=operator)
    unchanged = _set(api, "t-appender", pay_up_to=800_000, approve_up_to=0)

    assert first.status_code == 200, first.text
    assert first.json()["result"] == {"actor_name": "t-appender", "pay_up_to": 800_000,
                                      "approve_up_to": 0}
    assert retried.headers["idempotent-replayed"] == "true"
    assert {**retried.json(), "replayed": False} == first.json()
    assert refusal(unchanged, 422) == [("pay_up_to", "authority_changed")]
    rows = api.get("/authority").json()
    assert [(r["actor_name"], r["pay_up_to"], r["set_by"], r["reason"]) for r in rows] == [
        ("t-appender", 800_000, "t-operator", "senior")]
    assert api.get("/authority", as_of="2026-01-14").json() == []
    shown = api.get("/authority/t-appender").json()
    assert [(c["pay_up_to_before"], c["pay_up_to"]) for c in shown["changes"]] == [
        (0, 800_000)]
    assert _held(api)["result"]["hold"] == "issued"  # within 800,000: paid at once


def test_the_route_names_the_actor_and_only_an_operator_sets_it(api: Api):
    other = api.client.put("/authority/t-approver", headers=api.as_("operator"),
                           json={"actor_name": "t-appender", "pay_up_to": 1,
                                 "approve_up_to": 1})
    blank = api.client.put("/authority/%20", headers=api.as_("operator"),
                           json={"pay_up_to": 1, "approve_up_to": 1})
    by_auditor = api.client.put("/authority/t-approver", headers=api.as_("auditor"),
                                json={"pay_up_to": 1, "approve_up_to": 1})
    negative = _set(api, "t-approver", pay_up_to=-1, approve_up_to=1)

    assert refusal(other, 400) == [("actor_name", "same_as_route")]
    assert refusal(blank, 400) == [("actor_name", "required")]
    assert by_auditor.status_code == 403
    assert [field for field, _ in refusal(negative, 422)] == ["pay_up_to"]
    assert api.get("/authority").json() == []
