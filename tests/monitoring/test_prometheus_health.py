"""A real Prometheus scrapes a tiny exporter; the poller reads it for a post-release check."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.utils import timezone
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from monitoring import services, tasks
from monitoring.models import Check, CheckResult
from releases.models import ReleaseEvent
from tests.builders import make_monitoring

pytestmark = [pytest.mark.prometheus, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, timeout: float, what: str, every: float = 0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"Timed out after {timeout} s waiting for {what}")


@pytest.fixture
def error_ratio() -> Iterator[tuple[Gauge, int]]:
    """The application under watch: it exports its checkout error ratio."""
    registry = CollectorRegistry()
    gauge = Gauge(
        "checkout_error_ratio", "Share of checkout requests that failed", registry=registry
    )
    gauge.set(0.001)
    port = free_port()
    server, _thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    yield gauge, port
    server.shutdown()
    server.server_close()


@pytest.fixture
def prometheus(tmp_path: Path, error_ratio) -> Iterator[str]:
    _, exporter_port = error_ratio
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: checkout\n"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{exporter_port}']\n"
    )
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def has_sample() -> bool:
            try:
                body = httpx.get(
                    f"{url}/api/v1/query", params={"query": "checkout_error_ratio"}, timeout=1
                ).json()
            except (httpx.HTTPError, ValueError):
                return False
            return bool(body.get("data", {}).get("result"))

        wait_for(has_sample, 30, "Prometheus to scrape the exporter")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def poll_until(check: Check, status: str, timeout: float = 20) -> Check:
    """Run the real dispatcher and fetch tasks (eagerly, in this process) until ``status``."""

    def reached() -> Check | None:
        Check.objects.filter(pk=check.pk).update(next_poll_at=timezone.now())
        tasks.dispatch_due_checks()
        fresh = Check.objects.get(pk=check.pk)
        return fresh if fresh.status == status else None

    return wait_for(reached, timeout, f"the check to be {status}", every=0.5)


def test_the_health_check_follows_the_error_rate(cast, release, prometheus, error_ratio):
    gauge, _ = error_ratio
    make_monitoring(release, cast)
    integration = services.save_integration(
        cast.project, by=cast.rita, name="Prometheus", kind="prometheus", base_url=prometheus
    )
    check = services.save_release_check(
        release,
        by=cast.dana,
        integration=integration,
        name="Checkout error rate below 2 %",
        phase="post_release",
        params={"query": 'checkout_error_ratio{job="checkout"}'},
        comparator="lt",
        threshold=0.02,
        interval_seconds=10,
    )

    check = poll_until(check, "passing")
    assert check.last_value == "0.001"

    gauge.set(0.08)
    check = poll_until(check, "failing")
    assert check.last_value == "0.08"
    assert check.last_detail.endswith("is 0.08; it must be below 0.02.")

    gauge.set(0.004)
    check = poll_until(check, "passing")

    history = list(
        CheckResult.objects.filter(check_ref=check)
        .order_by("observed_at")
        .values_list("status", flat=True)
    )
    assert history == ["passing", "failing", "passing"]
    summaries = [
        e.summary
        for e in ReleaseEvent.objects.filter(release=release, verb="check_status").order_by(
            "created_at", "pk"
        )
        if "Checkout error rate" in e.summary
    ]
    assert [s.split(": ", 1)[1].split(" (")[0] for s in summaries] == [
        "pending → passing",
        "passing → failing",
        "failing → passing",
    ]
    integration.refresh_from_db()
    assert integration.last_success_at is not None
    assert integration.consecutive_failures == 0
