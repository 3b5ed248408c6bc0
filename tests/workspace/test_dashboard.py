"""The dashboard: my releases with readiness, sign-off chips and checks; what waits on me."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from approvals.services.policy import set_role_requirement
from approvals.services.sign_offs import record_sign_off
from monitoring.models import CheckPhase, CheckStatus
from monitoring.services.results import record_check_result
from releases.models import Role, Status
from releases.services.checklists import tick_checklist_item
from releases.services.lifecycle import cancel_release, lock_scope
from releases.services.notes import add_note
from releases.services.projects import set_project_roles
from releases.services.releases import update_release
from releases.services.scope import request_scope_change
from tests.builders import make_cast, make_ready, make_release
from tests.bulk import seed_releases
from tests.html import client_for, htmx_get
from workspace.dashboard import change_token

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache():
    """Rows and panels are cached by version; every test starts without any."""
    cache.clear()


def dashboard(user, **params) -> str:
    return client_for(user).get(reverse("dashboard"), params).content.decode()


def row(page: str, release) -> str:
    match = re.search(rf'<tr id="release-{release.pk}".*?</tr>', page, re.S)
    assert match, f"no row for {release}"
    return match.group(0)


def test_it_lists_active_releases_of_my_projects_only(cast, release):
    other = make_cast("search")
    theirs = make_release(other, "7.0.0")
    cancelled = make_release(cast, "0.9.0")
    cancel_release(cancelled, by=cast.rita, reason="Dropped")
    page = dashboard(cast.vic)
    assert f'id="release-{release.pk}"' in page
    assert f'id="release-{theirs.pk}"' not in page
    assert f'id="release-{cancelled.pk}"' not in page
    assert "No active releases" in dashboard(cast.otto)


def test_it_lists_a_release_created_since_my_last_visit(cast, release):
    assert f'id="release-{release.pk}"' in dashboard(cast.vic)
    newer = make_release(cast, "2.0.0")
    page = dashboard(cast.vic)
    assert f'id="release-{release.pk}"' in page
    assert f'id="release-{newer.pk}"' in page
    assert f'id="release-{newer.pk}"' not in dashboard(make_cast("billing").vic)


def test_it_shows_readiness_blockers_status_chips_and_checks(cast, release):
    lock_scope(release, by=cast.rita)
    record_sign_off(release, by=cast.paul, role="product", decision="go")
    record_sign_off(release, by=cast.quinn, role="qa", decision="no_go", comment="Broken login")
    cells = row(dashboard(cast.rita), release)
    assert "Scope frozen" in cells
    assert re.search(r'data-testid="readiness">\d+%<', cells)
    assert "blockers" in cells
    assert "2 required checklist items are not ticked" in cells  # the first blocker
    assert "Product: Go" in cells
    assert "QA: No-go" in cells
    assert "Developer: Waiting" in cells
    assert "1 pending" in cells


def test_it_shows_the_next_milestone_and_how_far_away(cast):
    release = make_release(cast, "3.0.0", code_freeze_at=timezone.now() + dt.timedelta(days=3))
    cells = row(dashboard(cast.rita), release)
    assert "Code freeze" in cells
    assert "in 2 d" in cells or "in 3 d" in cells


def test_it_filters_by_project_and_status(cast, release):
    other = make_release(cast, "2.0.0")
    lock_scope(other, by=cast.rita)
    page = dashboard(cast.rita, status="frozen")
    assert f'id="release-{other.pk}"' in page
    assert f'id="release-{release.pk}"' not in page
    assert f'id="release-{release.pk}"' in dashboard(cast.rita, project="payments")
    unknown = dashboard(cast.rita, project="nope")
    assert 'id="release-' not in unknown
    assert "Select a valid choice." in unknown


def panel(page: str) -> str:
    return page.split('aria-labelledby="mine-title"')[1].split("</section>")[0]


def test_it_lists_what_waits_on_quinn(cast, release):
    mine = panel(dashboard(cast.quinn))
    assert "Critical flows pass" in mine  # QA's required readiness item
    assert "Migrations reviewed" not in mine  # a developer's item
    assert "Smoke test in production" not in mine  # not due before the deploy


def test_it_asks_for_sign_offs_once_the_scope_is_locked_and_again_when_stale(cast, release):
    assert "your go/no-go as Product" not in panel(dashboard(cast.paul))
    lock_scope(release, by=cast.rita)
    assert "your go/no-go as Product" in panel(dashboard(cast.paul))
    record_sign_off(release, by=cast.paul, role="product", decision="go")
    assert "your go/no-go as Product" not in panel(dashboard(cast.paul))
    update_release(release, by=cast.rita, commit_sha="b" * 40)
    page = panel(dashboard(cast.paul))
    assert "your go/no-go as Product" in page
    assert "Stale – sign again" in page


def test_it_stops_asking_for_a_sign_off_the_approval_policy_no_longer_requires(cast, release):
    lock_scope(release, by=cast.rita)
    assert "your go/no-go as Product" in panel(dashboard(cast.paul))
    set_role_requirement(
        cast.project, by=cast.rita, release_kind="standard", role="product", quorum=0
    )
    assert "your go/no-go as Product" not in panel(dashboard(cast.paul))


def test_it_lists_change_requests_for_a_new_release_manager_of_the_project(cast, release):
    lock_scope(release, by=cast.rita)
    request_scope_change(
        release, by=cast.devin, action="add", reason="late", proposal={"title": "Receipts"}
    )
    assert "Add an item: Receipts" not in panel(dashboard(cast.dana))
    set_project_roles(cast.project, cast.dana, [Role.DEVOPS, Role.RELEASE_MANAGER], by=cast.rita)
    assert "Add an item: Receipts" in panel(dashboard(cast.dana))


def test_it_lists_change_requests_for_product_and_the_release_manager(cast, release):
    lock_scope(release, by=cast.rita)
    request_scope_change(
        release, by=cast.devin, action="add", reason="late", proposal={"title": "Receipts"}
    )
    assert "Add an item: Receipts" in panel(dashboard(cast.paul))
    assert "Add an item: Receipts" in panel(dashboard(cast.rita))
    assert "Add an item: Receipts" not in panel(dashboard(cast.quinn))
    assert "Add an item: Receipts" not in panel(dashboard(cast.devin))  # the requester


def test_it_filters_to_releases_that_need_my_action(cast, release):
    ready = make_release(cast, "2.0.0")
    make_ready(ready, cast)
    page = dashboard(cast.quinn, mine="on")
    assert f'id="release-{release.pk}"' in page
    assert f'id="release-{ready.pk}"' not in page


def test_it_renders_only_the_live_region_for_htmx(cast, release):
    response = htmx_get(client_for(cast.rita), reverse("dashboard"))
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="live"')
    assert "<html" not in body


def test_it_answers_204_to_the_pulse_until_something_is_logged(cast, release):
    client = client_for(cast.rita)
    token = change_token()
    pulse = reverse("dashboard_pulse")
    assert client.get(pulse, {"v": token}).status_code == 204
    item = release.checklist_items.get(title="Critical flows pass")
    tick_checklist_item(item, by=cast.quinn)
    response = client.get(pulse, {"v": token})
    assert response.status_code == 200
    assert response["HX-Trigger"] == '{"gl:changed": {}}'


def test_it_answers_the_pulse_when_the_approval_policy_changes(cast, release):
    client = client_for(cast.rita)
    token = change_token()
    pulse = reverse("dashboard_pulse")
    assert client.get(pulse, {"v": token}).status_code == 204
    set_role_requirement(
        cast.project, by=cast.rita, release_kind="standard", role="product", quorum=0
    )
    assert client.get(pulse, {"v": token}).status_code == 200


def test_it_gives_the_page_and_the_pulse_the_same_token(cast, release):
    page = client_for(cast.rita).get(reverse("dashboard")).content.decode()
    assert f"v={change_token()}" in page


def test_it_shows_the_new_readiness_after_quinn_ticks(cast, release):
    before = re.search(r'data-testid="readiness">(\d+)%', row(dashboard(cast.rita), release))
    for item in release.checklist_items.filter(owner_role="qa"):
        tick_checklist_item(item, by=cast.quinn, note="ok")
    response = htmx_get(client_for(cast.rita), reverse("dashboard"))
    after = re.search(r'data-testid="readiness">(\d+)%', row(response.content.decode(), release))
    assert after is not None
    assert before is not None
    assert int(after.group(1)) > int(before.group(1))


def test_it_pages_through_many_releases(cast):
    seed_releases(cast.project, 30)
    page = dashboard(cast.rita)
    assert page.count('<tr id="release-') == 25
    assert "Page 1 of 2 · 30 releases" in page
    assert dashboard(cast.rita, page=2).count('<tr id="release-') == 5


# The dashboard's queries do not grow with the number of releases: the first view after a
# change loads and computes every row; later views take unchanged rows from the cache.
DASHBOARD_QUERIES = 20
DASHBOARD_QUERIES_UNCHANGED = 5


@pytest.mark.parametrize("count", [10, 200])
def test_it_renders_in_the_same_number_of_queries_for_10_or_200_releases(
    cast, count, django_assert_max_num_queries
):
    releases = seed_releases(cast.project, count)
    request_scope_change(
        next(r for r in releases if r.status == Status.FROZEN),
        by=cast.devin,
        action="add",
        reason="late",
        proposal={"title": "Receipts"},
    )
    client = client_for(cast.rita)
    # Both views within one minute: a row's version also changes with the minute.
    with time_machine.travel(timezone.now(), tick=False):
        with django_assert_max_num_queries(DASHBOARD_QUERIES):
            response = client.get(reverse("dashboard"))
        assert response.status_code == 200
        assert response.content.decode().count('<tr id="release-') == min(count, 25)
        with django_assert_max_num_queries(DASHBOARD_QUERIES_UNCHANGED):
            again = client.get(reverse("dashboard"))
    body = again.content.decode().split('<div id="live"')[1]
    assert body == response.content.decode().split('<div id="live"')[1]


def test_it_recomputes_only_the_row_of_the_release_that_changed(cast):
    first, second = make_release(cast, "1.0.0"), make_release(cast, "2.0.0")
    client = client_for(cast.rita)
    before = client.get(reverse("dashboard")).content.decode()
    item = first.checklist_items.get(title="Critical flows pass")
    tick_checklist_item(item, by=cast.quinn)
    after = client.get(reverse("dashboard")).content.decode()
    assert row(after, first) != row(before, first)
    assert row(after, second) == row(before, second)


# A check's new status changes its release's row and no one's panel: the row is computed again
# (without the health checks, before the deploy), the panel (four queries) is not.
DASHBOARD_QUERIES_ONE_ROW = DASHBOARD_QUERIES - 4 - 1


def test_it_recomputes_only_the_row_of_a_release_whose_check_changed(
    cast, django_assert_max_num_queries
):
    releases = seed_releases(cast.project, 30)
    frozen = next(r for r in releases if r.status == Status.FROZEN)
    check = frozen.checks.get(phase=CheckPhase.PRE_RELEASE)
    client = client_for(cast.rita)
    # Both views within one minute: a row's version also changes with the minute.
    with time_machine.travel(timezone.now(), tick=False):
        before = client.get(reverse("dashboard")).content.decode()
        failing = CheckStatus.FAILING if check.status != CheckStatus.FAILING else "passing"
        record_check_result(check, status=failing, value="3 tests failed", source="api")
        with django_assert_max_num_queries(DASHBOARD_QUERIES_ONE_ROW):
            after = client.get(reverse("dashboard")).content.decode()
    assert row(after, frozen) != row(before, frozen)
    assert panel(after) == panel(before)


def test_it_recomputes_nothing_for_a_new_note(cast, django_assert_max_num_queries):
    releases = seed_releases(cast.project, 30)
    client = client_for(cast.rita)
    with time_machine.travel(timezone.now(), tick=False):
        before = client.get(reverse("dashboard")).content.decode()
        # A row shows nothing of the event log: a note leaves it as it was.
        add_note(releases[0], by=cast.devin, text="Waiting on the payments team")
        with django_assert_max_num_queries(DASHBOARD_QUERIES_UNCHANGED):
            after = client.get(reverse("dashboard")).content.decode()
    assert row(after, releases[0]) == row(before, releases[0])
    assert panel(after) == panel(before)


def test_it_shows_a_tick_in_the_panel_even_when_a_note_came_after_it(cast, release):
    assert "Critical flows pass" in panel(dashboard(cast.quinn))
    tick_checklist_item(release.checklist_items.get(title="Critical flows pass"), by=cast.quinn)
    add_note(release, by=cast.quinn, text="Ticked after the dry run")
    assert "Critical flows pass" not in panel(dashboard(cast.quinn))


def test_it_follows_a_change_of_the_approval_policy_that_logs_no_event(cast, release):
    assert "Product: Waiting" in row(dashboard(cast.rita), release)
    set_role_requirement(
        cast.project, by=cast.rita, release_kind="standard", role="product", quorum=0
    )
    assert "Product:" not in row(dashboard(cast.rita), release)


def test_it_shows_the_last_page_for_a_page_number_past_the_end(cast):
    seed_releases(cast.project, 30)
    page = dashboard(cast.rita, page=9)
    assert "Page 2 of 2 · 30 releases" in page
    assert page.count('<tr id="release-') == 5
    assert dashboard(cast.rita, page="x").count('<tr id="release-') == 25


def test_it_shows_the_last_page_for_a_page_number_beyond_what_the_database_can_count(cast):
    seed_releases(cast.project, 30)

    page = dashboard(cast.rita, page="99999999999999999999")

    assert "Page 2 of 2 · 30 releases" in page


def test_it_offers_a_project_in_the_filters_as_soon_as_i_join_it(cast):
    client = client_for(cast.vic)
    assert 'value="billing"' not in client.get(reverse("dashboard")).content.decode()
    billing = make_cast("billing")
    set_project_roles(billing.project, cast.vic, [Role.VIEWER], by=billing.rita)
    assert (
        '<option value="billing">Billing</option>'
        in client.get(reverse("dashboard")).content.decode()
    )
