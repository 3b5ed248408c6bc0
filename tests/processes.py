"""Real processes for the tests that need them: a Celery worker and beat on the test Redis and
database, a Prometheus that scrapes a tiny exporter, and the waiting that goes with them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings
from prometheus_client import CollectorRegistry, Gauge, start_http_server

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    """Poll ``condition`` until it returns something true, and return that. Every tenth of a
    second by default: a condition is a query or a log read, and a test that waits for a worker
    goes on as soon as the worker is done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"Timed out after {timeout} s waiting for {what}")


class Celery:
    """Starts ``celery -A config <command>`` against the test database and Redis, with the
    production settings module, as ``make run`` and docker-compose.yml do."""

    def __init__(self, tmp_path: Path, **env: str) -> None:
        db = settings.DATABASES["default"]
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}",
            "REDIS_URL": settings.TEST_REDIS_URL,
            "POLL_DISPATCH_SECONDS": "1",
            "LOG_LEVEL": "INFO",
            "EMAIL_URL": "",
            # Django's system checks, which Celery runs as a worker or beat starts (a second of
            # CPU each, importing every view), are the deploy check's to prove (make ci), not
            # these tests'.
            "CELERY_SKIP_CHECKS": "1",
            # The stand-ins listen on loopback, which the egress policy refuses by default.
            "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8",
            **env,
        }
        self.env.pop("CELERY_TASK_ALWAYS_EAGER", None)
        self.tmp_path = tmp_path
        self.processes: list[subprocess.Popen] = []

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.tmp_path / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group, so a kill reaches the pool's children too.
            start_new_session=True,
        )
        process.log = log  # type: ignore[attr-defined]
        self.processes.append(process)
        return process

    def worker(
        self,
        name: str,
        *,
        queues: str = f"celery,{settings.POLL_QUEUE}",
        pool: str = "prefork",
        concurrency: int = 1,
    ) -> subprocess.Popen:
        return self.start(
            name,
            "worker",
            f"--queues={queues}",
            f"--pool={pool}",
            f"--concurrency={concurrency}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--hostname={name}@%h",
            "--loglevel=INFO",
        )

    def poller(self, name: str = "poller", concurrency: int = 8) -> subprocess.Popen:
        """The fetch worker as production runs it: its own queue, a thread pool."""
        return self.worker(
            name, queues=settings.POLL_QUEUE, pool="threads", concurrency=concurrency
        )

    def beat(self) -> subprocess.Popen:
        return self.start("beat", "beat", "--loglevel=INFO")

    def kill(self, process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        if process.poll() is None:
            os.killpg(process.pid, sig)
        process.wait(20)
        process.log.close()  # type: ignore[attr-defined]

    def log(self, name: str) -> str:
        path = self.tmp_path / f"{name}.log"
        return path.read_text() if path.exists() else ""

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text()[-3000:]}" for path in self.tmp_path.glob("*.log")
        )

    def stop_all(self) -> None:
        """Kill what was started, once the test has read what it needed. How a worker stops is
        not what these tests prove (``make run``'s test stops its own), and a warm shutdown
        followed by the interpreter's exit takes seconds each time; a killed worker's database
        transaction is rolled back as its connection closes."""
        for process in self.processes:
            self.kill(process)


@contextmanager
def exporter(name: str, help_text: str, value: float) -> Iterator[tuple[Gauge, int]]:
    """The application under watch: one gauge on a Prometheus exporter on 127.0.0.1."""
    registry = CollectorRegistry()
    gauge = Gauge(name, help_text, registry=registry)
    gauge.set(value)
    port = free_port()
    server, _thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        yield gauge, port
    finally:
        server.shutdown()
        server.server_close()


def samples(url: str, query: str) -> list[float]:
    """The values Prometheus at ``url`` holds now for ``query`` (none while it cannot answer)."""
    try:
        body = httpx.get(f"{url}/api/v1/query", params={"query": query}, timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return []
    return [float(result["value"][1]) for result in body.get("data", {}).get("result", [])]


def wait_for_sample(url: str, query: str, value: float | None = None, timeout: float = 30) -> None:
    """Wait until Prometheus holds a sample of ``query`` (``value``, if given: the exporter's
    latest, scraped)."""

    def holds() -> bool:
        found = samples(url, query)
        return bool(found) if value is None else found == [value]

    wait_for(holds, timeout, f"Prometheus to scrape {query} ({value})", every=0.1)


@contextmanager
def prometheus(data: Path, *, job: str, target_port: int, metric: str) -> Iterator[str]:
    """Debian's Prometheus scraping ``127.0.0.1:target_port`` twice a second; yields its URL once
    it holds a sample of ``metric``."""
    port = free_port()
    config = data / "prometheus.yml"
    config.write_text(
        "global:\n"
        "  scrape_interval: 500ms\n"
        "  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        f"  - job_name: {job}\n"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{target_port}']\n"
    )
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={data / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_sample(url, metric)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
