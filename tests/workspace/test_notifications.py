"""My notifications: listed newest first, marked read one by one or all at once."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.urls import reverse

from releases.models import Notification
from releases.notifications import notify
from tests.html import client_for, htmx_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def notes(cast, release):
    with transaction.atomic():
        notify([cast.paul], release=release, verb="sign_off_requested", message="Sign please")
        notify([cast.paul], release=release, verb="decision", message="Go on 1.0.0")
        notify([cast.quinn], release=release, verb="decision", message="For Quinn only")
    return Notification.objects.filter(user=cast.paul)


def test_it_lists_only_my_notifications_with_links(cast, notes):
    page = client_for(cast.paul).get(reverse("notifications")).content.decode()
    assert "Sign please" in page
    assert "Go on 1.0.0" in page
    assert "For Quinn only" not in page
    assert "2 unread" in page
    assert f'href="{notes.first().url}"' in page


def test_it_marks_one_read(cast, notes):
    note = notes.get(message="Sign please")
    response = htmx_post(client_for(cast.paul), reverse("notifications_read"), {"id": note.pk})
    assert response.status_code == 200
    assert "1 unread" in response.content.decode()
    note.refresh_from_db()
    assert note.read_at is not None
    assert notes.get(message="Go on 1.0.0").read_at is None


def test_it_marks_all_read_without_javascript(cast, notes):
    response = client_for(cast.paul).post(reverse("notifications_read"))
    assert response.status_code == 302
    assert not notes.filter(read_at__isnull=True).exists()
    assert Notification.objects.get(user=cast.quinn).read_at is None


def test_it_cannot_mark_someone_elses_notification(cast, notes):
    theirs = Notification.objects.get(user=cast.quinn)
    client_for(cast.paul).post(reverse("notifications_read"), {"id": theirs.pk})
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert notes.filter(read_at__isnull=True).count() == 2


def test_it_ignores_an_id_that_is_not_a_number(cast, notes):
    response = client_for(cast.paul).post(reverse("notifications_read"), {"id": "x"})
    assert response.status_code == 302
    assert notes.filter(read_at__isnull=True).count() == 2


def test_it_shows_the_unread_count_in_the_header(cast, notes):
    page = client_for(cast.paul).get(reverse("dashboard")).content.decode()
    assert 'aria-label="2 unread"' in page
