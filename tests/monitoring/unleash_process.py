"""The open-source Unleash server, started by the tests like Prometheus: Node.js runs the
``unleash-server`` package (``unleash_install``) on a database of its own next to the test
database."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg

from tests.monitoring.unleash_install import SERVER_DIR
from tests.processes import free_port, wait_for

START = Path(__file__).parent / "unleash_server" / "start.js"
ADMIN_TOKEN = "*:*.greenlight-tests-admin-token"


def _fresh_database(database_url: str) -> str:
    """An empty database named after the test database, on the same server."""
    parts = urlsplit(database_url)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    name = parts.path.lstrip("/") + "_unleash" + (f"_{worker}" if worker else "")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextmanager
def unleash(database_url: str, log: Path) -> Iterator[str]:
    """A running Unleash; yields its URL once it answers healthy."""
    port = free_port()
    env = {
        **os.environ,
        "UNLEASH_SERVER_DIR": str(SERVER_DIR),
        "DATABASE_URL": _fresh_database(database_url),
        "DATABASE_SSL": "false",
        "PORT": str(port),
        "INIT_ADMIN_API_TOKENS": ADMIN_TOKEN,
        "LOG_LEVEL": "warn",
    }
    with log.open("w") as output:
        process = subprocess.Popen(
            ["node", str(START)], env=env, stdout=output, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> bool:
            if process.poll() is not None:
                raise AssertionError("Unleash stopped:\n" + log.read_text()[-2000:])
            try:
                return httpx.get(f"{url}/health", timeout=1).json().get("health") == "GOOD"
            except (httpx.HTTPError, ValueError):
                return False

        wait_for(healthy, 120, "Unleash to start", every=0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
