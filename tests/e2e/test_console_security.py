"""The console's forms cannot be driven from elsewhere (Origin check and CSRF
tokens), sign-in returns only to a console page, "verify now" runs one at a
time, and `/docs` loads nothing from elsewhere."""

from __future__ import annotations

import html
import re
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from adapters.audit import seal
from tests.support.console import Console

ORIGIN = "http://127.0.0.1"  # the test client's own
SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "referrer-policy",
                    "cache-control")


def hidden(page: str, name: str) -> str:
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', page)
    assert found is not None, f"no hidden {name} field"
    return html.unescape(found.group(1))


def sign_in(client: TestClient, token: str, **over: Any) -> Response:
    """The sign-in form filled in as a browser would, with ``over`` changing fields."""
    form = client.get("/console/sign-in").text
    data = {"token": token, "lang": "ja", "csrf": hidden(form, "csrf"),
            "next": hidden(form, "next")}
    headers = {"Origin": ORIGIN}
    for key, value in over.items():
        if key == "origin":
            headers = {} if value is None else {"Origin": value}
        elif value is None:
            data.pop(key)
        else:
            data[key] = value
    return client.post("/console/sign-in", data=data, headers=headers, follow_redirects=False)


def assert_refused_page(response: Response, status: int, reference: Response) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    for name in SECURITY_HEADERS:
        assert response.headers[name] == reference.headers[name], name
    assert "Traceback" not in response.text


def signed_in(console: Console) -> tuple[TestClient, str]:
    """A signed-in client and the session's form token (from the sign-out form)."""
    assert sign_in(console.client, console.tokens["auditor"]).status_code == 303
    page = console.client.get("/console/seal").text
    return console.client, hidden(page, "csrf")


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "https://127.0.0.1",
                                    "http://127.0.0.1:8081"])
