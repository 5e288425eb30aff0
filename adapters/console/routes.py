"""The auditor console's routes: read-only HTML pages under ``/console``, served
by the same app as the HTTP API (``mount``).

Signing in takes an ``auditor`` or ``operator`` bearer token (an ``appender`` or
``subscriber`` token is refused) and gives a session cookie (HttpOnly, SameSite=Strict, Secure
over HTTPS); the session lives in the server's memory and ends at sign-out,
after ``SESSION_HOURS`` or when the server stops. Without a session every page
sends the browser to the sign-in page, which returns it to that page after
(``next``: only ever a path under ``/console/``). Every form the console posts
(sign-in, sign-out, "verify now") is refused with 403 if its ``Origin`` is not
this server's own, or if it lacks the token its page was given: the sign-in
form's is also in a cookie (double submit), the others' belong to the session.
Every page takes ``lang`` (``ja``, the
default, or ``en``) and ``as_of`` (a recorded time: the page then shows what the
ledger knew then, marked as historical). Pages send no script and load nothing
from elsewhere: the style sheet is inlined and the content security policy
allows nothing else.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from http import HTTPStatus

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from adapters.audit import seal
from adapters.console import handling, pages, report_pages, work_pages
from adapters.console.desk import SEARCH_LONGEST
from adapters.console.handling import HEADERS, ConsoleState, StateDep
from adapters.console.i18n import LANGUAGES
from adapters.console.pages import CONSOLE, AuditFilters, SealCheck, View
from adapters.console.sessions import (
    COOKIE,
    FORM_COOKIE,
    TOKEN,
    PageError,
    SignInNeeded,
    check_form,
    here,
    next_page,
    read_form,
)
from adapters.service import Service
from adapters.service.auth import digest
from adapters.storage.sealed_recorders import sealed_log
from domain.events import event_names

MAX_AUDIT_ROWS = 1000
CONSOLE_ROLES = ("auditor", "operator")
"""The roles that may sign in: the console is an auditor's read."""


def _audit_filters(request: Request) -> AuditFilters:
    q = request.query_params
    for name in ("policy_id", "claim_id", "actor", "event_type"):
        if not q.get(name, "").isprintable():
            raise PageError(400, "bad_request",
                            f"{name}: must be printable text, without control characters")
    event_type = q.get("event_type", "").strip()
    if event_type and event_type not in event_names():
        raise PageError(400, "bad_request", f"event_type: unknown event type {event_type!r}")
    return AuditFilters(
        policy_id=q.get("policy_id", "").strip(), claim_id=q.get("claim_id", "").strip(),
        actor=q.get("actor", "").strip(), event_type=event_type,
        recorded_from=handling.time(request, "from", end_of_day=False),
        recorded_to=handling.time(request, "to"),
        after=handling.whole_number(request, "after", 0, 0, 2**62),
        limit=handling.whole_number(request, "limit", 50, 1, MAX_AUDIT_ROWS))


router = APIRouter(prefix=CONSOLE, include_in_schema=False)


@router.get("")
@router.get("/")
def home(request: Request) -> Response:
    return RedirectResponse(View(handling.lang(request)).url(f"{CONSOLE}/policies"),
                            status_code=303)


@router.get("/sign-in")
def sign_in_form(request: Request) -> HTMLResponse:
    lang = handling.lang(request)
    back = next_page(request.query_params.get("next", ""))
    kept = request.cookies.get(FORM_COOKIE, "")
    form_token = kept if TOKEN.fullmatch(kept) else secrets.token_urlsafe(32)
    view = View(lang, path=f"{CONSOLE}/sign-in", query={"next": back} if back else {})
    response = handling.html(pages.render("sign_in.html", view, problem=None,
                                          form_token=form_token))
    response.set_cookie(FORM_COOKIE, form_token, httponly=True, samesite="strict",
                        path=f"{CONSOLE}/sign-in", secure=request.url.scheme == "https")
    return response


