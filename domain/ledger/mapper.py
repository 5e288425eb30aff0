"""How the ledger's events are stored: the library's ``Mapper`` for
``LedgerEvent`` models.

An event's fields are plain JSON values by construction, so the mapper writes
and reads them with pydantic's own JSON codec, under the event's stable
``event_name`` (not its Python location), then applies the cipher and
compressor the library configured; an event of an older ``class_version`` is
upcast as it is read. Any other event (the library's own) goes through the
library's mapping and transcoder unchanged. Persistence mapping lives here,
apart from the event model in ``domain/events.py``.
"""

from __future__ import annotations

from typing import Any, cast

from eventsourcing.persistence import Mapper, StoredEvent
from pydantic_core import from_json

from domain.events import EVENT_CLASSES, LedgerEvent

_KEYS = {"originator_id", "originator_version"}


class PydanticEventMapper(Mapper[str]):
    """Stores ``LedgerEvent`` models as JSON under their stable ``event_name``."""

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        if not isinstance(domain_event, LedgerEvent):
            return super().to_stored_event(domain_event)
        cls = type(domain_event)
        # The model's own serializer writes its JSON straight to bytes (fields in
        # declaration order): the same bytes as dumping to a dict first. A later
        # version is marked last.
        data = cls.__pydantic_serializer__.to_json(domain_event, exclude=_KEYS)
        if cls.class_version > 1:
            data = data[:-1] + b',"class_version":%d}' % cls.class_version
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=cls.event_name,
            state=data,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        cls = EVENT_CLASSES.get(stored_event.topic)
        if cls is None:
            return super().to_domain_event(stored_event)
        return cls.model_validate(self.to_state(stored_event))

    def stored_json(self, stored_event: StoredEvent) -> bytes:
        """The event's JSON exactly as stored (deciphered and decompressed)."""
        data = stored_event.state
        if self.cipher:
            data = self.cipher.decrypt(data)
        if self.compressor:
            data = self.compressor.decompress(data)
        return data

    def to_state(self, stored_event: StoredEvent) -> dict[str, Any]:
        """The event's fields as plain JSON values, upcast to the current version,
        without building the model: for readers that only need the data."""
        return self.decode_state(stored_event.topic, self.stored_json(stored_event),
                                 str(stored_event.originator_id),
                                 stored_event.originator_version)

    @staticmethod
    def decode_state(topic: str, data: bytes, originator_id: str,
                     originator_version: int) -> dict[str, Any]:
        """``to_state`` of an event's stored JSON (see ``stored_json``)."""
        return PydanticEventMapper.upcast_state(
            topic, cast(dict[str, Any], from_json(data)), originator_id, originator_version)

    @staticmethod
    def upcast_state(topic: str, state: dict[str, Any], originator_id: str,
                     originator_version: int) -> dict[str, Any]:
        """An event's parsed JSON (changed in place) as ``to_state`` gives it: upcast
        to the current version, with its aggregate id and version."""
        cls = EVENT_CLASSES[topic]
        version = state.pop("class_version", 1)
        while version < cls.class_version:
            getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
            version += 1
        state["originator_id"] = originator_id
        state["originator_version"] = originator_version
        return state
