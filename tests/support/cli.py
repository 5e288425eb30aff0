"""The claims-ledger CLI run as a user runs it: a real process, with the actor
the tests record under, fed JSON Lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ENV = {**os.environ, "CLAIMS_LEDGER_ACTOR": "test:cli"}


def cli(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli", *args],
        input=stdin, capture_output=True, text=True, env=ENV, cwd=cwd, timeout=60,
        check=False,
    )


def jsonl(*commands: dict[str, Any]) -> str:
    """Commands as the lines of a JSON Lines file."""
    return "\n".join(json.dumps(c, ensure_ascii=False) for c in commands) + "\n"
