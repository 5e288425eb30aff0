"""Debian's Chromium driven by Playwright, and the real server it talks to: what
the browser tests and the README screenshots share. The browser is never
downloaded: without /usr/bin/chromium (or the playwright package) the tests
skip, except under CI=true, where they fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from adapters.auth import new_token

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"]
ROLES = ("appender", "auditor", "operator")


def missing() -> str | None:
    """None when the browser tests can run, else why not."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is not installed (make browser installs Debian's chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (make install)"
    return None


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(db: str, folder: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`claims-ledger serve` on ``db`` on a free loopback port, with a token per
    role; yields the base URL and the tokens."""
    tokens_file = str(folder / "tokens.json")
    tokens = {role: new_token(f"demo-{role}", role, tokens_file) for role in ROLES}
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "--db", db, "serve", "--port", str(port),
         "--tokens-file", tokens_file], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                out, err = proc.communicate(timeout=10)
                raise RuntimeError(f"the server did not start: {out}{err}")
            time.sleep(0.1)
        yield url, tokens
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    if "Traceback" in err:
        raise AssertionError(err)


@contextmanager
def chromium() -> Iterator[BrowserContext]:
    """Headless Chromium with a fresh profile of its own."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="console-chromium-")
    try:
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=FLAGS,
                viewport={"width": 1280, "height": 900}, accept_downloads=True)
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def sign_in(page: Page, url: str, token: str, lang: str = "ja") -> None:
    """Sign in through the form, with the keyboard."""
    page.goto(f"{url}/console/sign-in?lang={lang}")
    page.get_by_label("トークン" if lang == "ja" else "Token").fill(token)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{url}/console/policies*")


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() == "true"
