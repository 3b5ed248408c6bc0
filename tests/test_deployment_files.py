"""docker-compose.yml is valid Compose and lays out the production processes, and the image is
built from the project's files alone (no engine needed)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import compose
import pytest
from django.conf import settings
from docker.utils.build import exclude_paths

ROOT = Path(__file__).resolve().parent.parent
BINARY = Path(compose.__file__).parent / "docker-compose"
ENV = {
    **os.environ,
    "POSTGRES_PASSWORD": "pw",
    "SECRET_KEY": "k" * 60,
    "FERNET_KEYS": "fernet",
    "EMAIL_URL": "smtp+tls://u:p@mail.example.com:587",
}


def compose_config(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BINARY), "-f", str(path), "config", *extra],
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def config() -> dict:
    result = compose_config(ROOT / "docker-compose.yml", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_it_is_valid_compose():
    result = compose_config(ROOT / "docker-compose.yml", "-q")
    assert result.returncode == 0, result.stderr


def test_it_would_catch_a_broken_file(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(
        (ROOT / "docker-compose.yml").read_text().replace("healthcheck:", "healtcheck:", 1)
    )
    assert compose_config(broken, "-q").returncode != 0


def test_it_runs_every_process_with_a_health_check(config):
    services = config["services"]
    for name in ("postgres", "redis", "web", "worker", "poller", "beat"):
        assert "healthcheck" in services[name], name
    assert "gunicorn" in services["web"]["command"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]


def test_fetches_run_in_a_thread_pool_of_their_own_and_everything_else_elsewhere(config):
    worker = config["services"]["worker"]["command"]
    poller = config["services"]["poller"]["command"]
    assert poller[:4] == ["celery", "-A", "config", "worker"]
    assert f"--queues={settings.POLL_QUEUE}" in poller
    assert "--pool=threads" in poller
    assert "--concurrency=32" in poller
    assert "--queues=celery" in worker
    assert settings.CELERY_TASK_ROUTES["monitoring.tasks.poll_group"] == {
        "queue": settings.POLL_QUEUE
    }


def test_it_gives_web_workers_and_beat_the_same_environment(config):
    names = ("web", "worker", "poller", "beat")
    environments = [config["services"][name]["environment"] for name in names]
    assert all(environment == environments[0] for environment in environments)
    assert environments[0]["DATABASE_URL"].startswith("postgres://")
    assert environments[0]["REDIS_URL"] == "redis://redis:6379/0"
    assert environments[0]["DJANGO_SETTINGS_MODULE"] == "config.settings_production"


def build_context(root: Path) -> set[str]:
    """The paths ``docker build`` sends from ``root``, read with .dockerignore as Docker reads it
    (the Docker SDK's own matcher)."""
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return set(exclude_paths(str(root), patterns, dockerfile="Dockerfile"))


def test_the_image_leaves_out_the_checkouts_own_state(tmp_path):
    state = [
        ".env",  # real secrets
        ".env.production",
        "db.sqlite3",
        "var/celery/queue/0001.msg",  # the embedded broker's messages
        "var/cache/page.djcache",
        "var/unleash/node_modules/unleash-server/package.json",
        ".venv/bin/python",
        ".uv/bin/uv",
        ".git/HEAD",
        "releases/__pycache__/models.cpython-313.pyc",
        "staticfiles/app.css",
        ".pytest_cache/README.md",
        "tests/browser/artifacts/dashboard.png",
    ]
    project = [
        "Dockerfile",
        "manage.py",
        "pyproject.toml",
        "uv.lock",
        ".python-version",
        "releases/models.py",
        "static/app.css",
        "templates/base.html",
    ]
    for name in state + project:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")

    context = build_context(tmp_path)

    assert [name for name in state if name in context] == []
    assert [name for name in project if name not in context] == []


def test_the_image_takes_every_file_the_project_tracks():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert len(tracked) > 100
    context = build_context(ROOT)
    assert sorted(set(tracked) - context) == []
