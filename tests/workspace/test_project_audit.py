"""The project's audit page: members read every change, filtered by kind and by person, a page at
a time in a flat number of queries; outsiders get 404."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from approvals.services.policy import update_policy
from releases.services.freeze_windows import save_freeze_window
from releases.services.projects import set_project_roles, update_project
from tests.html import client_for

pytestmark = pytest.mark.django_db

SLACK_URL = "https://hooks.slack.com/services/T0000/B0000/SuperSecretPath42"


def audit_url(cast) -> str:
    return reverse("project_audit", args=[cast.project.slug])


@pytest.fixture
def changes(cast):
    """Rita turns off separation of duties; Dana, made a release manager, sets a freeze."""
    update_policy(cast.project, by=cast.rita, separation_of_duties=False)
    set_project_roles(cast.project, cast.dana, ["devops", "release_manager"], by=cast.rita)
    save_freeze_window(
        cast.project,
        by=cast.dana,
        reason="Year-end freeze",
        recurrence="weekly",
        start_weekday=4,
        start_time="15:00",
        end_weekday=0,
        end_time="08:00",
    )
    update_project(cast.project, by=cast.rita, slack_webhook_url=SLACK_URL)


def test_it_links_the_audit_log_from_the_project_settings(cast):
    page = client_for(cast.vic).get(reverse("project_settings", args=[cast.project.slug]))
    assert audit_url(cast) in page.content.decode()


def test_it_shows_every_change_with_who_and_before_and_after_to_a_viewer(cast, changes):
    response = client_for(cast.vic).get(audit_url(cast))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Approval policy" in page
    assert "Separation of duties" in page
    assert "separation_of_duties" not in page
    assert "<td>yes</td><td>no</td>" in page
    assert "Dana" in page and "Year-end freeze" in page  # noqa: PT018
    assert "DevOps, Release manager" in page
    assert "credentials changed" in page
    assert SLACK_URL not in page


def test_it_answers_404_to_outsiders_and_sends_strangers_to_sign_in(cast, changes):
    assert client_for(cast.otto).get(audit_url(cast)).status_code == 404
    anonymous = client_for(cast.otto)
    anonymous.logout()
    response = anonymous.get(audit_url(cast))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_it_filters_by_kind(cast, changes):
    page = client_for(cast.rita).get(audit_url(cast), {"kind": "freeze_window"}).content.decode()

    assert "Year-end freeze" in page
    assert "Separation of duties" not in page
    assert "DevOps, Release manager" not in page


def test_it_filters_by_person(cast, changes):
    page = client_for(cast.rita).get(audit_url(cast), {"actor": "dana"}).content.decode()

    assert "Year-end freeze" in page
    assert "separation_of_duties" not in page
    assert '<option value="dana" selected>dana</option>' in page
    assert '<option value="rita">rita</option>' in page


def test_it_answers_an_unknown_filter_with_the_field_error_and_no_changes(cast, changes):
    response = client_for(cast.rita).get(audit_url(cast), {"kind": "everything-at-once"})

    assert response.status_code == 400
    page = response.content.decode()
    assert "Select a valid choice" in page
    assert "Year-end freeze" not in page


def test_it_pages_fifty_changes_at_a_time_keeping_the_filter(cast):
    for n in range(55):
        update_project(cast.project, by=cast.rita, description=f"Revision {n}")
    client = client_for(cast.vic)

    first = client.get(audit_url(cast), {"kind": "project"}).content.decode()
    second = client.get(audit_url(cast), {"kind": "project", "page": "2"}).content.decode()

    assert first.count('class="event kind-project"') == 50
    assert "Page 1 of 2" in first
    assert "?kind=project&amp;page=2" in first
    # 55 changes and the project's creation.
    assert second.count('class="event kind-project"') == 6
    assert "Revision 54" in first
    assert "Revision 0" in second


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_it_reads_the_page_in_the_same_number_of_queries_however_long_the_log(
    cast, django_assert_max_num_queries
):
    client = client_for(cast.vic)
    update_project(cast.project, by=cast.rita, description="Once")
    few = count_queries(client, audit_url(cast))
    for n in range(40):
        set_project_roles(cast.project, cast.devin, ["dev", "qa"][: n % 2 + 1], by=cast.dana)
        update_project(cast.project, by=cast.rita, description=f"Revision {n}")

    with django_assert_max_num_queries(few):
        response = client.get(audit_url(cast))
    assert response.content.decode().count('class="event kind-') == 50
    with django_assert_max_num_queries(few):
        client.get(audit_url(cast), {"actor": "dana", "kind": "membership"})


def test_it_records_what_a_settings_form_changed_against_what_was_stored(cast):
    # The page's form fills the template in memory before the service runs; the log still
    # compares with the stored row, so the change is recorded and only the change.
    template = cast.project.checklist_templates.get(title="Critical flows pass")
    prefix = f"t{template.pk}"

    response = client_for(cast.rita).post(
        reverse("template_save", args=[cast.project.slug, template.pk]),
        {
            f"{prefix}-phase": "readiness",
            f"{prefix}-title": "Critical flows pass",
            f"{prefix}-owner_role": "qa",
            f"{prefix}-for_standard": "on",
            f"{prefix}-for_hotfix": "on",
            f"{prefix}-for_major": "on",
            f"{prefix}-position": 0,
        },
    )

    assert response.status_code == 302
    event = cast.project.events.get(kind="checklist_template")
    assert (event.actor, event.action) == (cast.rita, "changed")
    assert (event.before, event.after) == ({"required": True}, {"required": False})
