"""Your notifications over the API: read them, mark some or all read; a project token has none."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from releases.models import Notification
from releases.notifications import notify
from releases.services.tokens import create_api_token
from tests.api.conftest import bearer, project_token

pytestmark = pytest.mark.django_db

URL = "/api/notifications/"


@pytest.fixture
def quinn(cast) -> APIClient:
    _, secret = create_api_token(by=cast.quinn, name="quinn's laptop")
    return bearer(secret)


def test_it_lists_your_notifications_newest_first_with_their_release(cast, release, quinn):
    notify([cast.quinn], release=release, verb="sign_off_requested", message="Sign off 1.0.0")
    notify([cast.quinn], release=None, verb="note", message="Welcome")
    notify([cast.paul], release=release, verb="sign_off_requested", message="Paul's own")

    body = quinn.get(URL).json()

    assert body["count"] == 2
    latest, older = body["results"]
    assert latest["message"] == "Welcome"
    assert latest["release"] is None
    assert older["message"] == "Sign off 1.0.0"
    assert older["release"] == release.pk
    assert older["project"] == "payments"
    assert older["url"] == f"/releases/{release.pk}/"
    assert older["read"] is False


def test_it_marks_the_given_notifications_read_and_ignores_anyone_elses(cast, release, quinn):
    mine = notify([cast.quinn], release=release, verb="note", message="one")
    notify([cast.quinn], release=release, verb="note", message="two")
    pauls = notify([cast.paul], release=release, verb="note", message="Paul's")

    response = quinn.post(f"{URL}read/", {"ids": [mine[0].pk, pauls[0].pk]})

    assert response.status_code == 200, response.json()
    assert response.json() == {"marked": 1, "unread": 1}
    unread = quinn.get(f"{URL}?unread=true").json()
    assert [n["message"] for n in unread["results"]] == ["two"]
    assert Notification.objects.get(pk=pauls[0].pk).read_at is None
    read = quinn.get(f"{URL}?unread=false").json()["results"]
    assert [(n["message"], n["read"]) for n in read] == [("one", True)]


def test_it_marks_every_notification_read(cast, release, quinn):
    notify([cast.quinn, cast.paul], release=release, verb="note", message="to both")
    notify([cast.quinn], release=release, verb="note", message="to quinn")

    response = quinn.post(f"{URL}read-all/")

    assert response.json() == {"marked": 2, "unread": 0}
    assert quinn.get(f"{URL}?unread=true").json()["count"] == 0
    assert Notification.objects.filter(user=cast.paul, read_at__isnull=True).count() == 1


def test_it_answers_bad_ids_with_a_field_error_and_marks_nothing(cast, release, quinn):
    notify([cast.quinn], release=release, verb="note", message="stays unread")

    bodies: list[dict[str, Any]] = [{"ids": []}, {"ids": ["one"]}, {"ids": [0]}, {}]
    for body in bodies:
        response = quinn.post(f"{URL}read/", body)
        assert response.status_code == 400, body
        assert list(response.json()) == ["ids"]
    assert Notification.objects.filter(read_at__isnull=True).count() == 1


def test_it_refuses_a_project_token_which_has_no_inbox(cast, release):
    notify([cast.rita], release=release, verb="note", message="Rita's")
    ci = bearer(project_token(cast))

    for response in (ci.get(URL), ci.post(f"{URL}read-all/")):
        assert response.status_code == 403
        assert "personal token" in response.json()["detail"]
    assert Notification.objects.get().read_at is None
