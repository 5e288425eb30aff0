"""Who may call the HTTP API (and sign in to the console): bearer tokens, stored
as hashes, each with a role, a creation time and an optional expiry.

Roles: ``appender`` sends commands; ``auditor`` reads; ``operator`` reads and
runs rebuilds and checks; ``subscriber`` reads the event feed and nothing else.
The operator configures tokens in a JSON file (or the
``CLAIMS_LEDGER_TOKENS`` variable holding the same JSON, but never both): a list
of ``{"name": …, "role": …, "sha256": …}``, with ``created``, ``expires`` and
``revoked`` times where known (a file without them still loads). Only the
SHA-256 of each token is kept; ``adapters.service.token_file`` makes, revokes
and rotates them. The name is what the ledger records as the actor of every
event a token's commands append.

Tokens read from a file follow it: on a request, at most every
``CHECK_EVERY`` seconds, the file's inode, size and modification time are
compared with the last read's, and a changed file is read again. A file that
became unreadable or invalid keeps the last good tokens and logs a warning.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from string import hexdigits
from typing import Any

ROLES = ("appender", "auditor", "operator", "subscriber")
TOKENS_ENV = "CLAIMS_LEDGER_TOKENS"
TOKENS_FILE_ENV = "CLAIMS_LEDGER_TOKENS_FILE"
CHECK_EVERY = 0.5
"""Seconds between two looks at the tokens file (on a request): a change to the
file is seen by the next request after at most this long."""
TIMES = ("created", "expires", "revoked", "rotated")
"""The times an entry may carry (ISO 8601 with an offset)."""

log = logging.getLogger("claims_ledger.tokens")


class TokenConfigError(Exception):
    """The token configuration cannot be used."""


@dataclass(frozen=True)
class Caller:
    name: str
    role: str


@dataclass(frozen=True)
class Grant:
    """What a token's hash grants: its caller, until ``expires`` (if set)."""
    caller: Caller
    expires: datetime | None

    def live(self, now: datetime) -> bool:
        return self.expires is None or now < self.expires


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def entry_time(entry: dict[str, Any], field: str) -> datetime | None:
    """An entry's ``field`` time, or None where it has none."""
    value = entry.get(field)
    return None if value is None else datetime.fromisoformat(value)


def check_entries(entries: Any) -> list[dict[str, Any]]:
    """The entries of a tokens file, each checked, or ``TokenConfigError``
    naming the entry and what it lacks."""
    if not isinstance(entries, list):
        raise TokenConfigError("the token configuration must be a JSON list")
    for n, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise TokenConfigError(f"token entry {n} must be a JSON object")
        name, role, sha = entry.get("name"), entry.get("role"), entry.get("sha256")
        revoked = entry.get("revoked") is not None
        if (not isinstance(name, str) or not name or role not in ROLES
                or not (revoked or (isinstance(sha, str) and len(sha) == 64
                                    and all(c in hexdigits for c in sha)))):
            raise TokenConfigError(
                f"token entry {n} needs a name, a role ({', '.join(ROLES)}) and "
                "the sha256 of the token (64 hex digits)")
        for field in TIMES:
            try:
                when = entry_time(entry, field)
            except (TypeError, ValueError):
                when = datetime.min
            if when is not None and when.tzinfo is None:
                raise TokenConfigError(f"token entry {n}: {field} must be an ISO 8601 "
                                       "date-time with an offset")
    return entries


def _grants(entries: list[dict[str, Any]]) -> dict[str, Grant]:
    """The live hashes: a revoked entry grants nothing."""
    return {e["sha256"].lower(): Grant(Caller(e["name"], e["role"]), entry_time(e, "expires"))
            for e in check_entries(entries) if e.get("revoked") is None}


def read_entries(path: Path) -> list[dict[str, Any]]:
    """The checked entries of the tokens file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TokenConfigError(f"cannot read tokens file {path}: {exc.strerror}") from exc
    return parse_entries(text)


def parse_entries(text: str) -> list[dict[str, Any]]:
    try:
        return check_entries(json.loads(text))
    except json.JSONDecodeError as exc:
        raise TokenConfigError(f"the token configuration is not JSON: {exc}") from exc


def _signature(path: Path) -> tuple[int, int, int] | None:
    """What changes when the file is replaced or rewritten; None if it is gone."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class Tokens:
    def __init__(self, entries: list[dict[str, Any]], source: Path | None = None,
                 seen: tuple[int, int, int] | None = None) -> None:
        """The tokens of ``entries``; with ``source``, following that file, last
        read when its signature was ``seen``."""
        self._grants = _grants(entries)
        self._source, self._seen = source, seen
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._grants)

    def caller(self, token: str) -> Caller | None:
        """The caller ``token`` names, or None if it is unknown, revoked or expired."""
        return self.holder(digest(token))

    def holder(self, wanted: str) -> Caller | None:
        """The caller of the token whose SHA-256 is ``wanted``, while it is live."""
        self._follow()
        for sha, grant in self._grants.items():
            if hmac.compare_digest(sha, wanted):
                return grant.caller if grant.live(datetime.now(UTC)) else None
        return None

    def _follow(self) -> None:
        """Read the tokens file again if it changed since the last read (looked at
        at most every ``CHECK_EVERY`` seconds)."""
        if self._source is None or time.monotonic() - self._checked < CHECK_EVERY:
            return
        with self._lock:
            if time.monotonic() - self._checked < CHECK_EVERY:
                return
            self._checked = time.monotonic()
            signature = _signature(self._source)
            if signature == self._seen:
                return
            self._seen = signature  # one warning per change, not one per request
            try:
                self._grants = _grants(read_entries(self._source))
            except TokenConfigError as exc:
                log.warning("claims-ledger: the tokens file changed but cannot be used, so "
                            "the last good tokens stay in force: %s", exc)

    @classmethod
    def load(cls, path: str | None = None) -> Tokens:
        """The tokens in the file at ``path`` (the ``--tokens-file`` option), else
        in the file named by ``$CLAIMS_LEDGER_TOKENS_FILE``, else in
        ``$CLAIMS_LEDGER_TOKENS``; a file and the variable together are refused.
        Tokens from a file follow the file's changes."""
        inline = os.environ.get(TOKENS_ENV)
        source = "--tokens-file" if path else f"${TOKENS_FILE_ENV}"
        path = path or os.environ.get(TOKENS_FILE_ENV)
        if inline and path:
            raise TokenConfigError(f"both {source} and ${TOKENS_ENV} give the bearer tokens: "
                                   "give only one of them")
        if inline:
            return cls(parse_entries(inline))
        if path:
            file = Path(path)
            signature = _signature(file)  # before reading: a change in between is seen later
            return cls(read_entries(file), file, signature)
        return cls([])
