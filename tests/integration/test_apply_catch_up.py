"""``apply`` with worker processes, as the command line runs it: the workers are
forked from the fork server, and after the run every read model is caught up
to the log's last event, as a rebuild from the log would have built it."""

from __future__ import annotations

import io
import multiprocessing.popen_forkserver
from pathlib import Path
from typing import Any

import pytest

from adapters.apply import Workers
from adapters.cli import main
from adapters.cli.output import render_json
from adapters.storage import open_ledger
from projections.read_models import PROJECTIONS, ReadModels
from tests.support.applying import command_line as line_of
from tests.support.databases import fresh_db
from tests.workload import commands as workload


def _read_side(db: str, rebuild: bool = False) -> tuple[int, dict[str, Any]]:
    """The log's head and each read model's position and rows (after a rebuild
    from the log, if ``rebuild``)."""
    ledger = open_ledger(db)
    models = ReadModels.open(ledger, db)
    try:
        if rebuild:
            models.rebuild()
        return models.head(), {n: models.snapshot(n) for n in PROJECTIONS}
    finally:
        models.close()
        ledger.close()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql",
                                                             marks=pytest.mark.postgres)])
def test_after_a_parallel_apply_every_read_model_is_at_the_last_event_as_a_rebuild_would_be(
    backend: str, tmp_path: Path,
) -> None:
    lines = [line_of(c) for c in workload(6000, 11)]
    source = tmp_path / "commands.jsonl"
    source.write_text("".join(line + "\n" for line in lines))
    with fresh_db(backend, tmp_path) as db:
        out = io.StringIO()
        code = main(["--db", db, "apply", str(source), "--workers", "2", "--json"], out=out)
        assert code in (0, 1)  # the workload's rules refuse some lines
        assert len(out.getvalue().splitlines()) == len(lines)  # every line reported
        head, read = _read_side(db)
        assert head > 5000
        assert {n: position for n, (position, _) in read.items()} == dict.fromkeys(
            PROJECTIONS, head)
        assert read == _read_side(db, rebuild=True)[1]


def test_workers_are_forked_from_the_fork_server_not_started_anew(tmp_path: Path) -> None:
    db = str(tmp_path / "ledger.db")
    with Workers(db, "test", workers=2, batch=500, render=render_json) as pool:
        for process in pool.pool.processes:
            assert isinstance(process._popen, multiprocessing.popen_forkserver.Popen)
            assert process.is_alive()


def test_a_new_database_is_created_before_any_worker_opens_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two processes creating one SQLite file at once may find it locked (the
    # switch to WAL is not retried): the command opens the log before the workers.
    import sqlite3

    import adapters.cli.commands.apply as apply_command

    db = tmp_path / "new.db"
    seen: list[bool] = []

    class Watched(Workers):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            with sqlite3.connect(db) as c:
                seen.append(bool(c.execute("SELECT name FROM sqlite_master WHERE "
                                           "name = 'stored_events'").fetchall()))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(apply_command, "Workers", Watched)
    source = tmp_path / "commands.jsonl"
    source.write_text("".join(line_of(c) + "\n" for c in workload(300, 3)))
    code = main(["--db", str(db), "apply", str(source), "--workers", "2"], out=io.StringIO())
    assert code in (0, 1)
    assert seen == [True]
