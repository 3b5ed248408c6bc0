"""The embedded default's database (SQLite) for the tests that start ``manage.py`` or ``make run``
as a user would: migrated (and seeded with the demo) once per run, then copied into each test's
own directory.

Migrating SQLite from nothing and seeding the demo on it take the longest part of those tests;
each of them proves what it does with the database afterwards, and the first one here proves the
migration and the seed themselves.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def sqlite_env(database: Path, **extra: str) -> dict[str, str]:
    """The environment of a process on the embedded default: SQLite at ``database``, no Redis."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", **extra}
    env.pop("REDIS_URL", None)
    return env


def manage(database: Path, *args: str, **env: str) -> str:
    """``manage.py`` with ``args`` on the embedded default at ``database``; it must succeed."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=sqlite_env(database, DJANGO_SETTINGS_MODULE="config.settings", **env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _made_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]
) -> Path:
    """The run's one ``name`` database, made by ``make`` on first use.

    Under pytest-xdist the workers share it: the first to take the lock makes it, the others wait
    and copy. The directory is this run's, so a run never reuses an older schema."""
    run_dir = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        run_dir = run_dir.parent
    template = run_dir / f"embedded-{name}.sqlite3"
    with open(run_dir / f"embedded-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not template.exists():
            partial = run_dir / f"embedded-{name}-partial.sqlite3"
            partial.unlink(missing_ok=True)
            make(partial)
            partial.rename(template)
    return template


def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory, database: Path) -> Path:
    """Copy a freshly migrated embedded database to ``database`` and return it."""

    def migrate(partial: Path) -> None:
        manage(partial, "migrate", "--noinput", "-v0")

    shutil.copyfile(_made_once(tmp_path_factory, "migrated", migrate), database)
    return database


def seeded_sqlite(tmp_path_factory: pytest.TempPathFactory, database: Path) -> Path:
    """Copy a migrated embedded database with the demo seeded (``manage.py seed_demo``, as
    ``make run`` seeds it) to ``database`` and return it."""

    def seed(partial: Path) -> None:
        manage(
            migrated_sqlite(tmp_path_factory, partial), "seed_demo", CELERY_TASK_ALWAYS_EAGER="true"
        )

    shutil.copyfile(_made_once(tmp_path_factory, "seeded", seed), database)
    return database
