"""The auditor console: read-only HTML pages under ``/console``, served by the
same app as the HTTP API (``mount_console``).

Signing in takes an ``auditor`` or ``operator`` bearer token (an ``appender``
token is refused) and gives a session cookie (HttpOnly, SameSite=Strict, Secure
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

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote, unquote, urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from adapters import pages, seal
from adapters.auth import Caller
from adapters.console import parse_time
from adapters.i18n import LANGUAGES, Words
from adapters.pages import CONSOLE, AuditFilters, View
from adapters.seal_store import sealed_log
from domain.errors import NotFound
from domain.events import event_names

if TYPE_CHECKING:
    from adapters.http import Service

COOKIE = "claims_ledger_console"
FORM_COOKIE = "claims_ledger_sign_in"
"""The sign-in form's token, which the form also carries (double submit)."""
SESSION_HOURS = 8
MAX_AUDIT_ROWS = 1000
STYLE_HASH = base64.b64encode(hashlib.sha256(pages.CSS.encode()).digest()).decode()
CSP = (f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
# same-origin, not no-referrer: under no-referrer a browser sends "Origin: null"
# with the page's form posts, which the Origin check must refuse.
HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-store",
           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
_NEXT = re.compile(rf"{CONSOLE}/[A-Za-z0-9._~!$&'()*+,;=:@/?%-]{{0,2000}}")
_PORTS = {"http": 80, "https": 443}


class Sessions:
    """Signed-in browsers: a random session id (the cookie) per caller, with the
    token the session's forms carry."""

    def __init__(self, hours: float = SESSION_HOURS) -> None:
        self.seconds = hours * 3600
        self._by_id: dict[str, tuple[Caller, str, float]] = {}
        self._lock = threading.Lock()

    def start(self, caller: Caller) -> str:
        session = secrets.token_urlsafe(32)
        with self._lock:
            now = time.monotonic()
            self._by_id = {k: v for k, v in self._by_id.items() if v[2] > now}
            self._by_id[session] = (caller, secrets.token_urlsafe(32), now + self.seconds)
        return session

    def _live(self, session: str | None) -> tuple[Caller, str, float] | None:
        with self._lock:
            found = self._by_id.get(session or "")
        return found if found and found[2] > time.monotonic() else None

    def caller(self, session: str | None) -> Caller | None:
        found = self._live(session)
        return found[0] if found else None

    def form_token(self, session: str | None) -> str:
        """The token the session's forms carry ("" without a session)."""
        found = self._live(session)
        return found[1] if found else ""

    def end(self, session: str | None) -> None:
        with self._lock:
            self._by_id.pop(session or "", None)


class PageError(Exception):
    """A request the console answers with an error page."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


class SignInNeeded(Exception):
    """A console page asked for without a session."""


def _lang(request: Request) -> str:
    lang = request.query_params.get("lang", "ja")
    if lang not in LANGUAGES:
        raise PageError(400, "bad_request", f"lang must be one of {', '.join(LANGUAGES)}, "
                        f"not {lang!r}")
    return lang


def _html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status, headers=HEADERS)


def _time(request: Request, name: str, end_of_day: bool = True) -> datetime | None:
    text = request.query_params.get(name, "").strip()
    try:
        return parse_time(text, end_of_day=end_of_day) if text else None
    except ValueError as exc:
        raise PageError(400, "bad_request", f"{name}: {exc}") from None


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query_params.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise PageError(400, "bad_request",
                        f"{name} must be a whole number from {low:,} to {high:,}")
    return int(text)


def _view(request: Request) -> View:
    """The page's view settings, for a signed-in caller (else sign in first)."""
    lang = _lang(request)
    sessions: Sessions = request.app.state.console_sessions
    session = request.cookies.get(COOKIE)
    user = sessions.caller(session)
    if user is None:
        raise SignInNeeded
    as_of = _time(request, "as_of")
    query = {k: v for k, v in request.query_params.items() if k not in ("lang", "as_of")}
    return View(lang, as_of, request.query_params.get("as_of", "").strip() if as_of else "",
                user, request.url.path, query, sessions.form_token(session))


def _next_page(text: str) -> str:
    """``text`` if it is a page of this console (a path under /console/ with its
    query, no other site's address), "" if empty; else a 400 naming ``next``."""
    if not text:
        return ""
    path = text.partition("?")[0]
    if not _NEXT.fullmatch(text) or {".", ".."} & set(unquote(path).split("/")):
        raise PageError(400, "bad_request", "next: must be a page of this console, a path "
                        f"starting with {CONSOLE}/ (never another site's address)")
    return text


def _here(request: Request) -> str:
    """The page asked for, to return to after signing in ("" if it cannot be)."""
    if request.method != "GET":
        return ""
    query = request.url.query
    here = quote(request.url.path, safe="/:@!$&'()*+,;=~") + (f"?{query}" if query else "")
    try:
        return _next_page(here)
    except PageError:
        return ""


def _same_origin(origin: str, request: Request) -> bool:
    try:
        sent = urlsplit(origin)
        port = sent.port or _PORTS.get(sent.scheme)
    except ValueError:
        return False
    own = request.url
    return (sent.scheme, sent.hostname, port, sent.path) == (
        own.scheme, own.hostname, own.port or _PORTS.get(own.scheme), "")


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def _check_form(request: Request, words: Words, expected: str, sent: str) -> None:
    """Refuse (403) a form posted from another origin, or without the token its
    page was given; a form sent without an Origin (not a browser) needs the token."""
    origin = request.headers.get("origin")
    if origin is not None and not _same_origin(origin, request):
        raise PageError(403, "forbidden", words("origin_refused", origin=origin[:200]))
    if not expected or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise PageError(403, "forbidden", words("form_token_refused"))


def _page(request: Request, make: Callable[[Service, View], str]) -> HTMLResponse:
    view = _view(request)
    try:
        return _html(make(request.app.state.service, view))
    except NotFound as exc:
        raise PageError(404, "not_found", str(exc)) from None


def _audit_filters(request: Request) -> AuditFilters:
    q = request.query_params
    event_type = q.get("event_type", "").strip()
    if event_type and event_type not in event_names():
        raise PageError(400, "bad_request", f"event_type: unknown event type {event_type!r}")
    return AuditFilters(
        policy_id=q.get("policy_id", "").strip(), claim_id=q.get("claim_id", "").strip(),
        actor=q.get("actor", "").strip(), event_type=event_type,
        recorded_from=_time(request, "from", end_of_day=False),
        recorded_to=_time(request, "to"),
        after=_int(request, "after", 0, 0, 2**62),
        limit=_int(request, "limit", 50, 1, MAX_AUDIT_ROWS))


router = APIRouter(prefix=CONSOLE, include_in_schema=False)


@router.get("")
@router.get("/")
def home(request: Request) -> Response:
    return RedirectResponse(View(_lang(request)).url(f"{CONSOLE}/policies"), status_code=303)


@router.get("/sign-in")
def sign_in_form(request: Request) -> HTMLResponse:
    lang = _lang(request)
    back = _next_page(request.query_params.get("next", ""))
    kept = request.cookies.get(FORM_COOKIE, "")
    form_token = kept if _TOKEN.fullmatch(kept) else secrets.token_urlsafe(32)
    view = View(lang, path=f"{CONSOLE}/sign-in", query={"next": back} if back else {})
    response = _html(pages.render("sign_in.html", view, problem=None, form_token=form_token))
    response.set_cookie(FORM_COOKIE, form_token, httponly=True, samesite="strict",
                        path=f"{CONSOLE}/sign-in", secure=request.url.scheme == "https")
    return response


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    form = await _form(request)
    lang = form.get("lang", "ja")
    view = View(lang if lang in LANGUAGES else "ja", path=f"{CONSOLE}/sign-in")
    form_token = request.cookies.get(FORM_COOKIE, "")
    _check_form(request, view.words, form_token, form.get("csrf", ""))
    back = _next_page(form.get("next", ""))
    view = View(view.lang, path=view.path, query={"next": back} if back else {})
    token = form.get("token", "").strip()
    service: Service = request.app.state.service
    caller = service.tokens.caller(token) if token else None
    if caller is None or caller.role == "appender":
        status, problem = ((401, "unknown_token") if caller is None
                           else (403, "appender_refused"))
        return _html(pages.render("sign_in.html", view, problem=problem,
                                  form_token=form_token), status)
    session = request.app.state.console_sessions.start(caller)
    response = RedirectResponse(back or view.url(f"{CONSOLE}/policies"), status_code=303)
    response.set_cookie(COOKIE, session, httponly=True, samesite="strict", path=CONSOLE,
                        secure=request.url.scheme == "https")
    return response


async def _session_form(request: Request) -> View:
    """The view of a form posted by a signed-in browser, once checked."""
    form = await _form(request)
    view = _view(request)
    _check_form(request, view.words, view.csrf, form.get("csrf", ""))
    return view


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    view = await _session_form(request)
    request.app.state.console_sessions.end(request.cookies.get(COOKIE))
    response = RedirectResponse(View(view.lang).url(f"{CONSOLE}/sign-in"), status_code=303)
    response.delete_cookie(COOKIE, path=CONSOLE, httponly=True, samesite="strict")
    return response


@router.get("/policies")
def policies(request: Request) -> HTMLResponse:
    prefix = request.query_params.get("q", "").strip()
    after = request.query_params.get("after", "")
    return _page(request, lambda s, v: pages.policies_page(s, v, prefix, after))


@router.get("/policies/{policy_id}")
def policy(request: Request, policy_id: str) -> HTMLResponse:
    return _page(request, lambda s, v: pages.policy_page(s, v, policy_id))


@router.get("/policies/{policy_id}/years/{year}")
def policy_year(request: Request, policy_id: str, year: str) -> HTMLResponse:
    if not year.isdigit():
        _view(request)
        raise PageError(404, "not_found", f"policy {policy_id} has no policy year {year}")
    return _page(request, lambda s, v: pages.year_page(s, v, policy_id, int(year)))


@router.get("/claims/{claim_id}")
def claim(request: Request, claim_id: str) -> HTMLResponse:
    return _page(request, lambda s, v: pages.claim_page(s, v, claim_id))


@router.get("/audit")
def audit(request: Request) -> HTMLResponse:
    filters = _audit_filters(request)
    return _page(request, lambda s, v: pages.audit_page(s, v, filters, event_names()))


@router.get("/audit.csv")
def audit_csv(request: Request) -> Response:
    view = _view(request)
    filters = _audit_filters(request)
    rows = pages.audit_rows(request.app.state.service, view, filters)
    return Response(pages.audit_csv(rows, view), media_type="text/csv; charset=utf-8",
                    headers={**HEADERS, "Content-Disposition":
                             f'attachment; filename="audit-after-{filters.after}.csv"'})


@router.get("/seal")
def seal_page(request: Request) -> HTMLResponse:
    return _page(request, lambda s, v: pages.seal_page(s, v, request.app.state.seal_check))


@router.post("/seal/verify")
async def seal_verify(request: Request) -> Response:
    """Recompute the whole chain now (the page shows the last result); one at a
    time: asked for while one runs, it says so and starts nothing."""
    view = await _session_form(request)
    state = request.app.state
    running: threading.Lock = state.seal_verifying
    if not running.acquire(blocking=False):
        raise PageError(409, "verify_running", view.words("verify_running_detail"))

    def verify() -> None:
        try:
            log = sealed_log(state.service.ledger.recorder)
            state.seal_check = pages.SealCheck(seal.verify(log), datetime.now(UTC))
        finally:
            running.release()

    await run_in_threadpool(verify)
    return RedirectResponse(view.url(f"{CONSOLE}/seal"), status_code=303, headers=HEADERS)


@router.get("/seal/checkpoint.json")
def seal_checkpoint(request: Request) -> Response:
    _view(request)
    log = sealed_log(request.app.state.service.ledger.recorder)
    try:
        kept = seal.checkpoint_file(log)
    except seal.SealError as exc:
        raise PageError(404, "not_found", str(exc)) from None
    return Response(json.dumps(kept.model_dump(), indent=2) + "\n",
                    media_type="application/json", headers={
                        **HEADERS, "Content-Disposition": 'attachment; filename='
                        f'"checkpoint-{kept.checkpoint.position}.json"'})


@router.get("/{unknown:path}")
def unknown_page(request: Request, unknown: str) -> HTMLResponse:
    _view(request)
    raise PageError(404, "not_found", f"the console has no page {CONSOLE}/{unknown}")


def api_docs(request: Request) -> HTMLResponse:
    """``/docs``: the API's routes and where its OpenAPI document is, as a page of
    our own with the console's security headers (FastAPI's Swagger UI loads its
    scripts from a CDN, and no installed package ships them)."""
    view = View(_lang(request), path="/docs")
    routes = [{"method": method.upper(), "path": path,
               "what": " ".join((op.get("description") or op.get("summary", ""))
                                .split("\n\n")[0].split())}
              for path, ops in request.app.openapi()["paths"].items()
              for method, op in ops.items()]
    return _html(pages.render("api_docs.html", view, routes=routes,
                              base=str(request.base_url)))


def mount_console(app: FastAPI) -> None:
    """Serve the console from ``app`` (made by ``adapters.http.create_app``)."""
    app.state.console_sessions = Sessions()
    app.state.seal_check = None
    app.state.seal_verifying = threading.Lock()
    app.include_router(router)

    @app.exception_handler(SignInNeeded)
    async def _sign_in(request: Request, _: SignInNeeded) -> Response:
        lang = request.query_params.get("lang", "ja")
        view = View(lang if lang in LANGUAGES else "ja")
        return RedirectResponse(view.url(f"{CONSOLE}/sign-in", next=_here(request)),
                                status_code=303, headers=HEADERS)

    @app.exception_handler(PageError)
    async def _error(request: Request, exc: PageError) -> HTMLResponse:
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
    sessions: Sessions = request.app.state.console_sessions
    session = request.cookies.get(COOKIE)
    view = View(lang if lang in LANGUAGES else "ja", path=request.url.path,
                user=sessions.caller(session), csrf=sessions.form_token(session))
    return _html(pages.render("error.html", view, status=status,
                              title=view.words(title) if title else HTTPStatus(status).phrase,
                              detail=detail), status)
