"""Who may call the HTTP API (and sign in to the console): bearer tokens, stored
as hashes, each with a role.

Roles: ``appender`` sends commands; ``auditor`` reads; ``operator`` reads and
runs rebuilds and checks; ``subscriber`` reads the event feed and nothing else.
The operator configures tokens in a JSON file (or the ``CLAIMS_LEDGER_TOKENS``
variable holding the same JSON, but never both): a list
of ``{"name": …, "role": …, "sha256": …}``. Only the SHA-256 of each token is
kept; ``claims-ledger token NAME --role ROLE`` makes a new token and adds its
entry, writing the file private to its owner (0600) from the moment it exists.
The name is what the ledger records as the actor of every event a token's
commands append.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from domain.commands import check_actor
from domain.errors import InvalidCommand

ROLES = ("appender", "auditor", "operator", "subscriber")
TOKENS_ENV = "CLAIMS_LEDGER_TOKENS"
TOKENS_FILE_ENV = "CLAIMS_LEDGER_TOKENS_FILE"


class TokenConfigError(Exception):
    """The token configuration cannot be used."""


@dataclass(frozen=True)
class Caller:
    name: str
    role: str


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Tokens:
    def __init__(self, entries: list[dict[str, str]]) -> None:
        self._by_hash: dict[str, Caller] = {}
        for n, entry in enumerate(entries):
            name, role, sha = entry.get("name"), entry.get("role"), entry.get("sha256")
            if not name or role not in ROLES or not sha or len(sha) != 64:
                msg = (f"token entry {n + 1} needs a name, a role ({', '.join(ROLES)}) and "
                       "the sha256 of the token (64 hex digits)")
                raise TokenConfigError(msg)
            self._by_hash[sha.lower()] = Caller(name, role)

    def __len__(self) -> int:
        return len(self._by_hash)

    def caller(self, token: str) -> Caller | None:
        wanted = digest(token)
        for sha, caller in self._by_hash.items():
            if hmac.compare_digest(sha, wanted):
                return caller
        return None

    @classmethod
    def load(cls, path: str | None = None) -> Tokens:
        """The tokens in the file at ``path`` (the ``--tokens-file`` option), else
        in the file named by ``$CLAIMS_LEDGER_TOKENS_FILE``, else in
        ``$CLAIMS_LEDGER_TOKENS``; a file and the variable together are refused."""
        inline = os.environ.get(TOKENS_ENV)
        source = "--tokens-file" if path else f"${TOKENS_FILE_ENV}"
        path = path or os.environ.get(TOKENS_FILE_ENV)
        if inline and path:
            raise TokenConfigError(f"both {source} and ${TOKENS_ENV} give the bearer tokens: "
                                   "give only one of them")
        if inline:
            text = inline
        elif path:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                raise TokenConfigError(f"cannot read tokens file {path}: {exc.strerror}") from exc
        else:
            return cls([])
        try:
            entries = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TokenConfigError(f"the token configuration is not JSON: {exc}") from exc
        if not isinstance(entries, list):
            raise TokenConfigError("the token configuration must be a JSON list")
        return cls(entries)


def new_token(name: str, role: str, path: str) -> str:
    """Make a token for ``name`` with ``role``, add its hash to the file at
    ``path`` (created if missing) and return the token, which is not kept."""
    if role not in ROLES:
        raise TokenConfigError(f"role must be one of {', '.join(ROLES)}")
    try:
        check_actor(name)  # the name is the actor recorded on its commands' events
    except InvalidCommand as exc:
        raise TokenConfigError(f"name: {exc.violations[0].message}") from None
    file = Path(path)
    entries = json.loads(file.read_text(encoding="utf-8")) if file.exists() else []
    if any(e.get("name") == name for e in entries):
        raise TokenConfigError(f"{path} already has a token named {name}")
    # A fixed prefix: recognisable in a leak scan, and never read as an option by a
    # command line (a bare URL-safe token may start with "-").
    token = f"clt_{secrets.token_urlsafe(32)}"
    entries.append({"name": name, "role": role, "sha256": digest(token)})
    _write_private(file, json.dumps(entries, indent=2) + "\n")
    return token


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
