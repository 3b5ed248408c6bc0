"""Links to other sites: only http(s) URLs are stored as links, and only they are drawn as links,
whatever an old row, a provider or a Markdown text holds. A `javascript:` link on a page every
member opens would run in their session."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from monitoring.integrations.base import Observation
from monitoring.models import Check
from monitoring.services.results import record_check_result
from releases.models import ChecklistItem, ScopeItem
from releases.services.checklists import tick_checklist_item
from releases.services.lifecycle import lock_scope
from releases.services.projects import update_project
from releases.services.rollback import update_rollback_plan
from releases.services.scope import add_scope_item, request_scope_change, update_scope_item
from releases.templatetags.greenlight import link, markdown
from tests.api.conftest import bearer, project_token
from tests.html import client_for

pytestmark = pytest.mark.django_db

SCRIPT = "javascript:alert(document.cookie)"
HOSTILE = [
    SCRIPT,
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "ms-msdt:/id%20PCWDiagnostic",
    "ftp://files.example.com/notes.txt",
    "//evil.example.net/x",
]


@pytest.mark.parametrize("url", HOSTILE)
def test_it_refuses_a_scope_link_that_is_not_http(cast, release, url):
    with pytest.raises(ValidationError) as info:
        add_scope_item(release, by=cast.rita, title="Refunds", url=url)
    assert "url" in info.value.message_dict
    item = release.scope_items.first()
    with pytest.raises(ValidationError):
        update_scope_item(item, by=cast.rita, url=url)
    assert not ScopeItem.objects.filter(url=url).exists()


def test_it_refuses_checklist_evidence_that_is_not_an_http_link(cast, release):
    item = release.checklist_items.get(title="Critical flows pass")
    with pytest.raises(ValidationError):
        tick_checklist_item(item, by=cast.quinn, url=SCRIPT)
    item.refresh_from_db()
    assert item.ticked_at is None


def test_it_keeps_http_and_https_links(cast, release):
    item = add_scope_item(
        release, by=cast.rita, title="Refunds", url="https://tracker.example.com/PAY-9"
    )
    assert item.url == "https://tracker.example.com/PAY-9"


@pytest.mark.parametrize("url", HOSTILE)
def test_it_drops_a_provider_link_that_is_not_http(url):
    assert Observation(status="passing", url=url).url == ""
    assert Observation(status="passing", url="https://ci.example.com/run/1").url == (
        "https://ci.example.com/run/1"
    )


def test_it_stores_no_link_from_a_check_result_that_is_not_http(cast, release):
    check = release.checks.get(name="CI green")
    record_check_result(check, status="failing", value="failure", url=SCRIPT)
    check.refresh_from_db()
    assert check.last_url == ""
    assert not check.results.filter(url=SCRIPT).exists()


def test_it_draws_no_link_from_rows_stored_before(cast, release):
    # Rows written before links were checked, or by hand.
    release.scope_items.update(url=SCRIPT)
    release.checks.update(last_url=SCRIPT)
    item = release.checklist_items.get(title="Critical flows pass")
    tick_checklist_item(item, by=cast.quinn, note="done")
    ChecklistItem.objects.filter(pk=item.pk).update(evidence_url=SCRIPT)
    check = Check.objects.get(release=release, name="CI green")

    detail = reverse("release_check_detail", kwargs={"pk": release.pk, "check_pk": check.pk})
    for path in (release.get_absolute_url(), detail):
        page = client_for(cast.vic).get(path)
        assert page.status_code == 200
        assert "javascript:" not in page.content.decode().lower()


@pytest.mark.parametrize("url", HOSTILE)
def test_it_renders_only_http_links(url):
    assert link(url) == ""
    assert link("https://ci.example.com/run/1") == "https://ci.example.com/run/1"


@pytest.mark.parametrize(
    "text",
    [
        "[open](ms-msdt:/id%20PCWDiagnostic)",
        "[open](<ftp://files.example.com/x>)",
        "<ms-msdt:/id%20PCWDiagnostic>",
        "[open](javascript:alert(1))",
    ],
)
def test_it_renders_markdown_links_only_to_http(text):
    html = str(markdown(text))
    assert "href" not in html
    assert "open" in html or "PCW" in html


def test_it_renders_markdown_http_links_and_no_images():
    html = str(markdown("[notes](https://example.com/n) ![x](https://tracker.example.net/p.png)"))
    assert '<a href="https://example.com/n" rel="noopener noreferrer">notes</a>' in html
    assert "<img" not in html


def test_it_leaves_the_link_out_of_release_notes_from_an_old_row(cast, release):
    release.scope_items.update(url="ms-msdt:/id%20PCWDiagnostic")
    page = client_for(cast.vic).get(release.get_absolute_url()).content.decode()
    assert "ms-msdt" not in page


def test_it_refuses_a_change_request_proposing_a_script_link(cast, release):
    lock_scope(release, by=cast.rita)
    with pytest.raises(ValidationError) as info:
        request_scope_change(
            release,
            by=cast.devin,
            action="add",
            reason="Late fix",
            proposal={"title": "Hotfix", "url": SCRIPT},
        )
    assert "url" in info.value.message_dict
    assert not release.change_requests.exists()


@pytest.mark.parametrize("url", [SCRIPT, "ftp://files.example.com/run.log"])
def test_it_answers_400_to_a_check_result_with_a_link_that_is_not_http(cast, release, url):
    check = release.checks.get(name="CI green")
    response = bearer(project_token(cast)).post(
        f"/api/releases/{release.pk}/checks/{check.pk}/results/",
        {"status": "passing", "url": url},
    )
    assert response.status_code == 400
    assert "url" in response.json()
    check.refresh_from_db()
    assert check.status == "pending"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.7/hook",
        "http://[::1]/hook",
    ],
)
def test_it_refuses_to_save_a_webhook_on_an_address_greenlight_will_not_call(
    cast, release, settings, url
):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(ValidationError) as info:
        update_project(cast.project, by=cast.rita, slack_webhook_url=url)
    assert "OUTBOUND_ALLOWED_NETWORKS" in info.value.message_dict["slack_webhook_url"][0]
    with pytest.raises(ValidationError) as info:
        update_rollback_plan(release, by=cast.dana, rollback_webhook_url=url)
    assert "rollback_webhook_url" in info.value.message_dict
    cast.project.refresh_from_db()
    assert cast.project.slack_webhook_url == ""
    assert not release.events.filter(verb="rollback_plan_updated").exists()


def test_it_saves_a_webhook_on_a_private_address_the_allowlist_names(cast, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    update_project(cast.project, by=cast.rita, slack_webhook_url="http://10.0.0.7/hook")
    cast.project.refresh_from_db()
    assert cast.project.slack_webhook_url == "http://10.0.0.7/hook"


@pytest.mark.parametrize(
    "url",
    [
        "https://x-access-token:ghp_secret@github.com/example/payments",
        "https://github.com@evil.example.net/example/payments/pull/9",
    ],
)
def test_it_refuses_a_link_with_a_user_name_or_password_and_draws_none(cast, release, url):
    # A token pasted with a clone URL would be read by every member; "github.com@" before
    # another host makes a link look like it goes where it does not.
    with pytest.raises(ValidationError) as info:
        add_scope_item(release, by=cast.rita, title="Refunds", url=url)

    assert info.value.message_dict["url"] == ["A link cannot carry a user name or password."]
    with pytest.raises(ValidationError):
        update_project(cast.project, by=cast.rita, repository_url=url)
    assert link(url) == ""
