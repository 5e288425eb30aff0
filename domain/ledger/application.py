"""The ledger service: a thin ``eventsourcing`` Application over the domain.

``Ledger.execute`` runs one command: it loads the aggregates the command reads,
asks the pure decision functions for events, and saves every event of the
command in one atomic ``save``. A concurrent writer that got there first makes
the save fail on a version conflict; the ledger then re-reads and decides again
(a bounded number of times, waiting between tries as the builder says). A
command whose save failed only because an earlier try of it had committed (an
answer lost with a dropped connection) is recognised by its command id and not
applied twice. Time and ids are inputs: the clock, the id source and the wait
between retries are passed in by whoever builds the ledger.

Reads here replay aggregates from the log; they are the reference that
projections are checked against.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, Protocol, TypeVar, runtime_checkable

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, Mapper, Notification, StoredEvent
from pydantic import BaseModel, ConfigDict, SkipValidation

from domain import claim as claim_module
from domain import command_record, cover, policy_year
from domain import incident as incident_module
from domain import policy as policy_module
from domain.claim import Claim, ClaimStatus
from domain.command_record import CommandAccepted, command_record_id, fingerprint
from domain.commands import (
    ApplyExclusion,
    AssessLoss,
    AttachCoverage,
    CancelFirewallOption,
    CloseClaim,
    Command,
    EndService,
    FileClaim,
    IssuePayout,
    ReopenClaim,
    ReversePayout,
    WithdrawClaim,
    WithdrawDenial,
)
from domain.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    DecisionFailed,
    IdempotencyConflict,
    InvalidCommand,
    LedgerError,
    NotFound,
    RuleViolated,
    VersionConflict,
)
from domain.events import EventStamp, LedgerEvent, PydanticEventMapper
from domain.incident import Incident, incident_id_of
from domain.policy import Policy, policy_id_of
from domain.policy_year import PolicyYear, policy_year_id
from domain.terms import JST, OUTSIDE_COVER

log = logging.getLogger("claims_ledger.ledger")

S = TypeVar("S")
Changed = Callable[[int, int], "set[str] | None"]
"""Which records the events at positions ``first``..``last`` changed (None: too
many to say)."""


class AppendedEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    position: int | None
    aggregate_id: str
    version: int
    event: str


@runtime_checkable
class ListsChangedRecords(Protocol):
    """A recorder that can say which records a range of positions changed
    without reading the events (the sealing recorders can)."""

    def originator_ids(self, first: int, last: int) -> set[str]: ...


@runtime_checkable
class ReadsFirstEvents(Protocol):
    """A recorder that reads the first event of many records in one query (the
    sealing recorders can): how a batch looks up its command ids."""

    def first_events(self, originator_ids: list[str]) -> list[StoredEvent]: ...


@runtime_checkable
class FindsPositions(Protocol):
    """A recorder that finds the log positions of events by (record, version)
    with the log's own index (the sealing recorders can)."""

    def positions(self, keys: list[tuple[str, int]]) -> dict[tuple[str, int], int]: ...


class Outcome(BaseModel):
    """What a command did: the events it appended and a summary of the result.

    ``replayed`` is true when the command id had been applied before: the first
    outcome is returned, with the positions its events were stored at, and
    nothing new is appended."""

    model_config = ConfigDict(frozen=True)

    command: str
    command_id: str
    replayed: bool
    events: tuple[AppendedEvent, ...]
    result: SkipValidation[dict[str, Any]]
    """Built by the ledger itself from decided state, so not validated again
    (copying it cost a third of building an outcome)."""

    def as_json(self) -> dict[str, Any]:
        """What ``model_dump(mode="json")`` gives, built directly in a fifth of
        the time (``result`` is already JSON data, and is shared, not copied)."""
        return {"command": self.command, "command_id": self.command_id,
                "replayed": self.replayed,
                "events": [{"position": e.position, "aggregate_id": e.aggregate_id,
                            "version": e.version, "event": e.event} for e in self.events],
                "result": self.result}


