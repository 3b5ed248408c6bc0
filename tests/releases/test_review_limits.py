"""The post-release review's text is bounded like every other text people type: the page, the
API and the service refuse a longer one with a field error and keep what was there."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone

from releases.models import REVIEW_TEXT_MAX, Release, Review
from releases.services.lifecycle import complete_release
from releases.services.review import save_review
from releases.services.tokens import create_api_token
from tests.api.conftest import bearer
from tests.builders import make_monitoring
from tests.html import client_for, htmx_post

pytestmark = pytest.mark.django_db

TOO_LONG = "x" * (REVIEW_TEXT_MAX + 1)


@pytest.fixture
def released(cast, release) -> Release:
    make_monitoring(release, cast)
    Release.objects.filter(pk=release.pk).update(
        monitoring_until=timezone.now() - dt.timedelta(minutes=1)
    )
    complete_release(release, by=cast.rita)
    save_review(release, by=cast.rita, went_well="The canary caught it.")
    return release


def test_it_bounds_each_review_text_at_a_few_pages():
    assert 2000 <= REVIEW_TEXT_MAX <= 10_000
    for name in ("went_well", "went_badly", "caused_stress"):
        field = Review._meta.get_field(name)
        assert isinstance(field, models.Field)
        assert field.max_length == REVIEW_TEXT_MAX


@pytest.mark.parametrize("field", ["went_well", "went_badly", "caused_stress"])
def test_it_refuses_a_too_long_review_text_in_the_service(cast, released, field):
    with pytest.raises(ValidationError) as refused:
        save_review(released, by=cast.rita, **{field: TOO_LONG})

    assert field in refused.value.message_dict
    assert Review.objects.get(release=released).went_well == "The canary caught it."


def test_it_accepts_a_review_text_of_exactly_the_limit(cast, released):
    save_review(released, by=cast.rita, went_badly="y" * REVIEW_TEXT_MAX)

    assert len(Review.objects.get(release=released).went_badly) == REVIEW_TEXT_MAX


def test_it_refuses_a_too_long_review_text_in_the_api_with_a_field_error(cast, released):
    _, secret = create_api_token(by=cast.rita, name="mine")

    response = bearer(secret).put(
        f"/api/releases/{released.pk}/review/", {"went_well": TOO_LONG}, format="json"
    )

    assert response.status_code == 400
    assert "went_well" in response.json()
    assert Review.objects.get(release=released).went_well == "The canary caught it."


def test_it_shows_a_field_error_for_a_too_long_review_text_on_the_page(cast, released):
    response = htmx_post(
        client_for(cast.rita),
        reverse("review_save", args=[released.pk]),
        {"went_well": TOO_LONG, "went_badly": "", "caused_stress": ""},
    )

    assert response.status_code == 422
    assert f"at most {REVIEW_TEXT_MAX} characters" in response.content.decode()
    assert f'maxlength="{REVIEW_TEXT_MAX}"' in response.content.decode()
    assert Review.objects.get(release=released).went_well == "The canary caught it."
