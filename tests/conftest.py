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

from tests.monitoring import unleash_install

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def _missing_services(item: pytest.Item) -> list[str]:
    missing = []
    if item.get_closest_marker("services"):
        missing += [name for name, up in settings.SERVICES.items() if not up]
    if item.get_closest_marker("browser") and not shutil.which(CHROMIUM):
        missing.append(f"Chromium ({CHROMIUM})")
    if item.get_closest_marker("prometheus") and not shutil.which("prometheus"):
        missing.append("prometheus")
    if item.get_closest_marker("unleash") and not unleash_install.installed():
        missing.append(f"Unleash (Node.js and unleash-server in {unleash_install.SERVER_DIR})")
    return missing


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing_everywhere: set[str] = set()
    for item in items:
        missing = _missing_services(item)
        if missing:
            missing_everywhere.update(missing)
            item.add_marker(pytest.mark.skip(reason="needs " + ", ".join(missing)))
    if missing_everywhere and REQUIRE_SERVICES:
        pytest.exit(
            "REQUIRE_SERVICES=1 but these are not available: "
            + ", ".join(sorted(missing_everywhere)),
            returncode=1,
        )


@pytest.fixture
def cast(db: None):
    from tests.builders import make_cast

    return make_cast()


@pytest.fixture
def release(cast):
    from tests.builders import make_release

    return make_release(cast)