@router.post("/sign-in")
async def sign_in(request: Request, state: StateDep) -> Response:
    form = await read_form(request)
    lang = form.get("lang", "ja")
    view = View(lang if lang in LANGUAGES else "ja", path=f"{CONSOLE}/sign-in")
    form_token = request.cookies.get(FORM_COOKIE, "")
    check_form(request, view.words, form_token, form.get("csrf", ""))
    back = next_page(form.get("next", ""))
    view = View(view.lang, path=view.path, query={"next": back} if back else {})
    token = form.get("token", "").strip()
    caller = state.service.tokens.caller(token) if token else None
    if caller is None or caller.role not in CONSOLE_ROLES:
        status, problem = ((401, "unknown_token") if caller is None
                           else (403, "role_refused"))
        return handling.html(pages.render("sign_in.html", view, problem=problem,
                                  form_token=form_token), status)
    sha, tokens = digest(token), state.service.tokens
    session = state.sessions.start(caller, lambda: tokens.holder(sha) == caller)
    response = RedirectResponse(back or view.url(f"{CONSOLE}/policies"), status_code=303)
    response.set_cookie(COOKIE, session, httponly=True, samesite="strict", path=CONSOLE,
                        secure=request.url.scheme == "https")
    return response


async def _session_form(request: Request, state: ConsoleState) -> View:
    """The view of a form posted by a signed-in browser, once checked."""
    form = await read_form(request)
    view = handling.view(request, state)
    check_form(request, view.words, view.csrf, form.get("csrf", ""))
    return view


@router.post("/sign-out")
async def sign_out(request: Request, state: StateDep) -> Response:
    view = await _session_form(request, state)
    state.sessions.end(request.cookies.get(COOKIE))
    response = RedirectResponse(View(view.lang).url(f"{CONSOLE}/sign-in"), status_code=303)
    response.delete_cookie(COOKIE, path=CONSOLE, httponly=True, samesite="strict")
    return response


@router.get("/policies")
def policies(request: Request, state: StateDep) -> HTMLResponse:
    prefix = request.query_params.get("q", "").strip()
    after = request.query_params.get("after", "")
    return handling.page(request, state, lambda s, v: pages.policies_page(s, v, prefix, after))


@router.get("/policies/{policy_id}")
def policy(request: Request, state: StateDep, policy_id: str) -> HTMLResponse:
    handling.path_id("policy_id", policy_id)
    return handling.page(request, state, lambda s, v: pages.policy_page(s, v, policy_id))


@router.get("/policies/{policy_id}/years/{year}")
def policy_year(request: Request, state: StateDep, policy_id: str, year: str) -> HTMLResponse:
    if not year.isdigit() or not policy_id.isprintable():
        handling.view(request, state)
        raise PageError(404, "not_found", f"policy {policy_id} has no policy year {year}")
    return handling.page(request, state, lambda s, v: pages.year_page(s, v, policy_id, int(year)))


@router.get("/claims/{claim_id}")
def claim(request: Request, state: StateDep, claim_id: str) -> HTMLResponse:
    handling.path_id("claim_id", claim_id)
    return handling.page(request, state, lambda s, v: pages.claim_page(s, v, claim_id))


@router.get("/work")
def work(request: Request, state: StateDep) -> HTMLResponse:
    return handling.page(request, state, lambda s, v: work_pages.work_page(
        s, v, state.desk, handling.whole_number(request, "limit", work_pages.WORK_ROWS, 1,
                                                work_pages.MAX_WORK_ROWS)))


def _search_status(request: Request) -> str:
    status = request.query_params.get("status", "")
    if status and status not in work_pages.STATUSES:
        raise PageError(400, "bad_request", "status: must be one of "
                        f"{', '.join(work_pages.STATUSES)}, or empty for any")
    return status


@router.get("/search")
def search(request: Request, state: StateDep) -> HTMLResponse:
    return handling.page(request, state, lambda s, v: work_pages.search_page(
        s, v, state.desk, handling.printable(request, "q", SEARCH_LONGEST),
        _search_status(request)))


def _report_query(request: Request, as_of: datetime | None) -> report_pages.ReportQuery:
    return report_pages.query_of(request.query_params.get("by", "accident-year"),
                                 handling.time(request, "since", end_of_day=False), as_of)


@router.get("/reports/reserves")
def reserves_report(request: Request, state: StateDep) -> HTMLResponse:
    return handling.page(request, state, lambda s, v: report_pages.reserves_page(
        s, v, _report_query(request, v.as_of)))


@router.get("/reports/reserves.csv")
def reserves_report_csv(request: Request, state: StateDep) -> Response:
    view = handling.view(request, state)
    text = report_pages.reserves_csv(state.service, view, _report_query(request, view.as_of))
    return Response(text, media_type="text/csv; charset=utf-8", headers={
        **HEADERS, "Content-Disposition": 'attachment; filename="reserves-report.csv"'})


@router.get("/audit")
def audit(request: Request, state: StateDep) -> HTMLResponse:
    filters = _audit_filters(request)
    return handling.page(request, state,
                         lambda s, v: pages.audit_page(s, v, filters, event_names()))


