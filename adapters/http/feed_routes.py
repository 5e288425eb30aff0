"""The API's event feed: ``GET /feed``, a page of the log's events after a
position as JSON (held open with ``wait`` until one exists: long-poll), or, for
``Accept: text/event-stream``, the same events as Server-Sent Events for as long
as the client stays (``id:`` the position; ``Last-Event-ID`` resumes)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from adapters.http.answers import FeedAnswer
from adapters.http.deps import SUBSCRIBER, service_of
from adapters.http.openapi import ERRORS, FEED_EXAMPLE, FEED_STREAM_EXAMPLE
from adapters.http.problems import Problem
from adapters.service import Service, feed
from adapters.service.auth import Caller
from adapters.service.times import MAX_POSITION

router = APIRouter()

SSE = "text/event-stream"
KEEP_ALIVE = 15.0
"""Seconds without an event after which a stream writes a comment line, so that
proxies and the client see the connection alive."""
STREAM_FOR = 300.0
"""Seconds a stream stays open; the client then resumes with ``Last-Event-ID``
(``EventSource`` does so by itself), and a stopping server is never held up
for longer than its graceful shutdown allows."""


@router.get("/feed", tags=["feed"], response_model=FeedAnswer, responses={
    **ERRORS, 200: {"description": "the events after `after`, in position order, and the "
                    "cursor to go on from; Server-Sent Events with `Accept: text/event-stream`",
                    "content": {"application/json": {"example": FEED_EXAMPLE},
                                SSE: {"schema": {"$ref": "#/components/schemas/FeedStream"},
                                      "example": FEED_STREAM_EXAMPLE}}}},
    openapi_extra={"parameters": [{
        "name": "Last-Event-ID", "in": "header", "required": False,
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_POSITION},
        "description": "Server-Sent Events: resume after this position (it wins over "
        "`after`)"}]})
async def get_feed(
    request: Request,
    after: int = Query(0, ge=0, le=MAX_POSITION,
                       description="cursor: the events after this position"),
    limit: int = Query(100, ge=1, le=feed.MAX_LIMIT, description="events at most"),
    types: str | None = Query(None, description="only these event names, comma-separated "
                              "(e.g. `PayoutIssued,PayoutReversed`)"),
    wait: float = Query(0, ge=0, le=feed.MAX_WAIT, allow_inf_nan=False,
                        description="seconds to hold the request open until an event after "
                        "`after` exists (long-poll)"),
    _: Caller = SUBSCRIBER,
) -> Any:
    """The log's events in position order, each with its position, aggregate,
    version, event name, recorded time, actor, command id and payload as stored;
    delivery is at-least-once: store `next_after` with your own effects."""
    service = service_of(request)
    try:
        names = feed.event_types(types)
    except feed.BadFeedQuery as exc:
        raise _refused(exc.field, exc.rule, exc.message) from None
    if SSE in request.headers.get("accept", ""):
        start = _last_event_id(request.headers.get("last-event-id"), after)
        return StreamingResponse(_stream(request, service, start, limit, names),
                                 media_type=SSE, headers={"Cache-Control": "no-store",
                                                          "X-Accel-Buffering": "no"})
    deadline = time.monotonic() + wait
    done = await run_in_threadpool(feed.page, service.ledger, after, limit, names)
    while not done.items and (left := deadline - time.monotonic()) > 0:
        await service.watch.wait(done.next_after, left)
        done = await run_in_threadpool(feed.page, service.ledger, done.next_after, limit, names)
    return FeedAnswer.model_validate(done.as_json())


def _refused(field: str, rule: str, message: str) -> Problem:
    return Problem(400, "Invalid query", f"{field}: {message} [{rule}]", [
        {"field": field, "rule": rule, "message": message}])


def _last_event_id(value: str | None, after: int) -> int:
    """Where a stream starts: after ``Last-Event-ID`` if given, else ``after``."""
    if value is None:
        return after
    text = value.strip()
    if not (text.isascii() and text.isdigit()):
        raise _refused("Last-Event-ID", "integer", "must be a position (a whole number)")
    if len(text) > len(str(MAX_POSITION)) or int(text) > MAX_POSITION:
        raise _refused("Last-Event-ID", "maximum", f"must be at most {MAX_POSITION}")
    return int(text)


async def _stream(request: Request, service: Service, after: int, limit: int,
                  names: tuple[str, ...]) -> AsyncIterator[bytes]:
    """The events after ``after`` as Server-Sent Events, then each new one as it
    commits, until the client leaves or ``STREAM_FOR`` has passed."""
    cursor, started = after, time.monotonic()
    quiet_since = started
    yield b"retry: 1000\n\n"
    while time.monotonic() - started < STREAM_FOR:
        done = await run_in_threadpool(feed.page, service.ledger, cursor, limit, names)
        for item in done.items:
            yield b"id: %d\ndata: %s\n\n" % (item["position"], orjson.dumps(item))
        cursor = done.next_after
        if done.items:
            quiet_since = time.monotonic()
        if len(done.items) == limit:
            continue
        if time.monotonic() - quiet_since >= KEEP_ALIVE:
            yield b": keep-alive\n\n"
            quiet_since = time.monotonic()
        if await request.is_disconnected():
            return
        await service.watch.wait(cursor, KEEP_ALIVE)
