"""The ledger's reads of the log itself: every stored event in log order,
decoded, where given events were stored, and the records as they stood at a
past recorded time.

``LogReads`` is the base of ``Ledger``: these reads replay the log and nothing
else (no batch view, no cache), so they stay apart from its command path.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

from eventsourcing.application import Application
from eventsourcing.persistence import Notification, StoredEvent

from domain import claim as claim_module
from domain import policy as policy_module
from domain import policy_year
from domain.claim import Claim
from domain.events import LedgerEvent
from domain.ids import claim_id_of, policy_id_of, policy_year_id
from domain.ledger.outcome import FindsPositions
from domain.policy_year import PolicyYear


class LogReads(Application[str]):
    """Reads of the ledger's log: its events, and records as of a past time."""

    def notifications(
        self, topics: tuple[str, ...] = (), page: int = 1000
    ) -> Iterator[Notification]:
        """Every stored event in log order (optionally only some event names)."""
        start = 1
        while True:
            batch = self.recorder.select_notifications(
                start=start, limit=page, topics=topics
            )
            yield from batch
            if len(batch) < page:
                return
            start = batch[-1].id + 1

    def positions(self, keys: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """The log positions of the events with these (aggregate id, version)
        keys; a key with no event is left out."""
        if isinstance(self.recorder, FindsPositions):
            return self.recorder.positions(keys)
        wanted, found = set(keys), {}  # other recorders: the whole log, in order
        for n in self.notifications():
            if (key := (str(n.originator_id), n.originator_version)) in wanted:
                found[key] = n.id
        return found

    def decode(self, notification: Notification) -> LedgerEvent:
        return self.decode_stored(notification)

    def decode_stored(self, stored: StoredEvent) -> LedgerEvent:
        event = self.mapper.to_domain_event(stored)
        assert isinstance(event, LedgerEvent), type(event)
        return event

    def has_policy(self, policy_id: str) -> bool:
        """Whether the log holds a policy ``policy_id`` (its events are not decoded)."""
        return bool(self.recorder.select_events(policy_id_of(policy_id), limit=1))

    def has_claim(self, claim_id: str) -> bool:
        """Whether the log holds a claim ``claim_id`` (its events are not decoded)."""
        return bool(self.recorder.select_events(claim_id_of(claim_id), limit=1))

    def policy_ids(self) -> list[str]:
        """Every enrolled policy, in the order they enrolled."""
        return [
            self.decode(n).policy_id  # type: ignore[attr-defined]
            for n in self.notifications(("PolicyEnrolled",))
        ]

    def claim_dates_in_log(self, policy_id: str) -> dict[str, date]:
        """The date of cover of every claim the log holds filed under the policy
        (read from every filing: for a policy enrolled before its claims were
        registered on it)."""
        dates = {}
        for n in self.notifications(("ClaimFiled",)):
            state = self.mapper.to_state(n)  # type: ignore[attr-defined]
            if state["policy_id"] == policy_id:
                day = state["claim_made_on"] or state["incident_date"]
                dates[state["claim_id"]] = date.fromisoformat(day)
        return dates

    def claims_in_log_by_policy(self) -> dict[str, set[str]]:
        """Every claim the log holds, by the policy it was filed under (one read
        of every filing)."""
        claims: dict[str, set[str]] = {}
        for n in self.notifications(("ClaimFiled",)):
            state = self.mapper.to_state(n)  # type: ignore[attr-defined]
            claims.setdefault(state["policy_id"], set()).add(state["claim_id"])
        return claims

    # As of a past recorded time -------------------------------------------

    def _known_at(self, aggregate_id: str, at: datetime) -> list[LedgerEvent]:
        """The aggregate's events as the ledger knew them at recorded time ``at``."""
        known = []
        for event in self.events.get(aggregate_id):
            assert isinstance(event, LedgerEvent)
            if event.timestamp > at:
                break
            known.append(event)
        return known

    def claim_as_of(self, claim_id: str, at: datetime) -> Claim | None:
        """The claim as it stood at recorded time ``at``, replayed from its events."""
        return claim_module.project(None, self._known_at(claim_id_of(claim_id), at))

    def policy_years_as_of(self, policy_id: str, at: datetime) -> list[PolicyYear]:
        """The policy's years as they stood at recorded time ``at``."""
        policy = policy_module.project(None, self._known_at(policy_id_of(policy_id), at))
        if policy is None:
            return []
        years = []
        for period in sorted(policy.years, key=lambda y: y.year):
            events = self._known_at(policy_year_id(policy_id, period.year), at)
            year = policy_year.project(None, events)
            if year is not None:
                years.append(year)
        return years
