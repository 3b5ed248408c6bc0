"""Incidents through the API: recorded and corrected under the release, reported by incident
tools at the project (PagerDuty's incident object among them), idempotent per tool and id."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from releases.models import Incident, Release, ReleaseEvent
from releases.serializers import OPSGENIE_NAME_THE_RELEASE
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


def test_it_leaves_unread_the_rest_of_pagerdutys_incident_object(cast, live):
    # More of the incident object than the reference notes list (external-apis-2.md, section
    # 10): what every object of PagerDuty's REST API v2 carries (type, summary, self) and the
    # incident's escalation policy reference. PagerDuty's fields, not Greenlight's to refuse.
    response = signed_in(cast.dana).post(
        "/api/projects/payments/incidents/pagerduty/",
        pagerduty_incident(
            type="incident",
            summary="[#1234] The server is on fire.",
            self="https://api.pagerduty.com/incidents/PT4KHLK",
            escalation_policy={"id": "PT20YPA", "type": "escalation_policy_reference"},
        ),
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["incident"]["title"] == "The server is on fire."


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


# --- Opsgenie's Webhook integration -------------------------------------------------------

OPSGENIE = "/api/projects/payments/incidents/opsgenie/"
RECORDED = Path(__file__).parent.parent / "monitoring" / "recorded" / "opsgenie"


def epoch_ms(minutes: int) -> int:
    return int((NOW - dt.timedelta(minutes=minutes)).timestamp()) * 1000


def epoch_ns(minutes: int) -> int:
    return int((NOW - dt.timedelta(minutes=minutes)).timestamp()) * 1_000_000_000


def opsgenie_alert(action: str = "Create", **alert_changes):
    """A delivery of Opsgenie's Webhook integration, shaped as the "Create" example of
    Opsgenie's alert action data (docs.opsgenie.com/docs/marid-alert-action-data, also
    support.atlassian.com/opsgenie/docs/opsgenie-edge-connector-alert-action-data) and the
    fixtures kept from real deliveries in zulip/zulip zerver/webhooks/opsgenie/fixtures
    (create.json, close.json): createdAt in milliseconds, updatedAt in nanoseconds. Times are
    made recent, priority is P1..P5 as Opsgenie's alerts carry it, and a tag names the release."""
    alert = {
        "alertId": "052652ac-5d1c-464a-812a-7dd18bbfba8c",
        "message": "Checkout error rate above 5 %",
        "tags": ["payments", "version:1.0.0"],
        "tinyId": "23",
        "entity": "",
        "alias": "aliastest",
        "createdAt": epoch_ms(50),
        "updatedAt": epoch_ns(50),
        "username": "System",
        "userId": "daed1180-0ce8-438b-8f8e-57e1a5920a2d",
        "source": "datadog",
        "teams": ["team1"],
        "recipients": ["recipient1"],
        "priority": "P2",
    }
    return {
        "action": action,
        "alert": alert | alert_changes,
        "source": {"name": "web", "type": "API"},
        "integrationId": "37c8f316-17c6-49d7-899b-9c7e540c048d",
        "integrationName": "Greenlight",
        "integrationType": "Webhook",
    }


def test_it_records_an_opsgenie_alert_and_resolves_it_when_closed(cast, live):
    client = bearer(project_token(cast, "opsgenie"))

    created = client.post(OPSGENIE, opsgenie_alert(), format="json")
    closed = client.post(OPSGENIE, opsgenie_alert("Close", updatedAt=epoch_ns(20)), format="json")

    assert created.status_code == 201, created.content
    assert created.json()["created"] is True
    incident = created.json()["incident"]
    assert (incident["source"], incident["external_id"], incident["severity"]) == (
        "opsgenie",
        "052652ac-5d1c-464a-812a-7dd18bbfba8c",
        "sev2",
    )
    assert (incident["version"], incident["title"]) == ("1.0.0", "Checkout error rate above 5 %")
    assert incident["started_at"] == (NOW - dt.timedelta(minutes=50)).isoformat().replace(
        "+00:00", "Z"
    )
    assert incident["resolved_at"] is None
    assert incident["reported_by"] == "CI token opsgenie"
    assert closed.status_code == 200, closed.content
    assert closed.json()["created"] is False
    # From createdAt to the close's updatedAt: 50 → 20 minutes ago.
    assert closed.json()["incident"]["time_to_restore_seconds"] == 30 * 60
    assert Incident.objects.count() == 1
    assert ReleaseEvent.objects.filter(release=live, verb="incident_resolved").count() == 1


def test_it_resolves_an_opsgenie_alert_now_when_its_close_carries_no_time(cast, live):
    client = signed_in(cast.dana)
    client.post(OPSGENIE, opsgenie_alert(), format="json")
    close = opsgenie_alert("Close")
    del close["alert"]["updatedAt"]

    before = timezone.now()
    closed = client.post(OPSGENIE, close, format="json")
    resolved_at = Incident.objects.get().resolved_at

    assert closed.status_code == 200, closed.content
    assert resolved_at is not None
    assert before <= resolved_at <= timezone.now()
    # Sent again later, the close does not move the end.
    client.post(OPSGENIE, close, format="json")
    assert Incident.objects.get().resolved_at == resolved_at


