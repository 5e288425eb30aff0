"""Regenerates the README's screenshots of the console (`make screenshots`): the
demo cases (adapters/cli/demo.jsonl), recorded nine days apart from 1 June 2025,
then a claims office's authorities and a payout held for approval
(``OFFICE_STEPS``), served by the real server and photographed in Debian's
Chromium."""

from __future__ import annotations

import json
import sys
import tempfile
from contextlib import suppress
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from adapters.storage import persistence_env
from adapters.storage.sealed_recorders import sealed_log
from domain.commands import parse_command
from domain.errors import LedgerError
from domain.ledger import Ledger
from tests.builders import FakeClock, SequentialIds
from tests.support import browser, serving

PAGES = [
    ("policies", "/console/policies", {"width": 1100, "height": 720}),
    ("policy-year", "/console/policies/P-DEMO-1/years/1", {"width": 1100, "height": 1000}),
    ("claim", "/console/claims/C-DEMO-2?lang=en", {"width": 1100, "height": 1250}),
    ("audit", "/console/audit?policy_id=P-DEMO-1&limit=12", {"width": 1280, "height": 900}),
    ("as-of", "/console/policies/P-DEMO-1?as_of=2025-07-15", {"width": 1100, "height": 640}),
    ("claim-375", "/console/claims/C-DEMO-1", {"width": 375, "height": 1100}),
    ("work", "/console/work", {"width": 1280, "height": 900}),
    ("search", "/console/search?q=%E3%82%B5%E3%83%B3%E3%83%97%E3%83%AB",
     {"width": 1100, "height": 640}),
    ("reserves", "/console/reports/reserves", {"width": 1280, "height": 900}),
]
OFFICE_STEPS = [
    ({"command": "set_authority", "actor_name": "svc-claims-desk", "pay_up_to": 100_000,
      "approve_up_to": 0, "reason": "claims desk"}, "ops-lead"),
    ({"command": "set_authority", "actor_name": "claims-manager", "pay_up_to": 1_000_000,
      "approve_up_to": 2_000_000, "reason": "claims manager"}, "ops-lead"),
    ({"command": "file_claim", "claim_id": "C-DEMO-6", "policy_id": "P-DEMO-1",
      "coverage": "it_liability", "cause": "unauthorized_access", "incident_date": "2025-08-01",
      "claim_made_on": "2025-08-20", "loss_amount": 900_000,
      "description": "取引先からの損害賠償請求 (承認待ち)"}, "svc-claims-desk"),
    ({"command": "request_payout", "claim_id": "C-DEMO-6", "amount": 600_000,
      "due_on": "2025-09-30"}, "svc-claims-desk"),
]
"""After the demo cases: who may pay and approve what, and a payout above the
claims desk's authority, held for the claims manager's approval."""


def demo_ledger(db: str) -> None:
    clock = FakeClock(datetime(2025, 6, 1, 0, tzinfo=UTC))
    ledger = Ledger(persistence_env(db), clock=clock, new_id=SequentialIds())
    text = resources.files("adapters.cli").joinpath("demo.jsonl").read_text(encoding="utf-8")
    steps = [(json.loads(line), "svc-claims-desk") for line in text.splitlines()]
    for command, actor in [*steps, *OFFICE_STEPS]:
        clock.advance(days=9)
        with suppress(LedgerError):  # the demo shows refusals too; they record nothing
            ledger.execute(parse_command(command), actor=actor)
    sealed_log(ledger.recorder).seal_tail()  # a checkpoint for the seal page
    ledger.close()


def main(out: str) -> int:
    reason = browser.missing()
    if reason is not None:
        print(reason, file=sys.stderr)
        return 1
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "demo.db")
        demo_ledger(db)
        with serving.server(db, Path(tmp)) as (url, tokens), browser.chromium() as context:
            page = context.new_page()
            browser.sign_in(page, url, tokens["auditor"])
            for name, path, size in PAGES:
                page.set_viewport_size(size)
                page.goto(f"{url}{path}")
                page.screenshot(path=str(folder / f"{name}.png"))
                print(folder / f"{name}.png")
            page.set_viewport_size({"width": 1100, "height": 640})
            page.goto(f"{url}/console/seal")
            page.get_by_role("button", name="今すぐ全体を検証").click()
            page.screenshot(path=str(folder / "seal.png"))
            print(folder / "seal.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
