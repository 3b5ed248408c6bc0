"""The release page's cached sections: the same HTML as a fresh render, a few queries when
nothing changed, and every change a person or a machine makes on the next view.

Each change is made within the minute of the view before it (the ``clock`` stands still but
for the seconds it is moved), so that it is the page's version that shows it, not the minute.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from approvals.services.policy import set_role_requirement, update_policy
from approvals.services.sign_offs import record_sign_off
from monitoring.models import CheckStatus
from monitoring.services import flags
from monitoring.services import trackers as scope_import
from monitoring.services.results import record_check_result
from releases.models import ChecklistItem, Release, Role
from releases.services.checklists import tick_checklist_item
from releases.services.incidents import record_incident
from releases.services.lifecycle import complete_release, lock_scope
from releases.services.notes import add_note
from releases.services.projects import add_members, set_project_roles
from releases.services.scope import add_scope_item, request_scope_change
from tests.builders import (
    connect_jira,
    connect_launchdarkly,
    make_monitoring,
    make_release,
    make_user,
)
from tests.bulk import crowded_release
from tests.html import client_for, htmx_get
from tests.local_servers import serving
from tests.monitoring.jira_standin import jira_stand_in
from tests.monitoring.launchdarkly_standin import LaunchDarklyStandIn
from workspace.release_cache import csrf_slot

pytestmark = pytest.mark.django_db

# A page whose sections are all cached: the bare page's four (session, user, the header's two),
# the release and the person's roles on it and in its project (three), the version (one).
CACHED_PAGE_QUERIES = 8

TOKEN = re.compile(r'(name="csrfmiddlewaretoken" value="|"X-CSRFToken": ")([^"]+)"')
NONCE = re.compile(r'nonce="[^"]+"')


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    cache.clear()


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    """Time standing still one second into a minute; ``clock.shift(s)`` moves it."""
    start = timezone.now().replace(second=1, microsecond=0) + dt.timedelta(minutes=1)
    with time_machine.travel(start, tick=False) as traveller:
        yield traveller


def view(user, release, client: Client | None = None) -> str:
    client = client or client_for(user)
    response = client.get(release.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def section(page: str, name: str) -> str:
    return page.split(f'id="sec-{name}"', 1)[1].split("</section>", 1)[0]


def without_token(page: str) -> str:
    """The page with its CSRF token (one per page, masked afresh for each response) and its
    scripts' CSP nonce (new for each response) taken out."""
    tokens = {found[1] for found in TOKEN.findall(page)}
    assert len(tokens) == 1, tokens
    assert csrf_slot() not in page
    return NONCE.sub("nonce", TOKEN.sub(r"\1TOKEN\"", page))


@pytest.fixture
def busy(cast, clock):
    """A frozen release with something in every section: scope, a tick, a sign-off, a change
    request, notes."""
    release = make_release(cast, scope=3)
    lock_scope(release, by=cast.rita)
    item = release.checklist_items.get(title="Critical flows pass")
    tick_checklist_item(item, by=cast.quinn, note="All green")
    record_sign_off(release, by=cast.paul, role=Role.PRODUCT, decision="go", comment="Fine")
    request_scope_change(
        release, by=cast.devin, action="add", reason="late", proposal={"title": "Receipts"}
    )
    add_note(release, by=cast.rita, text="Deploy on Tuesday")
    clock.shift(5)
    return release


# --- the same page, cheaper ---------------------------------------------------------------------


def test_it_serves_from_the_cache_the_page_it_renders_afresh(cast, busy):
    for person in (cast.rita, cast.paul, cast.quinn, cast.vic):
        client = client_for(person)
        cache.clear()
        fresh = view(person, busy, client)
        with CaptureQueriesContext(connection) as queries:
            cached = view(person, busy, client)
        assert len(queries) <= CACHED_PAGE_QUERIES
        assert without_token(cached) == without_token(fresh)


