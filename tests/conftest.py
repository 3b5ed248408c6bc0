"""Suite-wide fixtures and the services policy.

Tests marked ``services`` need the real PostgreSQL and Redis: without them they are skipped
with the reason, or fail the run when ``REQUIRE_SERVICES=1`` (CI). Tests marked ``browser``
also need Debian's Chromium at /usr/bin/chromium.
"""

from __future__ import annotations

import os
import shutil

import pytest
from django.conf import settings
from pytest_django.fixtures import validate_django_db

from tests.builders import make_cast, make_release
from tests.monitoring import unleash_install

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def _missing(
    *, services: bool = True, browser: bool = True, prometheus: bool = True, unleash: bool = True
) -> list[str]:
    missing = []
    if services:
        missing += [name for name, up in settings.SERVICES.items() if not up]
    if browser and not shutil.which(CHROMIUM):
        missing.append(f"Chromium ({CHROMIUM})")
    if prometheus and not shutil.which("prometheus"):
        missing.append("prometheus")
    if unleash and not unleash_install.installed():
        missing.append(f"Unleash (Node.js and unleash-server in {unleash_install.SERVER_DIR})")
    return missing


def _missing_services(item: pytest.Item) -> list[str]:
    return _missing(
        services=bool(item.get_closest_marker("services")),
        browser=bool(item.get_closest_marker("browser")),
        prometheus=bool(item.get_closest_marker("prometheus")),
        unleash=bool(item.get_closest_marker("unleash")),
    )


def _exit_for_missing(missing: set[str]) -> None:
    pytest.exit(
        "REQUIRE_SERVICES=1 but these are not available: " + ", ".join(sorted(missing)),
        returncode=1,
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    # Under pytest-xdist the workers collect the tests, and a worker that stops the run leaves
    # the others waiting: the process that starts them checks every service before.
    config = session.config
    parallel = config.getoption("numprocesses", None) and not hasattr(config, "workerinput")
    if REQUIRE_SERVICES and parallel and (missing := _missing()):
        _exit_for_missing(set(missing))


# Tests that start servers, workers or a browser: they take seconds each.
HEAVY_MARKS = ("slow", "browser", "prometheus", "unleash")
HEAVY_FIXTURES = ("live_server", "celery")


def _database_use(item: pytest.Item) -> int:
    """pytest-django's order: tests in a rolled-back transaction (0), then the transactional
    ones, which empty the tables after them (1), then those without a database (2)."""
    fixtures = getattr(item, "fixturenames", ())
    marker = item.get_closest_marker("django_db")
    if marker is not None:
        transaction, reset_sequences, *_ = validate_django_db(marker)
        if transaction or reset_sequences:
            return 1
    if "transactional_db" in fixtures or "live_server" in fixtures:
        return 1
    return 0 if marker is not None or "db" in fixtures else 2


def _heavy(item: pytest.Item) -> bool:
    fixtures = getattr(item, "fixturenames", ())
    return any(item.get_closest_marker(name) for name in HEAVY_MARKS) or any(
        name in fixtures for name in HEAVY_FIXTURES
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # After pytest-django has put the tests in its order: within each of its groups the heavy
    # tests go first, so the parallel workers share them out early and finish together instead
    # of one of them starting a browser test when the rest is done.
    items.sort(key=lambda item: (_database_use(item), not _heavy(item)))

    missing_everywhere: set[str] = set()
    for item in items:
        missing = _missing_services(item)
        if missing:
            missing_everywhere.update(missing)
            item.add_marker(pytest.mark.skip(reason="needs " + ", ".join(missing)))
    if missing_everywhere and REQUIRE_SERVICES and not hasattr(config, "workerinput"):
        _exit_for_missing(missing_everywhere)


@pytest.fixture
def cast(db: None):
    return make_cast()


@pytest.fixture
def release(cast):
    return make_release(cast)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a service with what it leaves for after the commit (a commit range read at the lock,
    a scope source synced on import)."""

    def run(service, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return service(*args, **kwargs)

    return run