def test_it_changes_an_opsgenie_alert_reported_again_and_never_reopens_it(cast, live):
    client = signed_in(cast.dana)
    client.post(OPSGENIE, opsgenie_alert(), format="json")
    client.post(OPSGENIE, opsgenie_alert("Create"), format="json")  # delivered twice
    client.post(OPSGENIE, opsgenie_alert("Close", updatedAt=epoch_ns(10)), format="json")

    acknowledged = client.post(
        OPSGENIE,
        opsgenie_alert("Acknowledge", message="Checkout down", priority="P1"),
        format="json",
    )

    assert acknowledged.status_code == 200, acknowledged.content
    incident = Incident.objects.get()
    assert (incident.title, incident.severity) == ("Checkout down", "sev1")
    assert incident.resolved_at == NOW - dt.timedelta(minutes=10)
    assert ReleaseEvent.objects.filter(release=live, verb="incident_recorded").count() == 1


@pytest.mark.parametrize(
    ("priority", "severity"),
    [
        ("P1", "sev1"),
        ("P2", "sev2"),
        ("P3", "sev3"),
        ("P4", "sev4"),
        ("P5", "sev4"),
        (None, "sev3"),
    ],
)
def test_it_maps_opsgenie_priorities_to_severities(cast, live, priority, severity):
    body = opsgenie_alert()
    if priority is None:
        del body["alert"]["priority"]  # Opsgenie's default is P3
    else:
        body["alert"]["priority"] = priority

    response = signed_in(cast.dana).post(OPSGENIE, body, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["incident"]["severity"] == severity


def test_it_keeps_the_severity_when_a_later_action_carries_no_priority(cast, live):
    client = signed_in(cast.dana)
    client.post(OPSGENIE, opsgenie_alert(priority="P1"), format="json")
    close = opsgenie_alert("Close")
    del close["alert"]["priority"]  # as in Opsgenie's Close example

    client.post(OPSGENIE, close, format="json")

    assert Incident.objects.get().severity == "sev1"


def test_it_finds_the_release_of_an_opsgenie_alert_by_commit_or_by_its_details(cast, live):
    client = signed_in(cast.dana)

    by_commit = client.post(
        OPSGENIE, opsgenie_alert(alertId="a-1", tags=["commit_sha=" + "a" * 12]), format="json"
    )
    by_details = client.post(
        OPSGENIE,
        opsgenie_alert(alertId="a-2", tags=["payments"], details={"version": "1.0.0"}),
        format="json",
    )

    assert by_commit.status_code == 201, by_commit.content
    assert by_commit.json()["incident"]["version"] == "1.0.0"
    assert by_details.status_code == 201, by_details.content
    assert by_details.json()["incident"]["version"] == "1.0.0"


@pytest.mark.parametrize(
    ("alert", "errors"),
    [
        (
            {"priority": "P9"},
            {"alert": {"priority": ["Give one of Opsgenie's priorities, P1 to P5."]}},
        ),
        (
            {"priority": 6},
            {"alert": {"priority": ["Give one of Opsgenie's priorities, P1 to P5."]}},
        ),
        (
            {"createdAt": "2024-05-01T10:00:00Z"},
            {
                "alert": {
                    "createdAt": ["Give the time as a whole number of milliseconds since 1970."]
                }
            },
        ),
        (
            {"updatedAt": 10**30},
            {
                "alert": {
                    "updatedAt": ["Give the time as a whole number of nanoseconds since 1970."]
                }
            },
        ),
        (
            {"createdAt": True},
            {
                "alert": {
                    "createdAt": ["Give the time as a whole number of milliseconds since 1970."]
                }
            },
        ),
        ({"message": ""}, {"alert": {"message": ["This field may not be blank."]}}),
        (
            {"tags": ["payments"]},
            {
                "alert": {
                    "tags": [
                        "Name the release the alert is about, once: tag it version:<version> or "
                        "commit_sha:<sha> (or give one of them in its details)."
                    ]
                }
            },
        ),
        (
            {"tags": ["version:1.0.0", "version:1.1.0"]},
            {
                "alert": {
                    "tags": [
                        "Name the release the alert is about, once: tag it version:<version> or "
                        "commit_sha:<sha> (or give one of them in its details)."
                    ]
                }
            },
        ),
        ({"tags": ["version:9.9.9"]}, {"version": ["This project has no release 9.9.9."]}),
        ({"createdAt": epoch_ms(-60)}, {"started_at": ["An incident cannot start in the future."]}),
    ],
)
def test_it_answers_a_bad_opsgenie_alert_with_field_errors(cast, live, alert, errors):
    response = signed_in(cast.dana).post(OPSGENIE, opsgenie_alert(**alert), format="json")

    assert response.status_code == 400, response.content
    assert response.json() == errors
    assert not Incident.objects.exists()


def test_it_leaves_unread_what_opsgenie_adds_and_refuses_a_body_without_an_alert(cast, live):
    client = signed_in(cast.dana)
    # Opsgenie's delivery, not Greenlight's: a field it adds is not the sender's mistake.
    body = opsgenie_alert(severity="sev1") | {"escalationTime": 0}

    added = client.post(OPSGENIE, body, format="json")
    empty = client.post(OPSGENIE, {"action": "Create"}, format="json")
    not_an_object = client.post(OPSGENIE, ["Create"], format="json")

    assert added.status_code == 201, added.content
    # The severity comes from the priority (P2); the stray "severity" is not read.
    assert added.json()["incident"]["severity"] == "sev2"
    assert empty.status_code == 400
    assert empty.json() == {"alert": ["This field is required."]}
    assert not_an_object.status_code == 400
    assert Incident.objects.count() == 1


def recorded(name: str, **alert_changes: Any) -> dict[str, Any]:
    """A delivery recorded from Opsgenie (tests/monitoring/recorded/opsgenie/README.md)."""
    body = json.loads((RECORDED / f"{name}.json").read_text())
    body["alert"] |= alert_changes
    return body


def test_it_records_opsgenies_recorded_create_with_a_numeric_priority(cast, live):
    create = recorded(
        "create", tags=["vip", "version:1.0.0"], createdAt=epoch_ms(40), updatedAt=epoch_ns(40)
    )

    response = signed_in(cast.dana).post(OPSGENIE, create, format="json")

    assert response.status_code == 201, response.content
    incident = response.json()["incident"]
    assert (incident["external_id"], incident["title"], incident["severity"]) == (
        "ec03dad6-62c8-4c94-b38b-d88f398e900f",
        "another alert",
        "sev3",
    )


def test_it_resolves_the_alert_with_opsgenies_recorded_close_which_has_no_tags(cast, live):
    client = signed_in(cast.dana)
    alert_id = "052652ac-5d1c-464a-812a-7dd18bbfba8c"
    client.post(OPSGENIE, opsgenie_alert(alertId=alert_id), format="json")
    close = recorded("close", createdAt=epoch_ms(50), updatedAt=epoch_ns(20))
    assert close["alert"]["tags"] == []

    closed = client.post(OPSGENIE, close, format="json")

    assert closed.status_code == 200, closed.content
    incident = Incident.objects.get()
    assert incident.release == live
    assert incident.resolved_at == NOW - dt.timedelta(minutes=20)
    # The title is the close's message now: the alert's latest word.
    assert incident.title == "test alert"


def test_it_answers_opsgenies_recorded_escalate_and_changes_nothing(cast, live):
    client = signed_in(cast.dana)
    alert_id = "7ba97e3a-d328-4b5e-8f9a-39e945a3869a"
    client.post(OPSGENIE, opsgenie_alert(alertId=alert_id, priority="P1"), format="json")
    events = ReleaseEvent.objects.count()

    escalated = client.post(OPSGENIE, recorded("escalate"), format="json")

    assert escalated.status_code == 200, escalated.content
    assert escalated.json()["created"] is False
    incident = Incident.objects.get()
    assert (incident.title, incident.severity, incident.resolved_at) == (
        "Checkout error rate above 5 %",
        "sev1",
        None,
    )
    assert ReleaseEvent.objects.count() == events


def test_it_refuses_an_action_on_an_alert_it_never_recorded_that_names_no_release(cast, live):
    client = signed_in(cast.dana)

    closed = client.post(
        OPSGENIE, recorded("close", createdAt=epoch_ms(50), updatedAt=epoch_ns(20)), format="json"
    )
    escalated = client.post(OPSGENIE, recorded("escalate"), format="json")
    untitled = opsgenie_alert()
    del untitled["alert"]["message"]
    created = client.post(OPSGENIE, untitled, format="json")

    assert closed.status_code == escalated.status_code == 400
    assert closed.json() == escalated.json() == {"alert": {"tags": [OPSGENIE_NAME_THE_RELEASE]}}
    assert created.status_code == 400
    assert created.json() == {
        "alert": {"message": ["Give the alert's message: it is the incident's title."]}
    }
    assert not Incident.objects.exists()


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("own_token", 201),
        ("dana", 201),
        ("vic", 403),
        ("otto", 404),
        ("foreign_token", 404),
        ("anonymous", 401),
    ],
)
def test_it_takes_opsgenie_alerts_from_whoever_may_record_incidents(client_for, live, who, status):
    response = client_for(who).post(OPSGENIE, opsgenie_alert(), format="json")

    assert response.status_code == status, response.content
    assert Incident.objects.exists() is (status == 201)
