"""Storing events: stable names, the JSON shape, upcasting, and the library's mapper."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from eventsourcing.cipher import AESCipher
from eventsourcing.compressor import ZlibCompressor
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    InfrastructureFactory,
    JSONTranscoder,
    StoredEvent,
    TrackingRecorder,
)
from eventsourcing.sqlite import (
    SQLiteAggregateRecorder,
    SQLiteApplicationRecorder,
    SQLiteFactory,
    SQLiteProcessRecorder,
    SQLiteTrackingRecorder,
)
from eventsourcing.tests.persistence import InfrastructureFactoryTestCase
from eventsourcing.utils import Environment, get_topic

from domain.events import event_class, event_names
from domain.ledger.mapper import PydanticEventMapper
from tests.support.stored_events import PROBES, mapper, stored

FOLDER = Path(__file__).parents[1] / "fixtures"
FIXTURES = [fixture for path in sorted(FOLDER.glob("events_*.json"))
            for fixture in json.loads(path.read_text())]
"""Every stored-event fixture: events_v1.json and the files of later shapes and types."""


def test_every_event_type_has_a_version_1_fixture() -> None:
    assert {f["topic"] for f in FIXTURES} == set(event_names()) - PROBES


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f["topic"] for f in FIXTURES])
def test_stored_version_1_events_still_decode_and_keep_their_shape(fixture: dict) -> None:  # type: ignore[type-arg]
    event = mapper().to_domain_event(stored(fixture))
    assert isinstance(event, event_class(fixture["topic"]))
    assert event.originator_id == fixture["originator_id"]
    again = mapper().to_stored_event(event)
    assert again.topic == fixture["topic"]
    assert json.loads(again.state) == fixture["state"]
    # The recorded time comes first: the seal reads it without parsing the JSON.
    assert again.state.startswith(b'{"timestamp":"')


def test_old_versions_are_upcast_through_every_step() -> None:
    v1 = {"timestamp": "2026-01-01T00:00:00Z", "actor": "a", "command_id": "c", "yen": 5}
    event = mapper().to_domain_event(StoredEvent("x:1", 1, "UpcastProbe", json.dumps(v1).encode()))
    assert (event.amount, event.currency) == (5, "JPY")
    written = json.loads(mapper().to_stored_event(event).state)
    assert written["class_version"] == 3 and "yen" not in written


def test_events_round_trip_through_a_compressor_and_a_cipher() -> None:
    env = Environment()
    env[AESCipher.CIPHER_KEY] = AESCipher.create_key(16)
    m = mapper(cipher=AESCipher(env), compressor=ZlibCompressor())
    event = event_class(FIXTURES[0]["topic"]).model_validate(
        {**FIXTURES[0]["state"], "originator_id": "policy:P1", "originator_version": 1})
    record = m.to_stored_event(event)
    assert b"P1" not in record.state
    assert m.to_domain_event(record) == event


class Account(Aggregate):
    def __init__(self, name: str) -> None:
        self.name = name


def test_the_library_own_events_still_map_as_the_library_maps_them() -> None:
    from eventsourcing.persistence import DatetimeAsISO, UUIDAsHex

    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    transcoder.register(DatetimeAsISO())
    m = PydanticEventMapper(transcoder=transcoder)
    account = Account(name="alice")
    (created,) = account.collect_events()
    record = m.to_stored_event(created)
    assert record.topic == get_topic(type(created))
    copy = m.to_domain_event(record)
    assert (copy.originator_id, copy.name) == (created.originator_id, "alice")  # type: ignore[attr-defined]


def test_timestamps_are_recorded_in_utc() -> None:
    event = mapper().to_domain_event(stored(FIXTURES[0]))
    assert event.timestamp == datetime(2026, 1, 15, 3, 0, tzinfo=UTC)


class TestFactoryBuildsTheLedgerMapper(InfrastructureFactoryTestCase[SQLiteFactory]):
    """The library's own factory test case, with our mapper configured."""

    def expected_factory_class(self) -> type[SQLiteFactory]:
        return SQLiteFactory

    def expected_aggregate_recorder_class(self) -> type[SQLiteAggregateRecorder]:
        return SQLiteAggregateRecorder

    def expected_application_recorder_class(self) -> type[SQLiteApplicationRecorder]:
        return SQLiteApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[SQLiteTrackingRecorder]:
        return SQLiteTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        class MyTracking(SQLiteTrackingRecorder):
            pass

        return MyTracking

    def expected_process_recorder_class(self) -> type[SQLiteProcessRecorder]:
        return SQLiteProcessRecorder

    def setUp(self) -> None:
        self.env = Environment(f"T{uuid4().hex[:6]}")
        self.env[InfrastructureFactory.PERSISTENCE_MODULE] = "eventsourcing.sqlite"
        self.env[SQLiteFactory.SQLITE_DBNAME] = ":memory:"
        self.env[InfrastructureFactory.MAPPER_TOPIC] = get_topic(PydanticEventMapper)
        super().setUp()

    def test_the_configured_mapper_is_the_ledger_mapper(self) -> None:
        assert isinstance(self.factory.mapper(transcoder=self.transcoder), PydanticEventMapper)
