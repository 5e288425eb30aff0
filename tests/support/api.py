"""The HTTP API driven in-process (FastAPI's TestClient) on a small ledger, and
what a refusal of it says: the field and rule of each violation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from adapters.http import Service, create_app
from adapters.service.auth import Tokens
from adapters.service.token_file import new_token
from adapters.storage import persistence_env
from domain.commands import parse_command
from domain.ledger import Ledger
from projections.read_models import ReadModels
from tests.builders import attach, file_data_media
from tests.harness import make_ledger

PROBLEM = "application/problem+json"


@dataclass
class Api:
    """The API in-process (a TestClient) on a ledger, with a token per role, and
    a second appender's (``approver``)."""

    client: TestClient
    ledger: Ledger
    tokens: dict[str, str]

    def as_(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def head(self) -> int:
        return self.ledger.recorder.max_notification_id() or 0

    def post(self, path: str, body: str | bytes) -> httpx.Response:
        return self.client.post(path, content=body, headers={
            **self.as_("appender"), "Content-Type": "application/json"})

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.get(path, params=params, headers=self.as_("auditor"))


@contextmanager
def api_in_process(db: str, folder: Path) -> Iterator[Api]:
    """The app in process on ``db``, holding policy P1 and claim C1."""
    ledger = make_ledger(persistence_env(db))
    for command in (attach("P1"), file_data_media("C1")):
        ledger.execute(parse_command(command), actor="tester")
    tokens_file = str(folder / "tokens.json")
    tokens = {role: new_token(f"t-{role}", role, tokens_file)
              for role in ("appender", "auditor", "operator")}
    tokens["approver"] = new_token("t-approver", "appender", tokens_file)
    models = ReadModels.open(ledger, db)
    service = Service(ledger, models, Tokens.load(tokens_file))
    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        yield Api(client, ledger, tokens)
    models.close()
    ledger.close()


def refusal(response: httpx.Response, status: int) -> list[tuple[str | None, str]]:
    """The (field, rule) of each violation of a problem response."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"] == PROBLEM
    assert "Traceback" not in response.text
    return [(v["field"], v["rule"]) for v in response.json()["violations"]]
