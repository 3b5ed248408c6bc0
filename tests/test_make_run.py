"""`make run` on the embedded default serves the app with demo data."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.embedded import seeded_sqlite, sqlite_env

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# With the embedded default's polling test: the demo is seeded on SQLite once for both.
@pytest.mark.slow
@pytest.mark.xdist_group("embedded")
def test_it_serves_the_login_page_and_lets_a_demo_user_in(tmp_path, tmp_path_factory):
    port = free_port()
    # Migrated and seeded already, on another port (the migration and the seed on SQLite are
    # proven where they are made): `make run` finds nothing to apply, seeds again, which points
    # the demo's health check at the port it runs on, and serves it.
    demo = seeded_sqlite(tmp_path_factory, tmp_path / "demo.sqlite3")
    env = sqlite_env(demo, PORT=str(port))
    env.pop("DJANGO_SETTINGS_MODULE", None)
    process = subprocess.Popen(
        ["make", "run", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        # As from a terminal: Ctrl-C is not ignored, whatever the test runner's parent does.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # seeding the demo on a busy machine is slow
        page = None
        while time.monotonic() < deadline:
            try:
                page = httpx.get(f"{base}/login/", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout and process.stdout.read()
                time.sleep(0.3)
        assert page is not None, "the server never answered"
        assert page.status_code == 200
        assert "Log in to Greenlight" in page.text

        with httpx.Client(base_url=base, timeout=5) as browser:
            form = browser.get("/login/")
            found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
            assert found is not None
            token = found.group(1)
            answer = browser.post(
                "/login/",
                data={"username": "rita", "password": "greenlight", "csrfmiddlewaretoken": token},
                headers={"Referer": f"{base}/login/"},
            )
            assert answer.status_code == 302
            dashboard = browser.get("/")
            assert dashboard.status_code == 200
            assert "Payments 2.15.0" in dashboard.text
        # The demo's health check reads this very app, on the port it was started on.
        with closing(sqlite3.connect(demo)) as database:
            (base_url,) = database.execute(
                "SELECT base_url FROM monitoring_integration WHERE kind = 'http_health'"
            ).fetchone()
        assert base_url == base
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C
        pressed = time.monotonic()
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
    assert "Log in as rita (release manager)" in output
    assert leftovers(process.pid, until=pressed + 10) == [], "Ctrl-C left processes running"


def leftovers(group: int, until: float) -> list[str]:
    """Processes of the process group still alive at ``until`` (a ``time.monotonic()`` instant)."""
    deadline = until
    while True:
        alive = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if os.getpgid(int(pid)) == group:
                    alive.append(
                        Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                    )
            except (ProcessLookupError, FileNotFoundError, PermissionError):
                continue
        if not alive or time.monotonic() > deadline:
            if alive:
                os.killpg(group, signal.SIGKILL)
            return alive
        time.sleep(0.5)
