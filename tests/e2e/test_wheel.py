"""The wheel is the product: built from the project's files, installed into a fresh
environment (not the editable checkout), it holds every subpackage and data file,
and `claims-ledger demo` and `serve` run from it."""

from __future__ import annotations

import json
import os
import shutil
import site
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(*args: str | Path, cwd: Path) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": ""})
    assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment holding only the built wheel; its dependencies come
    from this interpreter's site-packages by a path entry (not the editable finder)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"  # a clean copy: no build/ left by an earlier build
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "var", "build", "*.egg-info", "__pycache__", ".*_cache", "*.db"))
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
        "--wheel-dir", tmp / "dist", source, cwd=tmp)
    (wheel,) = (tmp / "dist").glob("claims_ledger-*.whl")
    run(sys.executable, "-m", "venv", "--without-pip", tmp / "venv", cwd=tmp)
    purelib = Path(sysconfig.get_path("purelib", vars={"base": str(tmp / "venv")}))
    (purelib / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    run(sys.executable, "-m", "pip", "--python", tmp / "venv" / "bin" / "python", "install",
        "--quiet", "--no-deps", wheel, cwd=tmp)
    return tmp


def test_the_installed_package_is_the_wheel_not_the_checkout(installed: Path) -> None:
    where = run(installed / "venv" / "bin" / "python", "-c",
                "import adapters.http.app, adapters.cli; print(adapters.cli.__file__)",
                cwd=installed)
    assert where.startswith(str(installed / "venv")), where


def test_demo_runs_from_the_wheel(installed: Path) -> None:
    out = run(installed / "venv" / "bin" / "claims-ledger", "--db", installed / "demo.db",
              "demo", cwd=installed)
    assert "P-DEMO-1" in out
    limits = json.loads(run(installed / "venv" / "bin" / "claims-ledger", "--db",
                            installed / "demo.db", "limits", "--json", cwd=installed))
    assert limits, "the demo wrote no policy years"


def test_serve_runs_from_the_wheel_with_its_console(installed: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [installed / "venv" / "bin" / "claims-ledger", "--db", installed / "serve.db", "serve",
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=installed, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": ""})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.2)
        assert health.status_code == 200
        sign_in = httpx.get(f"http://127.0.0.1:{port}/console/sign-in", timeout=5)
        assert sign_in.status_code == 200 and "<form" in sign_in.text
        style = sign_in.text.split("<style>", 1)[1].split("</style>", 1)[0]
        assert "{" in style, "the console's stylesheet is missing from the wheel"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
