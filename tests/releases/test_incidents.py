"""Incidents against a release: recorded by the people who watch it, resolved once, reported
again by a tool without becoming two."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from lib.errors import NotAllowed, Refused
from releases import access as rules
from releases.models import Incident, Notification, Release, ReleaseEvent
from releases.services.incidents import (
    record_incident,
    report_incident,
    reported_release,
    resolve_incident,
    update_incident,
)
from tests.builders import make_monitoring, make_release

pytestmark = pytest.mark.django_db


@pytest.fixture
def live(cast, release):
    """In its monitoring window, deployed two hours ago."""
    make_monitoring(release, cast)
    Release.objects.filter(pk=release.pk).update(
        deploy_started_at=minutes_ago(120), deploy_finished_at=minutes_ago(110)
    )
    release.refresh_from_db()
    return release


# Whole minutes, read once, so differences between the times a test gives are exact.
NOW = timezone.now().replace(second=0, microsecond=0)


def minutes_ago(minutes: int) -> dt.datetime:
    return NOW - dt.timedelta(minutes=minutes)


def test_it_records_an_incident_logs_it_and_tells_the_release_manager(cast, live):
    incident = record_incident(live, by=cast.dana, title="Card payments fail", severity="sev1")

    assert incident.is_open
    assert incident.project == cast.project
    assert incident.created_by == cast.dana
    assert incident.source == "manual"
    event = ReleaseEvent.objects.get(release=live, verb="incident_recorded")
    assert event.summary == "Incident recorded: SEV1 Card payments fail"
    assert event.actor == cast.dana
    assert Notification.objects.filter(user=cast.rita, verb="incident").exists()
    assert not Notification.objects.filter(user=cast.dana, verb="incident").exists()


def test_it_lets_qa_record_an_incident_but_not_a_developer(cast, live):
    record_incident(live, by=cast.quinn, title="Search returns nothing", severity="sev3")

    with pytest.raises(NotAllowed) as refusal:
        record_incident(live, by=cast.devin, title="Slow pages", severity="sev4")

    assert str(refusal.value) == rules.RECORD_INCIDENT.refusal
    assert Incident.objects.count() == 1


def test_it_refuses_an_incident_before_the_release_was_deployed(cast, release):
    with pytest.raises(Refused, match="once the release's deploy has started"):
        record_incident(release, by=cast.rita, title="Too early", severity="sev2")

    assert not Incident.objects.exists()


def test_it_refuses_a_start_before_the_deploy_and_a_resolve_before_the_start(cast, live):
    before_deploy = live.deploy_started_at - dt.timedelta(hours=1)

    with pytest.raises(ValidationError) as error:
        record_incident(
            live,
            by=cast.dana,
            title="Errors",
            severity="sev2",
            started_at=before_deploy,
            resolved_at=before_deploy - dt.timedelta(minutes=5),
        )

    assert "belongs to the release that was out then" in error.value.message_dict["started_at"][0]
    assert error.value.message_dict["resolved_at"] == ["An incident is resolved after it started."]
    assert not Incident.objects.exists()


def test_it_takes_a_start_typed_in_the_minute_the_deploy_started(cast, live):
    """A person types times to the minute: 14:05 for a deploy that started at 14:05:40."""
    Release.objects.filter(pk=live.pk).update(
        deploy_started_at=minutes_ago(30) + dt.timedelta(seconds=40)
    )
    live.refresh_from_db()

    incident = record_incident(
        live, by=cast.dana, title="Errors", severity="sev2", started_at=minutes_ago(30)
    )

    assert incident.started_at == minutes_ago(30)
    with pytest.raises(ValidationError):
        record_incident(
            live, by=cast.dana, title="Errors", severity="sev2", started_at=minutes_ago(31)
        )


def test_it_refuses_an_incident_in_the_future(cast, live):
    with pytest.raises(ValidationError) as error:
        record_incident(
            live,
            by=cast.dana,
            title="Errors",
            severity="sev2",
            started_at=timezone.now() + dt.timedelta(hours=1),
        )

    assert error.value.message_dict["started_at"] == ["An incident cannot start in the future."]


def test_it_refuses_a_link_that_is_not_http(cast, live):
    with pytest.raises(ValidationError) as error:
        record_incident(
            live, by=cast.dana, title="Errors", severity="sev2", link="javascript:alert(1)"
        )

    assert error.value.message_dict["link"] == ["Only http:// and https:// links are accepted."]


def test_it_resolves_an_incident_once_and_logs_the_time_to_restore(cast, live):
    incident = record_incident(
        live, by=cast.dana, title="Errors", severity="sev2", started_at=minutes_ago(45)
    )

    resolved = resolve_incident(incident, by=cast.dana, resolved_at=minutes_ago(5))

    assert resolved.time_to_restore == dt.timedelta(minutes=40)
    event = ReleaseEvent.objects.get(release=live, verb="incident_resolved")
    assert event.summary == "Incident resolved: SEV2 Errors, service restored after 40 min"
    with pytest.raises(Refused, match="already resolved"):
        resolve_incident(resolved, by=cast.dana)


def test_it_corrects_an_incident_and_logs_before_and_after(cast, live):
    incident = record_incident(live, by=cast.quinn, title="Errors", severity="sev3")

    update_incident(incident, by=cast.rita, severity="sev1", title="Checkout down")

    incident.refresh_from_db()
    assert (incident.severity, incident.title) == ("sev1", "Checkout down")
    event = ReleaseEvent.objects.get(release=live, verb="incident_updated")
    assert event.before == {"title": "Errors", "severity": "sev3"}
    assert event.after == {"title": "Checkout down", "severity": "sev1"}


def test_it_changes_a_reported_incident_instead_of_adding_a_second(cast, live):
    started = minutes_ago(30)
    first, created = report_incident(
        live,
        by="CI token pager-relay",
        source="pagerduty",
        external_id="PT4KHLK",
        title="High error rate",
        severity="sev2",
        started_at=started,
    )
    again, created_again = report_incident(
        live,
        by="CI token pager-relay",
        source="pagerduty",
        external_id="PT4KHLK",
        title="High error rate",
        severity="sev2",
        started_at=started,
        resolved_at=minutes_ago(10),
    )

    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert Incident.objects.count() == 1
    assert again.time_to_restore == dt.timedelta(minutes=20)
    assert again.reported_by == "CI token pager-relay"
    # The same id from another tool is another incident.
    _, other = report_incident(
        live, by="relay", source="opsgenie", external_id="PT4KHLK", title="x", severity="sev4"
    )
    assert other is True


def test_it_never_reopens_an_incident_on_a_report_sent_again(cast, live):
    fields: dict[str, Any] = {"title": "Errors", "severity": "sev2", "started_at": minutes_ago(30)}
    report_incident(live, by="relay", source="api", external_id="42", **fields)
    report_incident(
        live, by="relay", source="api", external_id="42", resolved_at=minutes_ago(1), **fields
    )

    incident, created = report_incident(
        live, by="relay", source="api", external_id="42", resolved_at=None, **fields
    )

    assert created is False
    assert incident.resolved_at is not None


def test_it_finds_the_reported_release_by_version_or_deployed_commit(cast, live):
    make_release(cast, "1.1.0", sha="a" * 40)  # planned on the same commit, never deployed

    assert reported_release(cast.project, version="1.0.0") == live
    assert reported_release(cast.project, commit_sha="A" * 12) == live
    with pytest.raises(ValidationError) as error:
        reported_release(cast.project, commit_sha="b" * 40)
    assert "was deployed from commit bbbbbbbbbbbb" in error.value.message_dict["commit_sha"][0]
    with pytest.raises(ValidationError) as error:
        reported_release(cast.project, version="9.9.9")
    assert error.value.message_dict["version"] == ["This project has no release 9.9.9."]
