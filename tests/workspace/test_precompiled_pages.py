"""The dashboard and the releases list as they open run SQL compiled once per process: they
list exactly what their querysets list, for every person and every page."""

from __future__ import annotations

import pytest
from django.db.models import Count, Window

from releases.access import visible_releases
from releases.models import Release, Status
from tests.builders import make_cast, make_release, make_user
from tests.bulk import seed_releases
from workspace import dashboard as dash

pytestmark = pytest.mark.django_db

SIZE = dash.PAGE_SIZE


@pytest.fixture
def people(cast):
    """Two projects of releases over more than two pages: a member of one, a superuser, and
    someone in no project."""
    seed_releases(cast.project, 2 * SIZE + 5, prefix="1")
    other = make_cast("search")
    seed_releases(other.project, 7, prefix="7")
    Release.objects.filter(pk=make_release(cast, "0.1.0").pk).update(status=Status.RELEASED)
    return {
        "member": cast.vic,
        "superuser": make_user("root", is_superuser=True),
        "outsider": make_user("stranger"),
    }


def dashboard_rows(person, number):
    releases = dash.ordered(visible_releases(person, dash.versioned_releases()).active())
    return dash.paginate(releases, number)


@pytest.mark.parametrize("who", ["member", "superuser", "outsider"])
def test_the_dashboard_lists_what_its_queryset_lists_on_every_page(people, who):
    person = people[who]
    compiled = dash.unfiltered_page(person.is_superuser)
    for number in (1, 2, 3, 4, "x"):
        expected = dashboard_rows(person, number)
        got = dash.paginate(compiled, number, pk=person.pk)
        assert list(got.object_list) == list(expected.object_list)
        assert (got.number, got.paginator.count) == (expected.number, expected.paginator.count)
    if who == "outsider":
        assert dash.paginate(compiled, 1, pk=person.pk).paginator.count == 0
    else:
        assert dash.paginate(compiled, 1, pk=person.pk).paginator.count > 2 * SIZE


@pytest.mark.parametrize("who", ["member", "superuser", "outsider"])
def test_the_releases_list_lists_what_its_queryset_lists_on_every_page(people, who):
    person = people[who]
    compiled = dash.unfiltered_list(person.is_superuser)
    releases = dash.newest_first(visible_releases(person))
    for number in (1, 2, 3, 9, None):
        expected = dash.paginate(releases, number, count_apart=True)
        got = dash.paginate(compiled, number, count_apart=True, pk=person.pk)
        assert list(got.object_list) == list(expected.object_list)
        assert (got.number, got.paginator.count) == (expected.number, expected.paginator.count)
    # Every status, the released one included, for a member of the project.
    if who == "member":
        statuses = {row["status"] for row in compiled.dicts(person.pk)}
        assert Status.RELEASED in statuses
        assert compiled.count(person.pk) == releases.count() == 2 * SIZE + 6


def test_the_compiled_dashboard_counts_in_its_page_query(people):
    """The window count comes with the rows, as the queryset's does."""
    person = people["member"]
    compiled = dash.unfiltered_page(False)
    first = compiled.dicts(person.pk, limit=1)[0]
    releases = visible_releases(person, dash.versioned_releases()).active()
    assert first["listed_total"] == releases.count()
    assert first == dash.ordered(releases).annotate(listed_total=Window(Count("pk"))).first()
