"""The releases list: every status, search, filters, pages, only my projects, flat queries."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from releases.models import Release, Role, Status
from releases.services.lifecycle import cancel_release
from releases.services.projects import set_project_roles
from releases.services.releases import update_release
from tests.builders import make_cast, make_release
from tests.bulk import seed_releases
from tests.html import client_for

pytestmark = pytest.mark.django_db


def listed(user, **params) -> list[int]:
    response = client_for(user).get(reverse("release_list"), params)
    assert response.status_code == 200
    return [int(pk) for pk in re.findall(r'<tr id="release-(\d+)"', response.content.decode())]


def test_it_lists_releases_in_every_status_of_my_projects_only(cast):
    active = make_release(cast, "1.0.0")
    cancelled = make_release(cast, "0.9.0")
    cancel_release(cancelled, by=cast.rita, reason="Dropped")
    Release.objects.filter(pk=make_release(cast, "0.8.0").pk).update(status=Status.RELEASED)
    Release.objects.filter(pk=make_release(cast, "0.7.0").pk).update(status=Status.ROLLED_BACK)
    theirs = make_release(make_cast("search"), "7.0.0")
    mine = listed(cast.vic)
    assert set(mine) == set(cast.project.releases.values_list("pk", flat=True))
    assert len(mine) == 4
    assert active.pk in mine
    assert cancelled.pk in mine
    assert theirs.pk not in mine
    assert listed(cast.otto) == []
    page = client_for(cast.vic).get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("release_list")}"' in page


def test_it_searches_by_version_title_and_scope_key(cast):
    first = make_release(cast, "2.4.0", title="Checkout revamp", scope=0)
    second = make_release(cast, "3.1.0", title="Receipts", scope=2)  # PAY-1, PAY-2
    make_release(cast, "4.0.0", title="Other", scope=0)
    assert listed(cast.vic, q="2.4") == [first.pk]
    assert listed(cast.vic, q="checkout") == [first.pk]
    assert listed(cast.vic, q="pay-2") == [second.pk]
    assert listed(cast.vic, q="nothing like it") == []


def test_it_filters_by_project_status_kind_and_date(cast):
    other = make_cast("search")
    other.project.memberships.create(user=cast.vic, role="viewer")
    hotfix = make_release(cast, "1.0.1", kind="hotfix")
    standard = make_release(cast, "1.1.0")
    theirs = make_release(other, "5.0.0")
    cancel_release(standard, by=cast.rita, reason="Dropped")
    assert set(listed(cast.vic)) == {hotfix.pk, standard.pk, theirs.pk}
    assert listed(cast.vic, project="search") == [theirs.pk]
    assert listed(cast.vic, status="cancelled") == [standard.pk]
    assert listed(cast.vic, kind="hotfix") == [hotfix.pk]
    start = timezone.now() + dt.timedelta(days=30)
    update_release(
        hotfix,
        by=cast.rita,
        deploy_window_start=start,
        deploy_window_end=start + dt.timedelta(hours=1),
    )
    day = start.date().isoformat()
    assert listed(cast.vic, after=day) == [hotfix.pk]
    assert hotfix.pk not in listed(cast.vic, before=(start.date() - dt.timedelta(days=1)))
    assert hotfix.pk in listed(cast.vic, before=day)


def test_it_refuses_a_bad_filter_with_the_field_error(cast):
    make_release(cast)
    response = client_for(cast.vic).get(reverse("release_list"), {"status": "nope", "after": "x"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Select a valid choice" in body
    assert "Enter a valid date" in body
    assert '<tr id="release-' not in body


def test_it_pages_through_releases_newest_first(cast):
    seed_releases(cast.project, 30)
    first = client_for(cast.vic).get(reverse("release_list"), {"q": "Bulk"}).content.decode()
    assert first.count('<tr id="release-') == 25
    assert "Page 1 of 2 · 30 releases" in first
    assert "q=Bulk&amp;page=2" in first
    assert len(listed(cast.vic, q="Bulk", page=2)) == 5


def test_it_shows_the_last_page_for_a_page_past_the_end_or_not_a_number(cast):
    seed_releases(cast.project, 30)
    last = listed(cast.vic, q="Bulk", page=2)
    assert listed(cast.vic, q="Bulk", page=9) == last
    assert listed(cast.vic, q="Bulk", page=2**40) == last
    assert len(listed(cast.vic, q="Bulk", page="two")) == 25
    assert listed(cast.vic, q="nothing matches this") == []


def test_it_lists_newest_first_by_deploy_then_planned_window_then_creation(cast):
    now = timezone.now()
    created_only = make_release(cast, "1.0.0")
    planned = make_release(cast, "1.1.0")
    deployed = make_release(cast, "1.2.0")
    Release.objects.filter(pk=planned.pk).update(deploy_window_start=now + dt.timedelta(days=3))
    Release.objects.filter(pk=deployed.pk).update(
        deploy_window_start=now - dt.timedelta(days=9),
        deploy_started_at=now + dt.timedelta(days=1),
    )
    assert listed(cast.vic) == [planned.pk, deployed.pk, created_only.pk]


@pytest.mark.parametrize("count", [10, 200])
def test_it_lists_in_the_same_number_of_queries_for_10_or_200_releases(
    cast, count, django_assert_max_num_queries
):
    standard = sum(r.kind == "standard" for r in seed_releases(cast.project, count))
    client = client_for(cast.rita)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("release_list"), {"q": "Bulk", "kind": "standard"})
    assert response.status_code == 200
    assert response.content.decode().count('<tr id="release-') == min(standard, 25)


def test_it_offers_a_project_in_the_filters_as_soon_as_i_join_it(cast):
    client = client_for(cast.vic)
    assert 'value="billing"' not in client.get(reverse("release_list")).content.decode()
    billing = make_cast("billing")
    set_project_roles(billing.project, cast.vic, [Role.VIEWER], by=billing.rita)
    body = client.get(reverse("release_list")).content.decode()
    assert '<option value="billing">Billing</option>' in body
