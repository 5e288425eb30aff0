"""The console driven in-process as a browser drives it (FastAPI's TestClient):
signing in with the form's own token, and posting a signed-in page's forms."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eventsourcing.persistence import StoredEvent
from fastapi.testclient import TestClient
from httpx import Response

from adapters.http import Service, create_app
from adapters.service.auth import Tokens
from adapters.service.token_file import new_token
from adapters.storage import persistence_env
from domain.commands import parse_command
from projections.read_models import ReadModels
from tests.builders import (
    FakeClock,
    attach,
    cancel_firewall,
    close,
    end_service,
    file_data_media,
    file_liability,
    pay,
    reverse,
)
from tests.harness import make_ledger

ROLES = ("appender", "auditor", "operator", "subscriber")


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


DEMO_RUN = [attach("P-1"), attach("P-2"), attach("Q-1"),
            file_data_media("C-1", policy_id="P-1"), pay("C-1"),
            file_liability("L-1", policy_id="P-1"), pay("L-1"), reverse("L-1")]
"""Three policies, two claims, payouts and a reversal (the ``console`` fixture)."""


Step = tuple[dict[str, Any], str]
"""A command and the actor who sends it."""
HOSTILE_NAME = "<b>&</b> \"Co\" 'x' %_ ＡＢＣ"
"""A holder's name with HTML and SQL LIKE metacharacters and full-width letters."""


def authority(actor: str, pay_up_to: int, approve_up_to: int) -> Step:
    return ({"command": "set_authority", "actor_name": actor, "pay_up_to": pay_up_to,
             "approve_up_to": approve_up_to}, "ops")


def request(claim_id: str, actor: str, **over: Any) -> Step:
    return ({"command": "request_payout", "claim_id": claim_id, **over}, actor)


def decide(claim_id: str, payout_id: str, actor: str, command: str = "approve_payout") -> Step:
    return ({"command": command, "claim_id": claim_id, "payout_id": payout_id,
             "reason": "checked against the invoice"}, actor)


OFFICE_RUN: list[dict[str, Any] | Step] = [
    authority("desk-a", 100_000, 500_000), authority("desk-b", 0, 1_000_000),
    authority("desk-c", 0, 200_000),
    attach("P-1", customer_name="株式会社サンプル商事"),
    attach("P-2", customer_name=HOSTILE_NAME),
    attach("Q-1", customer_name="有限会社テスト", firewall_applied_on="2021-04-01",
           service_start="2021-04-01"),
    file_data_media("C-1", policy_id="P-1", notified_on="2025-12-01"), pay("C-1", 200_000),
    request("C-1", "desk-a", amount=300_000, due_on="2026-02-01"),
    {"command": "record_recovery", "claim_id": "C-1", "kind": "subrogation",
     "amount": 700_000, "counterparty": "加害者株式会社", "reason": "求償により回収"},
    file_liability("L-1", policy_id="P-1", notified_on="2025-06-01"),
    request("L-1", "desk-b", amount=150_000), request("L-1", "desk-a", amount=50_000),
    file_data_media("D-1", policy_id="P-2", loss=1_100_000),
    file_data_media("D-2", policy_id="P-2", loss=600_000),
    request("D-2", "desk-c", amount=100_000), decide("D-2", "payout-1", "desk-b"),
    file_data_media("X-1", policy_id="Q-1", incident="2022-01-10"),
    file_data_media("Z-1", policy_id="Q-1", incident="2022-02-01", notified_on="2022-02-05"),
    close("Z-1"), cancel_firewall("P-2", on="2025-12-31"), end_service("Q-1", on="2025-03-31"),
]
"""The claims office at work: authorities; three policies (one holder's name
hostile); payouts held awaiting approval (one due, one not), one issued at once
within authority, one approved; a recovery; a year whose reserves exceed its
remaining limit; a notice after the time bar; a closed claim; a cancelled
firewall option and an ended service (the ``office`` fixture)."""


@contextmanager
def open_console(tmp_path: Path, run: Sequence[dict[str, Any] | Step] = tuple(DEMO_RUN),
                 stored: Sequence[StoredEvent] = ()) -> Iterator[Console]:
    """The console on a SQLite ledger holding the events ``stored`` as they are
    (a log written before), then ``run``'s commands (each by ``svc-appender``, or
    by the actor given with it) recorded an hour apart."""
    clock = FakeClock()
    ledger = make_ledger(persistence_env(str(tmp_path / "ledger.db")), clock)
    if stored:
        ledger.recorder.insert_events(list(stored))
    for step in run:
        command, actor = step if isinstance(step, tuple) else (step, "svc-appender")
        clock.advance(hours=1)
        ledger.execute(parse_command(command), actor=actor)
    tokens_file = str(tmp_path / "tokens.json")
    tokens = {role: new_token(f"demo-{role}", role, tokens_file) for role in ROLES}
    models = ReadModels.open(ledger, str(tmp_path / "ledger.db"))
    service = Service(ledger, models, Tokens.load(tokens_file))
    with TestClient(create_app(service), base_url="http://127.0.0.1") as client:
        yield Console(client, tokens, service, clock, str(tmp_path / "ledger.db"))
    models.close()
    ledger.close()
