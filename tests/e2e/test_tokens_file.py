"""The bearer tokens file: private (0600) from the moment it exists, replaced
whole on update; and one source of tokens at a time for `serve`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.service.auth import TOKENS_ENV, TOKENS_FILE_ENV, TokenConfigError, Tokens, digest
from adapters.service.token_file import TokenRefused, new_token, revoke_token, rotate_token
from tests.support.serving import free_port


@pytest.fixture
def no_chmod_and_open_umask(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Files are created with the mode they are opened with (umask 0), and a
    chmod afterwards does nothing: only a file created private stays private."""
    monkeypatch.setattr(os, "chmod", lambda *_a, **_k: None)
    monkeypatch.setattr(os, "fchmod", lambda *_a, **_k: None)
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_tokens_file_is_created_private_not_chmod_ed_afterwards(
        tmp_path: Path, no_chmod_and_open_umask: None):
    # given no tokens file, a permissive umask and no chmod to fix things later
    path = tmp_path / "tokens.json"
    # when a token is made
    new_token("ops", "operator", str(path))
    # then the file was created readable and writable by its owner only
    assert mode(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["tokens.json"]  # no temp file left


def test_an_updated_tokens_file_is_private_and_keeps_every_entry(
        tmp_path: Path, no_chmod_and_open_umask: None):
    # given a tokens file someone left readable by all
    path = tmp_path / "tokens.json"
    first = "clt_first"
    entries = [{"name": "ops", "role": "operator", "sha256": digest(first)}]
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, json.dumps(entries).encode())
    os.close(fd)
    assert mode(path) == 0o644
    # when another token is added
    second = new_token("audit", "auditor", str(path))
    # then the file is private again and holds both
    assert mode(path) == 0o600
    tokens = Tokens.load(str(path))
    assert tokens.caller(first) is not None and tokens.caller(second) is not None
    assert [e["name"] for e in json.loads(path.read_text())] == ["ops", "audit"]


def test_a_revoked_or_rotated_tokens_file_stays_private(
        tmp_path: Path, no_chmod_and_open_umask: None):
    # given a tokens file, a permissive umask and no chmod to fix things later
    path = tmp_path / "tokens.json"
    new_token("ops", "operator", str(path))
    new_token("desk", "appender", str(path))
    # when a token is rotated, and another revoked
    for edit in (lambda: rotate_token("ops", str(path)), lambda: revoke_token("desk", str(path))):
        edit()
        # then the file is still readable and writable by its owner only
        assert mode(path) == 0o600
        assert [p.name for p in tmp_path.iterdir()] == ["tokens.json"]


def test_an_expired_token_is_rotated_only_with_a_new_expiry(tmp_path: Path):
    # given a token whose expiry has passed
    path = tmp_path / "tokens.json"
    new_token("ops", "operator", str(path))
    entries = json.loads(path.read_text())
    entries[0]["expires"] = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    path.write_text(json.dumps(entries))
    # when it is rotated without a new expiry, it is refused naming the rule
    with pytest.raises(TokenRefused, match=r"\[expired\]"):
        rotate_token("ops", str(path))
    # and with one, the new token works
    token = rotate_token("ops", str(path), datetime.now(UTC) + timedelta(days=1))
    assert Tokens.load(str(path)).caller(token) is not None


def test_tokens_from_both_the_variable_and_a_file_is_an_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "tokens.json"
    new_token("ops", "operator", str(path))
    monkeypatch.setenv(TOKENS_ENV, "[]")
    with pytest.raises(TokenConfigError, match=r"--tokens-file.*\$CLAIMS_LEDGER_TOKENS"):
        Tokens.load(str(path))
    monkeypatch.setenv(TOKENS_FILE_ENV, str(path))
    with pytest.raises(TokenConfigError,
                       match=r"\$CLAIMS_LEDGER_TOKENS_FILE.*\$CLAIMS_LEDGER_TOKENS\b"):
        Tokens.load()


def test_serve_refuses_a_tokens_file_and_the_tokens_variable_together(tmp_path: Path):
    # given a tokens file and tokens in the environment too
    path = tmp_path / "tokens.json"
    new_token("ops", "operator", str(path))
    env = {**os.environ, TOKENS_ENV: "[]"}
    env.pop(TOKENS_FILE_ENV, None)
    # when the server is started with both
    try:
        run = subprocess.run(
            [sys.executable, "-m", "adapters.cli", "--db", str(tmp_path / "x.db"), "serve",
             "--port", str(free_port()), "--tokens-file", str(path)],
            capture_output=True, text=True, env=env, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("serve started with both a tokens file and $CLAIMS_LEDGER_TOKENS")
    # then it refuses at once, in one line naming both
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert "--tokens-file" in lines[0] and "$CLAIMS_LEDGER_TOKENS" in lines[0]
    assert not (tmp_path / "x.db").exists()  # nothing was opened


def test_edits_made_at_once_are_all_kept_so_a_revoked_hash_never_comes_back(tmp_path: Path):
    # given a tokens file with ten tokens
    path = str(tmp_path / "tokens.json")
    for n in range(10):
        new_token(f"old-{n}", "appender", path)
    # when ten are revoked while ten more are made, all at once
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=8) as pool:
        done = [pool.submit(revoke_token, f"old-{n}", path) for n in range(10)]
        done += [pool.submit(new_token, f"new-{n}", "auditor", path) for n in range(10)]
        for future in done:
            future.result()
    # then every edit is in the file: each revoked entry has no hash, each new one is there
    entries = {e["name"]: e for e in json.loads(Path(path).read_text())}
    assert all(entries[f"old-{n}"].get("revoked") and "sha256" not in entries[f"old-{n}"]
               for n in range(10))
    assert all(f"new-{n}" in entries for n in range(10))


def test_an_entry_whose_hash_is_not_hex_is_refused(tmp_path: Path):
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps([{"name": "x", "role": "auditor", "sha256": "z" * 64}]))
    with pytest.raises(TokenConfigError, match="64 hex digits"):
        Tokens.load(str(path))
