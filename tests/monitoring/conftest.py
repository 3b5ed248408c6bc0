"""Fixtures for the monitoring tests that run real processes (see ``tests/processes.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from prometheus_client import Gauge

from monitoring.services.integrations import save_integration
from tests import processes
from tests.monitoring.deliveries import SECRET

ERROR_RATIO = "checkout_error_ratio"


BASELINE = 0.001  # 0.1 %: what the application's error ratio is when a test starts


@pytest.fixture(scope="session")
def _exporter() -> Iterator[tuple[Gauge, int]]:
    with processes.exporter(
        ERROR_RATIO, "Share of checkout requests that failed", value=BASELINE
    ) as exported:
        yield exported


@pytest.fixture(scope="session")
def _prometheus(
    tmp_path_factory: pytest.TempPathFactory, _exporter: tuple[Gauge, int]
) -> Iterator[str]:
    # Started once for the tests that read it: it takes seconds to start and scrape, and a test
    # only depends on the value it scrapes now, which ``prometheus`` sets back first.
    _, port = _exporter
    with processes.prometheus(
        tmp_path_factory.mktemp("prometheus"), job="checkout", target_port=port, metric=ERROR_RATIO
    ) as url:
        yield url


@pytest.fixture
def error_ratio(_exporter: tuple[Gauge, int]) -> tuple[Gauge, int]:
    """The application under watch: it exports its checkout error ratio (0.1 % to start)."""
    gauge, _ = _exporter
    gauge.set(BASELINE)
    return _exporter


@pytest.fixture
def prometheus(_prometheus: str, error_ratio: tuple[Gauge, int]) -> str:
    """A real Prometheus scraping the exporter, under the job ``checkout``; it holds the
    starting error ratio."""
    processes.wait_for_sample(_prometheus, ERROR_RATIO, BASELINE)
    return _prometheus


@pytest.fixture
def celery(tmp_path: Path, transactional_db: None) -> Iterator[Callable[..., processes.Celery]]:
    """Make Celery runners (workers, beat) on an empty test Redis; all stopped afterwards."""
    redis.Redis.from_url(settings.TEST_REDIS_URL).flushdb()
    made: list[processes.Celery] = []

    def make(**env: str) -> processes.Celery:
        made.append(processes.Celery(tmp_path, **env))
        return made[-1]

    yield make
    for runner in made:
        runner.stop_all()
    redis.Redis.from_url(settings.TEST_REDIS_URL).flushdb()


@pytest.fixture
def github(cast):
    """A GitHub integration whose webhook secret is ``deliveries.SECRET``."""
    return save_integration(
        cast.project,
        by=cast.rita,
        name="GitHub",
        kind="github",
        config={"repo": "example/payments"},
        secrets={"token": "ghp_x", "webhook_secret": SECRET},
    )


@pytest.fixture
def gitlab(cast):
    """A GitLab integration whose webhook token is ``deliveries.SECRET``."""
    return save_integration(
        cast.project,
        by=cast.rita,
        name="GitLab",
        kind="gitlab",
        config={"project": "example/payments"},
        secrets={"token": "glpat-x", "webhook_secret": SECRET},
    )
