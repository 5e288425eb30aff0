"""A running server follows its tokens file: a token revoked, rotated, added or
expired while it runs is seen without a restart, within the documented
interval; a file made unusable keeps the last good tokens (and says so)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from adapters.service.auth import CHECK_EVERY
from adapters.service.token_file import revoke_token
from tests.support.cli import cli
from tests.support.console import Console
from tests.support.serving import Served

SEEN_AFTER = CHECK_EVERY + 0.2
"""Long enough for the next request to look at the file again (the README's
figure, plus the time a request takes to arrive)."""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("tokens-live")
    server = Served(str(folder / "ledger.db"), folder, "live")
    server.start()
    yield server
    server.stop()
    assert not server.tracebacks()


def status(served: Served, token: str) -> int:
    return httpx.get(f"{served.url}/audit", headers={"Authorization": f"Bearer {token}"},
                     timeout=30).status_code


def make(served: Served, name: str, *options: str) -> str:
    run = cli("token", name, "--role", "auditor", "--tokens-file", served.tokens_file, *options)
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


def test_a_token_made_while_the_server_runs_is_let_in_within_the_interval(served: Served):
    # given a running server, when a token is added to its file
    token = make(served, "added-later")
    time.sleep(SEEN_AFTER)
    # then the server lets it in without a restart
    assert status(served, token) == 200


def test_a_revoked_token_gets_401_within_the_interval_and_others_stay(served: Served):
    # given a token the running server lets in
    token = make(served, "to-revoke")
    time.sleep(SEEN_AFTER)
    assert status(served, token) == 200
    # when the operator revokes it
    run = cli("token", "revoke", "to-revoke", "--tokens-file", served.tokens_file)
    assert run.returncode == 0, run.stderr
    time.sleep(SEEN_AFTER)
    # then it is refused, saying why it may be, and the other tokens still work
    answer = httpx.get(f"{served.url}/audit", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert "revoked" in answer.json()["detail"]
    assert answer.headers["www-authenticate"] == "Bearer"
    assert status(served, served.tokens["auditor"]) == 200


def test_a_rotated_token_replaces_the_old_one_within_the_interval(served: Served):
    # given a token the running server lets in
    old = make(served, "to-rotate")
    time.sleep(SEEN_AFTER)
    assert status(served, old) == 200
    # when the operator rotates it
    run = cli("token", "rotate", "to-rotate", "--tokens-file", served.tokens_file)
    assert run.returncode == 0, run.stderr
    new = run.stdout.strip()
    time.sleep(SEEN_AFTER)
    # then the old token is refused and the new one, of the same name, let in
    assert (status(served, old), status(served, new)) == (401, 200)


def test_an_expired_token_gets_401(served: Served):
    # given a token that expires in two seconds
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    token = make(served, "short-lived", "--expires-at", until.isoformat())
    time.sleep(SEEN_AFTER)
    assert status(served, token) == 200
    # when its time passes
    time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.1)
    # then it is refused
    assert status(served, token) == 401


def replace_with(path: Path, text: str) -> None:
    temp = path.with_suffix(".new")
    temp.write_text(text)
    os.replace(temp, path)


def test_a_tokens_file_made_invalid_keeps_the_last_good_tokens_and_warns(served: Served):
    # given a token the running server lets in (so has read from the file)
    token = make(served, "survivor")
    time.sleep(SEEN_AFTER)
    assert status(served, token) == 200
    path = Path(served.tokens_file)
    good = path.read_text()
    # when the file is made invalid, then removed
    for broken in ('[{"name": "x"', '[{"name": "x", "role": "root", "sha256": "00"}]'):
        replace_with(path, broken)
        time.sleep(SEEN_AFTER)
        # then the last good tokens stay in force (no 500), and the server says why
        assert status(served, token) == 200
    path.unlink()
    time.sleep(SEEN_AFTER)
    assert status(served, token) == 200
    log = served.logs[-1].read_text()
    assert log.count("the last good tokens stay in force") == 3, log
    assert "not JSON" in log and "token entry 1" in log and "cannot read" in log
    # and a good file again is followed again
    replace_with(path, good)
    revoke_token("survivor", served.tokens_file)
    time.sleep(SEEN_AFTER)
    assert status(served, token) == 401


def test_a_console_session_ends_with_its_token(console: Console, tmp_path: Path):
    # given a browser signed in to the console with the auditor's token
    client = console.sign_in("auditor")
    assert client.get("/console/policies", follow_redirects=False).status_code == 200
    # when that token is revoked
    revoke_token("demo-auditor", str(tmp_path / "tokens.json"))
    time.sleep(SEEN_AFTER)
    # then the session no longer opens a page: it is sent to sign in again
    answer = client.get("/console/policies", follow_redirects=False)
    assert answer.status_code in (303, 401) and "sign-in" in (
        answer.headers.get("location", "") + answer.text)
