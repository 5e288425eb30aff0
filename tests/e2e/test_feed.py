"""The event feed over real HTTP and real processes: a consumer (the README's
own) following it while writer processes append and the server restarts, the
cursors that resume it, the long-poll that answers as an event commits,
Server-Sent Events, the CLI's JSON Lines, and the refusals of hostile queries."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.storage import open_ledger
from tests.builders import attach
from tests.support.databases import BACKENDS, fresh_db
from tests.support.serving import Served

README = Path(__file__).parents[2] / "README.md"


@pytest.fixture(params=BACKENDS)
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    with fresh_db(request.param, tmp_path) as db:
        server = Served(db, tmp_path, names="feed")
        server.start()
        try:
            yield server
        finally:
            if server.proc is not None:
                server.stop()
        assert not server.tracebacks()


def client(served: Served, role: str = "subscriber") -> httpx.Client:
    return httpx.Client(base_url=served.url, timeout=60,
                        headers={"Authorization": f"Bearer {served.tokens[role]}"})


def append(served: Served, n: int = 1) -> None:
    with client(served, "appender") as c:
        for _ in range(n):
            response = c.post("/commands", json=attach(f"P{uuid.uuid4().hex[:10]}"))
            assert response.status_code == 201, response.text


def log_positions(db: str) -> list[int]:
    """Every position the log holds, read by the library itself."""
    ledger = open_ledger(db)
    try:
        return [n.id for n in ledger.recorder.select_notifications(1, 10**6)]
    finally:
        ledger.close()


def readme_consumer() -> str:
    """The consumer the README shows, as it shows it."""
    section = README.read_text(encoding="utf-8").split("## Event feed", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found, "the README's Event feed section shows no consumer"
    return found.group(1)


def writers(db: str, folder: Path, processes: int, commands: int) -> list[subprocess.Popen[bytes]]:
    """Processes appending to the log with `claims-ledger apply`, each its own
    policies, a commit per 3 commands (and its own read models: the feed reads
    none)."""
    started = []
    for w in range(processes):
        lines = folder / f"writer-{w}.jsonl"
        lines.write_text("".join(json.dumps(attach(f"W{w}-{i}-{uuid.uuid4().hex[:6]}")) + "\n"
                                 for i in range(commands)), encoding="utf-8")
        started.append(subprocess.Popen(
            [sys.executable, "-m", "adapters.cli", "--db", db, "--actor", f"writer-{w}",
             "--read-db", str(folder / f"read-{w}.db"),
             "apply", str(lines), "--batch", "3", "--workers", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    return started


def test_a_consumer_following_the_feed_records_every_position_once_in_order_across_restarts(
        served: Served, tmp_path: Path):
    # given the README's consumer following the feed, storing its cursor with its effects
    consumer_db = tmp_path / "consumer.db"
    script = tmp_path / "consumer.py"
    script.write_text(readme_consumer(), encoding="utf-8")
    append(served, 2)
    consumer = subprocess.Popen(
        [sys.executable, str(script)], stderr=subprocess.PIPE,
        env={"FEED_URL": served.url, "FEED_TOKEN": served.tokens["subscriber"],
             "CONSUMER_DB": str(consumer_db), "PATH": "/usr/bin:/bin"})
    try:
        # when writer processes append (8 on PostgreSQL) and the server restarts meanwhile
        many = 8 if served.db.startswith("postgresql") else 4
        running = writers(served.db, tmp_path, many, 24)
        time.sleep(1.0)
        served.stop()
        time.sleep(0.5)
        served.start()
        for proc in running:
            assert proc.wait(timeout=300) == 0, proc.stderr.read() if proc.stderr else ""
        append(served, 2)
        expected = log_positions(served.db)
        deadline = time.monotonic() + 60
        while _cursor(consumer_db) < expected[-1] and time.monotonic() < deadline:
            assert consumer.poll() is None, consumer.stderr.read() if consumer.stderr else ""
            time.sleep(0.2)
    finally:
        consumer.send_signal(signal.SIGKILL)
        consumer.wait()
    # then its effects hold every position of the log once, in the log's order
    with sqlite3.connect(consumer_db) as db:
        seen = [row[0] for row in db.execute("SELECT position FROM effects ORDER BY n")]
    assert len(expected) > 4 * 24 * 4
    assert seen == expected


def _cursor(path: Path) -> int:
    try:
        with sqlite3.connect(path) as db:
            return int(db.execute("SELECT after FROM cursor").fetchone()[0])
    except sqlite3.Error:
        return -1


def test_next_after_resumes_with_every_event_once_and_in_order(served: Served):
    # given a log of several commits
    append(served, 5)
    expected = log_positions(served.db)
    # when a reader follows next_after, 3 events a page
    seen, after = [], 0
    with client(served) as c:
        while True:
            page = c.get("/feed", params={"after": after, "limit": 3}).json()
            seen += [item["position"] for item in page["items"]]
            if not page["items"]:
                break
            after = page["next_after"]
    # then it reads each position once, in order, and stops at the head
    assert seen == expected
    assert after == expected[-1]


def test_an_item_is_the_event_as_stored_with_who_when_and_which_command(served: Served):
    append(served, 1)
    with client(served) as c:
        item = c.get("/feed", params={"types": "CoverageAttached", "limit": 1}).json()[
            "items"][0]
    ledger = open_ledger(served.db)
    try:
        [stored] = ledger.recorder.select_notifications(item["position"], 1)
        as_stored = json.loads(ledger.mapper.stored_json(stored))  # type: ignore[attr-defined]
    finally:
        ledger.close()
    assert item["payload"] == as_stored
    assert (item["aggregate_id"], item["version"], item["event"]) == (
        str(stored.originator_id), stored.originator_version, stored.topic)
    assert item["actor"] == "feed-appender" == as_stored["actor"]
    assert (item["command_id"], item["recorded_at"]) == (
        as_stored["command_id"], as_stored["timestamp"])


def test_types_give_only_those_events_and_next_after_passes_the_others(served: Served):
    append(served, 3)
    head = log_positions(served.db)[-1]
    with client(served) as c:
        page = c.get("/feed", params={"types": "PolicyEnrolled,CoverStarted"}).json()
        rest = c.get("/feed", params={"types": "PayoutIssued"}).json()
    assert {i["event"] for i in page["items"]} == {"PolicyEnrolled", "CoverStarted"}
    assert len([i for i in page["items"] if i["event"] == "PolicyEnrolled"]) == 3
    assert rest == {"items": [], "next_after": head}


def test_a_long_poll_answers_as_soon_as_an_event_commits(served: Served):
    # given a reader waiting up to 30 s after the head
    append(served, 1)
    head = log_positions(served.db)[-1]
    answer: dict[str, object] = {}

    def wait() -> None:
        with client(served) as c:
            answer["page"] = c.get("/feed", params={"after": head, "wait": 30}).json()
            answer["answered"] = time.monotonic()

    reader = threading.Thread(target=wait)
    reader.start()
    time.sleep(1.0)
    # when a command commits
    committed = time.monotonic()
    append(served, 1)
    reader.join(timeout=40)
    # then the reader has its events at once, not at the end of its wait
    page, answered = answer["page"], answer["answered"]
    assert isinstance(page, dict) and isinstance(answered, float)
    assert [i["position"] for i in page["items"]] == log_positions(served.db)[
        log_positions(served.db).index(head) + 1:]
    assert answered - committed < 3.0


def test_a_long_poll_with_nothing_new_waits_out_its_time_and_answers_empty(served: Served):
    append(served, 1)
    head = log_positions(served.db)[-1]
    with client(served) as c:
        started = time.monotonic()
        page = c.get("/feed", params={"after": head, "wait": 0.6}).json()
    assert time.monotonic() - started >= 0.6
    assert page == {"items": [], "next_after": head}


def sse_ids(served: Served, headers: dict[str, str], params: dict[str, int], n: int) -> list[int]:
    """The ids of the first ``n`` events a stream sends."""
    ids: list[int] = []
    with client(served) as c, c.stream("GET", "/feed", params=params, timeout=10, headers={
            "Accept": "text/event-stream", **headers}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("id: "):
                ids.append(int(line[4:]))
            if len(ids) == n:
                break
    return ids


def test_server_sent_events_resume_after_last_event_id_and_follow_new_commits(served: Served):
    # given a log, and a stream resumed after its second event
    append(served, 2)
    positions = log_positions(served.db)
    later: list[int] = []

    def more() -> None:
        time.sleep(1.0)
        append(served, 1)
        later.extend(log_positions(served.db)[len(positions):])

    writer = threading.Thread(target=more)
    writer.start()
    # when it reads past the head while a command commits
    ids = sse_ids(served, {"Last-Event-ID": str(positions[1])}, {"after": 0},
                  len(positions) - 2 + 1)
    writer.join()
    # then it sends every event after that one, in order, and the new one as it commits
    assert ids == positions[2:] + later[:1]


@pytest.mark.parametrize(("params", "headers", "field", "rule"), [
    ({"after": -1}, {}, "after", "minimum"),
    ({"after": 2**63}, {}, "after", "maximum"),
    ({"after": "x"}, {}, "after", "integer"),
    ({"limit": 0}, {}, "limit", "minimum"),
    ({"limit": 1001}, {}, "limit", "maximum"),
    ({"types": "PayoutIssued,NoSuchEvent"}, {}, "types", "known_event_type"),
    ({"wait": 61}, {}, "wait", "maximum"),
    ({"wait": -1}, {}, "wait", "minimum"),
    ({"wait": "nan"}, {}, "wait", "finite_number"),
    ({}, {"Accept": "text/event-stream", "Last-Event-ID": "abc"}, "Last-Event-ID", "integer"),
    ({}, {"Accept": "text/event-stream", "Last-Event-ID": "9" * 30}, "Last-Event-ID",
     "maximum"),
])
def test_a_hostile_query_is_refused_naming_its_field(
        served: Served, params: dict[str, object], headers: dict[str, str], field: str,
        rule: str):
    with client(served) as c:
        response = c.get("/feed", params=params, headers=headers)  # type: ignore[arg-type]
    assert response.status_code == 400, response.text
    assert {(v["field"], v["rule"]) for v in response.json()["violations"]} == {(field, rule)}


def test_the_last_position_there_can_be_has_nothing_after_it(served: Served):
    with client(served) as c:
        page = c.get("/feed", params={"after": 2**63 - 1}).json()
    assert page == {"items": [], "next_after": 2**63 - 1}


@pytest.mark.parametrize("role", ["appender", "auditor"])
def test_only_subscribers_and_operators_read_the_feed(served: Served, role: str):
    with client(served, role) as c:
        assert c.get("/feed").status_code == 403
    for allowed in ("subscriber", "operator"):
        with client(served, allowed) as c:
            assert c.get("/feed").status_code == 200


def test_the_cli_writes_the_same_items_as_json_lines_and_follows_new_commits(served: Served):
    # given a log, as the API gives it
    append(served, 2)
    with client(served) as c:
        api = c.get("/feed", params={"limit": 1000}).json()["items"]
    cli = [sys.executable, "-m", "adapters.cli", "--db", served.db, "feed"]
    # when the CLI reads it, and follows it for the next event
    run = subprocess.run(cli, capture_output=True, text=True, timeout=60, check=True)
    follower = subprocess.Popen([*cli, "--after", str(api[-1]["position"]), "--follow",
                                 "--limit", "1"], stdout=subprocess.PIPE, text=True)
    time.sleep(1.5)
    append(served, 1)
    followed, _ = follower.communicate(timeout=60)
    # then it wrote the same items, one per line, and the next event when it committed
    assert [json.loads(line) for line in run.stdout.splitlines()] == api
    assert f"next after: {api[-1]['position']}" in run.stderr
    assert json.loads(followed)["position"] == api[-1]["position"] + 1
    refused = subprocess.run([*cli, "--types", "Nope"], capture_output=True, text=True,
                             timeout=60)
    assert refused.returncode == 2 and "[known_event_type]" in refused.stderr
