"""Incidents on the release page: recorded and resolved with or without JavaScript, offered only
to those who record them, and shown in the review beside the project's last 90 days."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from releases import access as rules
from releases.models import Incident, Release
from releases.services.incidents import record_incident
from releases.services.lifecycle import complete_release
from tests.builders import make_monitoring, make_release
from tests.html import client_for, htmx_post

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(second=0, microsecond=0)
FORMAT = "%Y-%m-%dT%H:%M"


def ago(minutes: int) -> dt.datetime:
    return NOW - dt.timedelta(minutes=minutes)


def deployed(cast, release: Release, *, hours_ago: float) -> Release:
    """In its monitoring window, its deploy started ``hours_ago`` and took ten minutes."""
    make_monitoring(release, cast)
    started = NOW - dt.timedelta(hours=hours_ago)
    Release.objects.filter(pk=release.pk).update(
        deploy_started_at=started, deploy_finished_at=started + dt.timedelta(minutes=10)
    )
    release.refresh_from_db()
    return release


def released(cast, version: str, *, hours_ago: float) -> Release:
    release = deployed(cast, make_release(cast, version), hours_ago=hours_ago)
    Release.objects.filter(pk=release.pk).update(monitoring_until=NOW - dt.timedelta(minutes=1))
    complete_release(release, by=cast.rita)
    release.refresh_from_db()
    return release


@pytest.fixture
def live(cast, release):
    return deployed(cast, release, hours_ago=2)


def incidents_section(user, release) -> str:
    page = client_for(user).get(release.get_absolute_url()).content.decode()
    return page.split('id="sec-incidents"')[1].split("</section>")[0]


def test_it_records_an_incident_from_the_page_without_javascript(cast, live):
    response = client_for(cast.dana).post(
        reverse("incident_add", args=[live.pk]),
        {
            "title": "Card payments fail",
            "severity": "sev1",
            "started_at": ago(30).strftime(FORMAT),
            "link": "https://status.example.com/incidents/17",
        },
    )

    assert response.status_code == 302
    incident = Incident.objects.get()
    assert incident.started_at == ago(30)
    section = incidents_section(cast.dana, live)
    assert "Card payments fail" in section
    assert "SEV1 · critical" in section
    assert 'href="https://status.example.com/incidents/17"' in section
    assert "1 open" in section


def test_it_shows_what_is_wrong_in_the_section_and_records_nothing(cast, live):
    response = htmx_post(
        client_for(cast.dana),
        reverse("incident_add", args=[live.pk]),
        {
            "title": "Errors",
            "severity": "sev2",
            "started_at": ago(300).strftime(FORMAT),
            "link": "ftp://files.example.com/log",
        },
    )

    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="sec-incidents"' in html
    assert "belongs to the release that was out then" in html
    assert "Only http:// and https:// links are accepted." in html
    assert not Incident.objects.exists()


def test_it_offers_the_form_only_to_those_who_record_incidents(cast, live):
    assert 'id="incident-add"' in incidents_section(cast.quinn, live)
    assert 'id="incident-add"' not in incidents_section(cast.devin, live)

    response = client_for(cast.devin).post(
        reverse("incident_add", args=[live.pk]), {"title": "Errors", "severity": "sev2"}
    )

    assert response.status_code == 403
    assert response.context["page"].problem == rules.RECORD_INCIDENT.refusal
    assert not Incident.objects.exists()


def test_it_shows_no_incidents_before_the_deploy(cast, release):
    page = client_for(cast.rita).get(release.get_absolute_url()).content.decode()

    assert 'id="incident-add"' not in page
    assert 'href="#sec-incidents"' not in page


def test_it_marks_an_incident_resolved_from_the_page(cast, live):
    incident = record_incident(
        live, by=cast.dana, title="Errors", severity="sev2", started_at=ago(45)
    )

    response = htmx_post(
        client_for(cast.dana),
        reverse("incident_resolve", args=[live.pk, incident.pk]),
        {f"incident{incident.pk}-resolved_at": ago(5).strftime(FORMAT)},
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "service restored after <strong>40 min</strong>" in html
    assert f'id="incident-{incident.pk}-resolve"' not in html
    incident.refresh_from_db()
    assert incident.resolved_at == ago(5)


def test_it_shows_incidents_and_the_projects_90_days_in_the_review(cast):
    # Before it, a release restored in 30 minutes; this one took 1 h 40 min.
    earlier = released(cast, "0.9.0", hours_ago=48)
    record_incident(
        earlier,
        by=cast.dana,
        title="Slow search",
        severity="sev3",
        started_at=NOW - dt.timedelta(hours=47),
        resolved_at=NOW - dt.timedelta(hours=46, minutes=30),
    )
    release = released(cast, "1.0.0", hours_ago=3)
    record_incident(
        release,
        by=cast.dana,
        title="Card payments fail",
        severity="sev1",
        started_at=ago(150),
        resolved_at=ago(50),
    )

    page = client_for(cast.vic).get(release.get_absolute_url()).content.decode()
    review = page.split('id="sec-review"')[1].split("</section>")[0]

    assert "Card payments fail" in review
    assert "restored after 1.7 h" in review
    assert "Against the project's last 90 days" in review
    # Restores 30 min and 1 h 40 min: the median is 65 min, this one 35 min slower.
    assert "35 min slower than the project&#x27;s 90-day median." in review
    assert "failed: 1 incident" in review


def test_it_renders_the_incidents_in_the_same_number_of_queries_however_many(
    cast, live, django_assert_num_queries
):
    client = client_for(cast.rita)
    record_incident(live, by=cast.dana, title="First", severity="sev3", started_at=ago(60))
    url = reverse("release_section", args=[live.pk, "incidents"])
    client.get(url)
    # Rendered afresh both times, not read from the cache of rendered sections.
    cache.clear()
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for n in range(5):
        record_incident(live, by=cast.dana, title=f"More {n}", severity="sev4", started_at=ago(50))

    cache.clear()
    with django_assert_num_queries(len(one.captured_queries)):
        response = client.get(url)

    assert response.content.decode().count('data-testid="incident"') == 6
