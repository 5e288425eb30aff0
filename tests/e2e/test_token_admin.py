"""`claims-ledger token` over a tokens file, as an operator runs it: make (with
an expiry), list, revoke, rotate; hostile input refused naming the rule with
the file untouched; a file of the old format still loads."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.service.auth import Tokens, digest
from adapters.service.token_file import MAX_DAYS
from tests.support.cli import cli


def token(path: Path, *args: str) -> tuple[int, str, str]:
    run = cli("token", *args, "--tokens-file", str(path))
    return run.returncode, run.stdout, run.stderr


def made(path: Path, name: str, role: str = "auditor", *options: str) -> str:
    code, out, err = token(path, name, "--role", role, *options)
    assert code == 0, err
    return out.strip()


def test_list_shows_each_name_role_and_times_never_a_token_or_its_hash(tmp_path: Path):
    # given two tokens, one expiring in 30 days, and a third revoked
    path = tmp_path / "tokens.json"
    secrets = [made(path, "desk", "appender"), made(path, "audit", "auditor",
                                                    "--expires-in", "30"),
               made(path, "gone", "operator")]
    assert token(path, "revoke", "gone")[0] == 0
    # when they are listed, as text and as JSON
    code, text, _ = token(path, "list")
    json_code, listed, _ = token(path, "list", "--json")
    # then each shows its name, role, creation, expiry and revocation
    assert code == json_code == 0
    rows = {r["name"]: r for r in json.loads(listed)}
    assert {n: r["role"] for n, r in rows.items()} == {
        "desk": "appender", "audit": "auditor", "gone": "operator"}
    created = datetime.fromisoformat(rows["audit"]["created"])
    assert abs(created - datetime.now(UTC)) < timedelta(minutes=1)
    assert datetime.fromisoformat(rows["audit"]["expires"]) - created == timedelta(days=30)
    assert rows["desk"]["expires"] is None and rows["desk"]["revoked"] is None
    assert rows["gone"]["revoked"] is not None
    header, _rule, *lines = text.splitlines()
    assert header.split() == ["name", "role", "created", "rotated", "expires", "revoked"]
    assert [line.split()[:2] for line in lines] == [
        ["desk", "appender"], ["audit", "auditor"], ["gone", "operator"]]
    # and never a token or its hash
    for secret in secrets:
        for output in (text, listed):
            assert secret not in output and digest(secret) not in output


def test_a_revoked_name_is_never_handed_out_again(tmp_path: Path):
    # given a name whose token was revoked
    path = tmp_path / "tokens.json"
    made(path, "claims-desk", "appender")
    assert token(path, "revoke", "claims-desk")[0] == 0
    before = path.read_bytes()
    # when it is asked for again (any role), rotated or revoked again
    for args in (("claims-desk", "--role", "appender"), ("claims-desk", "--role", "operator"),
                 ("rotate", "claims-desk"), ("revoke", "claims-desk")):
        code, out, err = token(path, *args)
        # then it is refused, naming the rule, and nothing is printed or written
        assert (code, out) == (2, ""), err
        assert "[name_revoked]" in err
    assert path.read_bytes() == before


def test_rotate_gives_the_same_name_and_role_a_new_token_and_ends_the_old(tmp_path: Path):
    # given a token
    path = tmp_path / "tokens.json"
    old = made(path, "ops", "operator", "--expires-in", "10")
    expires = json.loads(token(path, "list", "--json")[1])[0]["expires"]
    # when it is rotated
    code, new, err = token(path, "rotate", "ops")
    # then the new token names the same caller, until the same time; the old nothing
    assert code == 0, err
    tokens = Tokens.load(str(path))
    assert tokens.caller(old) is None
    caller = tokens.caller(new.strip())
    assert caller is not None and (caller.name, caller.role) == ("ops", "operator")
    assert json.loads(token(path, "list", "--json")[1])[0]["expires"] == expires


def test_an_unknown_name_cannot_be_revoked_or_rotated(tmp_path: Path):
    path = tmp_path / "tokens.json"
    made(path, "ops", "operator")
    for action in ("revoke", "rotate"):
        code, _, err = token(path, action, "nobody")
        assert code == 2 and "[unknown_name]" in err, err


def _far() -> str:
    return (datetime.now(UTC) + timedelta(days=MAX_DAYS + 2)).isoformat()


@pytest.mark.parametrize(("args", "words"), [
    (("bad\x01name", "--role", "auditor"), "control characters"),
    (("bad\nname", "--role", "auditor"), "control characters"),
    (("", "--role", "auditor"), "name"),
    (("list", "--role", "auditor"), "--role"),
    (("ok", "--role", "root"), "invalid choice"),
    (("ok",), "--role"),
    (("ok", "extra", "--role", "auditor"), "one NAME"),
    (("ok", "--role", "auditor", "--expires-in", "0"), "at least 1"),
    (("ok", "--role", "auditor", "--expires-in", "-5"), "at least 1"),
    (("ok", "--role", "auditor", "--expires-in", "1e400"), "whole number"),
    (("ok", "--role", "auditor", "--expires-in", str(MAX_DAYS + 1)), "at most"),
    (("ok", "--role", "auditor", "--expires-in", "soon"), "whole number"),
    (("ok", "--role", "auditor", "--expires-at", "2001-01-01"), "[expiry_range]"),
    (("ok", "--role", "auditor", "--expires-at", "2200-01-01"), "[date_range]"),
    (("ok", "--role", "auditor", "--expires-at", "next week"), "[date_format]"),
    (("ok", "--role", "auditor", "--expires-at", "\x1b[31m"), "[date_format]"),
    (("ok", "--role", "auditor", "--expires-at", "FAR"), "[expiry_range]"),
    (("ok", "--role", "auditor", "--expires-in", "3", "--expires-at", "2030-01-01"),
     "not allowed with"),
    (("revoke", "ops", "--expires-in", "3"), "making or rotating"),
])
def test_hostile_input_is_refused_naming_the_rule_and_leaves_the_file_as_it_was(
        tmp_path: Path, args: tuple[str, ...], words: str):
    # given a tokens file
    path = tmp_path / "tokens.json"
    made(path, "ops", "operator")
    before = path.read_bytes()
    # when a token command is given hostile input
    got, out, err = token(path, *(_far() if a == "FAR" else a for a in args))
    # then it is a usage error in the words of its rule, and nothing changed
    assert (got, out) == (2, ""), err
    assert words in err and "Traceback" not in err
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["tokens.json"]


def test_a_tokens_file_of_the_old_format_loads_and_can_be_managed(tmp_path: Path):
    # given a file written before tokens had times
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps([{"name": "ops", "role": "operator", "sha256": digest("clt_a")},
                                {"name": "desk", "role": "appender",
                                 "sha256": digest("clt_b")}]))
    path.chmod(0o600)
    # then its tokens work, and list shows no times for them
    tokens = Tokens.load(str(path))
    assert tokens.caller("clt_a") is not None and tokens.caller("clt_b") is not None
    rows = json.loads(token(path, "list", "--json")[1])
    assert [(r["name"], r["created"], r["expires"]) for r in rows] == [
        ("ops", None, None), ("desk", None, None)]
    # and they can be revoked (the hash leaves the file) and rotated
    assert token(path, "revoke", "ops")[0] == 0
    assert digest("clt_a") not in path.read_text()
    code, new, _ = token(path, "rotate", "desk")
    tokens = Tokens.load(str(path))
    assert code == 0 and tokens.caller("clt_a") is None and tokens.caller("clt_b") is None
    assert tokens.caller(new.strip()) is not None


def test_an_entry_marked_revoked_grants_nothing_even_with_its_hash(tmp_path: Path):
    # given a file whose revoked entry still holds its hash (written by hand)
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps([{"name": "ops", "role": "operator", "sha256": digest("clt_a"),
                                 "revoked": "2026-01-01T00:00:00+09:00"}]))
    # then the token is not let in
    assert Tokens.load(str(path)).caller("clt_a") is None


def test_every_edit_leaves_the_file_private(tmp_path: Path):
    path = tmp_path / "tokens.json"
    made(path, "ops", "operator")
    for args in (("desk", "--role", "appender"), ("rotate", "ops"), ("revoke", "desk")):
        assert token(path, *args)[0] == 0
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert [p.name for p in tmp_path.iterdir()] == ["tokens.json"]
