"""The page and the API are two doors to one rulebook: every release action, tried by every
member of the cast on a release in every state, gets the same outcome through both, refused
with the same status and the same sentence.

Each attempt is rolled back to a savepoint made before the first, so both doors see the same
release.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from lib.errors import NotAllowed
from monitoring.services import health
from releases import access as rules
from releases.models import Release
from releases.services.lifecycle import cancel_release, lock_scope, mark_health
from releases.services.rollback import roll_back
from tests.builders import (
    Cast,
    Rewind,
    make_approved,
    make_deploying,
    make_monitoring,
    make_release,
    sessions,
    signed_in,
)

pytestmark = pytest.mark.django_db

CAST = ("rita", "paul", "quinn", "dana", "devin", "vic")


@dataclass(frozen=True)
class Action:
    page: str  # the page's address under /releases/<pk>/
    api: str  # the API's address under /api/releases/<pk>/
    body: dict[str, Any]


ACTIONS = (
    Action("do/lock_scope/", "lock-scope/", {}),
    Action("do/cancel/", "cancel/", {"reason": "Not needed any more"}),
    Action("do/start_deploy/", "start-deploy/", {"override_reason": ""}),
    Action("do/finish_deploy/", "finish-deploy/", {}),
    Action("do/complete/", "complete/", {}),
    Action("do/restore_health/", "restore-health/", {"reason": "The spike was a load test"}),
    Action("do/roll_back/", "roll-back/", {"reason": "Errors after the deploy"}),
    Action("do/finish_rollback/", "finish-rollback/", {}),
    Action("do/carry_forward/", "carry-forward/", {"version": "9.9.9"}),
    Action("poll/", "poll/", {}),
    Action("sign-off/", "sign-offs/", {"role": "qa", "decision": "go", "comment": ""}),
    Action("decision/", "decisions/", {"outcome": "go", "notes": "", "override_reason": ""}),
    Action("scope/", "scope-items/", {"title": "Late idea", "kind": "feature", "risk": "low"}),
    Action("notes/", "notes/", {"text": "Seen on staging."}),
    Action("incidents/", "incidents/", {"title": "Checkout errors", "severity": "sev2"}),
)


def _frozen(cast: Cast) -> Release:
    return lock_scope(make_release(cast, "2.0.0"), by=cast.rita)


def _unhealthy(cast: Cast) -> Release:
    release = make_monitoring(make_release(cast, "2.4.0"), cast)
    return mark_health(release, "unhealthy", by="Greenlight", reason="5xx spike")


def _rolled_back(cast: Cast) -> Release:
    release = make_deploying(make_release(cast, "2.5.0"), cast)
    return roll_back(release, by=cast.dana, reason="Errors")


def _monitoring_over(cast: Cast, version: str) -> Release:
    release = make_monitoring(make_release(cast, version), cast)
    past = timezone.now() - dt.timedelta(minutes=1)
    Release.objects.filter(pk=release.pk).update(monitoring_until=past)
    return release


def _released(cast: Cast) -> Release:
    release = _monitoring_over(cast, "2.6.0")
    health.release_if_healthy(release, by=cast.rita)
    return release


def _cancelled(cast: Cast) -> Release:
    return cancel_release(make_release(cast, "2.7.0"), by=cast.rita, reason="Dropped")


# A release in every state, each built on its own so that the states are separate tests.
STATES: dict[str, Callable[[Cast], Release]] = {
    "planning": lambda cast: make_release(cast, "1.0.0"),
    "frozen": _frozen,
    "approved": lambda cast: make_approved(make_release(cast, "2.1.0"), cast),
    "deploying": lambda cast: make_deploying(make_release(cast, "2.2.0"), cast),
    "monitoring": lambda cast: _monitoring_over(cast, "2.3.0"),
    "unhealthy": _unhealthy,
    "rolled_back": _rolled_back,
    "released": _released,
    "cancelled": _cancelled,
}


def outcome_of_page(client: Client, release: Release, action: Action) -> tuple[str, int, str]:
    response = client.post(f"/releases/{release.pk}/{action.page}", action.body)
    # A plain POST is redirected on success; the page's own htmx POST gets its section back.
    if response.status_code == (200 if "HTTP_HX_REQUEST" in client.defaults else 302):
        return ("allowed", 0, "")
    if response.status_code == 422:
        return ("refused", 422, "")
    problem = response.context["page"].problem if response.context else ""
    return ("refused", response.status_code, problem)


def outcome_of_api(client: APIClient, release: Release, action: Action) -> tuple[str, int, str]:
    response = client.post(f"/api/releases/{release.pk}/{action.api}", action.body, format="json")
    if response.status_code < 300:
        return ("allowed", 0, "")
    body = response.json()
    detail = body.get("detail", "") if isinstance(body, dict) else ""
    # Field errors are 400 in the API, 422 on the page: the same outcome, bad input, told
    # field by field (the page adds a line above its form).
    if response.status_code == 400:
        return ("refused", 422, "")
    return ("refused", response.status_code, detail)


def attempt(door: Any, client: Any, release: Release, action: Action, rewind: Rewind) -> Any:
    """Knock on one door and roll back, so the next door finds the release as it was."""
    try:
        return door(client, release, action)
    finally:
        rewind()


@pytest.mark.parametrize("state", STATES)
def test_it_gives_the_same_outcome_and_sentence_in_the_page_and_the_api(cast, state):
    release = STATES[state](cast)
    release.refresh_from_db()
    pages, apis = {}, {}
    for name, session in zip(CAST, sessions(*(getattr(cast, name) for name in CAST)), strict=True):
        # As the page's buttons post (htmx): the same rules and services as a plain POST, the
        # refusal told in the section rather than in the whole page rendered again.
        pages[name] = signed_in(Client(headers={"HX-Request": "true"}), session)
        apis[name] = signed_in(APIClient(), session)

    differences = []
    outcomes = set()
    rewind = Rewind()
    for action in ACTIONS:
        for name in CAST:
            page = attempt(outcome_of_page, pages[name], release, action, rewind)
            api = attempt(outcome_of_api, apis[name], release, action, rewind)
            if page != api:
                differences.append(f"{action.page} by {name} ({state}): page {page}, api {api}")
            outcomes.add(page[0])

    assert not differences, "\n".join(differences)
    # Both outcomes occur, so the walk compared something.
    assert outcomes == {"allowed", "refused"}


def test_it_refuses_a_viewer_with_the_rules_sentence_in_both_doors(cast):
    release = make_release(cast)
    page, api = Client(), APIClient()
    page.force_login(cast.vic)
    api.force_login(cast.vic)

    on_page = outcome_of_page(page, release, ACTIONS[0])
    in_api = outcome_of_api(api, release, ACTIONS[0])

    assert on_page == in_api == ("refused", 403, "Only a release manager locks the scope.")


def test_it_has_the_service_ask_the_same_rule_for_a_person(cast):
    release = make_release(cast)

    with pytest.raises(NotAllowed) as refusal:
        lock_scope(release, by=cast.vic)

    assert str(refusal.value) == rules.LOCK_SCOPE.refusal
    release.refresh_from_db()
    assert release.status == "planning"
    # A machine is let in by its own door; the service does not ask it to be a person.
    assert lock_scope(release, by="Greenlight").status == "frozen"
