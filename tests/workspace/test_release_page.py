"""The release page: who sees what, the transitions offered, the sections, the live refresh."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring.models import CheckStatus
from monitoring.services.results import record_check_result
from releases.models import Release, ReleaseEvent, ScopeItem, Status
from releases.services.lifecycle import complete_release, lock_scope, mark_health
from releases.services.notes import add_note
from releases.services.rollback import roll_back
from tests.builders import (
    complete_rollback_plan,
    make_approved,
    make_deploying,
    make_monitoring,
    make_release,
)
from tests.bulk import crowded_release
from tests.html import client_for, htmx_get, htmx_post

pytestmark = pytest.mark.django_db


def action(client, release, name, **data):
    return htmx_post(client, reverse("release_action", args=[release.pk, name]), data)


def test_it_shows_the_release_to_every_member_and_404_to_outsiders(cast, release):
    for person in (cast.rita, cast.paul, cast.quinn, cast.dana, cast.devin, cast.vic):
        assert client_for(person).get(release.get_absolute_url()).status_code == 200
    assert client_for(cast.otto).get(release.get_absolute_url()).status_code == 404
    section = reverse("release_section", args=[release.pk, "checklists"])
    assert client_for(cast.otto).get(section).status_code == 404


def test_it_shows_readiness_blockers_and_milestones_in_the_header(cast, release):
    page = client_for(cast.vic).get(release.get_absolute_url()).content.decode()
    assert "What blocks this release" in page
    assert "The rollback plan is missing how to revert" in page
    assert "Milestones (UTC)" in page
    assert 'data-testid="status">Planning<' in page


def test_it_offers_only_the_transitions_i_may_take(cast, release):
    ritas = client_for(cast.rita).get(release.get_absolute_url()).content.decode()
    assert 'id="do-lock_scope"' in ritas
    assert "Cancel release" in ritas
    pauls = client_for(cast.paul).get(release.get_absolute_url()).content.decode()
    assert 'id="do-lock_scope"' not in pauls
    assert "Cancel release" not in pauls


def test_it_locks_the_scope(cast, release):
    response = action(client_for(cast.rita), release, "lock_scope")
    assert response.status_code == 200
    assert 'data-testid="status">Scope frozen<' in response.content.decode()
    release.refresh_from_db()
    assert release.status == Status.FROZEN


def test_it_refuses_a_forged_transition_and_says_why(cast, release):
    response = action(client_for(cast.devin), release, "lock_scope")
    assert response.status_code == 403
    assert "Only a release manager locks the scope" in response.content.decode()
    release.refresh_from_db()
    assert release.status == Status.PLANNING


def test_it_explains_a_refused_transition(cast):
    empty = make_release(cast, "2.0.0", scope=0)
    response = action(client_for(cast.rita), empty, "lock_scope")
    assert response.status_code == 409
    assert "Cannot lock the scope: it is empty." in response.content.decode()


def test_it_cancels_only_with_a_reason(cast, release):
    client = client_for(cast.rita)
    response = action(client, release, "cancel", reason="")
    assert response.status_code == 422
    release.refresh_from_db()
    assert release.status == Status.PLANNING
    response = action(client, release, "cancel", reason="Folded into 1.1")
    assert response.status_code == 200
    release.refresh_from_db()
    assert release.status == Status.CANCELLED


def test_it_starts_the_deploy_with_an_override_outside_the_deploy_window(cast, release):
    make_approved(release, cast)
    Release.objects.filter(pk=release.pk).update(
        deploy_window_start=timezone.now() + dt.timedelta(days=3)
    )
    dana = client_for(cast.dana)
    page = dana.get(release.get_absolute_url()).content.decode()
    assert "Only a release manager can override" in page
    refused = action(dana, release, "start_deploy", override_reason="")
    assert refused.status_code == 409
    assert "Cannot start the deploy now" in refused.content.decode()
    forbidden = action(dana, release, "start_deploy", override_reason="I am sure")
    assert forbidden.status_code == 403
    release.refresh_from_db()
    assert release.status == Status.APPROVED
    rita = client_for(cast.rita)
    page = rita.get(release.get_absolute_url()).content.decode()
    assert "This needs an override: the deploy window opens at" in page
    response = action(rita, release, "start_deploy", override_reason="Customer escalation")
    assert response.status_code == 200
    release.refresh_from_db()
    assert release.status == Status.DEPLOYING


def test_it_finishes_the_deploy_and_rolls_back(cast, release):
    make_deploying(release, cast)
    client = client_for(cast.dana)
    refused = action(client, release, "finish_deploy")
    assert refused.status_code == 409
    assert "Smoke test in production" in refused.content.decode()
    response = action(client, release, "roll_back", reason="Error rate 4 %")
    assert response.status_code == 200
    release.refresh_from_db()
    assert release.status == Status.ROLLED_BACK


def test_it_marks_a_release_released_after_the_window(cast, release):
    make_monitoring(release, cast)
    client = client_for(cast.rita)
    refused = action(client, release, "complete")
    assert refused.status_code == 409
    assert "the monitoring window has" in refused.content.decode()
    Release.objects.filter(pk=release.pk).update(monitoring_until=timezone.now())
    assert action(client, release, "complete").status_code == 200
    release.refresh_from_db()
    assert release.status == Status.RELEASED


def test_it_gives_viewers_a_page_without_a_single_form_that_changes_something(cast, release):
    lock_scope(release, by=cast.rita)
    page = client_for(cast.vic).get(release.get_absolute_url()).content.decode()
    assert "read-only access" in page
    # The only POST form on a viewer's page is "Log out".
    assert page.count('method="post"') == 1
    assert 'action="/logout/"' in page


def test_it_renders_one_section_for_a_live_refresh(cast, release):
    response = htmx_get(
        client_for(cast.vic), reverse("release_section", args=[release.pk, "checklists"])
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="sec-checklists"')
    assert "<html" not in body
    missing = reverse("release_section", args=[release.pk, "nope"])
    assert client_for(cast.vic).get(missing).status_code == 404


def test_it_answers_204_to_the_pulse_until_something_changes(cast, release):
    client = client_for(cast.vic)
    page = client.get(release.get_absolute_url()).content.decode()
    token = page.split(f"/releases/{release.pk}/pulse/?v=")[1].split('"')[0]
    pulse = reverse("release_pulse", args=[release.pk])
    assert client.get(pulse, {"v": token}).status_code == 204
    add_note(release, by=cast.quinn, text="Starting QA")
    changed = client.get(pulse, {"v": token})
    assert changed.status_code == 200
    assert changed["HX-Trigger"] == '{"gl:changed": {}}'
    assert f"?v={token}" not in changed.content.decode()


def test_it_notices_a_check_evaluated_again_without_a_status_change(cast, release):
    check = release.checks.get()
    record_check_result(check, status=CheckStatus.PENDING, value="queued", source="api")
    client = client_for(cast.vic)
    pulse = reverse("release_pulse", args=[release.pk])
    page = client.get(release.get_absolute_url()).content.decode()
    token = page.split(f"{pulse}?v=")[1].split('"')[0]
    check.refresh_from_db()
    type(check).objects.filter(pk=check.pk).update(
        last_evaluated_at=check.last_evaluated_at + dt.timedelta(seconds=30)
    )
    assert client.get(pulse, {"v": token}).status_code == 200


def test_it_saves_the_rollback_plan_and_says_what_is_missing(cast, release):
    response = htmx_post(
        client_for(cast.dana),
        reverse("rollback_plan", args=[release.pk]),
        {"revert_steps": "Redeploy 0.9", "decider": cast.rita.pk},
    )
    assert response.status_code == 200
    assert "still missing what triggers a rollback" in response.content.decode()
    release.rollback_plan.refresh_from_db()
    assert release.rollback_plan.decider == cast.rita


def test_it_shows_the_rollback_plan_as_saved_each_time_it_changes(cast, release):
    client, url = client_for(cast.dana), reverse("rollback_plan", args=[release.pk])
    htmx_post(client, url, {"revert_steps": "Redeploy 0.9", "decider": cast.rita.pk})
    page = client.get(release.get_absolute_url()).content.decode()
    assert "Redeploy 0.9</textarea>" in page
    assert f'<option value="{cast.rita.pk}" selected>' in page
    htmx_post(client, url, {"revert_steps": "Roll the flag back", "decider": cast.dana.pk})
    page = client.get(release.get_absolute_url()).content.decode()
    assert "Roll the flag back</textarea>" in page
    assert "Redeploy 0.9</textarea>" not in page
    assert f'<option value="{cast.dana.pk}" selected>' in page
    assert f'<option value="{cast.rita.pk}" selected>' not in page


def test_it_offers_each_included_item_for_a_change_request_after_the_freeze(cast, release):
    ScopeItem.objects.create(release=release, title="Refund button", key="PAY-7")
    lock_scope(release, by=cast.rita)
    page = client_for(cast.devin).get(release.get_absolute_url()).content.decode()
    item = ScopeItem.objects.get(release=release, key="PAY-7")
    assert f'<option value="{item.pk}">PAY-7 Refund button</option>' in page


def test_it_refuses_a_decider_from_outside_the_project(cast, release):
    response = htmx_post(
        client_for(cast.dana),
        reverse("rollback_plan", args=[release.pk]),
        {"revert_steps": "Redeploy", "decider": cast.otto.pk},
    )
    assert response.status_code == 422
    release.rollback_plan.refresh_from_db()
    assert release.rollback_plan.revert_steps == ""


def test_it_lets_only_devops_and_the_release_manager_edit_the_rollback_plan(cast, release):
    response = htmx_post(
        client_for(cast.quinn), reverse("rollback_plan", args=[release.pk]), {"revert_steps": "x"}
    )
    assert response.status_code == 403
    release.rollback_plan.refresh_from_db()
    assert release.rollback_plan.revert_steps == ""


def test_it_adds_a_note_to_the_timeline(cast, release):
    response = htmx_post(
        client_for(cast.quinn), reverse("note_add", args=[release.pk]), {"text": "Starting QA"}
    )
    assert response.status_code == 200
    assert "Starting QA" in response.content.decode()
    assert (
        htmx_post(
            client_for(cast.vic), reverse("note_add", args=[release.pk]), {"text": "hi"}
        ).status_code
        == 403
    )
    assert ReleaseEvent.objects.filter(release=release, verb="note").count() == 1


def test_it_lists_events_newest_first_with_the_actor(cast, release):
    add_note(release, by=cast.quinn, text="first")
    add_note(release, by=cast.dana, text="second")
    page = client_for(cast.vic).get(release.get_absolute_url()).content.decode()
    assert page.index("second") < page.index("first")
    assert "Dana" in page


def test_it_writes_the_review_after_the_release(cast, release):
    make_monitoring(release, cast)
    client = client_for(cast.rita)
    early = htmx_post(client, reverse("review_save", args=[release.pk]), {"went_well": "x"})
    # Rita may write the review; the release is not out yet (the state, so 409).
    assert early.status_code == 409
    Release.objects.filter(pk=release.pk).update(monitoring_until=timezone.now())
    complete_release(release, by=cast.rita)
    response = htmx_post(
        client,
        reverse("review_save", args=[release.pk]),
        {"went_well": "Calm deploy", "went_badly": "Cache", "caused_stress": ""},
    )
    assert response.status_code == 200
    assert release.review.went_well == "Calm deploy"


def test_it_assigns_and_removes_roles_on_one_release(cast, release):
    client = client_for(cast.rita)
    response = htmx_post(
        client, reverse("role_assign", args=[release.pk]), {"user": cast.quinn.pk, "role": "dev"}
    )
    assert response.status_code == 200
    assert release.assignments.filter(user=cast.quinn, role="dev").exists()
    htmx_post(
        client, reverse("role_unassign", args=[release.pk]), {"user": cast.quinn.pk, "role": "dev"}
    )
    assert not release.assignments.filter(user=cast.quinn, role="dev").exists()
    forged = htmx_post(
        client_for(cast.devin),
        reverse("role_assign", args=[release.pk]),
        {"user": cast.devin.pk, "role": "product"},
    )
    assert forged.status_code == 403
    assert not release.assignments.filter(user=cast.devin, role="product").exists()


def test_it_sends_qa_to_judge_a_check_that_needs_judgement(cast, release):
    check = release.checks.get()
    record_check_result(check, status=CheckStatus.NEEDS_JUDGEMENT, source="api")
    judge = reverse("release_check_detail", args=[release.pk, check.pk])
    assert (
        f'href="{judge}">Judge it'
        in client_for(cast.quinn).get(release.get_absolute_url()).content.decode()
    )
    assert "Judge it" not in client_for(cast.devin).get(release.get_absolute_url()).content.decode()


def test_it_shows_each_check_with_status_value_and_source(cast, release):
    check = release.checks.get()
    record_check_result(
        check, status="failing", value="2 failed", url="https://ci.example.com/7", source="api"
    )
    page = client_for(cast.vic).get(release.get_absolute_url()).content.decode()
    assert "CI green" in page
    assert "Failing" in page
    assert "2 failed" in page
    assert 'href="https://ci.example.com/7"' in page


# The release page's queries do not grow with releases, scope, checklist items or events (2 of
# them are the feature-flag section's: its flags, and the flag integrations to offer; 4 the
# trackers and commits card's; 2 the page's version and the release read for the access check
# before it, which let a page whose sections are cached skip the rest:
# ``test_release_page_cache.py``). Rendered afresh here: nothing was cached yet.
PAGE_QUERIES = 28


@pytest.mark.parametrize("count", [10, 200])
def test_it_renders_the_page_in_the_same_number_of_queries_however_much_data(
    cast, count, django_assert_max_num_queries
):
    release = crowded_release(cast, count)
    client = client_for(cast.rita)
    with django_assert_max_num_queries(PAGE_QUERIES):
        response = client.get(release.get_absolute_url())
    assert response.status_code == 200
    assert f"Extra {count - 1}" in response.content.decode()


def test_it_adds_and_closes_review_actions_beside_the_facts(cast, release):
    make_deploying(release, cast)
    roll_back(release, by=cast.rita, reason="Error rate 4 %")
    client = client_for(cast.rita)
    page = client.get(release.get_absolute_url()).content.decode()
    assert "Rolled back" in page
    assert "Error rate 4 %" in page
    assert "The facts beside it" in page
    assert "Frozen until approval:" in page  # time in each phase
    response = htmx_post(
        client,
        reverse("review_action_add", args=[release.pk]),
        {"description": "Rehearse the vault migration", "owner": cast.dana.pk},
    )
    assert response.status_code == 200
    action = release.review.actions.get()
    assert action.owner == cast.dana
    response = htmx_post(client, reverse("review_action_done", args=[release.pk, action.pk]))
    assert response.status_code == 200
    action.refresh_from_db()
    assert action.done_at is not None
    refused = htmx_post(
        client_for(cast.vic),
        reverse("review_action_add", args=[release.pk]),
        {"description": "Viewer action"},
    )
    assert refused.status_code == 403
    assert release.review.actions.count() == 1


def test_it_shows_an_unhealthy_release_in_red_with_who_makes_the_call(cast, release):
    make_monitoring(release, cast)
    complete_rollback_plan(release, cast)  # rita decides
    mark_health(release, "unhealthy", by="poller", reason="Error rate 3 % over 5 min")
    page = client_for(cast.vic).get(release.get_absolute_url()).content.decode()
    assert 'class="banner danger" role="alert"' in page
    assert "Error rate 3 % over 5 min" in page
    assert "The rollback call is Rita" in page
    dashboard = client_for(cast.vic).get(reverse("dashboard")).content.decode()
    assert f'<tr id="release-{release.pk}" class="unhealthy">' in dashboard


def test_it_sends_an_expired_live_refresh_to_the_login_page(release):
    pulse = reverse("release_pulse", args=[release.pk])
    page = release.get_absolute_url()
    response = Client().get(
        pulse, headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver{page}"}
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/login/?next=%2Freleases%2F{release.pk}%2F"
    plain = Client().get(page)
    assert plain.status_code == 302
    assert plain["Location"].startswith("/login/")
