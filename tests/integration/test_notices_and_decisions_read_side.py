"""Notices and decisions as every reader of the log sees them: the read models,
`verify`, explanations, the export and its replay, the console's claim page and
the CLI's `claim`."""

from __future__ import annotations

import json
from pathlib import Path

from adapters.audit.export import export, replay
from adapters.console.pages import View, claim_page
from adapters.http import Service
from adapters.service import reads as views
from adapters.service.auth import Tokens
from adapters.storage import persistence_env
from adapters.storage.sealed_recorders import sealed_log
from projections.read_models import ReadModels
from projections.verify import verify
from tests.builders import (
    AFTER_THREE_YEARS,
    FakeClock,
    assess,
    attach,
    close,
    exclude,
    exclude_part,
    file_data_media,
    file_liability,
    pay,
    reopen,
    reverse,
    withdraw_denial,
)
from tests.harness import Harness, make_ledger

# Every reader of the log -------------------------------------------------------------


SCENARIO = [
    attach(), file_data_media("C1"), pay("C1"), close("C1"), reverse("C1"), reopen("C1"),
    pay("C1"), file_data_media("C2", loss=300_000), exclude("C2"), withdraw_denial("C2"),
    file_liability("L1", loss=1_800_000, channel="customer_service",
                   notified_on="2024-06-21"),
    exclude_part("L1", amount=300_000), pay("L1", amount=500_000),
    exclude_part("L1", amount=200_000), pay("L1"),
    file_liability("L2", loss=900_000), pay("L2", amount=400_000),
    exclude_part("L2", amount=100_000),
    assess("L2", loss=1_000_000), close("L2"), reopen("L2"), pay("L2"),
]


def test_read_models_verify_explain_and_replay_agree_on_the_new_decisions(
        h: Harness, db_url: str, tmp_path: Path):
    ledger = h.ledger
    models = ReadModels.open(ledger, db_url)
    for command in SCENARIO:
        h.given(command)
        models.catch_up()  # each event onto rows stored before it
    assert verify(models) == []
    models.rebuild()  # every event in one batch
    assert verify(models) == []
    for claim_id, payable, paid, excluded in (("C1", 700_000, 700_000, 0),
                                              ("C2", 200_000, 0, 0),
                                              ("L1", 1_000_000, 1_000_000, 500_000),
                                              ("L2", 600_000, 600_000, 100_000)):
        row = models.claim(claim_id)
        assert row is not None
        assert (row["status"], row["payable"], row["paid"], row["excluded"]) == (
            "open", payable, paid, excluded), claim_id
        assert views.explanation(ledger, claim_id, "en").mismatches == []
    assert models.claim("L1")["notified_on"] == "2024-06-21"  # type: ignore[index]
    assert [r["claims_open"] for r in models.limits() if r["policy_year"] == 1] == [2, 2]
    out = tmp_path / "export.jsonl"
    with out.open("wb") as f:
        export(sealed_log(ledger.recorder), f)
    result = replay(str(out))
    assert result.discrepancies == []
    assert {c["claim_id"]: c["paid"] for c in result.claim_rows()} == {
        "C1": 700_000, "C2": 0, "L1": 1_000_000, "L2": 600_000}
    models.close()


def test_the_console_claim_page_flags_a_late_notice_and_shows_what_is_excluded(
        tmp_path: Path):
    db_url = str(tmp_path / "ledger.db")
    ledger = make_ledger(persistence_env(db_url), FakeClock(AFTER_THREE_YEARS))
    h = Harness(ledger, FakeClock())
    h.given(attach(), file_liability(loss=1_800_000, notified_on="2027-06-02",
                                     channel="agent"), exclude_part(amount=500_000))
    service = Service(ledger, ReadModels.open(ledger, db_url), Tokens([]))
    ja = claim_page(service, View("ja"), "L1")
    en = claim_page(service, View("en"), "L1")
    assert 'data-field="notice_time_barred"' in ja and "保険法95条" in ja
    assert "2027年6月2日" in ja and "引受保険代理店" in ja
    assert 'data-field="excluded"' in ja and "500,000円" in en
    assert "Insurance Act, article 95" in en and "The underwriting insurance agent" in en


def test_the_cli_claim_shows_the_notice_its_time_bar_and_what_is_excluded(tmp_path: Path):
    import io

    from adapters.cli import main
    db, commands = str(tmp_path / "cli.db"), tmp_path / "commands.jsonl"
    commands.write_text("".join(json.dumps(c) + "\n" for c in (
        attach(service_start="2023-01-01", firewall_applied_on="2023-01-01"),
        file_liability(incident="2023-06-01", made_on="2023-06-20", notified_on="2026-06-02",
                       channel="phone"),
        exclude_part(amount=500_000))))
    assert main(["--db", db, "apply", str(commands)], io.StringIO()) == 0
    out = io.StringIO()
    assert main(["--db", db, "claim", "L1"], out) == 0
    text = out.getvalue()
    for expected in ("notified_on         2026-06-02", "channel             phone",
                     "time bar", "保険法95条", "excluded            500,000"):
        assert expected in text, text
