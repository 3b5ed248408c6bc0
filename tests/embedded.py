"""The embedded default's database (SQLite) for the tests that start ``manage.py`` or ``make run``
as a user would: migrated once per run, then copied into each test's own directory.

Migrating SQLite from nothing takes the longest part of those tests; each of them proves what it
does with the database afterwards, and the first one here proves the migration itself.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def sqlite_env(database: Path, **extra: str) -> dict[str, str]:
    """The environment of a process on the embedded default: SQLite at ``database``, no Redis."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", **extra}
    env.pop("REDIS_URL", None)
    return env


def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory, database: Path) -> Path:
    """Copy a freshly migrated embedded database to ``database`` and return it.

    Under pytest-xdist the workers share one migration: the first to take the lock migrates, the
    others wait and copy. The directory is this run's, so a run never reuses an older schema."""
    run_dir = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        run_dir = run_dir.parent
    template = run_dir / "embedded-migrated.sqlite3"
    with open(run_dir / "embedded-migrated.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not template.exists():
            partial = run_dir / "embedded-migrating.sqlite3"
            partial.unlink(missing_ok=True)
            env = sqlite_env(partial, DJANGO_SETTINGS_MODULE="config.settings")
            result = subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert result.returncode == 0, result.stdout + result.stderr
            partial.rename(template)
    shutil.copyfile(template, database)
    return database
