"""The operator's edits to the tokens file: make a token (with its creation
time and an optional expiry), list the entries, revoke a name, rotate a name's
secret. Every edit replaces the file whole, private to its owner (0600) from
the moment it exists. A name is never handed out twice in a file's lifetime:
a revoked entry stays, without its hash, so the actor the ledger records always
means one holder."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.service.auth import ROLES, TokenConfigError, digest, entry_time, read_entries
from domain.commands import check_actor
from domain.errors import InvalidCommand

MAX_DAYS = 3650
"""The furthest a token's expiry may be: ten years from when it is set."""
ACTIONS = ("list", "revoke", "rotate")
"""Words of the ``token`` command, so never a token's name."""


class TokenRefused(TokenConfigError):
    """An edit the file's entries refuse: names the field and the rule."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(f"{field}: {message} [{rule}]")
        self.field, self.rule = field, rule


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def expiry(days: int | None = None, at: datetime | None = None) -> datetime | None:
    """When a token given now expires: ``days`` from now, or ``at`` (which must
    be in the future and at most ``MAX_DAYS`` away); None for no expiry."""
    now = _now()
    if days is not None:
        if not 1 <= days <= MAX_DAYS:
            raise TokenRefused("expires_in", "expiry_range",
                               f"must be from 1 to {MAX_DAYS:,} days, not {days:,}")
        return now + timedelta(days=days)
    if at is not None and not now < at <= now + timedelta(days=MAX_DAYS):
        raise TokenRefused("expires_at", "expiry_range",
                           f"must be after now and at most {MAX_DAYS:,} days away, "
                           f"not {at.isoformat()}")
    return at


def _entries(file: Path) -> list[dict[str, Any]]:
    return read_entries(file) if file.exists() else []


def _named(entries: list[dict[str, Any]], name: str, path: str) -> dict[str, Any]:
    """The live entry named ``name``, or a refusal naming why there is none."""
    entry = next((e for e in entries if e["name"] == name), None)
    if entry is None:
        raise TokenRefused("name", "unknown_name", f"{path} has no token named {name}")
    if entry.get("revoked") is not None:
        raise TokenRefused("name", "name_revoked",
                           f"{name}'s token was revoked at {entry['revoked']}")
    return entry


def _secret() -> tuple[str, str]:
    # A fixed prefix: recognisable in a leak scan, and never read as an option by a
    # command line (a bare URL-safe token may start with "-").
    token = f"clt_{secrets.token_urlsafe(32)}"
    return token, digest(token)


def new_token(name: str, role: str, path: str, expires: datetime | None = None) -> str:
    """Make a token for ``name`` with ``role`` (until ``expires``, if given), add
    its hash to the file at ``path`` (created if missing) and return the token,
    which is not kept. A name the file has ever held is refused."""
    if role not in ROLES:
        raise TokenConfigError(f"role must be one of {', '.join(ROLES)}")
    try:
        check_actor(name)  # the name is the actor recorded on its commands' events
    except InvalidCommand as exc:
        raise TokenConfigError(f"name: {exc.violations[0].message}") from None
    if name in ACTIONS:
        raise TokenRefused("name", "reserved_name",
                           f"{name} is a word of the token command, not a name")
    file = Path(path)
    with _locked(file):
        entries = _entries(file)
        if old := next((e for e in entries if e["name"] == name), None):
            if old.get("revoked") is not None:
                raise TokenRefused("name", "name_revoked", f"{name}'s token was revoked at "
                                   f"{old['revoked']}; a revoked name is not handed out again, "
                                   "so the actor it recorded means one holder")
            raise TokenRefused("name", "name_taken", f"{path} already has a token named {name}")
        token, sha = _secret()
        entries.append({"name": name, "role": role, "sha256": sha, "created": _now().isoformat(),
                        "expires": expires.isoformat() if expires else None})
        _write(file, entries)
        return token


def revoke_token(name: str, path: str) -> None:
    """Revoke ``name``'s token: its hash is dropped, its name kept (never reused)."""
    file = Path(path)
    with _locked(file):
        entries = _entries(file)
        entry = _named(entries, name, path)
        entry.pop("sha256", None)
        entry["revoked"] = _now().isoformat()
        _write(file, entries)


def rotate_token(name: str, path: str, expires: datetime | None = None) -> str:
    """A new token for ``name`` (same role; until ``expires`` if given, else its
    expiry as before); the old token stops working. Returns the new one."""
    file = Path(path)
    with _locked(file):
        entries = _entries(file)
        entry = _named(entries, name, path)
        until = expires or entry_time(entry, "expires")
        if until is not None and until <= _now():
            raise TokenRefused("expires", "expired", f"{name}'s token expired at "
                               f"{until.isoformat()}: give a new expiry to rotate it")
        token, entry["sha256"] = _secret()
        entry["rotated"] = _now().isoformat()
        entry["expires"] = until.isoformat() if until else None
        _write(file, entries)
        return token


def token_rows(path: str) -> list[dict[str, Any]]:
    """Every entry of the file as the operator may see it: never a token or its hash."""
    return [{"name": e["name"], "role": e["role"], "created": e.get("created"),
             "rotated": e.get("rotated"), "expires": e.get("expires"),
             "revoked": e.get("revoked")} for e in read_entries(Path(path))]


@contextlib.contextmanager
def _locked(file: Path) -> Iterator[None]:
    """Hold the edit lock of the file's folder (an exclusive ``flock`` on it)
    while an edit reads the entries and writes them back, so two edits at once
    cannot put back a hash the other removed. The folder, not the file: the file
    is replaced by a rename, and a lock file would be left beside it."""
    fd = os.open(file.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing it releases the lock


def _write(file: Path, entries: list[dict[str, Any]]) -> None:
    _write_private(file, json.dumps(entries, indent=2) + "\n")


def _write_private(file: Path, text: str) -> None:
    """Replace ``file`` with ``text`` at once: written to a temporary file in the
    same folder, created readable and writable by its owner only (0600), then
    renamed over it; so no reader ever sees the file part-written or open to all."""
    fd, temp = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, file)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
