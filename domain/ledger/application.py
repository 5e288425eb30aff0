"""The ledger service: a thin ``eventsourcing`` Application over the domain.

``Ledger.execute`` runs one command: it takes the aggregates the command reads
from the states kept between commands or from the log (``batch_cache.py``), asks
the decide step (``deciding.py``) for events and saves them in one atomic
``append``; on a version conflict it re-reads and decides again (a bounded
number of times). A command id is applied once (``idempotency.py``).
``execute_many`` decides many commands on one view and commits them together;
``dry_run`` decides them the same way and appends nothing. Time, ids and the
wait between retries are passed in by whoever builds the ledger.

Reads outside commands replay aggregates from the log, the reference that
projections are checked against; reads of the log itself are ``LogReads``'.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar, cast

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError, Mapper

from domain import authority as authority_module
from domain import claim as claim_module
from domain import command_record, policy_year
from domain import incident as incident_module
from domain import policy as policy_module
from domain.authority import Authority
from domain.claim import Claim
from domain.commands import Command, actors_of, check_actor
from domain.errors import ConcurrencyConflict, LedgerError, NotFound
from domain.events import EventStamp, LedgerEvent
from domain.ids import (
    authority_id_of,
    claim_id_of,
    command_record_id,
    incident_id_of,
    policy_id_of,
    policy_year_id,
)
from domain.incident import Incident
from domain.ledger.batch_cache import Overlay, StateCache, records_changed
from domain.ledger.collector import COLLECTION
from domain.ledger.deciding import decide
from domain.ledger.idempotency import acceptance, committed, read_records, replay_of
from domain.ledger.log_reads import LogReads
from domain.ledger.mapper import PydanticEventMapper
from domain.ledger.outcome import Outcome, Planned, answer, failed, lost_answer, outcome, placed
from domain.ledger.prefetch import read_ahead
from domain.policy import Policy
from domain.policy_year import PolicyYear
from domain.replay import projector_of

S = TypeVar("S")


class Ledger(LogReads):
    """The claims ledger: commands in, events out, aggregates replayed."""

    name = "claims_ledger"
    env = {"ORIGINATOR_ID_TYPE": "text"}  # noqa: RUF012 (the library's API)
    max_attempts = 20
    cache_size = 20_000
    """Records the group-commit path keeps between batches (see ``StateCache``)."""

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        clock: Callable[[], datetime],
        new_id: Callable[[], str],
        retry_wait: Callable[[int], None] = lambda attempt: None,
    ) -> None:
        self._clock = clock
        self._new_id = new_id
        self._retry_wait = retry_wait
        self._overlay = Overlay()
        self._cache = StateCache(self.cache_size)
        super().__init__(env)

    def construct_mapper(self) -> Mapper[str]:
        return self.factory.mapper(
            transcoder=self.construct_transcoder(), mapper_class=PydanticEventMapper
        )

    # Commands ---------------------------------------------------------------

    def execute(self, command: Command, *, actor: str) -> Outcome:
        """Run one command as ``actor``; raise a ``LedgerError`` if refused.

        The first try decides on the records the ledger keeps between commands,
        as a batch does (``batch_cache.py``); if another writer saved first, the
        command is decided again on records read afresh (``_execute_fresh``)."""
        check_actor(actor)
        command_id = command.command_id or self._new_id()
        done = self._execute_cached(command, actor, command_id)
        if done is not None:
            return done
        self._retry_wait(1)
        return self._execute_fresh(command, actor, command_id, first_attempt=2)

    def _execute_cached(self, command: Command, actor: str, command_id: str) -> Outcome | None:
        """The first try of ``execute``, on the cached records: its outcome, or
        None if the save met another writer's changes (nothing was stored)."""
        head = self.recorder.max_notification_id() or 0
        current = self._cache.check_head(head, self._changed)
        decided = self._overlay.begin(assume_absent=False)
        try:
            read_records([command], decided, self._cache, self.recorder, self.decode_stored)
            plan = self._decide_on_view(0, command, actor, command_id, current)
        except LedgerError:
            self._cache.update(decided, head, [], self._changed)  # what it read
            raise
        finally:
            self._overlay.end()
        if isinstance(plan, Outcome):
            self._cache.update(decided, head, [], self._changed)
            return placed([plan], self.positions)[0]
        try:
            positions = self.append(plan.events)
        except IntegrityError:
            if command.command_id is None and committed(self.events, plan.events[0],
                                                        command_id):
                return placed([lost_answer(command, command_id, plan.events, plan.result)],
                              self.positions)[0]
            return None
        self._cache.update(decided, head, positions, self._changed)
        return outcome(command, command_id, list(zip(positions, plan.events, strict=True)),
                       plan.result)

    def _execute_fresh(self, command: Command, actor: str, command_id: str,
                       first_attempt: int) -> Outcome:
        """``execute``'s tries from ``first_attempt`` on, each on records read
        from the log, until one saves or the tries run out."""
        self._overlay.fresh = True
        try:
            return self._fresh_tries(command, actor, command_id, first_attempt)
        finally:
            self._overlay.fresh = False

    def _fresh_tries(self, command: Command, actor: str, command_id: str,
                     first_attempt: int) -> Outcome:
        for attempt in range(first_attempt, self.max_attempts + 1):
            if command.command_id is not None:
                previous = self._accepted(command)
                if previous is not None:
                    return placed([previous], self.positions)[0]
            stamp = EventStamp(actor=actor, command_id=command_id, recorded_at=self._clock())
            events, result, _ = decide(command, self, stamp)
            appended = list(events)
            if command.command_id is not None:
                appended.append(acceptance(command, stamp, events, result))
            try:
                positions = self.append(appended)
            except IntegrityError:
                # A command id the client chose is checked at the top of the loop
                # (its record); a generated one is unique to this call.
                if command.command_id is None and committed(self.events, appended[0],
                                                            command_id):
                    # An earlier try committed but its answer was lost (the
                    # storage layer retried after a dropped connection).
                    return placed([lost_answer(command, command_id, events, result)],
                                  self.positions)[0]
                self._retry_wait(attempt)
                continue
            return outcome(command, stamp.command_id,
                           list(zip(positions, appended, strict=True)), result)
        raise ConcurrencyConflict.of(
            None,
            "retries_exhausted",
            f"other writers changed the same records {self.max_attempts} times "
            "in a row; try again",
        )

    def execute_many(
        self, commands: Sequence[Command], *, actor: str | Sequence[str]
    ) -> list[Outcome | LedgerError]:
        """Run commands in order with one commit for all of them (group commit).

        Each command is decided on the state the commands before it left, and is
        refused or applied on its own: a refused command appends nothing and the
        rest go on. All the events are then saved in one transaction, so the
        batch costs one durable commit. If another writer changed a record in
        the meantime, nothing was written, and the commands are run again one at
        a time (each with its own retries). Results come back in command order.
        ``actor`` is one name for all, or one per command.
        """
        with COLLECTION.batch():
            return self._execute_many(commands, actors_of(commands, actor))

    @contextmanager
    def dry_run(self) -> Iterator[Callable[..., list[Outcome | LedgerError]]]:
        """A dry run: a ``decide`` taking what ``execute_many`` takes, deciding
        as it would (each command on the state the ones before it in the dry run
        left) and appending nothing: no event has a position. Records are read
        from the log (no save would reveal a stale cached one); none is cached."""
        states = self._overlay.begin(assume_absent=False, use_cache=False)

        def decide(commands: Sequence[Command], *,
                   actor: str | Sequence[str]) -> list[Outcome | LedgerError]:
            actors = actors_of(commands, actor)
            read_records(commands, states, self._cache, self.recorder, self.decode_stored)
            with COLLECTION.batch():
                results = [self._plan(i, c, actors[i], True) for i, c in enumerate(commands)]
            return placed([r.untried() if isinstance(r, Planned) else r for r in results],
                          self.positions)

        try:
            yield decide
        finally:
            self._overlay.end()

    def _execute_many(
        self, commands: Sequence[Command], actors: list[str]
    ) -> list[Outcome | LedgerError]:
        results: list[Outcome | LedgerError | None] = [None] * len(commands)
        planned: list[Planned] = []
        head = self.recorder.max_notification_id() or 0
        current = self._cache.check_head(head, self._changed)
        decided = self._overlay.begin()
        try:
            read_records(commands, decided, self._cache, self.recorder, self.decode_stored)
            read_ahead(commands, decided, self._cache, self.recorder, self.decode_stored)
            for index, command in enumerate(commands):
                plan = self._plan(index, command, actors[index], current)
                if isinstance(plan, Planned):
                    planned.append(plan)
                else:
                    results[index] = plan
        finally:
            self._overlay.end()
        try:
            stored = self.append([e for p in planned for e in p.events]) if planned else []
        except IntegrityError:
            self._cache.clear()  # stale records, or a save whose answer was lost
            ours = [p for p in planned if p.command.command_id is None][:1]  # an id of ours
            if ours and committed(self.events, ours[0].events[0], ours[0].command_id):
                for p in planned:  # committed: the storage layer retried after the commit
                    results[p.slot] = lost_answer(p.command, p.command_id, p.events, p.result)
                return placed(results, self.positions)
            for slot, command in enumerate(commands):  # stale, or replays of unsaved plans
                try:
                    results[slot] = self.execute(command, actor=actors[slot])
                except LedgerError as refused:
                    results[slot] = answer(refused)
                except Exception as failure:  # one command fails alone
                    results[slot] = failed(command, failure)
            return placed(results, self.positions)
        self._cache.update(decided, head, stored, self._changed)
        positions = iter(stored)  # in the order given
        for p in planned:
            results[p.slot] = outcome(p.command, p.command_id,
                                       [(next(positions), e) for e in p.events], p.result)
        return placed(results, self.positions)

    def _plan(self, slot: int, command: Command, actor: str,
              current: bool) -> Planned | Outcome | LedgerError:
        """Decide one command of a batch on the batch's view: its plan, its first
        outcome (a command id applied before), or its refusal."""
        try:
            command_id = command.command_id or self._new_id()
            return self._decide_on_view(slot, command, actor, command_id, current)
        except LedgerError as refused:
            return answer(refused)
        except Exception as failure:  # one command fails alone
            return failed(command, failure)

    def _decide_on_view(self, slot: int, command: Command, actor: str, command_id: str,
                        current: bool) -> Planned | Outcome:
        """Decide one command on the view begun (``current``: every cached record
        is known to be current): its plan, or its first outcome (a command id
        applied before); a refusal is raised."""
        if command.command_id is not None:
            previous = self._accepted(command)
            if previous is not None:
                return previous
        stamp = EventStamp(actor=actor, command_id=command_id, recorded_at=self._clock())
        self._overlay.read = set()
        try:
            decision = decide(command, self, stamp)
        except LedgerError:
            # A refusal appends nothing, so no conflict would reveal a stale
            # record behind it: decide again on fresh reads, unless the log
            # shows that nobody else has written since the cache's records
            # were committed.
            if current or not self._overlay.refresh(self._read):
                raise
            decision = decide(command, self, stamp)
        events = decision.events
        if command.command_id is not None:
            events = [*events, acceptance(command, stamp, events, decision.result)]
        self._overlay.remember(events, decision.evolved)
        return Planned(slot, command, events, decision.result, command_id)

    def _accepted(self, command: Command) -> Outcome | None:
        """The first outcome of the command's id, if it was applied before."""
        assert command.command_id is not None
        record = self._existing(command_record_id(command.command_id), command_record.project)
        return replay_of(command, record)

    def _changed(self, first: int, last: int) -> set[str] | None:
        return records_changed(self.recorder, first, last, self.cache_size)

    def append(self, events: list[LedgerEvent]) -> list[int]:
        """Store events in one transaction with the library's mapper and
        recorder; return their positions in the log, in the order given. (The
        ledger takes no snapshots and keeps no repository cache, so this is what
        ``Application.save`` would do, without its per-object protocol checks
        and the ``Recording`` objects nothing here reads.)"""
        to_stored = self.mapper.to_stored_event
        positions = self.recorder.insert_events([to_stored(e) for e in events])
        assert positions is not None and len(positions) == len(events)
        return list(positions)

    # Reads (replayed from the log, or from a batch's view) -------------------

    def exists(self, aggregate_id: str) -> bool:
        return self._existing(aggregate_id, projector_of(aggregate_id)) is not None

    def _existing(self, aggregate_id: str, projector: Callable[..., S | None]) -> S | None:
        """A record a command would create, if it exists already. In a batch this
        is decided without a read when the record is not known: the new record's
        first event is then stored at version 1, so if it did exist the save
        fails as a whole and the batch is run again one command at a time, each
        with a real read. A single command reads it (a refusal decided on it
        then answers as a fresh read would)."""
        states = self._overlay.states
        if states is not None and self._overlay.assume_absent and aggregate_id not in states:
            found, cached = self._cache.get(aggregate_id)
            return cast("S | None", cached) if found else None
        return self._get(aggregate_id, projector)

    def _get(self, aggregate_id: str, projector: Callable[..., S | None]) -> S | None:
        found, state = self._overlay.get(aggregate_id, self._cache)
        if found:
            return cast("S | None", state)
        state = self._read(aggregate_id, projector, self._overlay.base(aggregate_id, self._cache))
        self._overlay.put(aggregate_id, state)
        return cast("S | None", state)

    def _read(self, aggregate_id: str, projector: Callable[..., Any] | None = None,
              base: Any = None) -> Any:
        """The record as the log has it now (None if it has no events): ``base``
        (a committed state of it) with the events after it, or all its events."""
        project: Callable[..., Any] = projector or projector_of(aggregate_id)
        if base is not None:
            return project(base, self.events.get(aggregate_id, gt=base.version))
        try:
            return self.repository.get(aggregate_id, projector_func=project)
        except AggregateNotFoundError:
            return None

    def find_policy(self, policy_id: str) -> Policy | None:
        return self._get(policy_id_of(policy_id), policy_module.project)

    def get_policy(self, policy_id: str) -> Policy:
        policy = self.find_policy(policy_id)
        if policy is None:
            raise NotFound.of(
                "policy_id", "policy_exists", f"no policy {policy_id} is enrolled"
            )
        return policy

    def get_policy_year(self, policy_id: str, year: int) -> PolicyYear:
        state = self._get(policy_year_id(policy_id, year), policy_year.project)
        if state is None:
            raise NotFound.of(
                "policy_year",
                "policy_year_exists",
                f"policy {policy_id} has no policy year {year}",
            )
        return state

    def find_claim(self, claim_id: str) -> Claim | None:
        return self._get(claim_id_of(claim_id), claim_module.project)

    def get_claim(self, claim_id: str) -> Claim:
        claim = self.find_claim(claim_id)
        if claim is None:
            raise NotFound.of("claim_id", "claim_exists", f"no claim {claim_id} is filed")
        return claim

    def find_incident(self, policy_id: str, coverage: str, incident_id: str) -> Incident | None:
        return self._get(incident_id_of(policy_id, coverage, incident_id),
                         incident_module.project)

    def find_authority(self, actor: str) -> Authority | None:
        return self._get(authority_id_of(actor), authority_module.project)

    def incident_of(self, claim: Claim) -> Incident | None:
        """The incident a claim is one of (None: it is its own incident)."""
        if claim.incident_id is None:
            return None
        incident = self.find_incident(claim.policy_id, claim.coverage, claim.incident_id)
        assert incident is not None, f"claim {claim.claim_id} without its incident"
        return incident

