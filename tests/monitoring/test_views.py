"""The integration settings pages, the check editor and a check's history page."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring.models import Check, CheckResult, Integration
from monitoring.selectors import with_history
from monitoring.services.checks import save_release_check
from monitoring.services.integrations import save_integration
from monitoring.services.results import record_check_result
from monitoring.templatetags.checks import MIN_BAND, bands
from releases.models import ReleaseEvent
from tests.builders import PASSWORD, known, make_release
from tests.monitoring.fakes import Answer, FakeProvider, check_runs

TOKEN = "ghp_ShownNowhere0001"


def login(client, user):
    # Through the login page: password logins need the request (rate limits count per client).
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def github_form(**overrides):
    data = {
        "name": "GitHub",
        "kind": "github",
        "enabled": "on",
        "base_url": "",
        "config__repo": "example/payments",
        "secret__token": TOKEN,
        "secret__webhook_secret": "",
    }
    data.update(overrides)
    return data


@pytest.fixture
def github(cast):
    return save_integration(
        cast.project,
        by=cast.rita,
        name="GitHub",
        kind="github",
        config={"repo": "example/payments"},
        secrets={"token": TOKEN, "webhook_secret": "hook-secret-value"},
    )


# --- integrations -------------------------------------------------------------------------------


def test_it_hides_integrations_from_outsiders(client, cast, github):
    login(client, cast.otto)

    assert client.get(reverse("integration_list", args=["payments"])).status_code == 404
    url = reverse("integration_edit", args=["payments", github.pk])
    assert client.get(url).status_code == 404


def test_members_read_the_health_but_only_devops_and_managers_configure(client, cast, github):
    login(client, cast.devin)

    page = client.get(reverse("integration_list", args=["payments"]))
    assert page.status_code == 200
    assert "GitHub" in page.text
    assert "Add an integration" not in page.text
    assert client.get(reverse("integration_create", args=["payments"])).status_code == 403
    edit = reverse("integration_edit", args=["payments", github.pk])
    assert client.post(edit, github_form(name="Hijacked")).status_code == 403
    assert Integration.objects.get(pk=github.pk).name == "GitHub"


def test_rita_adds_an_integration_whose_credentials_are_never_shown_again(client, cast):
    login(client, cast.rita)

    form = client.get(reverse("integration_create", args=["payments"]) + "?kind=github")
    assert 'name="config__repo"' in form.text
    assert 'name="secret__token"' in form.text
    response = client.post(reverse("integration_create", args=["payments"]), github_form())

    integration = Integration.objects.get(name="GitHub")
    assert response.status_code == 302
    assert response.url == reverse("integration_edit", args=["payments", integration.pk])
    assert integration.secrets() == {"token": TOKEN}
    page = client.get(response.url)
    assert TOKEN not in page.text
    assert "Stored. Leave empty to keep it." in page.text
    assert reverse("webhook_github", args=[integration.pk]) in page.text


def test_choosing_another_kind_redraws_only_the_form(client, cast):
    login(client, cast.rita)

    page = client.get(
        reverse("integration_create", args=["payments"]) + "?kind=prometheus&partial=form",
        headers={"HX-Request": "true"},
    )

    assert page.status_code == 200
    assert "<html" not in page.text
    assert 'name="base_url"' in page.text
    assert 'name="secret__password"' in page.text
    assert 'name="config__repo"' not in page.text


def test_leaving_a_secret_empty_on_edit_keeps_it(client, cast, github):
    login(client, cast.rita)
    url = reverse("integration_edit", args=["payments", github.pk])

    response = client.post(url, github_form(name="GitHub Actions", secret__token=""))

    assert response.status_code == 302
    github.refresh_from_db()
    assert github.name == "GitHub Actions"
    assert github.secrets() == {"token": TOKEN, "webhook_secret": "hook-secret-value"}
    assert "hook-secret-value" not in client.get(url).text


def test_a_bad_base_url_is_a_field_error_and_saves_nothing(client, cast):
    login(client, cast.rita)

    response = client.post(
        reverse("integration_create", args=["payments"]),
        github_form(base_url="javascript:alert(1)"),
    )

    assert response.status_code == 400
    assert "Enter an http:// or https:// address." in response.text
    assert not Integration.objects.filter(name="GitHub").exists()


def test_a_missing_credential_is_a_field_error(client, cast):
    login(client, cast.rita)

    response = client.post(
        reverse("integration_create", args=["payments"]), github_form(secret__token="")
    )

    assert response.status_code == 400
    assert "This field is required." in response.text
    assert not Integration.objects.filter(name="GitHub").exists()


def test_testing_the_connection_shows_and_records_the_result(client, cast, release, github):
    login(client, cast.rita)
    answer = Answer(body=check_runs(("build", "completed", "success")))
    with FakeProvider(lambda seen: answer) as api:
        github.base_url = api.url
        github.save(update_fields=["base_url"])
        Check.objects.create(release=release, integration=github, name="CI")

        response = client.post(
            reverse("integration_test", args=["payments", github.pk]), follow=True
        )

    assert len(api.fetches()) == 1
    assert "1 of 1 check run succeeded" in response.text
    github.refresh_from_db()
    assert github.last_success_at is not None
    assert "Working" in response.text


def test_the_health_shows_the_last_error_and_an_open_circuit(client, cast, github):
    Integration.objects.filter(pk=github.pk).update(
        last_error="The server failed (HTTP 502).",
        last_error_at=timezone.now(),
        consecutive_failures=6,
        circuit_state="open",
        circuit_opened_at=timezone.now(),
    )
    login(client, cast.rita)

    page = client.get(reverse("integration_edit", args=["payments", github.pk]))

    assert "The server failed (HTTP 502)." in page.text
    assert re.search(r'id="consecutive-failures">6<', page.text)
    assert "Circuit open" in page.text


# --- the check editor ---------------------------------------------------------------------------


def check_form(integration, **overrides):
    data = {
        "name": "Build green",
        "integration": str(integration.pk),
        "phase": "pre_release",
        "required": "on",
        "param__check_name": "build",
        "comparator": "",
        "threshold": "",
        "stabilisation_seconds": "0",
        "interval_seconds": "60",
        "hold_seconds": "0",
        "timeout_seconds": "",
    }
    data.update(overrides)
    return data


def test_the_editor_asks_for_the_parameters_of_the_chosen_integration(client, cast, release):
    prom = save_integration(
        cast.project, by=cast.rita, name="Prom", kind="prometheus", base_url="http://prom:9090"
    )
    login(client, cast.dana)

    page = client.get(
        reverse("release_check_create", args=[release.pk]) + f"?integration={prom.pk}&partial=form",
        headers={"HX-Request": "true"},
    )

    assert page.status_code == 200
    assert 'name="param__query"' in page.text
    assert "<html" not in page.text  # only the form, for htmx


def test_devops_adds_a_check_to_a_release_and_it_is_logged(client, cast, release, github):
    login(client, cast.dana)

    response = client.post(reverse("release_check_create", args=[release.pk]), check_form(github))

    check = Check.objects.get(release=release, name="Build green")
    assert response.status_code == 302
    assert response.url == reverse("release_check_detail", args=[release.pk, check.pk])
    assert check.params == {"check_name": "build"}
    assert check.next_poll_at is not None
    event = ReleaseEvent.objects.get(verb="check_added")
    assert event.actor == cast.dana


def test_a_developer_cannot_change_the_checks(client, cast, release, github):
    login(client, cast.devin)

    response = client.post(reverse("release_check_create", args=[release.pk]), check_form(github))

    assert response.status_code == 403
    assert not Check.objects.filter(name="Build green").exists()


def test_an_interval_below_the_minimum_is_a_field_error(client, cast, release, github):
    login(client, cast.rita)

    response = client.post(
        reverse("release_check_create", args=[release.pk]),
        check_form(github, interval_seconds="2"),
    )

    assert response.status_code == 400
    assert "Ensure this value is greater than or equal to 10." in response.text
    assert not Check.objects.filter(name="Build green").exists()


def test_a_project_check_reaches_the_releases_created_after_it(client, cast, github):
    login(client, cast.rita)

    response = client.post(
        reverse("check_template_create", args=["payments"]), check_form(github, name="Tests")
    )

    assert response.status_code == 302
    release = make_release(cast, "2.0.0")
    copy = Check.objects.get(release=release, name="Tests")
    assert (copy.integration, copy.params) == (github, {"check_name": "build"})


def test_changing_what_a_check_reads_starts_its_evidence_over(client, cast, release, github):
    check = save_release_check(
        release, by=cast.rita, integration=github, name="Build", params={"check_name": "build"}
    )
    record_check_result(check, status="passing", source="api")
    login(client, cast.rita)

    client.post(
        reverse("release_check_edit", args=[release.pk, check.pk]),
        check_form(github, name="Build", param__check_name="build-and-test"),
    )

    check.refresh_from_db()
    assert check.status == "pending"
    assert check.params == {"check_name": "build-and-test"}
    latest = known(CheckResult.objects.filter(check_ref=check).first())
    assert (latest.status, latest.source) == ("pending", "edit")
    assert ReleaseEvent.objects.filter(verb="check_changed").exists()


# --- a check's history --------------------------------------------------------------------------


def history(check, statuses, start):
    for n, status in enumerate(statuses):
        CheckResult.objects.create(
            check_ref=check, status=status, observed_at=start + dt.timedelta(minutes=10 * n)
        )


def test_the_history_page_draws_the_sparkline_and_lists_the_changes(client, cast, release):
    check = Check.objects.get(release=release, name="CI green")
    history(check, ["pending", "failing", "passing"], timezone.now() - dt.timedelta(hours=1))
    login(client, cast.vic)

    page = client.get(reverse("release_check_detail", args=[release.pk, check.pk]))

    assert page.status_code == 200
    assert page.text.count('data-status="') == 3  # one band per status change
    assert '<svg class="sparkline"' in page.text
    assert "Judge it" not in page.text


def test_quinn_judges_a_check_on_its_page(client, cast, release):
    check = Check.objects.get(release=release, name="CI green")
    record_check_result(check, status="needs_judgement", source="api")
    login(client, cast.quinn)
    url = reverse("release_check_judgement", args=[release.pk, check.pk])

    assert (
        "Judge it" in client.get(reverse("release_check_detail", args=[release.pk, check.pk])).text
    )
    response = client.post(url, {"passed": "1", "reason": "Verified by hand on staging."})

    assert response.status_code == 302
    check.refresh_from_db()
    assert check.status == "passing"
    assert known(CheckResult.objects.filter(check_ref=check).first()).judged_by == cast.quinn


def test_a_viewer_cannot_judge(client, cast, release):
    check = Check.objects.get(release=release, name="CI green")
    record_check_result(check, status="needs_judgement", source="api")
    login(client, cast.vic)

    response = client.post(
        reverse("release_check_judgement", args=[release.pk, check.pk]),
        {"passed": "1", "reason": "Fine"},
    )

    assert response.status_code == 403
    assert Check.objects.get(pk=check.pk).status == "needs_judgement"


def test_bands_are_as_wide_as_the_time_each_status_lasted():
    now = timezone.now()
    results = [
        CheckResult(pk=1, status="passing", observed_at=now - dt.timedelta(minutes=100)),
        CheckResult(pk=2, status="failing", observed_at=now - dt.timedelta(minutes=25)),
        CheckResult(pk=3, status="passing", observed_at=now - dt.timedelta(seconds=1)),
    ]

    drawn = bands(results, width=100, now=now)

    assert [b.status for b in drawn] == ["passing", "failing", "passing"]
    assert drawn[2].width == MIN_BAND  # a second is still visible
    assert drawn[0].width == pytest.approx(3 * drawn[1].width, rel=0.01)
    assert sum(b.width for b in drawn) == pytest.approx(100)
    assert "Failing from" in drawn[1].title


def test_the_checks_page_does_not_query_more_with_more_checks(
    client, cast, release, github, django_assert_max_num_queries
):
    login(client, cast.rita)
    url = reverse("release_checks", args=[release.pk])

    def add(n):
        for i in range(n):
            check = Check.objects.create(release=release, integration=github, name=f"c{i}-{n}")
            history(check, ["pending", "passing"], timezone.now() - dt.timedelta(hours=1))

    add(3)
    with django_assert_max_num_queries(14) as few:
        assert client.get(url).status_code == 200
    add(30)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(url)
    assert page.text.count('<svg class="sparkline"') == 34


def test_with_history_loads_the_latest_results_of_every_check_in_one_query(
    cast, release, github, django_assert_num_queries
):
    for i in range(5):
        check = Check.objects.create(release=release, integration=github, name=f"c{i}")
        history(check, ["pending"] * 40, timezone.now() - dt.timedelta(days=1))

    with django_assert_num_queries(2):
        checks = list(with_history(Check.objects.filter(integration=github)))

    assert {len(c.recent_results) for c in checks} == {30}  # type: ignore[attr-defined]


def test_the_github_check_form_states_how_checks_are_named(client, cast, release, github):
    login(client, cast.dana)

    page = client.get(
        reverse("release_check_create", args=[release.pk])
        + f"?integration={github.pk}&partial=form",
        headers={"HX-Request": "true"},
    )

    assert 'name="param__check_name"' in page.text
    text = html.unescape(page.text)
    assert "for GitHub Actions, the job's name, not the workflow's" in text
    assert "or a commit status's context" in text
