"""The API's routes: commands (one, or a batch), the auditors' reads, health,
and the operators' authority decisions, rebuild and verify. Each route takes
the service and its caller as typed dependencies (``adapters.http.deps``)."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import PersistenceError
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from adapters.http.answers import (
    AuthorityAnswer,
    AuthorityRow,
    BatchAnswer,
    DryRunOutcome,
    ExplanationAnswer,
    RebuildAnswer,
    Unavailable,
    VerifyAnswer,
)
from adapters.http.deps import (
    APPENDER,
    DRY_RUN_HEADER,
    MAX_BATCH,
    OPERATOR,
    READER,
    ServiceDep,
    appenders,
    batch_key,
    command_object,
    dry_run,
    json_body,
    printable,
    query_time,
    service_of,
    with_key,
)
from adapters.http.middleware import CompactJSON
from adapters.http.openapi import (
    AUTHORITY_BODY,
    AUTHORITY_RESPONSES,
    BATCH_BODY,
    COMMAND_BODY,
    COMMAND_RESPONSES,
    DRY_RUN_ANSWER,
    ERRORS,
)
from adapters.http.problems import Problem, log, problem_of
from adapters.service import Service, authorities, reads
from adapters.service.auth import Caller
from adapters.service.times import MAX_POSITION
from adapters.storage import redact
from domain.commands import Command, parse_command
from domain.errors import LedgerError
from domain.explanation import Lang
from domain.ledger import Outcome
from projections.audit_trail import AuditQuery
from projections.base import recorded_time
from projections.read_models import PROJECTIONS
from projections.rows import AuditPage, ClaimAnswer, ClaimRow, Health, LimitsRow, ReplayedClaimRow
from projections.verify import verify

router = APIRouter()


@router.post("/commands", status_code=201, tags=["commands"], response_model=Outcome,
             responses={200: {"model": DryRunOutcome, **DRY_RUN_ANSWER}, **COMMAND_RESPONSES},
             openapi_extra=COMMAND_BODY)
async def post_command(request: Request, caller: Caller = APPENDER) -> JSONResponse:
    """Apply one command (not an operator's decision: `set_authority` is
    `PUT /authority/{actor_name}`). With `dry_run=true`, decide it as it would
    be applied now and append nothing: `200`, the outcome with `dry_run: true`
    and no positions (or the refusal a real run would answer), and the header
    `Dry-Run: true`."""
    service = service_of(request)
    trying = dry_run(request)
    data = with_key(appenders(command_object(await json_body(request))),
                    request.headers.get("idempotency-key"))
    if trying:
        return await run_in_threadpool(_try_one, service, data, caller.name)
    outcome = await service.execute(data, caller.name)
    return CompactJSON(outcome.as_json(), status_code=201,
                       headers={"Idempotent-Replayed": "true"} if outcome.replayed else {})


@router.post("/commands/batch", tags=["commands"], response_model=BatchAnswer,
             responses=ERRORS, openapi_extra=BATCH_BODY)
async def post_batch(request: Request, caller: Caller = APPENDER) -> JSONResponse:
    """Apply many commands in order; each is applied or refused on its own.
    With an Idempotency-Key, a command without its own id gets `KEY.N`. With
    `dry_run=true`, decide each as it would be applied now, on the state the
    ones before it left, and append nothing: the answer has `dry_run: true`
    and the header `Dry-Run: true`."""
    service = service_of(request)
    trying = dry_run(request)
    data = await json_body(request)
    commands = data.get("commands") if isinstance(data, dict) else None
    if not isinstance(commands, list) or len(commands) > MAX_BATCH:
        raise Problem(400, "Invalid batch", f"the body must be {{\"commands\": [...]}} "
                      f"with at most {MAX_BATCH:,} commands", [
                          {"field": "commands", "rule": "batch",
                           "message": f"a list of at most {MAX_BATCH:,} commands"}])
    key = batch_key(request.headers.get("idempotency-key"))
    results = await run_in_threadpool(_apply_batch, service, commands, key, caller.name,
                                      trying)
    if trying:
        return JSONResponse({"dry_run": True, "results": results}, headers=DRY_RUN_HEADER)
    return JSONResponse({"results": results})


def _try_one(service: Service, data: dict[str, Any], actor: str) -> JSONResponse:
    """A dry run of one command: the outcome it would have, or the problem a
    real run would answer, each marked as a dry run."""
    try:
        (result,) = service.dry_run([parse_command(data)], actor)
    except LedgerError as refused:
        result = refused
    if isinstance(result, LedgerError):
        problem = problem_of(result)
        problem.headers, problem.extra = DRY_RUN_HEADER, {"dry_run": True}
        return problem.response()
    replayed = {"Idempotent-Replayed": "true"} if result.replayed else {}
    return CompactJSON(result.as_json() | {"dry_run": True},
                       headers=DRY_RUN_HEADER | replayed)


def _apply_batch(service: Service, commands: list[Any], key: str | None,
                 actor: str, trying: bool) -> list[dict[str, Any]]:
    """Each command's result, in order: its outcome, or the problem it is
    refused with (as parsed, or by the ledger); the parsed ones in one commit
    (or, ``trying``, in one dry run)."""
    parsed: list[Command | LedgerError] = []
    for index, item in enumerate(commands):
        try:
            command = appenders(command_object(item))
            if key is not None and not command.get("command_id"):
                command = {**command, "command_id": f"{key}.{index}"}
            parsed.append(parse_command(command))
        except LedgerError as exc:
            parsed.append(exc)
    run = service.dry_run if trying else service.execute_many
    outcomes = iter(run([c for c in parsed if not isinstance(c, LedgerError)], actor))
    results = []
    for index, item in enumerate(parsed):
        result = item if isinstance(item, LedgerError) else next(outcomes)
        if isinstance(result, LedgerError):
            problem = problem_of(result)
            results.append({"index": index, "ok": False, "status": problem.status,
                            "problem": problem.body()})
        else:
            results.append({"index": index, "ok": True, "outcome": result.as_json()})
    return results


@router.get("/policies/{policy_id}/limits", tags=["reads"], responses=ERRORS)
def get_limits(policy_id: str, service: ServiceDep, as_of: str | None = None,
               _: Caller = READER) -> list[LimitsRow]:
    """Annual limit, paid, reversed, held and remaining per policy year and
    coverage, with the case reserves of its claims (reserved, incurred = paid +
    reserved, whether they exceed what remains, and how many claims have none)."""
    printable(policy_id, "policy_id")
    when = query_time(as_of, "as_of")
    rows = reads.limits(lambda: service.ledger, service.fresh() if when is None else None,
                        policy_id, when)
    return [LimitsRow.model_validate(row) for row in rows]


@router.get("/claims/{claim_id}", tags=["reads"], responses=ERRORS)
def get_claim(claim_id: str, service: ServiceDep, as_of: str | None = None,
              _: Caller = READER) -> ClaimAnswer:
    """A claim's state, payouts with their breakdowns, exclusion, case reserve,
    payouts requested for approval (holds) and recoveries: the read model's row,
    or (``as_of``) a replay's, which has no positions or recorded times."""
    printable(claim_id, "claim_id")
    when = query_time(as_of, "as_of")
    row = reads.claim(lambda: service.ledger, service.fresh() if when is None else None,
                      claim_id, when)
    return (ClaimRow if when is None else ReplayedClaimRow).model_validate(row)


