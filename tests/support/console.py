"""The console driven in-process as a browser drives it (FastAPI's TestClient):
signing in with the form's own token, and posting a signed-in page's forms."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient
from httpx import Response

from adapters.http import Service, create_app
from adapters.service.auth import Tokens, new_token
from adapters.storage import persistence_env
from domain.commands import parse_command
from projections.read_models import ReadModels
from tests.builders import FakeClock, attach, file_data_media, file_liability, pay, reverse
from tests.harness import make_ledger

ROLES = ("appender", "auditor", "operator")


class Console:
    """A TestClient on the API and console over a SQLite ledger, a token per role,
    and the service and clock behind them."""

    def __init__(self, client: TestClient, tokens: dict[str, str], service: Service,
                 clock: FakeClock, db: str) -> None:
        self.client, self.tokens, self.service, self.clock = client, tokens, service, clock
        self.db = db

    def send_sign_in(self, token: str, lang: str = "ja") -> Response:
        """The sign-in form sent as a browser sends it (with the form's own token)."""
        form = self.client.get("/console/sign-in").text
        return self.client.post("/console/sign-in", data={
            "token": token, "lang": lang, "csrf": form_field(form, "csrf")},
            follow_redirects=False)

    def sign_in(self, role: str = "auditor", lang: str = "ja") -> TestClient:
        response = self.send_sign_in(self.tokens[role], lang)
        assert response.status_code == 303, response.text
        return self.client

    def post(self, path: str, **params: str) -> Response:
        """A signed-in page's form posted, with the session's form token."""
        token = form_field(self.client.get("/console/seal").text, "csrf")
        return self.client.post(path, params=params, data={"csrf": token})


def form_field(page: str, name: str) -> str:
    """The value of the hidden form field ``name`` on ``page``."""
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', page)
    assert found is not None, f"no hidden {name} field"
    return html.unescape(found.group(1))


@contextmanager
def open_console(tmp_path: Path) -> Iterator[Console]:
    """The console on a ledger of three policies, two claims, payouts and a
    reversal, recorded an hour apart (the ``console`` fixture)."""
    clock = FakeClock()
    ledger = make_ledger(persistence_env(str(tmp_path / "ledger.db")), clock)
    run = [attach("P-1"), attach("P-2"), attach("Q-1"),
           file_data_media("C-1", policy_id="P-1"), pay("C-1"),
           file_liability("L-1", policy_id="P-1"), pay("L-1"), reverse("L-1")]
    for command in run:
        clock.advance(hours=1)
        ledger.execute(parse_command(command), actor="svc-appender")
    tokens_file = str(tmp_path / "tokens.json")
    tokens = {role: new_token(f"demo-{role}", role, tokens_file) for role in ROLES}
    models = ReadModels.open(ledger, str(tmp_path / "ledger.db"))
    service = Service(ledger, models, Tokens.load(tokens_file))
    with TestClient(create_app(service), base_url="http://127.0.0.1") as client:
        yield Console(client, tokens, service, clock, str(tmp_path / "ledger.db"))
    models.close()
    ledger.close()
