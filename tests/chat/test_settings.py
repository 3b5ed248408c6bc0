"""The project's Slack app, on the settings page and in the API: release managers connect it,
the token and signing secret are stored encrypted and never shown again."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.urls import reverse

from chat import services
from chat.models import SlackApp
from releases.models import ProjectEvent
from tests.chat.slack_server import SIGNING_SECRET, TEAM_ID, TOKEN

pytestmark = pytest.mark.django_db


def test_it_shows_the_slack_section_with_the_request_urls(client, cast, slack):
    client.force_login(cast.rita)

    page = client.get(reverse("project_settings", args=[cast.project.slug])).content.decode()

    assert 'id="slack"' in page
    assert "/slack/payments/interactivity/" in page
    assert "/slack/payments/command/" in page


def test_it_lets_rita_connect_the_app_and_keeps_its_secrets_encrypted(client, cast, slack):
    client.force_login(cast.rita)

    response = client.post(
        reverse("slack_app_settings", args=[cast.project.slug]),
        {
            "slack-bot_token": TOKEN,
            "slack-signing_secret": SIGNING_SECRET,
            "slack-release_channel": "C0RELEASES",
        },
    )

    assert response.status_code == 302
    app = SlackApp.objects.get(project=cast.project)
    assert (app.team_id, app.team_name, app.release_channel) == (
        TEAM_ID,
        "Subarachnoid Workspace",
        "C0RELEASES",
    )
    assert (app.bot_token, app.signing_secret) == (TOKEN, SIGNING_SECRET)
    assert TOKEN not in app.secrets_encrypted
    assert SIGNING_SECRET not in app.secrets_encrypted
    assert len(slack.called("auth.test")) == 1
    event = ProjectEvent.objects.get(project=cast.project, kind="integration")
    assert TOKEN not in str(event.after)
    page = client.get(reverse("project_settings", args=[cast.project.slug])).content.decode()
    assert TOKEN not in page
    assert SIGNING_SECRET not in page
    assert "Subarachnoid Workspace" in page


def test_it_refuses_a_token_slack_does_not_accept(client, cast, slack):
    client.force_login(cast.rita)

    response = client.post(
        reverse("slack_app_settings", args=[cast.project.slug]),
        {"slack-bot_token": "xoxb-wrong", "slack-signing_secret": SIGNING_SECRET},
    )

    assert response.status_code == 422
    assert "Slack did not accept the token: Slack refused auth.test: invalid_auth." in (
        response.content.decode()
    )
    assert not SlackApp.objects.exists()


def test_it_keeps_the_saved_secrets_when_left_empty(client, cast, slack, slack_app):
    client.force_login(cast.rita)

    client.post(
        reverse("slack_app_settings", args=[cast.project.slug]),
        {"slack-bot_token": "", "slack-signing_secret": "", "slack-release_channel": "C0NEW"},
    )

    slack_app.refresh_from_db()
    assert (slack_app.bot_token, slack_app.release_channel) == (TOKEN, "C0NEW")


def test_it_refuses_devin_with_the_rules_sentence(client, cast, slack):
    client.force_login(cast.devin)

    response = client.post(
        reverse("slack_app_settings", args=[cast.project.slug]),
        {"slack-bot_token": TOKEN, "slack-signing_secret": SIGNING_SECRET},
    )

    assert response.status_code == 403
    assert (
        "Only the project&#x27;s release managers change its settings." in response.content.decode()
    )
    assert not SlackApp.objects.exists()
    assert not slack.called("auth.test")


def test_it_removes_the_app(client, cast, slack, slack_app):
    client.force_login(cast.rita)

    client.post(reverse("slack_app_settings", args=[cast.project.slug]), {"action": "remove"})

    assert not SlackApp.objects.exists()


# --- the API ------------------------------------------------------------------------------------


def api(client, user):
    client.force_login(user)
    return client


def test_it_connects_the_app_through_the_api(client, cast, slack):
    url = reverse("api-slack-app", args=[cast.project.slug])

    response = api(client, cast.rita).put(
        url,
        {"bot_token": TOKEN, "signing_secret": SIGNING_SECRET, "release_channel": "C0RELEASES"},
        content_type="application/json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["team_id"] == TEAM_ID
    assert body["release_channel"] == "C0RELEASES"
    assert body["interactivity_url"].endswith("/slack/payments/interactivity/")
    assert "bot_token" not in body
    assert "signing_secret" not in body
    assert client.get(url).json() == body


def test_it_answers_400_for_unknown_fields_and_bad_values(client, cast, slack):
    url = reverse("api-slack-app", args=[cast.project.slug])

    unknown = api(client, cast.rita).put(
        url,
        {"bot_token": TOKEN, "signing_secret": "s", "webhook": "x"},
        content_type="application/json",
    )
    missing = client.put(url, {"release_channel": "C1"}, content_type="application/json")
    named = client.put(
        url,
        {"bot_token": TOKEN, "signing_secret": "s", "release_channel": "#releases"},
        content_type="application/json",
    )

    assert unknown.status_code == 400
    assert "webhook" in unknown.json()
    assert missing.status_code == 400
    assert set(missing.json()) == {"bot_token", "signing_secret"}
    assert named.status_code == 400
    assert "release_channel" in named.json()
    assert not SlackApp.objects.exists()


def test_it_refuses_the_api_to_devin_and_hides_the_project_from_otto(
    client, cast, slack, slack_app
):
    url = reverse("api-slack-app", args=[cast.project.slug])

    devin = api(client, cast.devin).put(
        url, {"release_channel": "C1"}, content_type="application/json"
    )
    otto = api(client, cast.otto).get(url)

    assert devin.status_code == 403
    assert otto.status_code == 404
    slack_app.refresh_from_db()
    assert slack_app.release_channel == ""


def test_it_removes_the_app_through_the_api(client, cast, slack, slack_app):
    url = reverse("api-slack-app", args=[cast.project.slug])

    assert api(client, cast.rita).delete(url).status_code == 204
    assert client.get(url).status_code == 404


def test_it_rotates_the_slack_secrets_to_the_newest_key(cast, slack, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FERNET_KEYS = [old]
    app = services.configure_slack_app(
        cast.project, by=cast.rita, bot_token=TOKEN, signing_secret=SIGNING_SECRET
    )
    before = app.secrets_encrypted

    settings.FERNET_KEYS = [new, old]
    call_command("rotate_slack_secrets", stdout=StringIO())

    settings.FERNET_KEYS = [new]
    app.refresh_from_db()
    assert app.secrets_encrypted != before
    assert (app.bot_token, app.signing_secret) == (TOKEN, SIGNING_SECRET)
