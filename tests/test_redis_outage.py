"""When Redis goes away, Greenlight keeps working: pages render without their cached fragments,
token clients go on unthrottled (with a warning in the log), and sign-offs and ticks are still
recorded. The test runs its own Redis server on a free port and kills it."""

from __future__ import annotations

import logging
import subprocess

import pytest
import redis
from django.urls import reverse

from approvals.models import SignOff
from config.settings import caches_for
from releases.services.lifecycle import lock_scope
from releases.services.tokens import create_api_token
from tests.api.conftest import bearer
from tests.html import client_for
from tests.processes import free_port, wait_for

pytestmark = pytest.mark.django_db

PAGES = ("dashboard", "timeline", "metrics", "notifications", "my_tokens")


@pytest.fixture
def own_redis(settings):
    """A Redis server of this test's own, the cache (and so the API's rate limits) on it."""
    port = free_port()
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    wait_for(lambda: _answers(client), 10, "the test's Redis server")
    settings.CACHES = caches_for(f"redis://127.0.0.1:{port}/0")
    yield server
    server.kill()
    server.wait()


def _answers(client: redis.Redis) -> bool:
    try:
        return client.ping()
    except redis.ConnectionError:
        return False


def stop(server: subprocess.Popen) -> None:
    server.kill()
    server.wait()


def test_it_uses_the_redis_server_while_it_answers(cast, release, own_redis):
    _, secret = create_api_token(by=cast.rita, name="ci")

    assert client_for(cast.rita).get(reverse("dashboard")).status_code == 200
    assert bearer(secret).get("/api/releases/").status_code == 200

    keys = redis.Redis(port=int(own_redis.args[2])).keys("*")
    assert any(b"throttle" in key for key in keys), keys
    assert len(keys) > 1


def test_it_renders_every_main_page_when_redis_is_down(cast, release, own_redis, caplog):
    rita = client_for(cast.rita)
    assert rita.get(reverse("dashboard")).status_code == 200  # fragments now cached
    stop(own_redis)

    with caplog.at_level(logging.WARNING):
        for name in PAGES:
            assert rita.get(reverse(name), follow=True).status_code == 200, name
        assert rita.get(release.get_absolute_url()).status_code == 200

    assert any("cache" in r.getMessage().lower() for r in caplog.records)


def test_it_serves_token_calls_unthrottled_with_a_warning_when_redis_is_down(
    cast, release, own_redis, caplog
):
    _, secret = create_api_token(by=cast.rita, name="ci")
    client = bearer(secret)
    stop(own_redis)

    with caplog.at_level(logging.WARNING):
        assert client.get("/api/releases/").status_code == 200
        assert client.get(f"/api/releases/{release.pk}/").status_code == 200
        assert client.get(f"/api/releases/{release.pk}/readiness/").status_code == 200

    assert any("rate limit" in r.getMessage().lower() for r in caplog.records)


def test_it_records_sign_offs_and_ticks_when_redis_is_down(cast, release, own_redis):
    lock_scope(release, by=cast.rita)
    item = release.checklist_items.get(title="Critical flows pass")
    _, secret = create_api_token(by=cast.quinn, name="quinn")
    stop(own_redis)

    ticked = bearer(secret).post(
        f"/api/releases/{release.pk}/checklist-items/{item.pk}/tick/",
        {"note": "All green"},
        format="json",
    )
    signed = bearer(secret).post(
        f"/api/releases/{release.pk}/sign-offs/",
        {"role": "qa", "decision": "go"},
        format="json",
    )
    on_page = client_for(cast.devin).post(
        reverse("sign_off", args=[release.pk]), {"role": "dev", "decision": "go", "comment": ""}
    )

    assert ticked.status_code == 200
    assert signed.status_code == 201
    assert on_page.status_code == 302
    item.refresh_from_db()
    assert item.ticked_by == cast.quinn
    assert set(SignOff.objects.filter(release=release).values_list("role", flat=True)) == {
        "qa",
        "dev",
    }
    assert client_for(cast.rita).get(reverse("dashboard")).status_code == 200
