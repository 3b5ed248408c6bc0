"""The project's rollback webhook secret: its release managers see it (each time recorded) and
replace it, on a page and over the API; nobody else does either."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from lib.errors import NotAllowed
from monitoring.services.rollback import (
    SECRET_ACTIONS,
    reveal_rollback_webhook_secret,
    rotate_rollback_webhook_secret,
    sign,
    signature_matches,
)
from releases import access as rules
from releases.models import ProjectEvent, ProjectEventKind
from tests.api.conftest import bearer, project_token
from tests.html import client_for

pytestmark = pytest.mark.django_db


def page(cast) -> str:
    return reverse("rollback_secret", args=[cast.project.slug])


def api(cast, verb: str) -> str:
    return f"/api/projects/{cast.project.slug}/rollback-webhook-secret/{verb}/"


def history(cast) -> list[tuple[str, str]]:
    events = ProjectEvent.objects.filter(
        project=cast.project,
        kind=ProjectEventKind.ROLLBACK_SETTINGS,
        action__in=SECRET_ACTIONS,
    ).order_by("pk")
    return [(event.action, event.actor.username if event.actor else "") for event in events]


def test_it_records_each_time_the_secret_is_shown_or_replaced(cast):
    first = reveal_rollback_webhook_secret(cast.project, by=cast.rita)
    second = rotate_rollback_webhook_secret(cast.project, by=cast.rita)
    assert second != first
    assert reveal_rollback_webhook_secret(cast.project, by=cast.rita) == second
    assert history(cast) == [("revealed", "rita"), ("rotated", "rita"), ("revealed", "rita")]


def test_it_records_nothing_for_a_refused_look(cast):
    with pytest.raises(NotAllowed, match="release managers see"):
        reveal_rollback_webhook_secret(cast.project, by=cast.dana)
    assert history(cast) == []


def test_the_page_hides_the_secret_until_asked_and_shows_who_saw_it(cast):
    secret = reveal_rollback_webhook_secret(cast.project, by=cast.rita)
    rita = client_for(cast.rita)

    hidden = rita.get(page(cast))
    shown = rita.post(page(cast), {"action": "reveal"})

    assert hidden.status_code == 200
    assert secret not in hidden.content.decode()
    assert shown.status_code == 200
    assert secret in shown.content.decode()
    assert "no-store" in shown["Cache-Control"]
    assert history(cast) == [("revealed", "rita"), ("revealed", "rita")]
    assert "Revealed by" in rita.get(page(cast)).content.decode()


def test_the_page_replaces_the_secret_and_shows_the_new_one_once(cast):
    old = reveal_rollback_webhook_secret(cast.project, by=cast.rita)
    response = client_for(cast.rita).post(page(cast), {"action": "rotate"})
    new = reveal_rollback_webhook_secret(cast.project, by=cast.rita)
    assert new != old
    assert new in response.content.decode()
    assert old not in response.content.decode()
    body = b'{"event": "rollback"}'
    assert signature_matches(new, body, sign(new, body))


@pytest.mark.parametrize(("who", "status"), [("dana", 403), ("vic", 403), ("otto", 404)])
def test_the_page_refuses_everyone_but_release_managers(cast, who, status):
    client = client_for(getattr(cast, who))
    assert client.get(page(cast)).status_code == status
    assert client.post(page(cast), {"action": "reveal"}).status_code == status
    assert client.post(page(cast), {"action": "rotate"}).status_code == status
    assert history(cast) == []


def test_the_api_shows_and_replaces_the_secret_for_release_managers(cast):
    rita = APIClient()
    rita.force_login(cast.rita)
    shown = rita.post(api(cast, "reveal"))
    rotated = rita.post(api(cast, "rotate"))
    assert shown.status_code == 200
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != shown.json()["secret"]
    assert rotated.json()["secret"] == reveal_rollback_webhook_secret(cast.project, by=cast.rita)
    assert history(cast)[:2] == [("revealed", "rita"), ("rotated", "rita")]


def test_the_api_refuses_everyone_else_with_the_reason(cast):
    dana = APIClient()
    dana.force_login(cast.dana)
    refused = dana.post(api(cast, "reveal"))
    assert refused.status_code == 403
    assert refused.json() == {"detail": rules.SEE_ROLLBACK_SECRET.refusal}
    assert dana.post(api(cast, "rotate")).status_code == 403
    assert bearer(project_token(cast)).post(api(cast, "reveal")).status_code == 403
    otto = APIClient()
    otto.force_login(cast.otto)
    assert otto.post(api(cast, "rotate")).status_code == 404
    assert history(cast) == []
