"""Project settings: members and roles, checklist templates, freeze windows, integrations."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from releases.models import ChecklistTemplate, FreezeWindow, ProjectMembership
from tests.builders import make_user
from tests.html import client_for

pytestmark = pytest.mark.django_db


def url(cast, name: str, *args) -> str:
    return reverse(name, args=[cast.project.slug, *args])


def test_it_shows_the_settings_to_members_and_404_to_outsiders(cast):
    page = client_for(cast.vic).get(url(cast, "project_settings")).content.decode()
    assert "You can read these settings" in page
    assert "Critical flows pass" in page
    assert "CI" in page  # the integrations list
    assert 'method="post" action="/projects' not in page
    assert client_for(cast.otto).get(url(cast, "project_settings")).status_code == 404


def test_it_saves_the_project_details(cast):
    response = client_for(cast.rita).post(
        url(cast, "project_update"),
        {
            "name": "Payments",
            "description": "Cards",
            "monitoring_minutes_standard": 90,
            "monitoring_minutes_hotfix": 30,
            "monitoring_minutes_major": 240,
        },
    )
    assert response.status_code == 302
    cast.project.refresh_from_db()
    assert cast.project.monitoring_minutes_standard == 90


def test_it_changes_a_members_roles_and_adds_a_member(cast):
    client = client_for(cast.rita)
    response = client.post(
        url(cast, "member_save", cast.quinn.pk), {f"m{cast.quinn.pk}-roles": ["qa", "dev"]}
    )
    assert response.status_code == 302
    roles = set(ProjectMembership.objects.filter(user=cast.quinn).values_list("role", flat=True))
    assert roles == {"qa", "dev"}
    newcomer = make_user("nora")
    response = client.post(
        url(cast, "member_add"), {"new-username": "Nora", "new-roles": ["viewer"]}
    )
    assert response.status_code == 302
    assert ProjectMembership.objects.filter(user=newcomer, role="viewer").exists()


def test_it_says_so_when_the_person_to_add_does_not_exist(cast):
    response = client_for(cast.rita).post(
        url(cast, "member_add"), {"new-username": "ghost", "new-roles": ["qa"]}
    )
    assert response.status_code == 422
    assert "Nobody is called &#x27;ghost&#x27; here." in response.content.decode()


def test_it_lets_only_release_managers_change_settings(cast):
    response = client_for(cast.paul).post(
        url(cast, "member_save", cast.paul.pk), {f"m{cast.paul.pk}-roles": ["release_manager"]}
    )
    assert response.status_code == 403
    assert "release managers change its settings." in response.content.decode()
    assert not ProjectMembership.objects.filter(user=cast.paul, role="release_manager").exists()


def test_it_adds_edits_and_removes_checklist_templates(cast):
    client = client_for(cast.rita)
    response = client.post(
        url(cast, "template_add"),
        {
            "tnew-phase": "readiness",
            "tnew-title": "Load test",
            "tnew-owner_role": "qa",
            "tnew-required": "on",
            "tnew-evidence_required": "both",
            "tnew-for_major": "on",
            "tnew-position": 9,
        },
    )
    assert response.status_code == 302
    template = ChecklistTemplate.objects.get(title="Load test")
    assert (template.for_standard, template.for_major) == (False, True)
    assert template.evidence_required == "both"
    listed = client.get(url(cast, "project_settings")).content.decode()
    assert "<td>A note and a link</td>" in listed
    response = client.post(
        url(cast, "template_save", template.pk),
        {
            f"t{template.pk}-phase": "readiness",
            f"t{template.pk}-title": "Load test at 2×",
            f"t{template.pk}-owner_role": "qa",
            f"t{template.pk}-for_major": "on",
            f"t{template.pk}-position": 9,
        },
    )
    assert response.status_code == 302
    template.refresh_from_db()
    assert (template.title, template.required) == ("Load test at 2×", False)
    # A form without the field (an older page, a script) asks for no evidence.
    assert template.evidence_required == "none"
    client.post(url(cast, "template_delete", template.pk))
    assert not ChecklistTemplate.objects.filter(pk=template.pk).exists()


def test_it_refuses_a_template_that_applies_to_no_kind(cast):
    response = client_for(cast.rita).post(
        url(cast, "template_add"),
        {
            "tnew-phase": "readiness",
            "tnew-title": "Orphan",
            "tnew-owner_role": "qa",
            "tnew-position": 0,
        },
    )
    assert response.status_code == 422
    assert "Choose at least one kind of release" in response.content.decode()
    assert not ChecklistTemplate.objects.filter(title="Orphan").exists()


def test_it_adds_one_off_and_weekly_freeze_windows(cast):
    client = client_for(cast.rita)
    response = client.post(
        url(cast, "freeze_add"),
        {
            "fw-reason": "Black Friday",
            "fw-recurrence": "once",
            "fw-starts_at": "2026-11-27T00:00",
            "fw-ends_at": "2026-11-30T08:00",
            "fw-timezone": "UTC",
        },
    )
    assert response.status_code == 302
    response = client.post(
        url(cast, "freeze_add"),
        {
            "fw-reason": "Weekend",
            "fw-recurrence": "weekly",
            "fw-start_weekday": 4,
            "fw-start_time": "15:00",
            "fw-end_weekday": 0,
            "fw-end_time": "08:00",
            "fw-timezone": "Europe/Berlin",
        },
    )
    assert response.status_code == 302
    weekend = FreezeWindow.objects.get(reason="Weekend")
    assert weekend.start_time == dt.time(15, 0)
    page = client.get(url(cast, "project_settings")).content.decode()
    assert "every Friday 15:00 – Monday 08:00 Europe/Berlin" in page
    client.post(url(cast, "freeze_delete", weekend.pk))
    assert not FreezeWindow.objects.filter(pk=weekend.pk).exists()


def test_it_shows_why_a_freeze_window_is_invalid(cast):
    response = client_for(cast.rita).post(
        url(cast, "freeze_add"),
        {"fw-reason": "Broken", "fw-recurrence": "weekly", "fw-timezone": "Mars/Olympus"},
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "Required for a weekly window." in page
    assert not FreezeWindow.objects.exists()


@pytest.mark.parametrize(
    ("minutes", "error"),
    [(0, "greater than or equal to 1"), (7 * 24 * 60 + 1, "less than or equal to 10080")],
)
def test_it_refuses_a_monitoring_window_it_cannot_watch_and_changes_nothing(cast, minutes, error):
    response = client_for(cast.rita).post(
        url(cast, "project_update"),
        {
            "name": "Payments",
            "monitoring_minutes_standard": 120,
            "monitoring_minutes_hotfix": minutes,
            "monitoring_minutes_major": 240,
        },
    )
    assert response.status_code == 422
    assert error in response.content.decode()
    cast.project.refresh_from_db()
    assert cast.project.monitoring_minutes_hotfix == 30


def test_it_shows_the_monitoring_windows_to_viewers(cast):
    page = client_for(cast.vic).get(url(cast, "project_settings")).content.decode()
    assert "standard 120 min · hotfix 30 min · major 240 min" in page
