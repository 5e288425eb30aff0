"""The append contract when `claims-ledger apply` is killed part-way through a
file and run again on it: each command is applied once, and every line's
result is its command's first outcome; afterwards `verify` and `seal verify`
pass.

Run alone: `pytest tests/e2e/test_append_contract_apply_killed.py`. Each run
draws a seed, printed with any failure; `FAULT_SEED=N` runs that seed again.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import pytest

from adapters.storage import open_ledger
from domain.commands import parse_command
from domain.errors import LedgerError
from domain.ledger import Outcome
from tests.builders import assess, attach, file_data_media, file_liability, pay, reverse
from tests.support.append_contract import (
    POLICIES,
    Answer,
    Log,
    audit_problems,
    contract_problems,
    different,
    failure,
    rules,
    seed_of_run,
)

APPLY_KILLS = 3


# apply: a file of commands, killed part-way and run again on it ---------------


def commands_file(rng: random.Random, reference_db: str
                  ) -> tuple[list[dict[str, Any]], list[Outcome | LedgerError]]:
    """A file of commands that all carry ids, and what each does when the file
    is applied once without a crash (decided in order on a ledger of its own).

    Enrolments and filings, then payouts, interim payouts, reversals and
    re-assessments that the rules accept where they stand (a refused command is
    not recorded, so a re-run decides it again, on a log that later lines may
    have changed), and a few that every run refuses whatever the log holds: a
    reversal of a payout no claim has, a payout on a claim never filed, and ids
    used before for another command."""
    ledger = open_ledger(reference_db)
    commands: list[dict[str, Any]] = []
    expected: list[Outcome | LedgerError] = []

    def add(command: dict[str, Any], refused: bool = False) -> Outcome | None:
        try:
            result = ledger.execute(parse_command(command), actor="reference")
        except LedgerError as exc:
            if refused:
                commands.append(command)
                expected.append(exc)
            return None
        assert not refused, command
        commands.append(command)
        expected.append(result)
        return result

    claims: list[str] = []
    try:
        for p in range(POLICIES):
            add(attach(f"Q{p}", command_id=f"enrol-Q{p}"))
        for p in range(POLICIES):
            for k in range(4):
                claims.append(f"E{p}-{k}")
                add(file_data_media(claims[-1], policy_id=f"Q{p}", incident=f"2024-0{k + 5}-01",
                                    command_id=f"file-{claims[-1]}"))
            for k in range(2):
                claims.append(f"F{p}-{k}")
                add(file_liability(claims[-1], policy_id=f"Q{p}", loss=2_300_000,
                                   command_id=f"file-{claims[-1]}"))
        payouts: dict[str, list[str]] = {c: [] for c in claims}
        for n in range(400):
            claim, draw, command_id = rng.choice(claims), rng.random(), f"op-{n}"
            if draw < 0.02:
                add(reverse(claim, "payout-99", command_id=command_id), refused=True)
            elif draw < 0.04:
                add(pay(f"NONE-{n}", command_id=command_id), refused=True)
            elif draw < 0.06 and len(commands) > 40:
                used = rng.choice(commands[7 * POLICIES:])
                add(different(used), refused=True)
            elif draw < 0.3 and payouts[claim]:
                payout_id = payouts[claim].pop(rng.randrange(len(payouts[claim])))
                add(reverse(claim, payout_id, command_id=command_id))
            elif draw < 0.4:
                base = 1_800_000 if claim.startswith("F") else 600_000
                add(assess(claim, base + 10_000 * rng.randrange(60), command_id=command_id))
            else:
                amount = None if draw < 0.65 else 1_000 * rng.randrange(10, 300)
                if (outcome := add(pay(claim, amount, command_id=command_id))) is not None:
                    payouts[claim].append(outcome.result["payout_id"])
    finally:
        ledger.close()
    return commands, expected


def apply_run(db: str, path: Path, workers: int, log: Path, kill_after: int | None,
              rng: random.Random) -> tuple[int, list[dict[str, Any]]]:
    """`claims-ledger apply --json` on the file; with ``kill_after``, it and its
    workers are killed (SIGKILL) soon after that many lines are reported. Its
    exit status and the lines it reported."""
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "adapters.cli", "--db", db, "--actor", "apply-test",
             "apply", str(path), "--json", "--batch", "8", "--workers", str(workers)],
            stdout=subprocess.PIPE, stderr=err, start_new_session=True)
    assert proc.stdout is not None
    lines: queue.SimpleQueue[bytes] = queue.SimpleQueue()

    def read(stdout: IO[bytes]) -> None:
        for line in stdout:
            lines.put(line)
        lines.put(b"")  # the end

    threading.Thread(target=read, args=(proc.stdout,), daemon=True).start()
    reported: list[dict[str, Any]] = []
    deadline = time.monotonic() + 90
    try:
        while (line := lines.get(timeout=max(0.1, deadline - time.monotonic()))):
            if line.endswith(b"\n"):  # a line cut short by the kill was not reported
                reported.append(json.loads(line))
            if kill_after is not None and len(reported) == kill_after:
                time.sleep(rng.uniform(0, 0.03))
                kill_group(proc)
    except queue.Empty:
        kill_group(proc)
        proc.wait(timeout=30)
        raise AssertionError(f"apply did not finish in 90 s: {log.read_text()[-2000:]}") from None
    return proc.wait(timeout=30), reported


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a process started in a session of its own, and its workers."""
    with contextlib.suppress(ProcessLookupError):  # it had ended
        os.killpg(proc.pid, signal.SIGKILL)