@router.get("/claims/{claim_id}/explanation", tags=["reads"], responses=ERRORS)
def get_claim_explanation(claim_id: str, service: ServiceDep, lang: Lang = "ja",
                          as_of: str | None = None,
                          _: Caller = READER) -> ExplanationAnswer:
    """The claim's decisions in words and figures (Japanese or English), each payout
    recomputed from the terms copied into its policy year; ``mismatches`` lists any
    recorded figure that disagrees with the recomputation."""
    printable(claim_id, "claim_id")
    explanation = reads.explanation(service.ledger, claim_id, lang,
                                    query_time(as_of, "as_of"))
    return ExplanationAnswer(claim_id=explanation.claim_id, lang=explanation.lang,
                             lines=explanation.lines, text=explanation.text(),
                             mismatches=[m.text for m in explanation.mismatches])


def _page(rows: list[dict[str, Any]], limit: int) -> AuditPage:
    """A page of rows, with the cursor of the next page if there may be one."""
    return AuditPage.model_validate(
        {"items": rows, "next_after": rows[-1]["position"] if len(rows) == limit else None})


@router.get("/policies/{policy_id}/history", tags=["reads"], responses=ERRORS)
def get_policy_history(policy_id: str, service: ServiceDep,
                       after: int = Query(0, ge=0, le=MAX_POSITION),
                       limit: int = Query(1000, ge=1, le=10_000),
                       _: Caller = READER) -> AuditPage:
    """Every event of a policy, its years and its claims, in log order."""
    printable(policy_id, "policy_id")
    return _page(reads.history(service.ledger, service.fresh(), policy_id, "policy",
                               after, limit), limit)


@router.get("/claims/{claim_id}/history", tags=["reads"], responses=ERRORS)
def get_claim_history(claim_id: str, service: ServiceDep,
                      after: int = Query(0, ge=0, le=MAX_POSITION),
                      limit: int = Query(1000, ge=1, le=10_000),
                      _: Caller = READER) -> AuditPage:
    """Every event of a claim, in log order."""
    printable(claim_id, "claim_id")
    return _page(reads.history(service.ledger, service.fresh(), claim_id, "claim",
                               after, limit), limit)


@router.get("/audit", tags=["reads"], responses=ERRORS)
def get_audit(service: ServiceDep, policy_id: str | None = None, claim_id: str | None = None,
              actor: str | None = None, event_type: str | None = None,
              recorded_from: str | None = Query(None, alias="from"),
              recorded_to: str | None = Query(None, alias="to"),
              after: int = Query(0, ge=0, le=MAX_POSITION,
                                 description="cursor: rows after this position"),
              limit: int = Query(100, ge=1, le=10_000),
              _: Caller = READER) -> AuditPage:
    """The audit trail, filtered; follow `next_after` for the next page."""
    for name, value in (("policy_id", policy_id), ("claim_id", claim_id), ("actor", actor),
                        ("event_type", event_type)):
        printable(value, name)
    start = query_time(recorded_from, "from", end_of_day=False)
    end = query_time(recorded_to, "to")
    query = AuditQuery(policy_id=policy_id, claim_id=claim_id, actor=actor,
                       event_type=event_type, after=after, limit=limit,
                       recorded_from=recorded_time(start) if start else None,
                       recorded_to=recorded_time(end) if end else None)
    return _page(service.fresh().audit(query), limit)


