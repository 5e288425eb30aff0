"""The SQL tracking recorder passes the library's own TrackingRecorder test case."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.tests.persistence import TrackingRecorderTestCase

from projections.store import open_store
from projections.tracking import SQLTrackingRecorder
from tests.support.databases import require_postgres


class TestSQLTrackingRecorderOnSQLite(TrackingRecorderTestCase):
    def setUp(self) -> None:
        self.folder = tempfile.TemporaryDirectory()
        self.store = open_store(str(Path(self.folder.name) / "read.db"))

    def tearDown(self) -> None:
        self.store.close()
        self.folder.cleanup()

    def create_recorder(self) -> SQLTrackingRecorder:
        return SQLTrackingRecorder(self.store)


@pytest.mark.postgres
class TestSQLTrackingRecorderOnPostgreSQL(TrackingRecorderTestCase):
    @pytest.fixture(autouse=True)
    def _schema(self, pg_schema: str) -> None:
        self.url = pg_schema

    def setUp(self) -> None:
        self.store = None

    def tearDown(self) -> None:
        if self.store is not None:
            self.store.close()

    def create_recorder(self) -> SQLTrackingRecorder:
        require_postgres()
        self.store = open_store(self.url)
        return SQLTrackingRecorder(self.store)


def test_a_batch_that_does_not_start_where_tracking_stands_is_refused(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "read.db"))
    recorder = SQLTrackingRecorder(store)
    with store.writer.begin() as conn:
        recorder.record(conn, Tracking("limits", 10), after=None)
    with pytest.raises(IntegrityError), store.writer.begin() as conn:
        recorder.record(conn, Tracking("limits", 20), after=5)
    with store.writer.begin() as conn:
        recorder.record(conn, Tracking("limits", 20), after=10)
    assert recorder.max_tracking_id("limits") == 20
    store.close()