def brief(outcome: dict[str, Any]) -> str:
    """A line's outcome in a few words: refused by which rules, or its events."""
    if not outcome.get("ok", True):
        return f"refused {rules(outcome['violations'])}"
    return (f"ok{' replayed' if outcome['replayed'] else ''} "
            f"{[(e['aggregate_id'], e['version'], e['event']) for e in outcome['events']]}")


def _comparable(outcome: dict[str, Any]) -> dict[str, Any]:
    """A line's outcome without what depends on when it was stored."""
    kept = {k: v for k, v in outcome.items() if k not in ("replayed", "line", "ok")}
    if "events" in kept:
        kept["events"] = [{k: v for k, v in e.items() if k != "position"}
                          for e in kept["events"]]
    return kept


@pytest.mark.parametrize("workers", [1, 2])
def test_apply_killed_part_way_and_run_again_applies_each_command_once_with_its_first_outcome(
    db_url: str, tmp_path: Path, workers: int,
):
    # Given a file of commands that all carry ids
    seed = seed_of_run()
    rng = random.Random(seed)
    commands, expected = commands_file(rng, str(tmp_path / "reference.db"))
    path = tmp_path / "commands.jsonl"
    path.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in commands))
    ids = [c["command_id"] for c in commands]
    first_of_id = {i: n for n, i in reversed(list(enumerate(ids, start=1)))}
    # When apply is killed part-way through it, a few times, and run again until it completes
    answers: dict[str, list[Answer]] = {}
    problems: list[str] = []
    for run in range(1, APPLY_KILLS + 2):
        kill_after = rng.randint(1, len(commands) * 9 // 10) if run <= APPLY_KILLS else None
        before = Log.read(db_url)
        code, reported = apply_run(db_url, path, workers, tmp_path / f"apply-{run}.log",
                                   kill_after, rng)
        # Then each run reports every line it reached applied, or replayed, with the
        # first outcome (a line reusing an earlier line's id: refused, every time)
        how = f"apply-{run}"
        for line in reported:
            number = line["line"]
            problems += line_problems(f"{ids[number - 1]} (line {number}) {how}", line,
                                      expected[number - 1], before)
            if first_of_id[ids[number - 1]] == number:
                answers.setdefault(ids[number - 1], []).append(
                    Answer.of_outcome(how, line) if line["ok"] else Answer.of_problem(
                        how, 422, {"violations": line["violations"], "detail": line["message"]}))
        if kill_after is not None and code == -signal.SIGKILL:
            continue
        refused = any(isinstance(e, LedgerError) for e in expected)
        if code != (1 if refused else 0):
            problems.append(f"the last run exited {code}: "
                            f"{(tmp_path / f'apply-{run}.log').read_text()[-2000:]}")
        break
    # And the run that completed reported every line once
    if [line["line"] for line in reported] != list(range(1, len(commands) + 1)):
        problems.append(f"the last run reported lines {[r['line'] for r in reported][:20]}…, "
                        f"not each of the {len(commands)} once")
    # And each command is in the log once, no annual limit overdrawn, the audits pass
    log = Log.read(db_url)
    problems += contract_problems(log, answers)
    problems += log.overdrawn + audit_problems(db_url)
    print(f"{len(commands)} lines, {run} runs, {len(log.records)} commands stored")
    assert not problems, failure(seed, problems, tmp_path)


def line_problems(where: str, line: dict[str, Any], first: Outcome | LedgerError,
                  before: Log) -> list[str]:
    """How a line's reported result differs from its first outcome (``first``);
    ``before``: the log when the run began (a command stored in it is replayed)."""
    if isinstance(first, LedgerError):
        if line["ok"] or line["violations"] != first.violations_json():
            return [f"{where}: {brief(line)}, not its first outcome: refused "
                    f"{rules(first.violations_json())}"]
        return []
    if not line["ok"] or _comparable(line) != _comparable(first.as_json()):
        return [f"{where}: {brief(line)}, not its first outcome: {brief(first.as_json())}"]
    if line["replayed"] != (line["command_id"] in before.records):
        return [f"{where}: replayed is {line['replayed']} for a command "
                f"{'' if line['replayed'] else 'already '}stored before the run"]
    return []
