"""Real Chromium (Debian's, at /usr/bin/chromium) against the live test server.

Playwright's sync API runs an event loop in the test thread; the test code still reads and
writes the database through the ORM, which Django would refuse in a thread with a running loop.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from tests.builders import PASSWORD
from tests.conftest import CHROMIUM

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1360, "height": 900}}


# Reported by the page itself: Chromium's own console message for a refused inline script or
# style does not always reach Playwright.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (event) {
  var where = event.target && event.target.outerHTML ? event.target.outerHTML.slice(0, 160) : "";
  console.error("CSP violation: " + event.violatedDirective + " blocked " + event.blockedURI +
    " at " + event.sourceFile + ":" + event.lineNumber + " " + where);
});
"""


def csp_violation(text: str) -> bool:
    return text.startswith("CSP violation") or "Content Security Policy" in text


@pytest.fixture
def csp_violations() -> Any:
    """Every Content-Security-Policy violation seen by the pages of a test; there must be none."""
    seen: list[str] = []
    yield seen
    assert seen == [], "Content-Security-Policy violations:\n" + "\n".join(seen)


@pytest.fixture
def open_as(
    browser: Any, browser_context_args: dict[str, Any], live_server: Any, csp_violations: Any
) -> Iterator[Callable]:
    """A logged-in page for one person, in a browser context of their own (own cookies), on
    ``path`` of the live server: the dashboard unless told, no page yet with ``None``. A test
    opens it where it looks first rather than loading the dashboard on the way.

    The person is signed in with a session made for them, as Django's test client does: the
    login form itself is driven by ``by_form=True`` (the demo's people, the login tests), which
    lands on the dashboard.
    Every page of it reports Content-Security-Policy violations: a test whose pages have any
    fails, so each flow proves that the site's strict policy leaves it working.
    """
    contexts = []

    def login(user: Any, path: str | None = "/", *, by_form: bool = False) -> Any:
        context = browser.new_context(**browser_context_args)
        context.set_default_timeout(10_000)
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        context.on(
            "console",
            lambda message: (
                csp_violations.append(message.text) if csp_violation(message.text) else None
            ),
        )
        contexts.append(context)
        page = context.new_page()
        if by_form:
            page.goto(f"{live_server.url}/login/")
            page.get_by_label("Username").fill(user.get_username())
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"{live_server.url}/")
            return page
        client = Client()
        client.force_login(user)
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
        )
        if path is not None:
            page.goto(f"{live_server.url}{path}")
        return page

    yield login
    for context in contexts:
        context.close()
    requests_finished(live_server)


def requests_finished(live_server: Any, timeout: float = 10.0) -> None:
    """Wait for the requests the pages left in flight (a live refresh, a click's post).

    The test database is emptied next: a request still running could write this test's rows
    after that, and the next test would start on them. The live server answers each connection
    in a thread of its own, which it does not keep track of (a daemon thread); Python names such
    a thread after the function it runs.
    """
    handler = f"({live_server.thread.httpd.process_request_thread.__name__})"
    for thread in threading.enumerate():
        if thread.name.endswith(handler):
            thread.join(timeout)
            assert not thread.is_alive(), "a request to the live server did not finish in 10 s"


# Screenshots cost a second or two each, so they are taken on request: BROWSER_SCREENSHOTS=1.
SCREENSHOTS = os.environ.get("BROWSER_SCREENSHOTS") == "1"


@pytest.fixture
def shoot(live_server: Any) -> Callable:
    """Full-page screenshots of the dashboard and the release page for a person to look at,
    in tests/browser/artifacts/, when BROWSER_SCREENSHOTS=1."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page: Any, name: str, release: Any) -> None:
        if not SCREENSHOTS:
            return
        # caret="initial": hiding the caret puts a style attribute on fields, which htmx then
        # carries into swapped content, where the Content-Security-Policy refuses it.
        page.goto(f"{live_server.url}/")
        page.screenshot(path=ARTIFACTS / f"{name}-dashboard.png", full_page=True, caret="initial")
        page.goto(f"{live_server.url}{release.get_absolute_url()}")
        page.screenshot(path=ARTIFACTS / f"{name}-release.png", full_page=True, caret="initial")

    return take


def picture(target: Any, name: str, **options: Any) -> None:
    """A screenshot of a page or of one part of it for a person to look at, in
    tests/browser/artifacts/, when BROWSER_SCREENSHOTS=1."""
    if SCREENSHOTS:
        ARTIFACTS.mkdir(exist_ok=True)
        target.screenshot(path=ARTIFACTS / f"{name}.png", **options)


def csrf_token(page: Any) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
