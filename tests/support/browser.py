"""Debian's Chromium driven by Playwright: what the browser tests and the README
screenshots share (the server they talk to is ``tests.support.serving``). The browser is never
downloaded: without /usr/bin/chromium (or the playwright package) the tests
skip, except under CI=true, where they fail."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"]


def missing() -> str | None:
    """None when the browser tests can run, else why not."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is not installed (make browser installs Debian's chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (make install)"
    return None


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