@router.get("/audit.csv")
def audit_csv(request: Request, state: StateDep) -> Response:
    view = handling.view(request, state)
    filters = _audit_filters(request)
    rows = pages.audit_rows(state.service, view, filters)
    return Response(pages.audit_csv(rows, view), media_type="text/csv; charset=utf-8",
                    headers={**HEADERS, "Content-Disposition":
                             f'attachment; filename="audit-after-{filters.after}.csv"'})


@router.get("/seal")
def seal_page(request: Request, state: StateDep) -> HTMLResponse:
    return handling.page(request, state, lambda s, v: pages.seal_page(s, v, state.seal_check))


@router.post("/seal/verify")
async def seal_verify(request: Request, state: StateDep) -> Response:
    """Recompute the whole chain now (the page shows the last result); one at a
    time: asked for while one runs, it says so and starts nothing."""
    view = await _session_form(request, state)
    running = state.seal_verifying
    if not running.acquire(blocking=False):
        raise PageError(409, "verify_running", view.words("verify_running_detail"))

    def verify() -> None:
        try:
            log = sealed_log(state.service.ledger.recorder)
            state.seal_check = SealCheck(seal.verify(log), datetime.now(UTC))
        finally:
            running.release()

    await run_in_threadpool(verify)
    return RedirectResponse(view.url(f"{CONSOLE}/seal"), status_code=303, headers=HEADERS)


@router.get("/seal/checkpoint.json")
def seal_checkpoint(request: Request, state: StateDep) -> Response:
    handling.view(request, state)
    log = sealed_log(state.service.ledger.recorder)
    try:
        kept = seal.checkpoint_file(log)
    except seal.SealError as exc:
        raise PageError(404, "not_found", str(exc)) from None
    return Response(json.dumps(kept.model_dump(), indent=2) + "\n",
                    media_type="application/json", headers={
                        **HEADERS, "Content-Disposition": 'attachment; filename='
                        f'"checkpoint-{kept.checkpoint.position}.json"'})


@router.get("/{unknown:path}")
def unknown_page(request: Request, state: StateDep, unknown: str) -> HTMLResponse:
    handling.view(request, state)
    raise PageError(404, "not_found", f"the console has no page {CONSOLE}/{unknown}")


def api_docs(request: Request) -> HTMLResponse:
    """``/docs``: the API's routes and where its OpenAPI document is, as a page of
    our own with the console's security headers (FastAPI's Swagger UI loads its
    scripts from a CDN, and no installed package ships them)."""
    view = View(handling.lang(request), path="/docs")
    routes = [{"method": method.upper(), "path": path,
               "what": " ".join((op.get("description") or op.get("summary", ""))
                                .split("\n\n")[0].split())}
              for path, ops in request.app.openapi()["paths"].items()
              for method, op in ops.items()]
    return handling.html(pages.render("api_docs.html", view, routes=routes,
                              base=str(request.base_url)))


def mount(app: FastAPI, service: Service) -> None:
    """Serve the console from ``app`` (the API's), on ``service``."""
    app.state.console = ConsoleState(service)
    app.include_router(router)
    app.add_exception_handler(SignInNeeded, _sign_in_first)
    app.add_exception_handler(PageError, _error)


async def _sign_in_first(request: Request, _: Exception) -> Response:
    lang = request.query_params.get("lang", "ja")
    view = View(lang if lang in LANGUAGES else "ja")
    return RedirectResponse(view.url(f"{CONSOLE}/sign-in", next=here(request)),
                            status_code=303, headers=HEADERS)


async def _error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    return error_page(request, exc.status, exc.detail, exc.title)


def in_console(request: Request) -> bool:
    """Whether the request is for a console page."""
    path = request.url.path
    return path == CONSOLE or path.startswith(f"{CONSOLE}/")


def error_page(request: Request, status: int, detail: str,
               title: str | None = None) -> HTMLResponse:
    """The console's error page, with its security headers, for any request to
    it that fails (``title`` is a wording key; else the status's name)."""
    lang = request.query_params.get("lang", "ja")
    sessions = request.app.state.console.sessions
    session = request.cookies.get(COOKIE)
    view = View(lang if lang in LANGUAGES else "ja", path=request.url.path,
                user=sessions.caller(session), csrf=sessions.form_token(session))
    return handling.html(pages.render("error.html", view, status=status,
                              title=view.words(title) if title else HTTPStatus(status).phrase,
                              detail=detail), status)