def test_it_serves_a_cached_section_alone_as_rendered_afresh(cast, busy):
    client = client_for(cast.rita)
    url = reverse("release_section", args=[busy.pk, "signoffs"])
    fresh = htmx_get(client, url).content.decode()
    cached = htmx_get(client, url).content.decode()
    assert TOKEN.sub("", cached) == TOKEN.sub("", fresh)
    assert TOKEN.sub("", section(view(cast.rita, busy, client), "signoffs")) in TOKEN.sub(
        "", cached
    )


def test_it_loads_the_release_once_for_the_live_refresh_of_every_section(
    cast, busy, django_assert_max_num_queries
):
    client = client_for(cast.rita)
    view(cast.rita, busy, client)
    add_note(busy, by=cast.quinn, text="Smoke tests green")
    # The live refresh: every section asks for itself; the first renders them all.
    url = reverse("release_section", args=[busy.pk, "events"])
    assert "Smoke tests green" in htmx_get(client, url).content.decode()
    for name in ("header", "signoffs", "checklists", "scope", "checks"):
        url = reverse("release_section", args=[busy.pk, name])
        # The session, the user, the release and the person's roles, the version.
        with django_assert_max_num_queries(6):
            cached = htmx_get(client, url).content.decode()
        cache.clear()
        assert TOKEN.sub("", cached) == TOKEN.sub("", htmx_get(client, url).content.decode())


@pytest.mark.parametrize("count", [10, 200])
def test_it_reads_a_cached_page_in_a_few_queries_however_much_data(
    cast, count, django_assert_max_num_queries
):
    release = crowded_release(cast, count)
    client = client_for(cast.rita)
    view(cast.rita, release, client)
    with django_assert_max_num_queries(CACHED_PAGE_QUERIES) as queries:
        page = view(cast.rita, release, client)
    assert f"Extra {count - 1}" in page
    # The sections' data is not loaded at all.
    read = " ".join(q["sql"] for q in queries.captured_queries)
    assert "releases_checklistitem" not in read
    assert "approvals_signoff" not in read


# --- every change on the next view --------------------------------------------------------------


def test_it_shows_a_tick_on_the_next_view(cast, release, clock):
    assert "Ticked by" not in section(view(cast.rita, release), "checklists")
    item = release.checklist_items.get(title="Critical flows pass")
    tick_checklist_item(item, by=cast.quinn, note="All green")
    assert "Ticked by Quinn" in section(view(cast.rita, release), "checklists")


def test_it_shows_a_sign_off_on_the_next_view(cast, release, clock):
    lock_scope(release, by=cast.rita)
    assert 'data-testid="signoff-product-paul">Waiting' in view(cast.rita, release)
    record_sign_off(release, by=cast.paul, role=Role.PRODUCT, decision="go")
    assert 'data-testid="signoff-product-paul">Go' in view(cast.rita, release)


def test_it_shows_a_note_on_the_next_view(cast, release, clock):
    view(cast.vic, release)
    add_note(release, by=cast.rita, text="Deploy on Tuesday")
    assert "Deploy on Tuesday" in section(view(cast.vic, release), "events")


def test_it_shows_a_scope_change_on_the_next_view(cast, release, clock):
    view(cast.vic, release)
    add_scope_item(release, by=cast.rita, title="Receipts by email")
    assert "Receipts by email" in section(view(cast.vic, release), "scope")


def test_it_shows_an_approval_policy_edit_on_the_next_view(cast, release, clock):
    lock_scope(release, by=cast.rita)
    assert 'id="role-product"' in section(view(cast.vic, release), "signoffs")
    set_role_requirement(
        cast.project, by=cast.rita, release_kind="standard", role="product", quorum=0
    )
    assert 'id="role-product"' not in section(view(cast.vic, release), "signoffs")


def test_it_shows_a_new_project_role_on_the_next_view(cast, release, clock):
    assert 'id="do-lock_scope"' not in view(cast.dana, release)
    set_project_roles(cast.project, cast.dana, [Role.DEVOPS, Role.RELEASE_MANAGER], by=cast.rita)
    assert 'id="do-lock_scope"' in view(cast.dana, release)


