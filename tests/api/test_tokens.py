"""API tokens: hashed at rest, shown once, revocable, last use recorded, rate-limited."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
import redis
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from releases.api.tokens import TokenRateThrottle
from releases.models import ApiToken, Release
from releases.services.tokens import create_api_token, revoke_api_token
from tests.api.conftest import bearer, project_token

pytestmark = pytest.mark.django_db


def test_it_stores_only_a_hash_of_the_secret(cast):
    token, secret = create_api_token(by=cast.dana, name="laptop")
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert secret not in str(stored)
    assert stored["hashed_secret"] == hashlib.sha256(secret.encode()).hexdigest()
    assert secret.startswith(stored["prefix"])
    assert token.kind == "personal"
    assert token.user == cast.dana


def test_it_acts_with_exactly_the_rights_of_the_tokens_user(cast, release):
    _, vic_secret = create_api_token(by=cast.vic, name="reader")
    _, rita_secret = create_api_token(by=cast.rita, name="scripts")

    assert bearer(vic_secret).get(f"/api/releases/{release.pk}/").status_code == 200
    assert bearer(vic_secret).post(f"/api/releases/{release.pk}/lock-scope/").status_code == 403
    assert bearer(rita_secret).post(f"/api/releases/{release.pk}/lock-scope/").status_code == 200
    assert Release.objects.get(pk=release.pk).status == "frozen"
    event = release.events.get(verb="scope_locked")
    assert event.actor == cast.rita


def test_it_refuses_a_revoked_token(cast, release):
    token, secret = create_api_token(by=cast.rita, name="old")
    client = bearer(secret)
    assert client.get("/api/releases/").status_code == 200

    revoke_api_token(token, by=cast.rita)

    response = client.get(f"/api/releases/{release.pk}/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or revoked token."}
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "header",
    ["Bearer glt_not-a-real-token", "Bearer", "Bearer one two", "Bearer nope", "Bearer glt_\xe9"],
)
def test_it_refuses_unknown_or_malformed_tokens_with_401(cast, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/releases/")
    assert response.status_code == 401
    assert set(response.json()) == {"detail"}


def test_it_refuses_the_token_of_a_deactivated_person(cast):
    _, secret = create_api_token(by=cast.devin, name="laptop")
    cast.devin.is_active = False
    cast.devin.save(update_fields=["is_active"])
    assert bearer(secret).get("/api/releases/").status_code == 401


def test_it_records_the_last_use_at_most_once_a_minute(cast):
    token, secret = create_api_token(by=cast.rita, name="ci")
    assert token.last_used_at is None
    client = bearer(secret)

    client.get("/api/projects/")
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None

    client.get("/api/projects/")
    token.refresh_from_db()
    assert token.last_used_at == first

    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - dt.timedelta(minutes=2))
    client.get("/api/projects/")
    token.refresh_from_db()
    assert token.last_used_at > first


def test_it_gives_each_token_its_own_budget(cast, monkeypatch):
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"token": "3/min"})
    runaway = bearer(project_token(cast, name="runaway"))
    calm = bearer(project_token(cast, name="calm"))
    person = APIClient()
    person.force_login(cast.rita)

    assert [runaway.get("/api/releases/").status_code for _ in range(3)] == [200] * 3
    limited = runaway.get("/api/releases/")
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
    assert set(limited.json()) == {"detail"}
    assert calm.get("/api/releases/").status_code == 200
    assert [person.get("/api/releases/").status_code for _ in range(5)] == [200] * 5


@pytest.mark.services
def test_it_counts_each_tokens_budget_in_the_shared_redis(cast, settings, monkeypatch):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.TEST_REDIS_URL,
            "KEY_PREFIX": "budget-test",
        }
    }
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"token": "3/min"})
    server = redis.Redis.from_url(settings.TEST_REDIS_URL)
    server.delete(*server.keys("budget-test:*") or ["none"])
    runaway = bearer(project_token(cast, name="runaway"))

    statuses = [runaway.get("/api/releases/").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    # Under the cache's own key, where every web process counts the same budget.
    (key,) = server.keys("budget-test:*throttle_token_*")
    counted = server.get(key)
    assert counted is not None
    assert int(counted) == 4
    assert 0 < server.ttl(key) <= 61
    server.delete(key)


def test_it_names_the_project_token_in_the_event_log(cast, release):
    _, secret = create_api_token(by=cast.rita, name="shipit", project=cast.project)
    bearer(secret).post(f"/api/releases/{release.pk}/notes/", {"text": "hi"})
    bearer(secret).post(f"/api/releases/{release.pk}/scope-items/", {"title": "From CI"})
    event = release.events.get(verb="scope_added", summary__contains="From CI")
    assert event.actor is None
    assert event.actor_label == "CI token shipit"


def test_it_refuses_a_token_without_a_name(cast):
    with pytest.raises(ValidationError) as caught:
        create_api_token(by=cast.rita, name="   ")
    assert "name" in caught.value.message_dict
    assert not ApiToken.objects.exists()


def test_it_keeps_revoked_tokens_listed_with_when(cast):
    token, _ = create_api_token(by=cast.rita, name="old")
    before = timezone.now()
    revoke_api_token(token, by=cast.rita)
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert token.revoked_at >= before
    assert ApiToken.objects.filter(pk=token.pk).exists()
