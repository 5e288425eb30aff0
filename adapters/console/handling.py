"""What every console route shares: the console's state on the app, a request
read into a page's ``View`` (language, as-of time, the signed-in session, the
page's query), whole numbers and times from the query, and HTML answered with
the console's security headers (``HEADERS``)."""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from adapters.console import pages
from adapters.console.desk import Desk
from adapters.console.i18n import LANGUAGES
from adapters.console.pages import SealCheck, View
from adapters.console.sessions import COOKIE, PageError, Sessions, SignInNeeded
from adapters.service import Service
from adapters.service.times import parse_time
from domain.errors import NotFound

STYLE_HASH = base64.b64encode(hashlib.sha256(pages.CSS.encode()).digest()).decode()
CSP = (f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
# same-origin, not no-referrer: under no-referrer a browser sends "Origin: null"
# with the page's form posts, which the Origin check must refuse.
HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-store",
           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}


@dataclass
class ConsoleState:
    """What the console's routes share: the service, the signed-in sessions, the
    seal's last verification (and whether one is running), and the work place's
    reads of the log (``Desk``)."""

    service: Service
    sessions: Sessions = field(default_factory=Sessions)
    seal_check: SealCheck | None = None
    seal_verifying: threading.Lock = field(default_factory=threading.Lock)
    desk: Desk = field(default_factory=Desk)


async def get_state(request: Request) -> ConsoleState:
    """The console's state, as ``mount`` left it on the app."""
    state: ConsoleState = request.app.state.console
    return state


StateDep = Annotated[ConsoleState, Depends(get_state)]


def lang(request: Request) -> str:
    chosen = request.query_params.get("lang", "ja")
    if chosen not in LANGUAGES:
        raise PageError(400, "bad_request", f"lang must be one of {', '.join(LANGUAGES)}, "
                        f"not {chosen!r}")
    return chosen


def html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status, headers=HEADERS)


def time(request: Request, name: str, end_of_day: bool = True) -> datetime | None:
    text = request.query_params.get(name, "").strip()
    try:
        return parse_time(text, end_of_day=end_of_day) if text else None
    except ValueError as exc:
        raise PageError(400, "bad_request", f"{name}: {exc}") from None


def whole_number(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query_params.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise PageError(400, "bad_request",
                        f"{name} must be a whole number from {low:,} to {high:,}")
    return int(text)


def printable(request: Request, name: str, longest: int) -> str:
    """A text parameter, stripped: refused (400) with a control character or
    longer than ``longest`` characters."""
    text = request.query_params.get(name, "")
    if not text.isprintable():
        raise PageError(400, "bad_request",
                        f"{name}: must be printable text, without control characters")
    if len(text) > longest:
        raise PageError(400, "bad_request", f"{name}: at most {longest:,} characters")
    return text.strip()


def view(request: Request, state: ConsoleState) -> View:
    """The page's view settings, for a signed-in caller (else sign in first)."""
    chosen = lang(request)
    session = request.cookies.get(COOKIE)
    user = state.sessions.caller(session)
    if user is None:
        raise SignInNeeded
    as_of = time(request, "as_of")
    query = {k: v for k, v in request.query_params.items() if k not in ("lang", "as_of")}
    return View(chosen, as_of, request.query_params.get("as_of", "").strip() if as_of else "",
                user, request.url.path, query, state.sessions.form_token(session))


def page(request: Request, state: ConsoleState,
         make: Callable[[Service, View], str]) -> HTMLResponse:
    shown = view(request, state)
    try:
        return html(make(state.service, shown))
    except NotFound as exc:
        raise PageError(404, "not_found", str(exc)) from None


def path_id(name: str, text: str) -> str:
    """An id from the path: one with control characters names nothing recorded
    (and some databases refuse to look for it)."""
    if not text.isprintable():
        raise PageError(404, "not_found", f"{name}: no record has this id")
    return text