def test_it_shows_a_check_read_again_with_the_same_status(cast, release, clock):
    check = release.checks.get()
    record_check_result(check, status=CheckStatus.PENDING, value="queued", source="api")
    clock.shift(5)
    assert "queued" in section(view(cast.vic, release), "checks")
    # The same status: no event, only the check's own time and value move.
    record_check_result(check, status=CheckStatus.PENDING, value="running", source="api")
    checks = section(view(cast.vic, release), "checks")
    assert "running" in checks
    assert "queued" not in checks


def test_it_shows_a_sign_off_going_stale_in_the_next_minute(cast, release):
    update_policy(cast.project, by=cast.rita, sign_off_expiry_days=1)
    lock_scope(release, by=cast.rita)
    signed = timezone.now().replace(second=0, microsecond=0)
    with time_machine.travel(signed, tick=False):
        record_sign_off(release, by=cast.paul, role=Role.PRODUCT, decision="go")
    expiry = signed + dt.timedelta(days=1)
    with time_machine.travel(expiry - dt.timedelta(seconds=1), tick=False):
        assert 'data-testid="signoff-product-paul">Go' in view(cast.rita, release)
    # Nothing was written: only the minute moved.
    with time_machine.travel(expiry + dt.timedelta(seconds=1), tick=False):
        assert 'data-testid="signoff-product-paul">Stale' in view(cast.rita, release)


def test_it_shows_a_feature_flag_read_again_from_its_provider(cast, release, clock):
    held = {"new-checkout": {"production": False, "test": True}}
    with serving(LaunchDarklyStandIn(held)) as standin:
        launchdarkly = connect_launchdarkly(cast, standin.url)
        item = release.scope_items.first()
        flags.bind_flag(item, by=cast.devin, integration=launchdarkly, key="new-checkout")
        flags.read_flag_states(release)
        clock.shift(5)
        assert section(view(cast.vic, release), "flags").count("on for 100 %") == 1
        # Reading the states logs no event: the flags' own time moves.
        held["new-checkout"]["production"] = True
        flags.read_flag_states(release)
        assert section(view(cast.vic, release), "flags").count("on for 100 %") == 2


def test_it_shows_a_flag_switch_put_back_in_the_queue_after_a_failed_call(cast, release, clock):
    held = {"new-checkout": {"production": True, "test": True}}
    with serving(LaunchDarklyStandIn(held)) as standin:
        launchdarkly = connect_launchdarkly(cast, standin.url)
        item = release.scope_items.first()
        flag = flags.bind_flag(item, by=cast.devin, integration=launchdarkly, key="new-checkout")
    # The provider is gone: the call fails, and the switch waits for another attempt.
    switch = flags.turn_flag_off(flag, by=cast.dana, reason="errors")
    clock.shift(5)
    assert "waiting to be sent</div>" in section(view(cast.vic, release), "flags")
    assert flags.deliver_switch(switch.pk).outcome == "retry"
    # Claimed and put back without an event: the switch's own stamp moves.
    assert "waiting to be sent – " in section(view(cast.vic, release), "flags")


def test_it_shows_a_trackers_new_status_after_a_scheduled_sync(cast, clock):
    with jira_stand_in() as jira:
        tracker = connect_jira(cast, jira.url)
        release = make_release(cast, "1.2.0", scope=0)
        scope_import.add_scope_source(
            release, by=cast.paul, integration=tracker, source="fix_version"
        )
        jira.set_status("PAY-2", "In Progress", "indeterminate")
        scope_import.sync_due_sources()
        clock.shift(5)
        assert "Not done: In Progress" in section(view(cast.vic, release), "trackers")
        # Nothing added nor failed: a scheduled sync logs no event.
        jira.set_status("PAY-2", "Done", "done")
        scope_import.sync_due_sources()
        assert "Not done: In Progress" not in section(view(cast.vic, release), "trackers")