def test_a_sign_in_posted_from_another_origin_is_refused(console: Console,
                                                        origin: str):
    reference = console.client.get("/console/sign-in")
    # when the sign-in form is posted from another origin, with a good token
    response = sign_in(console.client, console.tokens["auditor"], origin=origin)
    # then it is refused with a page carrying the console's security headers
    assert_refused_page(response, 403, reference)
    assert console.client.cookies.get("claims_ledger_console") is None
    assert console.client.get("/console/policies", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("csrf", [None, "", "forged"])
def test_a_sign_in_without_the_form_s_own_token_is_refused(console: Console,
                                                          csrf: str | None):
    reference = console.client.get("/console/sign-in")
    # when the form comes back without the token its page was given (no Origin sent)
    response = sign_in(console.client, console.tokens["auditor"], csrf=csrf, origin=None)
    # then it is refused, and nobody is signed in
    assert_refused_page(response, 403, reference)
    assert console.client.get("/console/policies", follow_redirects=False).status_code == 303


def test_a_sign_in_form_token_belongs_to_its_browser(console: Console):
    # given a form token another browser was given
    other = TestClient(console.client.app, base_url=ORIGIN)
    theirs = hidden(other.get("/console/sign-in").text, "csrf")
    # when it is posted with this browser's cookie
    response = sign_in(console.client, console.tokens["auditor"], csrf=theirs)
    # then it is refused
    assert response.status_code == 403


def test_sign_out_and_verify_need_the_session_s_token_and_the_same_origin(
        console: Console):
    client, csrf = signed_in(console)
    reference = client.get("/console/seal")
    for path in ("/console/seal/verify", "/console/sign-out"):
        for data, headers in (({}, {"Origin": ORIGIN}), ({"csrf": "forged"}, {}),
                              ({"csrf": csrf}, {"Origin": "http://evil.example"}),
                              ({"csrf": csrf}, {"Origin": "null"})):
            response = client.post(path, data=data, headers=headers, follow_redirects=False)
            assert_refused_page(response, 403, reference)
    # nothing was done: still signed in, never verified
    page = client.get("/console/seal", params={"lang": "en"}).text
    assert "Not verified since this server started" in page
    # with the session's token, from the same origin (or no Origin at all), both work
    done = client.post("/console/seal/verify", data={"csrf": csrf}, headers={"Origin": ORIGIN},
                       follow_redirects=False)
    assert done.status_code == 303
    assert "Not verified" not in client.get("/console/seal", params={"lang": "en"}).text
    out = client.post("/console/sign-out", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/console/policies", follow_redirects=False).status_code == 303


def test_sign_in_returns_to_the_page_asked_for(console: Console):
    # given a page asked for before signing in
    asked = console.client.get("/console/claims/C-1",
                               params={"lang": "en", "as_of": "2026-01-20"},
                               follow_redirects=False)
    assert asked.status_code == 303
    form = console.client.get(asked.headers["location"]).text
    wanted = hidden(form, "next")
    assert wanted == "/console/claims/C-1?lang=en&as_of=2026-01-20"
    # when the form is sent
    response = console.client.post("/console/sign-in", headers={"Origin": ORIGIN}, data={
        "token": console.tokens["auditor"], "lang": "en", "csrf": hidden(form, "csrf"),
        "next": wanted}, follow_redirects=False)
    # then the browser goes back to it
    assert response.status_code == 303
    assert response.headers["location"] == wanted


@pytest.mark.parametrize("target", [
    "https://evil.example/console/", "//evil.example/console/", "/\\evil.example/console/",
    "http:/console/x", "/policies", "/console", "/console/../docs", "javascript:alert(1)",
    "/console/x\r\nSet-Cookie: a=b", "/console/x#y", "/console/ x"])
def test_sign_in_returns_only_to_a_console_page_of_this_server(
        console: Console, target: str):
    reference = console.client.get("/console/sign-in")
    # the form itself refuses to carry such a target
    shown = console.client.get("/console/sign-in", params={"next": target})
    assert_refused_page(shown, 400, reference)
    assert "next" in shown.text
    # and a posted one is refused, signing nobody in
    response = sign_in(console.client, console.tokens["auditor"], next=target)
    assert_refused_page(response, 400, reference)
    assert "location" not in response.headers
    assert console.client.cookies.get("claims_ledger_console") is None


def test_verify_now_runs_one_verification_at_a_time(console: Console,
                                                   monkeypatch: pytest.MonkeyPatch):
    client, csrf = signed_in(console)
    real, calls = seal.verify, []
    running, release = threading.Event(), threading.Event()

    def slow_verify(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        running.set()
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(seal, "verify", slow_verify)
    first: list[Response] = []
    worker = threading.Thread(target=lambda: first.append(client.post(
        "/console/seal/verify", data={"csrf": csrf}, follow_redirects=False)))
    worker.start()
    try:
        assert running.wait(30)
        # when "verify now" is asked for again while one runs
        second = client.post("/console/seal/verify", data={"csrf": csrf},
                             params={"lang": "en"}, follow_redirects=False)
    finally:
        release.set()
        worker.join(60)
    # then it answers that one is running, and starts nothing
    assert second.status_code == 409
    assert "already running" in second.text
    assert len(calls) == 1
    assert first[0].status_code == 303
    # once it is done, another may run
    assert client.post("/console/seal/verify", data={"csrf": csrf},
                       follow_redirects=False).status_code == 303
    assert len(calls) == 2


def test_console_pages_let_the_browser_send_their_origin_with_their_forms(
        console: Console):
    # under "no-referrer" a browser sends "Origin: null" with a page's form posts,
    # which the Origin check refuses: the policy keeps the referrer to this server
    page = console.client.get("/console/sign-in")
    assert page.headers["referrer-policy"] == "same-origin"


def test_the_api_docs_load_nothing_from_elsewhere(console: Console):
    reference = console.client.get("/console/sign-in")
    docs = console.client.get("/docs")
    assert docs.status_code == 200
    for name in SECURITY_HEADERS:
        assert docs.headers[name] == reference.headers[name], name
    assert "<script" not in docs.text
    assert not re.search(r'(src|href)="(https?:)?//', docs.text)
    assert 'href="/openapi.json"' in docs.text
    assert "/commands" in docs.text  # the routes are listed
    assert console.client.get("/openapi.json").status_code == 200
    assert console.client.get("/redoc").status_code == 404
