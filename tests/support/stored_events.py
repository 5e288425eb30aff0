"""Stored events as tests handle them: the ledger's mapper on a plain JSON
transcoder, a fixture as the library's ``StoredEvent``, and two probe event
types whose older versions must be upcast (the ledger never stores them)."""

from __future__ import annotations

import json
from typing import ClassVar

from eventsourcing.persistence import JSONTranscoder, StoredEvent

from domain.events import LedgerEvent
from domain.ledger.mapper import PydanticEventMapper


def mapper(**kwargs) -> PydanticEventMapper:  # type: ignore[no-untyped-def]
    """The ledger's mapper on a plain JSON transcoder (``kwargs``: cipher, compressor)."""
    return PydanticEventMapper(transcoder=JSONTranscoder(), **kwargs)


def stored(fixture: dict) -> StoredEvent:  # type: ignore[type-arg]
    """A stored-event fixture (``tests/fixtures/events_*.json``) as the library stores it."""
    return StoredEvent(
        originator_id=fixture["originator_id"],
        originator_version=fixture["originator_version"],
        topic=fixture["topic"],
        state=json.dumps(fixture["state"]).encode(),
    )


class UpcastProbe(LedgerEvent):
    """A test event at version 3 whose older versions must be upcast."""

    event_name = "UpcastProbe"
    class_version: ClassVar[int] = 3

    amount: int
    currency: str

    @staticmethod
    def upcast_v1_v2(state: dict) -> None:  # type: ignore[type-arg]
        state["amount"] = state.pop("yen")

    @staticmethod
    def upcast_v2_v3(state: dict) -> None:  # type: ignore[type-arg]
        state["currency"] = "JPY"


class ClaimRenamedProbe(LedgerEvent):
    """A test event at version 2: version 1 named its claim ``claim``."""

    event_name = "ClaimRenamedProbe"
    class_version: ClassVar[int] = 2

    claim_id: str

    @staticmethod
    def upcast_v1_v2(state: dict) -> None:  # type: ignore[type-arg]
        state["claim_id"] = state.pop("claim")


PROBES = {UpcastProbe.event_name, ClaimRenamedProbe.event_name}
"""The probe event types above, which the ledger never stores."""
