"""Settings for the test suite.

The suite proves things on PostgreSQL and Redis. When they answer (CI, the developers'
machines) they are used; when they do not (a laptop without them) the suite falls back to
SQLite and ``tests/conftest.py`` skips the tests marked ``services`` with the reason, unless
``REQUIRE_SERVICES=1`` turns a missing service into a failure.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit, urlunsplit

from config.settings import *  # noqa: F403
from config.settings import BASE_DIR, env


def _answers(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def _redis_db_of_worker(url: str, worker: str) -> str:
    """The Redis database of one pytest-xdist worker: gw0 has TEST_REDIS_URL's own, gw1 the next
    one, and so on. Tests flush it and run real Celery workers on it, so workers never share."""
    index = int(worker.removeprefix("gw") or 0)
    parts = urlsplit(url)
    db = int(parts.path.strip("/") or 0) + index
    if db > 15:
        raise ValueError(
            f"{url} has no database for worker {worker} (Redis has 0-15): "
            "set TEST_REDIS_URL to a lower database or run fewer workers"
        )
    return urlunsplit(parts._replace(path=f"/{db}"))


# A separate database name per checkout keeps parallel runs on one server apart; under
# pytest-xdist, pytest-django adds the worker's name (``_gw0``, ``_gw1``…) to the test database.
TEST_DATABASE_URL = env(
    "TEST_DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/greenlight"
)
TEST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
TEST_REDIS_URL = _redis_db_of_worker(
    env("TEST_REDIS_URL", default="redis://127.0.0.1:6379/14"), TEST_WORKER
)

SERVICES = {
    "postgres": _answers(TEST_DATABASE_URL, 5432),
    "redis": _answers(TEST_REDIS_URL, 6379),
}

if SERVICES["postgres"]:
    DATABASES = {"default": env.db_url_config(TEST_DATABASE_URL)}
    # Django's PostgreSQL backend, emptied by DELETE between the tests that commit (it says why).
    DATABASES["default"]["ENGINE"] = "tests.postgresql"
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "var" / "test.sqlite3",
        }
    }
DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
if SERVICES["postgres"]:
    # A test database is thrown away: its commits (migrations, the transactional tests) need not
    # wait for the disk.
    # No JIT, as in production (settings.py says why).
    # Joins in the order the query writes them: on tables of a few rows the planner's search
    # over join orders took longer than the query (2.4 ms of planning for the release page's
    # ten-table select_related, 0.4 ms without it). Production keeps the search, which pays on
    # tables of real size; the rows a query returns are the same either way.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        "-c synchronous_commit=off -c jit=off -c join_collapse_limit=1"
    )

# Unit tests run task bodies in-process; the real worker tests start Celery on Redis themselves.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = TEST_REDIS_URL if SERVICES["redis"] else "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}

# Per process and emptied between tests (tests/api/conftest.py): API rate limits never carry
# over from one test to the next.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
SECRET_KEY = "test-secret-key-not-for-production"
DEBUG = False
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

# The suite's stand-ins for providers, webhooks and Prometheus listen on 127.0.0.1: the suite
# allows loopback the way an operator allows a private CI network. tests/lib/test_outbound.py
# proves the policy without it.
OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
# A stand-in that is down stays down: tried again at once, without waiting for it.
OUTBOUND_RETRY_DELAY = 0.0

# Browser tests watch pages catch up with changes made elsewhere: they ask every second.
LIVE_REFRESH_SECONDS = 1

# Serve static files from the finders in tests; there is no collectstatic output here.
WHITENOISE_AUTOREFRESH = True
