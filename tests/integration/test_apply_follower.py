"""The read models' follower while ``apply``'s workers append: it catches them
up in the background, leaves a new generation for the catch-up after the run to
finish, and however it ends (an error, a crash, a hang) no applied line is lost
and the read models end caught up to the last event."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

import pytest

import adapters.apply.follower as follower_module
from adapters.apply.follower import Follower
from adapters.cli import main
from adapters.storage import open_ledger
from projections.read_models import PROJECTIONS, ReadModels
from projections.tracking import tracking_name
from tests.support.applying import apply_file
from tests.support.applying import command_line as line_of
from tests.support.databases import fresh_db
from tests.workload import commands as workload


def _apply_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], db: str = ""
               ) -> tuple[str, int, str]:
    """Apply a workload with two workers through the CLI: the database, the
    exit code and what was said on stderr."""
    db = db or str(tmp_path / "ledger.db")
    source = tmp_path / "commands.jsonl"
    lines = [line_of(c) for c in workload(6000, 11)]
    source.write_text("".join(line + "\n" for line in lines))
    out = io.StringIO()
    code = main(["--db", db, "apply", str(source), "--workers", "2", "--json"], out=out)
    assert len(out.getvalue().splitlines()) == len(lines)  # every line reported
    return db, code, capsys.readouterr().err


def _read_side(db: str) -> tuple[int, dict[str, Any]]:
    """The log's head and each read model's position and rows."""
    ledger = open_ledger(db)
    models = ReadModels.open(ledger, db)
    try:
        return models.head(), {n: models.snapshot(n) for n in PROJECTIONS}
    finally:
        models.close()
        ledger.close()


def _rebuilt(db: str) -> dict[str, Any]:
    ledger = open_ledger(db)
    models = ReadModels.open(ledger, db)
    try:
        models.rebuild()
        return {n: models.snapshot(n) for n in PROJECTIONS}
    finally:
        models.close()
        ledger.close()


def _assert_caught_up(db: str) -> None:
    head, read = _read_side(db)
    assert head > 5000
    assert {n: position for n, (position, _) in read.items()} == dict.fromkeys(PROJECTIONS, head)
    assert read == _rebuilt(db)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql",
                                                             marks=pytest.mark.postgres)])
def test_after_a_parallel_apply_every_read_model_is_at_the_last_event_as_a_rebuild_would_be(
    backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    with fresh_db(backend, tmp_path) as db:
        db, code, err = _apply_cli(tmp_path, capsys, db)
        assert code in (0, 1)  # the workload's rules refuse some lines
        assert "not caught up during the run" not in err
        _assert_caught_up(db)


def test_the_follower_catches_up_in_the_background_and_leaves_the_build_unfinished(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "ledger.db")
    apply_file(db, [line_of(c) for c in workload(3000, 7)], workers=1)
    ledger = open_ledger(db)
    head = ledger.recorder.max_notification_id() or 0
    ledger.close()
    with Follower(db, db) as follower:
        deadline = time.monotonic() + 60
        while _positions(db) != dict.fromkeys(PROJECTIONS, head):
            assert time.monotonic() < deadline, "the follower never caught up"
            time.sleep(0.05)
    assert follower.error is None
    assert follower.applied == head
    ledger = open_ledger(db)
    models = ReadModels.open(ledger, db)
    try:
        assert {s.name: (s.active, s.building) for s in models.status()} == dict.fromkeys(
            PROJECTIONS, (None, 1))  # indexed and switched to by the catch-up after
        assert models.catch_up() == 0
        assert {s.name: (s.active, s.lag) for s in models.status()} == dict.fromkeys(
            PROJECTIONS, (1, 0))
    finally:
        models.close()
        ledger.close()


def _positions(db: str) -> dict[str, int]:
    ledger = open_ledger(db)
    models = ReadModels.open(ledger, db)
    try:
        with models.store.reader.connect() as conn:
            return {n: models.tracking.position(conn, tracking_name(n, 1)) or 0
                    for n in PROJECTIONS}
    finally:
        models.close()
        ledger.close()


def _failing(pipe: Any, db: str, read_db: str) -> None:
    """A follower whose catch-up fails at once."""
    follower_module._follow(pipe, db, "sqlite:////nonexistent-folder/read.db")


def _crashing(pipe: Any, db: str, read_db: str) -> None:
    """A follower process that ends without answering."""
    os._exit(3)


def _hanging(pipe: Any, db: str, read_db: str) -> None:
    """A follower that never stops."""
    time.sleep(3600)


@pytest.mark.parametrize(("follow", "said"), [
    (_failing, "unable to open database file"), (_crashing, "ended without an answer"),
    (_hanging, "did not stop within"),
])
def test_a_follower_that_fails_crashes_or_hangs_loses_no_line_and_the_catch_up_after_applies(
    follow: Any, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(follower_module, "_follow", follow)
    if follow is _hanging:
        monkeypatch.setattr(follower_module, "STOP_WAIT", 2.0)
    db, code, err = _apply_cli(tmp_path, capsys)
    assert code in (0, 1)
    assert "not caught up during the run" in err
    assert said in err
    assert "line(s) applied" in err
    _assert_caught_up(db)