def _actor(actor_name: str) -> str:
    """The actor a route's path names: printable, and not blank."""
    printable(actor_name, "actor_name")
    if not actor_name.strip():
        raise Problem(400, "Invalid query", "actor_name: must name an actor [required]", [
            {"field": "actor_name", "rule": "required", "message": "must name an actor"}])
    return actor_name


@router.get("/authority", tags=["authority"], responses=ERRORS)
def get_authorities(service: ServiceDep, as_of: str | None = None,
                    _: Caller = READER) -> list[AuthorityRow]:
    """Every actor whose authority an operator has set: what they may pay alone
    and approve, replayed from the log (as it stood at `as_of`, if given)."""
    rows = authorities.authorities(service.ledger, query_time(as_of, "as_of"))
    return [AuthorityRow.model_validate(row) for row in rows]


@router.get("/authority/{actor_name:path}", tags=["authority"], responses=ERRORS)
def get_authority(actor_name: str, service: ServiceDep, as_of: str | None = None,
                  _: Caller = READER) -> AuthorityAnswer:
    """One actor's authority and every change to it, replayed from the log (as
    it stood at `as_of`, if given); an actor no operator has set has none."""
    return AuthorityAnswer.model_validate(
        authorities.authority(service.ledger, _actor(actor_name), query_time(as_of, "as_of")))


@router.put("/authority/{actor_name:path}", tags=["authority"], response_model=Outcome,
            responses=AUTHORITY_RESPONSES, openapi_extra=AUTHORITY_BODY)
async def put_authority(actor_name: str, request: Request,
                        caller: Caller = OPERATOR) -> JSONResponse:
    """Set what an actor may pay alone and approve: an operator's decision,
    appended as a `set_authority` command recorded under the operator's name."""
    _actor(actor_name)
    body = command_object(await json_body(request))
    for name, value in (("command", "set_authority"), ("actor_name", actor_name)):
        if body.get(name, value) != value:
            raise Problem(400, "Invalid command", f"the body's {name} is not the route's", [
                {"field": name, "rule": "same_as_route",
                 "message": f"must be {value!r} (or left out) on this route"}])
    data = with_key({**body, "command": "set_authority", "actor_name": actor_name},
                    request.headers.get("idempotency-key"))
    outcome = await service_of(request).execute(data, caller.name)
    return CompactJSON(outcome.as_json(),
                       headers={"Idempotent-Replayed": "true"} if outcome.replayed else {})


@router.get("/health", tags=["operations"], response_model=Health, responses={
    503: {"model": Unavailable, "description": "a database does not answer"}})
def get_health(service: ServiceDep) -> Health | JSONResponse:
    """Whether the databases answer, and how far each read model lags the log.
    A read model stopped at an event it cannot apply makes the status
    `degraded`, with the stall (its position, event and error) under its
    name: still `200`, since commands and the other read models work (`503`
    is for a database that does not answer)."""
    try:
        status = service.models.status()
    except (PersistenceError, SQLAlchemyError) as exc:
        log.warning("health: database unavailable: %s", redact(str(exc)))
        return JSONResponse({"status": "unavailable"}, status_code=503)
    stalled = any(s.stall is not None for s in status)
    return Health.model_validate({
        "status": "degraded" if stalled else "ok",
        "log_head": status[0].head if status else 0,
        "read_models": [{"name": s.name, "generation": s.active, "position": s.position,
                         "lag": s.lag, "stalled": s.stall and s.stall.as_json()}
                        for s in status]})


@router.post("/admin/rebuild", tags=["operations"], responses=ERRORS)
def post_rebuild(service: ServiceDep, read_models: list[str] | None = Query(None),
                 restart: bool = Query(False), _: Caller = OPERATOR) -> RebuildAnswer:
    """Rebuild read models (default all) into fresh tables and switch readers."""
    names = read_models or list(PROJECTIONS)
    unknown = [n for n in names if n not in PROJECTIONS]
    if unknown:
        raise Problem(422, "Unknown read model", f"unknown: {', '.join(unknown)}", [
            {"field": "read_models", "rule": "known_read_model",
             "message": f"expected some of {', '.join(PROJECTIONS)}"}])
    applied = service.models.rebuild(names, restart=restart)
    return RebuildAnswer(rebuilt=names, events=applied, position=service.models.head())


@router.post("/admin/verify", tags=["operations"], responses=ERRORS)
def post_verify(service: ServiceDep, _: Caller = OPERATOR) -> VerifyAnswer:
    """Replay the log and compare every read model with it."""
    problems = verify(service.models)
    return VerifyAnswer(ok=not problems, differences=problems)
