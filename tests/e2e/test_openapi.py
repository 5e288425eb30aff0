"""The OpenAPI document describes every answer: each operation names a schema
for each of its responses, every reference in it resolves (in each app built in
the process), and what the API answers validates against what it documents."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, cast

import pytest
from fastapi import FastAPI

from adapters.http import create_app
from tests.builders import file_data_media, pay
from tests.support.api import Api

try:
    from jsonschema_rs import Draft202012Validator as _Validator  # schemathesis's
except ImportError:  # pragma: no cover - an older schemathesis brings jsonschema
    from jsonschema import Draft202012Validator as _Validator  # type: ignore[no-redef]

METHODS = {"get", "post", "put", "patch", "delete"}


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method.upper(), path, operation


def refs(node: Any) -> Iterator[str]:
    """Every ``$ref`` in a part of the document."""
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def resolves(document: dict[str, Any], ref: str) -> bool:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def named(schema: dict[str, Any]) -> bool:
    """The schema is one of the document's named schemas, a list of them, or
    one of several (not a bare ``object`` or an empty schema)."""
    if "$ref" in schema:
        return True
    if schema.get("type") == "array":
        return named(schema.get("items", {}))
    choices = schema.get("anyOf") or schema.get("oneOf") or []
    return bool(choices) and all(named(c) for c in choices)


def test_every_operation_names_a_schema_for_each_of_its_responses(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    found = list(operations(document))
    assert len(found) == 16
    for method, path, operation in found:
        for status, response in operation["responses"].items():
            content = response.get("content", {})
            assert content, (method, path, status)
            for media in content.values():
                assert named(media["schema"]), (method, path, status, media["schema"])


def test_every_reference_resolves_in_each_app_built_in_the_process(api: Api) -> None:
    service = cast(FastAPI, api.client.app).state.service
    documents = [api.client.get("/openapi.json").json(), create_app(service).openapi(),
                 create_app(service).openapi()]
    for document in documents:
        found = set(refs(document))
        assert "#/components/schemas/AttachCoverage" in found
        assert [r for r in found if not resolves(document, r)] == []
    assert documents[1] == documents[0]


def documented(document: dict[str, Any], method: str, path: str, status: int
               ) -> dict[str, Any]:
    """The schema ``path`` (as the document spells it) documents for ``status``,
    with the document's components beside it, so that its references resolve."""
    schema = document["paths"][path][method.lower()]["responses"][str(status)]["content"][
        "application/json"]["schema"]
    return {**schema, "components": document["components"]}


def test_what_the_api_answers_validates_against_what_it_documents(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    tried = api.post("/commands?dry_run=true", json.dumps(pay("C1")))
    tried_batch = api.post("/commands/batch?dry_run=true", json.dumps(
        {"commands": [file_data_media("C2"), pay("NOPE")]}))
    paid = api.post("/commands", json.dumps(pay("C1")))
    batch = api.post("/commands/batch", json.dumps(
        {"commands": [file_data_media("C2"), pay("NOPE")]}))
    operator = api.as_("operator")
    authority = api.client.put("/authority/t-approver", headers=operator,
                               json={"pay_up_to": 0, "approve_up_to": 1})
    answers = [
        ("POST", "/commands", tried),
        ("POST", "/commands/batch", tried_batch),
        ("POST", "/commands", paid),
        ("POST", "/commands/batch", batch),
        ("GET", "/policies/{policy_id}/limits", api.get("/policies/P1/limits")),
        ("GET", "/policies/{policy_id}/limits", api.get("/policies/P1/limits",
                                                        as_of="2100-01-01")),
        ("GET", "/claims/{claim_id}", api.get("/claims/C1")),
        ("GET", "/claims/{claim_id}", api.get("/claims/C1", as_of="2100-01-01")),
        ("GET", "/claims/{claim_id}/explanation", api.get("/claims/C1/explanation",
                                                          lang="en")),
        ("GET", "/policies/{policy_id}/history", api.get("/policies/P1/history")),
        ("GET", "/claims/{claim_id}/history", api.get("/claims/C1/history", limit=2)),
        ("GET", "/audit", api.get("/audit")),
        ("GET", "/reports/reserves", api.get("/reports/reserves", as_of="2100-01-01")),
        ("GET", "/health", api.client.get("/health")),
        ("POST", "/admin/verify", api.client.post("/admin/verify", headers=operator)),
        ("POST", "/admin/rebuild", api.client.post("/admin/rebuild", headers=operator)),
        ("PUT", "/authority/{actor_name}", authority),
        ("GET", "/authority", api.get("/authority")),
        ("GET", "/authority", api.get("/authority", as_of="2026-01-14")),
        ("GET", "/authority/{actor_name}", api.get("/authority/t-approver")),
        ("GET", "/authority/{actor_name}", api.get("/authority/nobody")),
        ("GET", "/feed", api.client.get("/feed", headers=operator, params={"limit": 3})),
    ]
    assert {(m, p) for m, p, _ in answers} == {(m, p) for m, p, _ in operations(document)}
    for method, path, response in answers:
        assert response.status_code < 300, (path, response.text)
        schema = documented(document, method, path, response.status_code)
        errors = [str(e) for e in _Validator(schema).iter_errors(response.json())]
        assert errors == [], (method, path, errors)
    results = batch.json()["results"]
    assert [r["ok"] for r in results] == [True, False]
    assert (tried.status_code, tried.json()["dry_run"]) == (200, True)
    assert tried_batch.json()["dry_run"] is True


def test_the_command_routes_document_dry_run_with_an_example(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    for path in ("/commands", "/commands/batch"):
        (parameter,) = [p for p in document["paths"][path]["post"]["parameters"]
                        if p["name"] == "dry_run"]
        assert (parameter["in"], parameter["schema"]["type"], parameter["example"]) == (
            "query", "boolean", True)
    answer = document["paths"]["/commands"]["post"]["responses"]["200"]["content"][
        "application/json"]
    assert answer["example"]["dry_run"] is True
    schema = {**answer["schema"], "components": document["components"]}
    assert list(_Validator(schema).iter_errors(answer["example"])) == []


@pytest.mark.parametrize("body", [
    {"status": "ok", "log_head": 1, "read_models": [], "extra": 1},
    {"status": "fine", "log_head": 1, "read_models": []},
    {"status": "ok", "read_models": []},
])
def test_the_documented_schemas_refuse_answers_of_another_shape(
        api: Api, body: dict[str, Any]) -> None:
    document = api.client.get("/openapi.json").json()
    schema = documented(document, "GET", "/health", 200)
    assert not _Validator(schema).is_valid(body)
