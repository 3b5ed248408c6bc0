"""The README's screenshots, taken from the demo as `make run` serves it.

    .venv/bin/python docs/screenshots.py                         # a fresh demo of its own
    .venv/bin/python docs/screenshots.py --url http://127.0.0.1:8000   # a running `make run`

Without ``--url`` it does what `make run` does on a throwaway SQLite database — migrate, seed the
demo, serve it — and stops the server afterwards. It drives Debian's Chromium (``CHROMIUM_PATH``,
``/usr/bin/chromium`` by default) through Playwright, logged in as Rita, and writes:

- ``docs/dashboard.png``      the dashboard on a desktop
- ``docs/release-phone.png``  the release in its monitoring window on a 375 px phone
- ``docs/dora.png``           the DORA metrics of the demo's six months
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
DESKTOP = {"width": 1360, "height": 900}
PHONE = {"width": 375, "height": 812}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def demo_server() -> Iterator[str]:
    """A demo like `make run`'s on a database of its own, served until the block ends."""
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{Path(folder) / 'demo.sqlite3'}",
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
        env.pop("REDIS_URL", None)
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        subprocess.run([*manage, "seed_demo", "--port", str(port)], cwd=ROOT, env=env, check=True)
        server = subprocess.Popen(
            [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"], cwd=ROOT, env=env
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(url)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=10)


def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/healthz", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.3)
    raise SystemExit(f"Nothing answers on {url}.")


def log_in(page: Page, url: str, username: str = "rita") -> None:
    page.goto(f"{url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("greenlight")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}/")


def shoot(url: str) -> list[Path]:
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        desktop = browser.new_page(viewport=DESKTOP)
        log_in(desktop, url)
        desktop.goto(f"{url}/")
        written.append(DOCS / "dashboard.png")
        desktop.screenshot(path=written[-1], full_page=True)

        # The release people watch most: the one in its monitoring window.
        row = desktop.locator("tr", has=desktop.locator(".chip", has_text="Monitoring")).first
        release = row.get_by_role("link").first.get_attribute("href")

        # Six months of history: the figures, the charts and the failed deploys.
        desktop.set_viewport_size({"width": DESKTOP["width"], "height": 1560})
        desktop.goto(f"{url}/projects/payments/metrics/?days=180")
        written.append(DOCS / "dora.png")
        desktop.screenshot(path=written[-1])

        phone = browser.new_page(viewport=PHONE, device_scale_factor=2, is_mobile=True)
        log_in(phone, url)
        phone.goto(f"{url}{release}")
        written.append(DOCS / "release-phone.png")
        phone.screenshot(path=written[-1], full_page=False)
        browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running demo, e.g. http://127.0.0.1:8000")
    url = parser.parse_args().url
    if url:
        written = shoot(url.rstrip("/"))
    else:
        with demo_server() as served:
            written = shoot(served)
    for path in written:
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
