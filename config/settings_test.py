"""Settings for the test suite.

The suite proves things on PostgreSQL and Redis. When they answer (CI, the developers'
machines) they are used; when they do not (a laptop without them) the suite falls back to
SQLite and ``tests/conftest.py`` skips the tests marked ``services`` with the reason, unless
``REQUIRE_SERVICES=1`` turns a missing service into a failure.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

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


# A separate database name per checkout keeps parallel runs on one server apart.
TEST_DATABASE_URL = env(
    "TEST_DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/greenlight"
)
TEST_REDIS_URL = env("TEST_REDIS_URL", default="redis://127.0.0.1:6379/14")

SERVICES = {
    "postgres": _answers(TEST_DATABASE_URL, 5432),
    "redis": _answers(TEST_REDIS_URL, 6379),
}

if SERVICES["postgres"]:
    DATABASES = {"default": env.db_url_config(TEST_DATABASE_URL)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "var" / "test.sqlite3",
        }
    }
DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"]["CONN_HEALTH_CHECKS"] = False

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

# Serve static files from the finders in tests; there is no collectstatic output here.
WHITENOISE_AUTOREFRESH = True
