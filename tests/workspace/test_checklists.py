"""Ticking checklists on the release page: with htmx, without JavaScript, and refused."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from releases.models import ChecklistItem, Evidence, ReleaseEvent
from tests.html import client_for, htmx_post

pytestmark = pytest.mark.django_db


def item_of(release, title: str) -> ChecklistItem:
    return release.checklist_items.get(title=title)


def tick_url(release, item) -> str:
    return reverse("checklist_tick", args=[release.pk, item.pk])


def test_it_ticks_an_item_with_evidence_and_answers_with_the_section(cast, release):
    item = item_of(release, "Critical flows pass")
    response = htmx_post(
        client_for(cast.quinn),
        tick_url(release, item),
        {
            f"tick{item.pk}-note": "All green on staging",
            f"tick{item.pk}-url": "https://ci.example.com/run/7",
        },
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="sec-checklists"')
    assert "Ticked “Critical flows pass”." in body
    assert "All green on staging" in body
    item.refresh_from_db()
    assert item.ticked_by == cast.quinn
    assert item.evidence_note == "All green on staging"
    assert item.evidence_url == "https://ci.example.com/run/7"
    # The other sections refresh themselves; the one just rendered is skipped.
    trigger = json.loads(response["HX-Trigger"])
    assert trigger == {"gl:changed": {"skip": "sec-checklists"}}


def test_it_ticks_without_javascript_and_redirects_back_with_a_message(cast, release):
    item = item_of(release, "Critical flows pass")
    client = client_for(cast.quinn)
    response = client.post(tick_url(release, item), {f"tick{item.pk}-note": "Done"})
    assert response.status_code == 302
    assert response["Location"] == f"/releases/{release.pk}/#sec-checklists"
    page = client.get(response["Location"]).content.decode()
    assert "Ticked “Critical flows pass”." in page
    assert "Ticked by Quinn" in page


def test_it_refuses_a_tick_by_someone_who_does_not_own_the_item(cast, release):
    item = item_of(release, "Critical flows pass")  # owned by QA
    response = htmx_post(client_for(cast.devin), tick_url(release, item))
    assert response.status_code == 403
    assert "Only the item&#x27;s owner role or the release manager ticks or unticks it." in (
        response.content.decode()
    )
    item.refresh_from_db()
    assert item.ticked_at is None
    assert not ReleaseEvent.objects.filter(release=release, verb="checklist_ticked").exists()


def test_it_lets_the_release_manager_tick_any_item(cast, release):
    item = item_of(release, "Critical flows pass")
    response = htmx_post(client_for(cast.rita), tick_url(release, item))
    assert response.status_code == 200
    item.refresh_from_db()
    assert item.ticked_by == cast.rita


def test_it_shows_field_errors_for_a_bad_evidence_link_and_changes_nothing(cast, release):
    item = item_of(release, "Critical flows pass")
    response = htmx_post(
        client_for(cast.quinn), tick_url(release, item), {f"tick{item.pk}-url": "not a link"}
    )
    assert response.status_code == 422
    assert "Enter a valid URL." in response.content.decode()
    item.refresh_from_db()
    assert item.ticked_at is None


def test_it_says_why_an_item_cannot_be_ticked_twice(cast, release):
    item = item_of(release, "Critical flows pass")
    client = client_for(cast.quinn)
    htmx_post(client, tick_url(release, item))
    response = htmx_post(client, tick_url(release, item))
    assert response.status_code == 409
    assert "is already ticked by quinn" in response.content.decode()


def test_it_unticks_with_a_reason(cast, release):
    item = item_of(release, "Critical flows pass")
    client = client_for(cast.quinn)
    htmx_post(client, tick_url(release, item))
    response = htmx_post(
        client,
        reverse("checklist_untick", args=[release.pk, item.pk]),
        {f"untick{item.pk}-reason": "Flaky on Safari"},
    )
    assert response.status_code == 200
    item.refresh_from_db()
    assert item.ticked_at is None
    event = ReleaseEvent.objects.filter(release=release, verb="checklist_unticked").get()
    assert event.summary == "Unticked “Critical flows pass”: Flaky on Safari"


def test_it_gives_outsiders_a_404_and_changes_nothing(cast, release):
    item = item_of(release, "Critical flows pass")
    response = htmx_post(client_for(cast.otto), tick_url(release, item))
    assert response.status_code == 404
    item.refresh_from_db()
    assert item.ticked_at is None


def test_it_rejects_a_post_without_the_csrf_token(cast, release):
    item = item_of(release, "Critical flows pass")
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.quinn)
    response = client.post(tick_url(release, item), {}, headers={"HX-Request": "true"})
    assert response.status_code == 403
    item.refresh_from_db()
    assert item.ticked_at is None


def test_it_accepts_the_csrf_token_in_the_header_htmx_sends(cast, release):
    item = item_of(release, "Critical flows pass")
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.quinn)
    page = client.get(release.get_absolute_url())
    token = page.cookies["csrftoken"].value
    response = client.post(
        tick_url(release, item), {}, headers={"HX-Request": "true", "X-CSRFToken": token}
    )
    assert response.status_code == 200
    item.refresh_from_db()
    assert item.ticked_by == cast.quinn


def test_it_shows_who_ticked_when_and_marks_required_items(cast, release):
    item = item_of(release, "Critical flows pass")
    htmx_post(client_for(cast.quinn), tick_url(release, item), {f"tick{item.pk}-note": "Seen"})
    page = client_for(cast.vic).get(release.get_absolute_url()).content.decode()
    assert "Ticked by Quinn" in page
    assert "Seen" in page
    assert "Required" in page
    assert "Optional" in page  # "Stakeholders told" is optional


def needs_link(release, title: str = "Critical flows pass") -> ChecklistItem:
    """The item as a release planned from a template requiring a link has it."""
    item = item_of(release, title)
    item.evidence_required = Evidence.LINK
    item.save(update_fields=["evidence_required"])
    return item


def test_it_says_up_front_what_evidence_ticking_an_item_needs(cast, release):
    item = needs_link(release)
    mine = client_for(cast.quinn).get(release.get_absolute_url()).content.decode()
    others = client_for(cast.devin).get(release.get_absolute_url()).content.decode()

    assert f'id="item-{item.pk}-needs">Ticking it needs a link.</p>' in mine
    assert "Evidence link (https://…) (needed)" in mine
    assert "Open · for QA or the release manager to tick · needs a link" in others


def test_it_shows_why_a_tick_without_the_required_link_is_refused_and_keeps_the_note(cast, release):
    item = needs_link(release)
    response = htmx_post(
        client_for(cast.quinn), tick_url(release, item), {f"tick{item.pk}-note": "All green"}
    )

    assert response.status_code == 422
    body = response.content.decode()
    assert (
        f'<ul class="errorlist" id="tick{item.pk}-url-error"><li>This item needs a link to its '
        "evidence (a test report, a dashboard…) before it can be ticked.</li></ul>"
    ) in body
    assert 'value="All green"' in body
    item.refresh_from_db()
    assert item.ticked_at is None


def test_it_shows_the_refusal_on_the_whole_page_without_javascript(cast, release):
    item = needs_link(release)
    response = client_for(cast.quinn).post(tick_url(release, item), {})

    assert response.status_code == 422
    assert "This item needs a link to its evidence" in response.content.decode()