def test_it_shows_in_a_review_an_incident_of_another_release_of_the_project(cast, clock):
    finished = make_monitoring(make_release(cast, "1.0.0"), cast)
    Release.objects.filter(pk=finished.pk).update(monitoring_until=timezone.now())
    complete_release(finished, by=cast.rita)
    live = make_monitoring(make_release(cast, "1.1.0"), cast)
    clock.shift(5)
    before = section(view(cast.vic, finished), "review")
    # Logged on the other release: the review compares this one with the project's 90 days.
    record_incident(live, by=cast.dana, title="Errors", severity="sev2", started_at=timezone.now())
    after = section(view(cast.vic, finished), "review")
    assert after != before


# --- one viewer, one page -----------------------------------------------------------------------


def test_it_never_shows_one_viewer_another_viewers_buttons(cast, release, clock):
    assert 'id="do-lock_scope"' in view(cast.rita, release)
    pauls = view(cast.paul, release)
    assert 'id="do-lock_scope"' not in pauls
    assert "Cancel release" not in pauls
    assert "You have read-only access to this release." in view(cast.vic, release)


def test_it_never_shows_one_person_the_sign_off_of_another_with_the_same_roles(cast, clock):
    quincy = make_user("quincy", first_name="Quincy")
    add_members(cast.project, {quincy: [Role.QA]}, by=cast.rita)
    release = make_release(cast)
    lock_scope(release, by=cast.rita)
    record_sign_off(release, by=cast.quinn, role=Role.QA, decision="go")
    clock.shift(5)
    assert 'id="withdraw-qa"' in view(cast.quinn, release)
    assert 'id="withdraw-qa"' not in view(quincy, release)


def test_it_shows_the_buttons_of_access_granted_outside_the_project(cast, release, clock):
    assert 'id="do-lock_scope"' not in view(cast.vic, release)
    # An administrator made so in the admin: no event on any release or project.
    get_user_model().objects.filter(pk=cast.vic.pk).update(is_superuser=True)
    cast.vic.refresh_from_db()
    assert 'id="do-lock_scope"' in view(cast.vic, release)


# --- forms --------------------------------------------------------------------------------------


def test_its_forms_post_after_signing_out_and_in_again(cast, release, clock):
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.rita)
    view(cast.rita, release, client)
    client.logout()  # and with it the CSRF cookie: the next page makes a new secret
    client.force_login(cast.rita)
    page = view(cast.rita, release, client)
    found = TOKEN.search(section(page, "events"))
    assert found is not None
    token = found[2]
    response = client.post(
        reverse("note_add", args=[release.pk]),
        {"text": "Posted from a cached page", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    assert release.events.filter(summary__contains="Posted from a cached page").exists()


def test_it_shows_a_failed_form_with_its_errors_and_then_the_page_as_it_was(cast, release, clock):
    client = client_for(cast.rita)
    clean = view(cast.rita, release, client)
    response = client.post(reverse("note_add", args=[release.pk]), {"text": "  "})
    assert response.status_code == 422
    failed = section(response.content.decode(), "events")
    assert "This field is required." in failed
    assert "Please correct the highlighted fields." in failed
    again = view(cast.rita, release, client)
    assert "This field is required." not in again
    assert without_token(again) == without_token(clean)


def test_it_shows_a_flash_message_once_in_its_section(cast, release, clock):
    client = client_for(cast.rita)
    view(cast.rita, release, client)
    response = client.post(reverse("note_add", args=[release.pk]), {"text": "Go on Tuesday"})
    assert response.status_code == 302
    page = view(cast.rita, release, client)
    assert "Note added." in section(page, "events")
    assert "Go on Tuesday" in section(page, "events")
    assert "Note added." not in view(cast.rita, release, client)


def test_it_does_not_keep_a_refused_tick_in_the_cache(cast, release, clock):
    item = release.checklist_items.get(title="Critical flows pass")
    client = client_for(cast.devin)
    view(cast.devin, release, client)
    url = reverse("checklist_tick", args=[release.pk, item.pk])
    response = client.post(url, {f"tick{item.pk}-note": "x"})
    assert response.status_code == 403
    assert 'role="alert"' in section(response.content.decode(), "checklists")
    assert 'role="alert"' not in section(view(cast.devin, release, client), "checklists")
    assert not ChecklistItem.objects.get(pk=item.pk).is_ticked
