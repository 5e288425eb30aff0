"""Signed-in browsers and the checks on what they send: the sessions (held in
the server's memory), the token each form carries, the ``Origin`` of a posted
form, and the page to return to after signing in (only ever a console page)."""

from __future__ import annotations

import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable
from urllib.parse import parse_qs, quote, unquote, urlsplit

from fastapi import Request

from adapters.console.i18n import Words
from adapters.console.pages import CONSOLE
from adapters.service.auth import Caller

COOKIE = "claims_ledger_console"
FORM_COOKIE = "claims_ledger_sign_in"
"""The sign-in form's token, which the form also carries (double submit)."""
SESSION_HOURS = 8
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
"""What a form token looks like (``secrets.token_urlsafe(32)``)."""
_NEXT = re.compile(rf"{CONSOLE}/[A-Za-z0-9._~!$&'()*+,;=:@/?%-]{{0,2000}}")
_PORTS = {"http": 80, "https": 443}


class Sessions:
    """Signed-in browsers: a random session id (the cookie) per caller, with the
    token the session's forms carry. A session lasts while the bearer token it
    was signed in with does (``valid``): revoked, rotated or expired, it ends."""

    def __init__(self, hours: float = SESSION_HOURS) -> None:
        self.seconds = hours * 3600
        self._by_id: dict[str, tuple[Caller, str, float, Callable[[], bool]]] = {}
        self._lock = threading.Lock()

    def start(self, caller: Caller, valid: Callable[[], bool]) -> str:
        session = secrets.token_urlsafe(32)
        with self._lock:
            now = time.monotonic()
            self._by_id = {k: v for k, v in self._by_id.items() if v[2] > now}
            self._by_id[session] = (caller, secrets.token_urlsafe(32), now + self.seconds, valid)
        return session

    def _live(self, session: str | None) -> tuple[Caller, str, float, Callable[[], bool]] | None:
        with self._lock:
            found = self._by_id.get(session or "")
        return found if found and found[2] > time.monotonic() and found[3]() else None

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


def next_page(text: str) -> str:
    """``text`` if it is a page of this console (a path under /console/ with its
    query, no other site's address), "" if empty; else a 400 naming ``next``."""
    if not text:
        return ""
    path = text.partition("?")[0]
    if not _NEXT.fullmatch(text) or {".", ".."} & set(unquote(path).split("/")):
        raise PageError(400, "bad_request", "next: must be a page of this console, a path "
                        f"starting with {CONSOLE}/ (never another site's address)")
    return text


def here(request: Request) -> str:
    """The page asked for, to return to after signing in ("" if it cannot be)."""
    if request.method != "GET":
        return ""
    query = request.url.query
    page = quote(request.url.path, safe="/:@!$&'()*+,;=~") + (f"?{query}" if query else "")
    try:
        return next_page(page)
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


async def read_form(request: Request) -> dict[str, str]:
    """A posted form's fields (the first value of each)."""
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def check_form(request: Request, words: Words, expected: str, sent: str) -> None:
    """Refuse (403) a form posted from another origin, or without the token its
    page was given; a form sent without an Origin (not a browser) needs the token."""
    origin = request.headers.get("origin")
    if origin is not None and not _same_origin(origin, request):
        raise PageError(403, "forbidden", words("origin_refused", origin=origin[:200]))
    if not expected or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise PageError(403, "forbidden", words("form_token_refused"))
