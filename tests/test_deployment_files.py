"""docker-compose.yml is valid Compose and lays out the production processes (no engine needed)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import compose
import pytest
from django.conf import settings

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
