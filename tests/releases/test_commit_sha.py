"""The commit people approve: a real SHA (7–40 hex, stored lower-case), and setting it for the
first time or changing it makes every earlier sign-off stale; the poll waits for it."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from approvals.models import SignOff
from approvals.readiness import readiness_for
from approvals.services.decisions import open_poll, record_decision
from approvals.services.policy import update_policy
from lib.errors import Refused
from releases.models import Release
from releases.services.lifecycle import lock_scope
from releases.services.releases import update_release
from tests.builders import make_ready, make_release
from tests.html import client_for

pytestmark = pytest.mark.django_db

BAD_SHAS = ["not a sha!!", "abc12", "g" * 40, "a" * 41, "abc 1234"]


def api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


class TestValidation:
    @pytest.mark.parametrize("sha", BAD_SHAS)
    def test_it_refuses_a_malformed_sha_in_the_service(self, cast, release, sha):
        with pytest.raises(ValidationError) as error:
            update_release(release, by=cast.rita, commit_sha=sha)
        assert error.value.message_dict == {
            "commit_sha": ["A commit SHA is 7 to 40 hexadecimal characters, e.g. 3f9c2ab."]
        }
        assert Release.objects.get(pk=release.pk).commit_sha == "a" * 40

    def test_it_refuses_a_malformed_sha_when_creating_a_release(self, cast):
        with pytest.raises(ValidationError):
            make_release(cast, sha="not a sha!!")
        assert not Release.objects.exists()

    @pytest.mark.parametrize("sha", BAD_SHAS)
    def test_it_answers_400_with_a_field_error_in_the_api(self, cast, release, sha):
        response = api(cast.rita).patch(
            f"/api/releases/{release.pk}/", {"commit_sha": sha}, format="json"
        )
        assert response.status_code == 400
        assert "commit_sha" in response.json()
        assert Release.objects.get(pk=release.pk).commit_sha == "a" * 40

    def test_it_shows_a_field_error_on_the_form(self, cast, release):
        response = client_for(cast.rita).post(
            reverse("release_edit", args=[release.pk]),
            {"commit_sha": "abc12", "environment": "production", "kind": "standard"},
        )
        assert response.status_code == 422
        assert "A commit SHA is 7 to 40 hexadecimal characters" in response.content.decode()

    def test_it_stores_the_sha_lower_case(self, cast, release):
        update_release(release, by=cast.rita, commit_sha="  C0FFEE1234  ")
        assert Release.objects.get(pk=release.pk).commit_sha == "c0ffee1234"
        response = api(cast.rita).patch(
            f"/api/releases/{release.pk}/", {"commit_sha": "DEADBEEF"}, format="json"
        )
        assert response.status_code == 200
        assert response.json()["commit_sha"] == "deadbeef"


class TestStaleness:
    def test_it_stales_every_sign_off_when_the_first_commit_is_set(self, cast):
        release = make_ready(make_release(cast, sha=""), cast)
        assert readiness_for(release).ready
        update_release(release, by=cast.dana, commit_sha="c0ffee1")
        current = SignOff.objects.current().filter(release=release)
        assert current.count() == 4
        assert all(s.stale_reason == "the commit was set to c0ffee1" for s in current)
        assert not readiness_for(release).ready
        with pytest.raises(Refused, match="sign-off is stale"):
            record_decision(release, by=cast.rita, outcome="go")

    def test_it_stales_every_sign_off_when_the_commit_changes(self, cast, release):
        make_ready(release, cast)
        update_release(release, by=cast.dana, commit_sha="b" * 40)
        assert all(
            s.stale_at is not None for s in SignOff.objects.current().filter(release=release)
        )

    def test_it_keeps_the_sign_offs_when_the_same_commit_is_saved_again(self, cast, release):
        make_ready(release, cast)
        update_release(release, by=cast.dana, commit_sha="A" * 40)
        assert readiness_for(release).ready


class TestPollWaitsForTheCommit:
    def test_it_refuses_to_open_the_poll_without_a_commit(self, cast):
        release = make_release(cast, sha="")
        lock_scope(release, by=cast.rita)
        with pytest.raises(Refused, match="opens once the release names its commit"):
            open_poll(release, by=cast.rita)
        assert Release.objects.get(pk=release.pk).poll_opened_at is None
        update_release(release, by=cast.rita, commit_sha="c0ffee1")
        open_poll(release, by=cast.rita)
        assert Release.objects.get(pk=release.pk).poll_opened_at is not None

    def test_it_opens_the_poll_without_a_commit_when_the_policy_allows(self, cast):
        update_policy(cast.project, by=cast.rita, require_commit_before_poll=False)
        release = make_release(cast, sha="")
        lock_scope(release, by=cast.rita)
        open_poll(release, by=cast.rita)
        assert Release.objects.get(pk=release.pk).poll_opened_at is not None
