"""`claims-ledger apply` reads whatever stream it is given, once, and says what it did.

Each test runs the CLI as a real process, as a shell would: a pipe named by
`/dev/stdin`, a process substitution (`<(…)`, a `/dev/fd/N` path), a named
pipe, a file written by Windows tools (with a byte-order mark), a terminal.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from adapters.cli.commands import apply as cli_module
from tests.builders import attach, file_data_media, pay
from tests.support.cli import ENV, cli, jsonl
from tests.workload import commands

THREE = jsonl(attach(), file_data_media(), pay())


def applied_lines(stdout: str) -> list[str]:
    return re.findall(r"^line (\d+): ok", stdout, flags=re.MULTILINE)


def limits(db: str) -> list[dict[str, Any]]:
    run = cli("--db", db, "limits", "--json")
    assert run.returncode == 0, run.stderr
    return list(json.loads(run.stdout))


def paid(db: str) -> int:
    return sum(row["paid"] for row in limits(db))


def write_later(open_writer: Any, text: str) -> threading.Thread:
    """Write ``text`` from another thread, as the other end of a pipe would."""
    def write() -> None:
        with open_writer() as f:
            f.write(text.encode())

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


# Any readable stream ------------------------------------------------------------


def test_apply_reads_a_pipe_named_dev_stdin(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    run = cli("--db", db, "apply", "/dev/stdin", stdin=THREE)  # a pipe, as `cat f |` gives
    assert run.returncode == 0, run.stderr
    assert applied_lines(run.stdout) == ["1", "2", "3"]
    assert paid(db) > 0


def test_apply_reads_a_process_substitution_path(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    read_end, write_end = os.pipe()
    child = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "--db", db, "apply", f"/dev/fd/{read_end}"],
        pass_fds=(read_end,), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=ENV)
    os.close(read_end)
    write_later(lambda: os.fdopen(write_end, "wb"), THREE).join(timeout=30)
    stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == 0, stderr
    assert applied_lines(stdout) == ["1", "2", "3"]
    assert paid(db) > 0


def test_apply_reads_a_named_pipe_without_waiting_for_a_second_writer(tmp_path: Path) -> None:
    db, fifo = str(tmp_path / "l.db"), tmp_path / "commands.fifo"
    os.mkfifo(fifo)
    write_later(lambda: fifo.open("wb"), THREE)
    run = subprocess.run([sys.executable, "-m", "adapters.cli", "--db", db, "apply", str(fifo)],
                         capture_output=True, text=True, env=ENV, timeout=30, check=False)
    assert run.returncode == 0, run.stderr
    assert applied_lines(run.stdout) == ["1", "2", "3"]


def test_apply_with_workers_reads_a_pipe_once(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    policies = [f"P{i}" for i in range(1, 9)]
    run = cli("--db", db, "apply", "/dev/stdin", "--workers", "2",
              stdin=jsonl(*(attach(p) for p in policies)))
    assert run.returncode == 0, run.stderr
    assert applied_lines(run.stdout) == [str(i) for i in range(1, 9)]
    assert {row["policy_id"] for row in limits(db)} == set(policies)


def test_a_stream_is_counted_as_long_only_past_the_parallel_threshold() -> None:
    """A stream cannot be counted and then read again: `apply` holds up to
    PARALLEL_FROM lines (3 here) to learn whether it is long (then workers
    apply it by default), and every line is still read once, in order."""
    for count, expected_total in [(2, 2), (5, None)]:
        read_end, write_end = os.pipe()
        text = "".join(f'{{"n": {i}}}\n' for i in range(count))
        write_later(lambda w=write_end: os.fdopen(w, "wb"), text).join(timeout=30)
        lines, total = cli_module._lines(f"/dev/fd/{read_end}", 3)
        assert total == expected_total
        assert "".join(lines) == text


def test_an_empty_input_says_it_applied_no_line_and_succeeds(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    for mode in ([], ["--json"]):
        run = cli("--db", db, "apply", "-", *mode, stdin="")
        assert run.returncode == 0, run.stderr
        assert run.stdout == ""  # no line, no result
        assert "0 lines applied" in run.stderr


def test_the_summary_counts_applied_and_refused_lines(tmp_path: Path) -> None:
    run = cli("--db", str(tmp_path / "l.db"), "apply", "-",
              stdin=jsonl(attach(), attach(), file_data_media()))
    assert run.returncode == 1
    assert run.stderr.splitlines()[-1] == ("2 line(s) applied; 1 line(s) refused; nothing "
                                           "was appended for them")


# What Windows tools write, and where a line breaks -----------------------------------


def test_a_utf8_byte_order_mark_before_the_first_line_is_accepted(tmp_path: Path) -> None:
    source = tmp_path / "excel.jsonl"
    source.write_bytes(b"\xef\xbb\xbf" + THREE.replace("\n", "\r\n").encode())
    db = str(tmp_path / "l.db")
    run = cli("--db", db, "apply", str(source))
    assert run.returncode == 0, run.stdout
    assert applied_lines(run.stdout) == ["1", "2", "3"]


def test_a_line_that_is_not_json_is_refused_naming_the_column(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    broken = '{"command": "file_claim" "claim_id": "C1"}'
    run = cli("--db", db, "apply", "-", stdin=jsonl(attach()) + broken + "\n  nope\n")
    assert run.returncode == 1
    assert run.stdout.splitlines()[1:] == [
        "line 2: refused  is not valid JSON (column 26: Expecting ',' delimiter) [json]",
        "line 3: refused  is not valid JSON (column 3: Expecting value) [json]",
    ]
    as_json = cli("--db", db, "apply", "-", "--json", stdin=broken + "\n")
    [result] = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert result["violations"] == [{
        "field": None, "rule": "json",
        "message": "is not valid JSON (column 26: Expecting ',' delimiter)"}]


def test_a_line_that_is_not_json_names_its_column_with_workers_too(tmp_path: Path) -> None:
    run = cli("--db", str(tmp_path / "l.db"), "apply", "-", "--workers", "2",
              stdin=jsonl(attach()) + '{"command": }\n')
    assert run.stdout.splitlines()[1] == (
        "line 2: refused  is not valid JSON (column 13: Expecting value) [json]")


def test_a_line_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    source = tmp_path / "latin1.jsonl"
    source.write_bytes(THREE.encode() + b'{"customer_name": "Caf\xe9"}\n')
    run = cli("--db", str(tmp_path / "l.db"), "apply", str(source))
    assert run.returncode == 2
    assert f"{source} line 4 is not UTF-8 text" in run.stderr


# On a terminal -----------------------------------------------------------------


def screen_lines(output: str) -> list[str]:
    """The lines a terminal shows for ``output``: a carriage return starts its
    line again (the progress bar redraws itself that way)."""
    return [re.sub(r"\x1b\[K", "", line.rstrip("\r")).rsplit("\r", 1)[-1]
            for line in output.split("\n") if line.strip("\r")]


def test_on_a_terminal_every_report_line_and_the_summary_have_a_line_of_their_own(
        tmp_path: Path) -> None:
    """The progress bar and the report share the terminal: a report line is
    never written after a bar, nor the summary after the read models' bar."""
    source = tmp_path / "workload.jsonl"
    source.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n"
                              for c in commands(12_000, seed=3)), encoding="utf-8")
    count = len(source.read_text(encoding="utf-8").splitlines())
    main, child_end = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "--db", str(tmp_path / "l.db"), "apply",
         str(source)], stdin=subprocess.DEVNULL, stdout=child_end, stderr=child_end, env=ENV)
    os.close(child_end)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the child's end closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    child.wait(timeout=120)
    os.close(main)
    shown = screen_lines(b"".join(chunks).decode())
    bars = [line for line in shown if line.startswith("[")]
    assert bars, "the progress bar was never drawn: the test did not test"
    assert all("line " not in bar for bar in bars), [b for b in bars if "line " in b][:1]
    reports = [line for line in shown if re.match(r"line \d+: ", line)]
    assert len({line.split(":")[0] for line in reports}) == count
    assert re.fullmatch(r"[\d,]+ line\(s\) applied(; [\d,]+ line\(s\) refused; nothing was "
                        r"appended for them)?", shown[-1])
