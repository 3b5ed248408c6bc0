"""Release notes on the release page (rendered) and as a Markdown download."""

from __future__ import annotations

import pytest
from django.urls import reverse

from releases.release_notes import render_release_notes
from releases.services.lifecycle import lock_scope
from releases.services.scope import add_scope_item, approve_change_request, request_scope_change
from tests.html import client_for, htmx_get

pytestmark = pytest.mark.django_db


def notes_section(page: str) -> str:
    return page.split('id="sec-notes"')[1].split("</section>")[0]


def test_it_downloads_the_notes_as_a_markdown_file(cast, release):
    add_scope_item(release, by=cast.paul, title="Refunds in one click", key="PAY-7", kind="feature")
    response = client_for(cast.vic).get(reverse("release_notes", args=[release.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="payments-1.0.0-release-notes.md"'
    )
    assert response.content.decode() == render_release_notes(release)
    assert "- PAY-7 Refunds in one click" in response.content.decode()


def test_it_hides_the_notes_from_outsiders(cast, release):
    url = reverse("release_notes", args=[release.pk])
    assert client_for(cast.otto).get(url).status_code == 404
    assert client_for(cast.otto).get(release.get_absolute_url()).status_code == 404


def test_it_shows_the_notes_rendered_on_the_release_page(cast, release):
    add_scope_item(
        release,
        by=cast.paul,
        title="Cards from <script>alert(1)</script> issuers",
        key="PAY-9",
        url="https://tracker.example.com/PAY-9",
        kind="fix",
    )
    add_scope_item(release, by=cast.paul, title="Slow exports", kind="limitation")
    page = client_for(cast.vic).get(release.get_absolute_url()).content.decode()
    notes = notes_section(page)
    assert "<h3>Payments 1.0.0</h3>" in notes
    assert "<h4>Fixes</h4>" in notes
    assert "<h4>Known limitations</h4>" in notes
    assert (
        '<a href="https://tracker.example.com/PAY-9" rel="noopener noreferrer">PAY-9</a>' in notes
    )
    # A title is text, never markup.
    assert "<script>" not in notes
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in notes
    assert f'href="{reverse("release_notes", args=[release.pk])}"' in notes


def test_it_marks_items_added_after_the_freeze_in_the_notes(cast, release):
    lock_scope(release, by=cast.rita)
    change = request_scope_change(
        release, by=cast.devin, action="add", reason="asked", proposal={"title": "Late fix"}
    )
    approve_change_request(change, by=cast.paul, as_role="product")
    approve_change_request(change, by=cast.rita, as_role="release_manager")
    section = htmx_get(
        client_for(cast.vic), reverse("release_section", args=[release.pk, "notes"])
    ).content.decode()
    assert section.lstrip().startswith('<section id="sec-notes"')
    assert "Late fix (<strong>added after the scope freeze</strong>)" in section
    assert "1 item was added after the scope freeze" in section
