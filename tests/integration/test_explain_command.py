"""`claims-ledger explain`: a claim's explanation printed as lines or JSON from a
ledger's database, and an unknown claim or language refused by name."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.cli import main
from adapters.storage import persistence_env
from domain.ledger import Ledger
from tests.builders import (
    attach,
    file_data_media,
    pay,
)
from tests.harness import explanation_text as text
from tests.harness import given, make_ledger


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    """The ledger on the SQLite file the commands are given with ``--db``."""
    app = make_ledger(persistence_env(str(tmp_path / "ledger.db")))
    yield app
    app.close()


# The command ----------------------------------------------------------------------


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(args), out), out.getvalue()


def test_explain_prints_the_lines_or_json(ledger: Ledger, tmp_path: Path) -> None:
    given(ledger, attach(), file_data_media(loss=800_000), pay("C1"))
    db = str(tmp_path / "ledger.db")
    code, out = run("--db", db, "explain", "C1")
    assert code == 0
    assert out == text(ledger, "C1") + "\n"
    code, out = run("--db", db, "explain", "C1", "--lang", "en", "--json")
    data = json.loads(out)
    assert (code, data["claim_id"], data["lang"]) == (0, "C1", "en")
    assert [line["kind"] for line in data["lines"]] == ["filed", "reserve", "payout", "summary"]
    assert data["lines"][2]["figures"]["amount"] == 700_000
    code, out = run("--db", db, "explain", "C1", "--as-of", "2000-01-01")
    assert code == 3


def test_explaining_an_unknown_claim_names_the_field(
        ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    given(ledger, attach())
    code, out = run("--db", str(tmp_path / "ledger.db"), "explain", "NOPE", "--json")
    assert code == 3
    assert json.loads(out)["violations"][0] == {
        "field": "claim_id", "rule": "claim_exists", "message": "no claim NOPE is filed"}


def test_an_unknown_language_is_a_usage_error(
        ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        run("--db", str(tmp_path / "ledger.db"), "explain", "C1", "--lang", "fr")
    assert exit_.value.code == 2
    assert "invalid choice: 'fr'" in capsys.readouterr().err
