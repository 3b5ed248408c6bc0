"""Incidents through the API: recorded and corrected under the release, reported by incident
tools at the project (PagerDuty's incident object among them), idempotent per tool and id."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from releases.models import Incident, Release, ReleaseEvent
from tests.api.conftest import bearer, project_token
from tests.builders import make_monitoring, make_release

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(second=0, microsecond=0)


def ago(minutes: int) -> str:
    return (NOW - dt.timedelta(minutes=minutes)).isoformat()


def signed_in(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def live(cast, release):
    """Deployed two hours ago, on commit aaaa…, in its monitoring window."""
    make_monitoring(release, cast)
    Release.objects.filter(pk=release.pk).update(deploy_started_at=NOW - dt.timedelta(hours=2))
    release.refresh_from_db()
    return release


def pagerduty_incident(**changes):
    """An incident as PagerDuty's REST API v2 lists it: the fields named in the reference notes
    on incident tools (external-apis-2.md, section 10), values made up; plus the version the
    relay adds."""
    incident = {
        "version": "1.0.0",
        "id": "PT4KHLK",
        "incident_number": 1234,
        "title": "The server is on fire.",
        "status": "triggered",
        "urgency": "high",
        "created_at": ago(50),
        "last_status_change_at": ago(50),
        "html_url": "https://acme.pagerduty.com/incidents/PT4KHLK",
        "incident_key": "baf7cf21b1da41b4b0221008339ff357",
        "service": {"id": "PIJ90N7", "summary": "Payments API"},
        "assignments": [],
    }
    return incident | changes


def test_it_records_and_lists_a_releases_incidents(cast, live):
    client = signed_in(cast.dana)

    created = client.post(
        f"/api/releases/{live.pk}/incidents/",
        {
            "title": "Card payments fail",
            "severity": "sev1",
            "started_at": ago(30),
            "link": "https://status.example.com/incidents/17",
        },
        format="json",
    )

    assert created.status_code == 201, created.content
    body = created.json()
    assert body["severity"] == "sev1"
    assert body["resolved_at"] is None
    assert body["source"] == "manual"
    assert body["reported_by"] == "Dana"
    listed = client.get(f"/api/releases/{live.pk}/incidents/").json()
    assert [i["title"] for i in listed["results"]] == ["Card payments fail"]


def test_it_resolves_an_incident_by_patching_its_end(cast, live):
    client = signed_in(cast.dana)
    incident = client.post(
        f"/api/releases/{live.pk}/incidents/",
        {"title": "Errors", "severity": "sev2", "started_at": ago(30)},
        format="json",
    ).json()

    response = client.patch(
        f"/api/releases/{live.pk}/incidents/{incident['id']}/",
        {"resolved_at": ago(10)},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["time_to_restore_seconds"] == 20 * 60
    assert ReleaseEvent.objects.filter(release=live, verb="incident_resolved").exists()


def test_it_answers_bad_input_with_field_errors_and_records_nothing(cast, live):
    response = signed_in(cast.dana).post(
        f"/api/releases/{live.pk}/incidents/",
        {
            "title": "Errors",
            "severity": "sev2",
            "started_at": ago(30),
            "resolved_at": ago(40),
            "link": "javascript:alert(1)",
        },
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()) == {"resolved_at", "link"}
    assert not Incident.objects.exists()


def test_it_refuses_unknown_fields_and_unknown_severities(cast, live):
    response = signed_in(cast.dana).post(
        f"/api/releases/{live.pk}/incidents/",
        {"title": "Errors", "severity": "catastrophic", "priority": "P1"},
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()) == {"severity", "priority"}


def test_it_refuses_an_incident_on_a_release_not_yet_deployed(cast, release):
    response = signed_in(cast.rita).post(
        f"/api/releases/{release.pk}/incidents/",
        {"title": "Errors", "severity": "sev2"},
        format="json",
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": "Incidents are recorded once the release's deploy has started."
    }


def test_it_takes_pagerdutys_incident_and_resolves_it_when_reported_again(cast, live):
    client = bearer(project_token(cast, "pager-relay"))
    url = "/api/projects/payments/incidents/pagerduty/"

    first = client.post(url, pagerduty_incident(), format="json")
    resolved = client.post(
        url,
        pagerduty_incident(status="resolved", last_status_change_at=ago(15)),
        format="json",
    )

    assert first.status_code == 201, first.content
    assert first.json()["created"] is True
    incident = first.json()["incident"]
    assert (incident["severity"], incident["source"], incident["external_id"]) == (
        "sev2",
        "pagerduty",
        "PT4KHLK",
    )
    assert incident["link"] == "https://acme.pagerduty.com/incidents/PT4KHLK"
    assert incident["reported_by"] == "CI token pager-relay"
    assert resolved.status_code == 200
    assert resolved.json()["created"] is False
    # From created_at to the status change to resolved: 50 → 15 minutes ago.
    assert resolved.json()["incident"]["time_to_restore_seconds"] == 35 * 60
    assert Incident.objects.count() == 1


def test_it_prefers_pagerdutys_resolved_at_and_a_given_severity(cast, live):
    response = signed_in(cast.dana).post(
        "/api/projects/payments/incidents/pagerduty/",
        pagerduty_incident(urgency="low", severity="sev1", status="resolved", resolved_at=ago(20)),
        format="json",
    )

    assert response.status_code == 201
    incident = response.json()["incident"]
    assert incident["severity"] == "sev1"
    assert incident["time_to_restore_seconds"] == 30 * 60


def test_it_refuses_a_field_pagerduty_does_not_send(cast, live):
    response = signed_in(cast.dana).post(
        "/api/projects/payments/incidents/pagerduty/",
        pagerduty_incident(escalation="now"),
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"escalation": ["Unknown field, or one that cannot be set here."]}


def test_it_finds_the_release_by_its_deployed_commit(cast, live):
    make_release(cast, "1.1.0")  # planned on the same commit, never deployed
    response = signed_in(cast.quinn).post(
        "/api/projects/payments/incidents/",
        {
            "commit_sha": "a" * 12,
            "source": "opsgenie",
            "external_id": "0f5b2b6c-71d2",
            "title": "Search is slow",
            "severity": "sev3",
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["incident"]["version"] == "1.0.0"


def test_it_says_which_release_it_could_not_find(cast, live):
    client = signed_in(cast.dana)

    unknown = client.post(
        "/api/projects/payments/incidents/",
        {"version": "9.9.9", "external_id": "1", "title": "x", "severity": "sev3"},
        format="json",
    )
    neither = client.post(
        "/api/projects/payments/incidents/",
        {"external_id": "1", "title": "x", "severity": "sev3"},
        format="json",
    )

    assert unknown.status_code == 400
    assert unknown.json() == {"version": ["This project has no release 9.9.9."]}
    assert neither.status_code == 400
    assert list(neither.json()) == ["version"]


def test_it_lists_incidents_in_a_fixed_number_of_queries(cast, live, django_assert_max_num_queries):
    client = signed_in(cast.dana)
    for n in range(5):
        client.post(
            f"/api/releases/{live.pk}/incidents/",
            {"title": f"Errors {n}", "severity": "sev3", "started_at": ago(60 - n)},
            format="json",
        )

    # Session, user, release, roles, project roles, the count, the incidents with who
    # reported them.
    with django_assert_max_num_queries(7):
        response = client.get(f"/api/releases/{live.pk}/incidents/")

    assert len(response.json()["results"]) == 5


def test_it_refuses_to_clear_an_incidents_start(cast, live):
    client = signed_in(cast.dana)
    incident = client.post(
        f"/api/releases/{live.pk}/incidents/",
        {"title": "Errors", "severity": "sev2", "started_at": ago(30)},
        format="json",
    ).json()

    response = client.patch(
        f"/api/releases/{live.pk}/incidents/{incident['id']}/",
        {"started_at": None, "resolved_at": ago(10)},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"started_at": ["Say when it started."]}
