"""Creating a release and editing its plan in the browser."""

from __future__ import annotations

import pytest
from django.urls import reverse

from approvals.models import SignOff
from approvals.services.sign_offs import record_sign_off
from releases.models import Release
from releases.services.lifecycle import lock_scope
from tests.html import client_for

pytestmark = pytest.mark.django_db


def test_it_creates_a_release_with_its_plan(cast):
    response = client_for(cast.rita).post(
        reverse("release_create"),
        {
            "project": cast.project.pk,
            "version": " 2.6.0 ",
            "kind": "standard",
            "environment": "production",
            "code_freeze_at": "2026-12-01T10:00",
            "go_no_go_at": "2026-12-03T10:00",
            "deploy_window_start": "2026-12-04T14:00",
            "deploy_window_end": "2026-12-04T16:00",
        },
    )
    release = Release.objects.get(version="2.6.0")
    assert response.status_code == 302
    assert response["Location"] == release.get_absolute_url()
    assert release.deploy_window_start is not None
    assert release.deploy_window_start.isoformat() == "2026-12-04T14:00:00+00:00"
    assert release.checklist_items.count() == 4
    assert release.assignments.filter(user=cast.quinn, role="qa").exists()


def test_it_shows_field_errors_and_creates_nothing(cast, release):
    response = client_for(cast.rita).post(
        reverse("release_create"),
        {
            "project": cast.project.pk,
            "version": "1.0.0",  # taken
            "kind": "standard",
            "environment": "production",
            "deploy_window_start": "2026-12-04T14:00",
            "deploy_window_end": "2026-12-04T12:00",
        },
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "The deploy window must end after it starts." in page
    assert Release.objects.count() == 1
    response = client_for(cast.rita).post(
        reverse("release_create"),
        {
            "project": cast.project.pk,
            "version": "1.0.0",
            "kind": "standard",
            "environment": "production",
        },
    )
    assert response.status_code == 422
    assert "Payments already has a release 1.0.0." in response.content.decode()
    assert Release.objects.count() == 1


def test_it_lets_only_release_managers_create_releases(cast):
    assert client_for(cast.paul).get(reverse("release_create")).status_code == 404
    assert client_for(cast.otto).get(reverse("release_create")).status_code == 404
    response = client_for(cast.paul).post(
        reverse("release_create"),
        {
            "project": cast.project.pk,
            "version": "9.9.9",
            "kind": "standard",
            "environment": "production",
        },
    )
    assert response.status_code == 404
    assert not Release.objects.exists()


def test_it_edits_the_plan_and_a_new_commit_makes_sign_offs_stale(cast, release):
    lock_scope(release, by=cast.rita)
    record_sign_off(release, by=cast.paul, role="product", decision="go")
    client = client_for(cast.rita)
    form = client.get(reverse("release_edit", args=[release.pk])).content.decode()
    assert "The kind is fixed once the scope is locked." in form
    response = client.post(
        reverse("release_edit", args=[release.pk]),
        {
            "title": "Saved cards",
            "git_ref": "release/1.0",
            "commit_sha": "C" * 40,
            "environment": "production",
        },
    )
    assert response.status_code == 302
    release.refresh_from_db()
    assert (release.title, release.commit_sha) == ("Saved cards", "c" * 40)
    assert SignOff.objects.current().get(release=release).stale_at is not None


def test_it_rejects_a_commit_sha_that_is_not_hexadecimal(cast, release):
    response = client_for(cast.rita).post(
        reverse("release_edit", args=[release.pk]),
        {"commit_sha": "not-a-sha", "environment": "production", "kind": "standard"},
    )
    assert response.status_code == 422
    assert "A commit SHA is 7 to 40 hexadecimal characters" in response.content.decode()
    release.refresh_from_db()
    assert release.commit_sha == "a" * 40


def test_it_lets_only_a_release_manager_edit(cast, release):
    client = client_for(cast.devin)
    assert client.get(reverse("release_edit", args=[release.pk])).status_code == 403
    response = client.post(
        reverse("release_edit", args=[release.pk]),
        {"title": "Mine now", "environment": "production", "kind": "standard"},
    )
    assert response.status_code == 403
    release.refresh_from_db()
    assert release.title == ""
    assert client_for(cast.otto).get(reverse("release_edit", args=[release.pk])).status_code == 404
