"""The HTTP API's composition root: the FastAPI app with its body limit, its
problem+json answers, its routes, its OpenAPI document and the console mounted
beside them. The only module that knows the console exists.

Commands are the same contract v1 models as the CLI's (one JSON object, or a
batch of them), parsed strictly by the domain's own ``parse_command``. Every
request but ``GET /health`` needs a bearer token; the token's name is the actor
recorded on the events, whatever the body says. ``Idempotency-Key`` (or the
body's ``command_id``) makes retries safe. Every error is
``application/problem+json`` (RFC 9457) naming the field and the rule; a
refused command appends nothing; no response carries a stack trace.
"""

from __future__ import annotations

import os

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from adapters import console
from adapters.console.routes import api_docs, error_page, in_console
from adapters.http import feed_routes, report_routes, routes
from adapters.http.middleware import BodyLimit
from adapters.http.openapi import use_document
from adapters.http.problems import PROBLEMS, Problem, problem_for
from adapters.service import Service
from adapters.service.auth import Tokens
from adapters.storage import DB_ENV, READ_DB_ENV, open_ledger
from projections.read_models import ReadModels

MAX_BODY = 1 << 20
"""Largest request body accepted (1 MiB); a larger one is refused with 413."""


def answer(request: Request, problem: Problem) -> Response:
    """The error as problem+json, or as the console's error page for a console
    request (with the console's security headers)."""
    if in_console(request):
        return error_page(request, problem.status, problem.detail)
    return problem.response()


async def _answer_exception(request: Request, exc: Exception) -> Response:
    return answer(request, problem_for(exc))


def create_app(service: Service, max_body: int = MAX_BODY) -> FastAPI:
    """The API on ``service``, with the console mounted after its routes."""
    # No Swagger UI or ReDoc: they load their scripts from a CDN. /docs is a page
    # of our own that lists the routes and links /openapi.json.
    app = FastAPI(
        title="claims-ledger",
        version="1",
        description="Event-sourced claims ledger for データ保険 (data insurance). "
        "Commands follow command contract v1; errors are application/problem+json.",
        docs_url=None, redoc_url=None,
    )
    app.add_api_route("/docs", api_docs, include_in_schema=False)
    app.state.service = service
    app.add_middleware(BodyLimit, limit=max_body, answer=answer)
    for kind in PROBLEMS:
        app.add_exception_handler(kind, _answer_exception)
    # The routes themselves, not include_router(): FastAPI matches an included
    # router's routes through a lookup on every request, which commands need not pay.
    app.router.routes.extend(routes.router.routes)
    app.router.routes.extend(report_routes.router.routes)
    app.router.routes.extend(feed_routes.router.routes)
    for route in app.routes:
        if isinstance(route, APIRoute):
            route.operation_id = route.name
    use_document(app)
    # After the API's routes: a request is matched against the routes in order,
    # so the console's pages no longer come before every command.
    console.mount(app, service)
    return app


def build(db: str, read_db: str, tokens: Tokens) -> FastAPI:
    """The app on the named databases (what `claims-ledger serve` runs)."""
    ledger = open_ledger(db)
    return create_app(Service(ledger, ReadModels.open(ledger, read_db), tokens))


def from_environment() -> FastAPI:
    """The app of one of the server processes of `claims-ledger serve
    --processes N` (an app factory: each process builds its own service, with
    its own group commit): on the databases in ``$CLAIMS_LEDGER_DB`` and
    ``$CLAIMS_LEDGER_READ_DB``, with the tokens ``Tokens.load`` finds in the
    environment. ``serve`` sets these before it starts the processes."""
    db = os.environ[DB_ENV]
    return build(db, os.environ.get(READ_DB_ENV) or db, Tokens.load())