class Ledger(Application[str]):
    """The claims ledger: commands in, events out, aggregates replayed."""

    name = "claims_ledger"
    env = {"ORIGINATOR_ID_TYPE": "text"}  # noqa: RUF012 (the library's API)
    max_attempts = 20
    cache_size = 20_000
    """Records the group-commit path keeps between batches (see ``_StateCache``)."""

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
        self._overlay = _Overlay()
        self._cache = _StateCache(self.cache_size)
        super().__init__(env)

    def construct_mapper(self) -> Mapper[str]:
        return self.factory.mapper(
            transcoder=self.construct_transcoder(), mapper_class=PydanticEventMapper
        )

    # Commands ---------------------------------------------------------------

    def execute(self, command: Command, *, actor: str) -> Outcome:
        """Run one command as ``actor``; raise a ``LedgerError`` if refused."""
        check_actor(actor)
        command_id = command.command_id or self._new_id()
        for attempt in range(1, self.max_attempts + 1):
            if command.command_id is not None:
                previous = self._accepted(command)
                if previous is not None:
                    return self._placed_one(previous)
            stamp = EventStamp(actor=actor, command_id=command_id, recorded_at=self._clock())
            events, result, _ = self._decide(command, stamp)
            appended = list(events)
            if command.command_id is not None:
                appended.append(self._acceptance(command, stamp, events, result))
            try:
                positions = self.append(appended)
            except IntegrityError:
                # A command id the client chose is checked at the top of the loop
                # (its record); a generated one is unique to this call.
                if command.command_id is None and self._committed(appended[0], command_id):
                    # An earlier try committed but its answer was lost (the
                    # storage layer retried after a dropped connection).
                    return self._placed_one(Outcome(
                        command=command.command, command_id=command_id, replayed=True,
                        events=tuple(AppendedEvent(
                            position=None, aggregate_id=e.originator_id,
                            version=e.originator_version, event=e.event_name)
                            for e in events),
                        result=result,
                    ))
                self._retry_wait(attempt)
                continue
            return _outcome(command, stamp.command_id,
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
        actors = [actor] * len(commands) if isinstance(actor, str) else list(actor)
        if len(actors) != len(commands):
            raise InvalidCommand.of("actor", "required", "an actor name is required")
        for name in set(actors):
            check_actor(name)
        with _collection.batch():
            return self._execute_many(commands, actors)

    def _execute_many(
        self, commands: Sequence[Command], actors: list[str]
    ) -> list[Outcome | LedgerError]:
        results: list[Outcome | LedgerError | None] = [None] * len(commands)
        planned: list[tuple[int, Command, list[LedgerEvent], dict[str, Any], str]] = []
        head = self.recorder.max_notification_id() or 0
        current = self._cache.check_head(head, self._changed)
        self._overlay.states = {}
        self._overlay.cached = set()
        self._overlay.use_cache = True
        try:
            self._read_command_records(commands)
            for index, command in enumerate(commands):
                try:
                    if command.command_id is not None:
                        previous = self._accepted(command)
                        if previous is not None:
                            results[index] = previous
                            continue
                    command_id = command.command_id or self._new_id()
                    stamp = EventStamp(actor=actors[index], command_id=command_id,
                                       recorded_at=self._clock())
                    self._overlay.read = set()
                    try:
                        events, result, evolved = self._decide(command, stamp)
                    except LedgerError:
                        # A refusal appends nothing, so no conflict would reveal a
                        # stale record behind it: decide again on fresh reads,
                        # unless the log shows that nobody else has written since
                        # the cache's records were committed.
                        if current or not self._refresh(
                                self._overlay.read & self._overlay.cached):
                            raise
                        events, result, evolved = self._decide(command, stamp)
                except LedgerError as refused:
                    results[index] = _answer(refused)
                    continue
                except Exception as failure:  # one command fails alone
                    results[index] = _failed(command, failure)
                    continue
                if command.command_id is not None:
                    events = [*events, self._acceptance(command, stamp, events, result)]
                self._remember(events, evolved)
                planned.append((index, command, events, result, command_id))
            decided = self._overlay.states
        finally:
            self._overlay.states = None
            self._overlay.use_cache = False
        try:
            stored = self.append([e for p in planned for e in p[2]]) if planned else []
        except IntegrityError:
            self._cache.clear()  # some of what it held is stale: read afresh
            for index, command, *_ in planned:
                try:
                    results[index] = self.execute(command, actor=actors[index])
                except LedgerError as refused:
                    results[index] = _answer(refused)
                except Exception as failure:  # one command fails alone
                    results[index] = _failed(command, failure)
            return self._placed(results)
        self._cache.update(decided, head, stored, self._changed)
        positions = iter(stored)  # in the order given
        for index, command, events, result, command_id in planned:
            results[index] = _outcome(command, command_id,
                                      [(next(positions), e) for e in events], result)
        return self._placed(results)

    def _read_command_records(self, commands: Sequence[Command]) -> None:
        """Put the idempotency record of every command id in the batch into the
        batch's view, read from the log in one query (a record is immutable, so
        one the cache holds is taken as it is; the cache's word that a record is
        absent is not, since another process may have written it since)."""
        states = self._overlay.states
        assert states is not None
        wanted = []
        for command in commands:
            if command.command_id is None:
                continue
            aggregate_id = command_record_id(command.command_id)
            if aggregate_id in states:
                continue
            found, cached = self._cache.get(aggregate_id)
            if found and cached is not None:
                states[aggregate_id] = cached
                continue
            states[aggregate_id] = None
            wanted.append(aggregate_id)
        if not wanted:
            return
        recorder = self.recorder
        if isinstance(recorder, ReadsFirstEvents):
            stored = recorder.first_events(wanted)
        else:
            stored = [e for i in wanted for e in recorder.select_events(i, lte=1)]
        for event in stored:
            record = command_record.project(None, [self.decode_stored(event)])
            assert record is not None
            states[record.id] = record

    def _placed(self, results: list[Any]) -> list[Any]:
        """The results with every replayed outcome given the positions its events
        were first stored at (read in one go)."""
        keys = [(e.aggregate_id, e.version) for r in results
                if isinstance(r, Outcome) and r.replayed for e in r.events]
        if not keys:
            return [r for r in results if r is not None]
        found = self.positions(keys)
        placed = []
        for r in results:
            if isinstance(r, Outcome) and r.replayed:
                r = r.model_copy(update={"events": tuple(
                    e.model_copy(update={"position": found.get((e.aggregate_id, e.version))})
                    for e in r.events)})
            if r is not None:
                placed.append(r)
        return placed

    def _placed_one(self, outcome: Outcome) -> Outcome:
        (placed,) = self._placed([outcome])
        assert isinstance(placed, Outcome)
        return placed

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

    def _refresh(self, aggregate_ids: set[str]) -> bool:
        """Read again the records the batch took from the cache; say whether any
        had changed (and put the fresh ones in the batch's view)."""
        states = self._overlay.states
        assert states is not None
        changed = False
        for aggregate_id in aggregate_ids:
            project = _PROJECTORS[aggregate_kind(aggregate_id)]
            try:
                fresh = self.repository.get(aggregate_id, projector_func=project)
            except AggregateNotFoundError:
                fresh = None
            if fresh != states.get(aggregate_id):
                states[aggregate_id] = fresh
                changed = True
        return changed

    def _changed(self, first: int, last: int) -> set[str] | None:
        """The records that the events at positions ``first``..``last`` changed
        (None if there are more of them than the cache holds records)."""
        if last - first >= self.cache_size:
            return None
        if isinstance(self.recorder, ListsChangedRecords):
            return self.recorder.originator_ids(first, last)
        return {str(n.originator_id) for n in self.recorder.select_notifications(
            first, last - first + 1, stop=last)}

    def _remember(self, events: list[LedgerEvent], evolved: dict[str, Any]) -> None:
        """Fold a planned command's events into the batch's view of the records
        (taking as they are the records its decision ``evolved`` already)."""
        states = self._overlay.states
        assert states is not None
        for event in events:
            aid = event.originator_id
            # Changed here from now on: a stale base shows as a conflict at save.
            self._overlay.cached.discard(aid)
            if aid in evolved:
                states[aid] = evolved[aid]
                continue
            project = _PROJECTORS[aggregate_kind(aid)]
            states[aid] = project(states.get(aid), [event])

    def _committed(self, first: LedgerEvent, command_id: str) -> bool:
        """Whether the event we tried to append first is already stored, under our
        command id: then this command is in the log already."""
        stored = list(self.events.get(
            first.originator_id, gt=first.originator_version - 1,
            lte=first.originator_version))
        return bool(stored) and getattr(stored[0], "command_id", None) == command_id

    def _accepted(self, command: Command) -> Outcome | None:
        assert command.command_id is not None
        record = self._existing(command_record_id(command.command_id), command_record.project)
        if record is None:
            return None
        accepted = record.accepted
        if accepted.fingerprint != fingerprint(_content(command)):
            raise IdempotencyConflict.of(
                "command_id",
                "same_command_same_id",
                f"command id {command.command_id} was already used for a different "
                f"{accepted.command['command']} command",
            )
        return Outcome(
            command=command.command,
            command_id=command.command_id,
            replayed=True,
            events=tuple(AppendedEvent(position=None, **e) for e in accepted.events),
            result=accepted.result,
        )

    def _acceptance(
        self,
        command: Command,
        stamp: EventStamp,
        events: list[LedgerEvent],
        result: dict[str, Any],
    ) -> CommandAccepted:
        assert command.command_id is not None
        content = _content(command)
        return CommandAccepted(
            **stamp.fields(command_record_id(command.command_id), 1),
            command=content,
            fingerprint=fingerprint(content),
            events=[
                {
                    "aggregate_id": e.originator_id,
                    "version": e.originator_version,
                    "event": e.event_name,
                }
                for e in events
            ],
            result=result,
        )

    def _decide(
        self, command: Command, stamp: EventStamp
    ) -> tuple[list[LedgerEvent], dict[str, Any], dict[str, Any]]:
        """The command's events, its result, and the records the decision has
        already evolved with those events (by aggregate id), so that a batch
        need not fold them in again."""
        if isinstance(command, AttachCoverage):
            if self._existing(policy_id_of(command.policy_id), policy_module.project) is not None:
                raise AlreadyExists.of(
                    "policy_id",
                    "new_policy",
                    f"policy {command.policy_id} is already enrolled",
                )
            events = policy_module.enrol(command, stamp, _today(stamp))
            policy = policy_module.project(None, events[:3])
            assert policy is not None
            first = policy.years[0]
            return events, {
                "policy_id": policy.policy_id,
                "policy_year": 1,
                "cover_start": policy.cover_start.isoformat(),
                "period_start": first.start.isoformat(),
                "period_end": first.end.isoformat(),
            }, {policy.id: policy}
        if isinstance(command, EndService | CancelFirewallOption):
            return self._move_cover_end(command, stamp)
        if isinstance(command, FileClaim):
            if self._existing(claim_module.claim_id_of(command.claim_id),
                              claim_module.project) is not None:
                raise AlreadyExists.of(
                    "claim_id", "new_claim", f"claim {command.claim_id} is already filed"
                )
            policy = self.get_policy(command.policy_id)
            incident = None if command.incident_id is None else self._get(
                incident_id_of(command.policy_id, command.coverage, command.incident_id),
                incident_module.project)
            events = claim_module.file_claim(policy, command, stamp, _today(stamp), incident)
            claim = _evolve_claim(None, events)
            return events, _claim_result(claim), {claim.id: claim}
        if isinstance(command, IssuePayout | ReversePayout):
            claim = self.get_claim(command.claim_id)
            _check_version(command.expected_version, claim.version, f"claim {claim.claim_id}")
            year = self.get_policy_year(claim.policy_id, claim.policy_year)
            incident = self.incident_of(claim)
            if isinstance(command, IssuePayout):
                if claim.status is ClaimStatus.OPEN:
                    _check_covered(self.get_policy(claim.policy_id), claim)
                events = claim_module.issue_payout(claim, year, command, stamp, incident)
            else:
                events = claim_module.reverse_payout(claim, year, command, stamp, incident)
            after = _evolve_claim(claim, events)
            payout = after.payout(events[0].payout_id)  # type: ignore[attr-defined]
            assert payout is not None
            return events, {
                **_claim_result(after),
                "payout_id": payout.payout_id,
                "amount": int(payout.amount),
                "breakdown": payout.breakdown.model_dump(mode="json"),
            }, {after.id: after}
        claim = self.get_claim(command.claim_id)
        _check_version(command.expected_version, claim.version, f"claim {claim.claim_id}")
        if isinstance(command, WithdrawDenial) and claim.exclusion == OUTSIDE_COVER.code:
            # The ledger's own denial stands while the claim's date is outside cover
            # (once cover's end is moved to include it, the denial can be withdrawn).
            _check_covered(self.get_policy(claim.policy_id), claim)
        if isinstance(command, CloseClaim | ReopenClaim):
            decide_alone: Any = {CloseClaim: claim_module.close_claim,
                                 ReopenClaim: claim_module.reopen_claim}[type(command)]
            events = decide_alone(claim, command, stamp)
        else:
            decide: Any = {
                AssessLoss: claim_module.assess_loss,
                ApplyExclusion: claim_module.apply_exclusion,
                WithdrawClaim: claim_module.withdraw_claim,
                WithdrawDenial: claim_module.withdraw_denial,
            }[type(command)]
            events = decide(claim, command, stamp, self.incident_of(claim))
        after = _evolve_claim(claim, events)
        return events, _claim_result(after), {after.id: after}

    def _move_cover_end(
        self, command: EndService | CancelFirewallOption, stamp: EventStamp
    ) -> tuple[list[LedgerEvent], dict[str, Any], dict[str, Any]]:
        """``end_service`` and ``cancel_firewall_option``: read the policy, the
        claims outside the new cover and the open years; decide in ``cover``."""
        policy = self.get_policy(command.policy_id)
        _check_version(command.expected_version, policy.version, f"policy {policy.policy_id}")
        if isinstance(command, EndService):
            event, field = cover.end_event(policy, command, stamp), "service_end"
        else:
            event, field = cover.cancel_event(policy, command, stamp), "cancelled_on"
        after = policy_module.evolve(policy, event)
        outside = self._claims_outside(policy, after)
        years = [self.get_policy_year(policy.policy_id, y.year) for y in policy.years]
        events = cover.move_end(policy, event, field, outside, years, stamp)
        end = after.cover_end
        return events, {
            "policy_id": policy.policy_id,
            "cover_start": after.cover_start.isoformat(),
            "cover_end": end.isoformat() if end else None,
            "denied": sorted(e.claim_id for e in events  # type: ignore[attr-defined]
                             if e.originator_id.startswith("claim:")),
        }, {after.id: after}

    def _claims_outside(self, policy: Policy, after: Policy) -> list[Claim]:
        """The claims filed under ``policy`` whose date of cover is outside
        ``after``'s cover: among those the policy registered and, for a policy
        enrolled before claims were registered, those the log holds."""
        dates = {c.claim_id: c.cover_date for c in policy.claims}
        if not policy.registers_claims:
            for n in self.notifications(("ClaimFiled",)):
                state = self.mapper.to_state(n)  # type: ignore[attr-defined]
                if state["policy_id"] == policy.policy_id:
                    day = state["claim_made_on"] or state["incident_date"]
                    dates[state["claim_id"]] = date.fromisoformat(day)
        return [self.get_claim(claim_id) for claim_id, day in sorted(dates.items())
                if not after.covers(day)]

    # Reads (replayed from the log) -------------------------------------------

    def _existing(self, aggregate_id: str, projector: Callable[..., S | None]) -> S | None:
        """A record a command would create, if it exists already. In a batch this
        is decided without a read when the record is not known: the new record's
        first event is then stored at version 1, so if it did exist the save
        fails as a whole and the batch is run again one command at a time, each
        with a real read."""
        states = self._overlay.states
        if states is not None and aggregate_id not in states:
            found, cached = self._cache.get(aggregate_id)
            return cached if found else None
        return self._get(aggregate_id, projector)

    def _get(self, aggregate_id: str, projector: Callable[..., S | None]) -> S | None:
        states = self._overlay.states
        if states is not None:
            self._overlay.read.add(aggregate_id)
            if aggregate_id in states:
                return states[aggregate_id]  # type: ignore[no-any-return]
        if self._overlay.use_cache:
            found, cached = self._cache.get(aggregate_id)
            if found:
                assert states is not None
                states[aggregate_id] = cached
                self._overlay.cached.add(aggregate_id)
                return cached  # type: ignore[no-any-return]
        try:
            state: S | None = self.repository.get(aggregate_id, projector_func=projector)
        except AggregateNotFoundError:
            state = None
        if states is not None:
            states[aggregate_id] = state
        return state

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
        return self._get(claim_module.claim_id_of(claim_id), claim_module.project)

    def get_claim(self, claim_id: str) -> Claim:
        claim = self.find_claim(claim_id)
        if claim is None:
            raise NotFound.of("claim_id", "claim_exists", f"no claim {claim_id} is filed")
        return claim

    def incident_of(self, claim: Claim) -> Incident | None:
        """The incident a claim is one of (None: it is its own incident)."""
        if claim.incident_id is None:
            return None
        incident = self._get(
            incident_id_of(claim.policy_id, claim.coverage, claim.incident_id),
            incident_module.project)
        assert incident is not None, f"claim {claim.claim_id} without its incident"
        return incident

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
        return claim_module.project(None, self._known_at(claim_module.claim_id_of(claim_id), at))

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

    def decode(self, notification: Notification) -> LedgerEvent:
        return self.decode_stored(notification)

    def decode_stored(self, stored: StoredEvent) -> LedgerEvent:
        event = self.mapper.to_domain_event(stored)
        assert isinstance(event, LedgerEvent), type(event)
        return event

    def policy_ids(self) -> list[str]:
        """Every enrolled policy, in the order they enrolled."""
        return [
            self.decode(n).policy_id  # type: ignore[attr-defined]
            for n in self.notifications(("PolicyEnrolled",))
        ]


class _Overlay(threading.local):
    """Per thread: the records a batch of commands has decided on so far."""

    states: dict[str, Any] | None = None
    use_cache = False
    read: set[str]
    """The records the command being decided has read."""
    cached: set[str]
    """Records this batch took from the shared cache and has not changed."""

    def __init__(self) -> None:
        self.read = set()
        self.cached = set()


class _StateCache:
    """Records as the last committed batch left them, so hot records are not read
    again for every batch (least recently used go first). Safe under
    concurrency:

    * A decision on a claim, policy year or command record that another writer
      has changed since appends an event at a version that writer already took;
      the save fails as a whole, and the cache is cleared before the commands
      are run again from the database. A refusal (which appends nothing) is
      decided again on fresh reads of the cached records it used, unless
      ``check_head`` found every cached record current when the batch began
      (nobody else had written since the cache's head, or what they changed
      was dropped).
    * A claim's filing reads its policy without writing to it, so a stale policy
      would go unnoticed at save. So the cache remembers the log's last position
      it has accounted for (``head``). A batch that finds the log grown past it
      (another writer, or another process, appended) first drops every record
      that those events changed, read from the log (``check_head``); and a
      commit whose first position does not follow the head checked before it
      drops the records that the events in between changed (``update``). When
      the head is not known (another batch of this ledger committed in between),
      the next batch drops every policy instead, and decides refusals again on
      fresh reads.
    """

    def __init__(self, maxsize: int) -> None:
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._policies: set[str] = set()
        """The ids of the policies in ``_items`` (dropped together)."""
        self._maxsize = maxsize
        self._lock = threading.Lock()
        self._head: int | None = None

    def check_head(self, head: int, changed: Changed) -> bool:
        """Start a batch on a log whose last position is ``head``; ``changed``
        reads which records the events in a range of positions changed. Say
        whether every record in the cache is now current (the ones others
        changed since the cache's head are dropped); if the cache's head is not
        known, drop policies and say no."""
        with self._lock:
            if self._head is None or head < self._head:
                for aggregate_id in self._policies:
                    self._items.pop(aggregate_id, None)
                self._policies.clear()
                self._head = head
                return False
            if head > self._head:
                self._drop(changed(self._head + 1, head))
                self._head = head
            return True

    def _drop(self, aggregate_ids: set[str] | None) -> None:
        """Forget these records (None: all of them)."""
        if aggregate_ids is None:
            self._items.clear()
            self._policies.clear()
            return
        for aggregate_id in aggregate_ids:
            self._items.pop(aggregate_id, None)
            self._policies.discard(aggregate_id)

    def get(self, aggregate_id: str) -> tuple[bool, Any]:
        with self._lock:
            if aggregate_id not in self._items:
                return False, None
            self._items.move_to_end(aggregate_id)
            return True, self._items[aggregate_id]

    def update(self, states: dict[str, Any], head: int, positions: list[int],
               changed: Changed) -> None:
        """Keep the states a batch decided on, begun on a log at ``head`` and
        committed at ``positions`` (none if it appended nothing), except the
        records that others changed in between."""
        with self._lock:
            foreign: set[str] | None = set()
            if positions and self._head != head:
                self._head = None  # another batch of ours committed in between
            elif positions:
                if positions[0] != head + 1:
                    foreign = changed(head + 1, positions[0] - 1)
                self._head = positions[-1] if foreign is not None else None
            keep_policies = self._head is not None
            for aggregate_id, state in states.items():
                if foreign and aggregate_id in foreign:
                    continue
                if aggregate_kind(aggregate_id) == "policy":
                    if not keep_policies:
                        continue
                    self._policies.add(aggregate_id)
                self._items[aggregate_id] = state
                self._items.move_to_end(aggregate_id)
            self._drop(foreign)
            while len(self._items) > self._maxsize:
                self._policies.discard(self._items.popitem(last=False)[0])

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._policies.clear()
            self._head = None


class _BatchCollection:
    """How batches live with Python's cycle collector.

    A batch makes many short-lived objects and no reference cycles: they are
    freed as soon as they are dropped. But each of them counts towards the
    collector's next pass, and its passes walk every long-lived object again
    and again: the records in the cache and the caller's own data. So the
    collector is paused while a batch runs, and what is alive when it returns is
    frozen (``gc.freeze``: later passes skip it; objects are still freed when
    dropped). Frozen objects that become unreachable cycles would wait, so once
    every ``UNFREEZE_EVERY`` batches everything goes back to the collector for a
    full pass. A batch's own results make no cycles (see ``_answer``). Measured
    in process on the ``make bench`` workload (batches of 500 commands, runs in
    turn): pausing made batches ~1.35x as fast, freezing ~1.25x more."""

    UNFREEZE_EVERY = 50

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._batches = 0

    @contextmanager
    def batch(self) -> Iterator[None]:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            yield
        finally:
            with self._lock:
                self._batches += 1
                if self._batches % self.UNFREEZE_EVERY == 0:
                    gc.unfreeze()
                else:
                    gc.freeze()
            if was_enabled:
                gc.enable()


_collection = _BatchCollection()


def _answer(refused: LedgerError) -> LedgerError:
    """A refusal as a batch returns it: an answer, not a crash, so it keeps no
    traceback (whose frames would hold the whole batch alive in a cycle)."""
    refused.__context__ = None
    return refused.with_traceback(None)


def _failed(command: Command, failure: Exception) -> LedgerError:
    """A command whose decision failed unexpectedly, as its own refusal: the
    commands beside it in the batch are decided and committed without it."""
    log.error("command %s (%s) could not be decided", command.command_id or "(no id)",
              command.command, exc_info=failure)
    return _answer(DecisionFailed.of(
        None, "decidable", f"the ledger could not decide this {command.command} command "
        f"({type(failure).__name__}); nothing was appended for it"))


def check_actor(actor: str) -> None:
    """An actor is recorded on every event and shown to auditors: a name of
    printable text."""
    if not actor.strip():
        raise InvalidCommand.of("actor", "required", "an actor name is required")
    if not actor.isprintable():
        raise InvalidCommand.of("actor", "printable",
                                "an actor name must be printable text, without control "
                                "characters")


def aggregate_kind(aggregate_id: str) -> str:
    """Which kind of record an aggregate id names: policy, policy_year, claim,
    incident or command (the idempotency records)."""
    if aggregate_id.startswith("claim:"):
        return "claim"
    if aggregate_id.startswith("incident:"):
        return "incident"
    if aggregate_id.startswith("command:"):
        return "command"
    return "policy_year" if ":year:" in aggregate_id else "policy"


_PROJECTORS: dict[str, Callable[..., Any]] = {
    "claim": claim_module.project,
    "command": command_record.project,
    "incident": incident_module.project,
    "policy_year": policy_year.project,
    "policy": policy_module.project,
}


def _today(stamp: EventStamp) -> date:
    """The recorded day in Japan: business dates after it cannot be known yet."""
    return stamp.recorded_at.astimezone(JST).date()


def _check_covered(policy: Policy, claim: Claim) -> None:
    """Nothing is paid on a claim whose date of cover is outside cover (a log
    written before cover's end was checked can hold such an open claim)."""
    day = cover.cover_date(claim)
    if not policy.covers(day):
        end = policy.cover_end
        raise RuleViolated.of(
            "claim_id", "outside_cover",
            f"claim {claim.claim_id}'s date of cover {day} is outside cover (from "
            f"{policy.cover_start}{f' to {end}' if end else ''}): nothing is paid on it",
        )


def _check_version(expected: int | None, current: int, what: str) -> None:
    if expected is not None and expected != current:
        raise VersionConflict.of(
            "expected_version",
            "current_version",
            f"{what} is at version {current}, not {expected}: re-read it and decide again",
        )


def _content(command: Command) -> dict[str, Any]:
    return command.model_dump(mode="json", exclude={"command_id"})


def _outcome(command: Command, command_id: str, appended: list[tuple[int, LedgerEvent]],
             result: dict[str, Any]) -> Outcome:
    """What a committed command did (its idempotency record is not shown). The
    events go in as plain dicts, which pydantic's compiled validator turns into
    ``AppendedEvent`` at half the cost of ``model_construct`` in Python."""
    return Outcome(
        command=command.command, command_id=command_id, replayed=False,
        events=[{"position": position, "aggregate_id": e.originator_id,
                 "version": e.originator_version, "event": e.event_name}
                for position, e in appended if not isinstance(e, CommandAccepted)],
        result=result)


def _evolve_claim(claim: Claim | None, events: list[LedgerEvent]) -> Claim:
    mine = [e for e in events if e.originator_id.startswith("claim:")]
    state = claim_module.project(claim, mine)
    assert state is not None
    return state


def _claim_result(claim: Claim) -> dict[str, Any]:
    return {
        "claim_id": claim.claim_id,
        "policy_id": claim.policy_id,
        "policy_year": claim.policy_year,
        "coverage": str(claim.coverage),
        "status": str(claim.status),
        "loss_amount": int(claim.loss),
        "payable": int(claim.payable),
        "paid": int(claim.paid),
        "exclusion": claim.exclusion,
        "excluded": int(claim.excluded),
        **({} if claim.incident_id is None else {"incident_id": claim.incident_id}),
    }
