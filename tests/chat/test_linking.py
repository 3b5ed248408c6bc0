"""People link their Slack user to their Greenlight account: by the email Slack has confirmed
for them, or by a one-time link that `/greenlight link` gives them privately."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from chat import services
from chat.models import SlackLink, SlackLinkCode
from lib.errors import Refused
from releases.models import ProjectEvent
from tests.chat.helpers import post, signed
from tests.chat.slack_server import RECORDED, TEAM_ID

pytestmark = pytest.mark.django_db


def slash(client, project, user_id: str, text: str) -> dict:
    body = f"command=%2Fgreenlight&text={text}&user_id={user_id}&team_id={TEAM_ID}"
    response = post(client, reverse("slack_command", args=[project.slug]), body, signed(body))
    assert response.status_code == 200
    return response.json()


def test_it_links_paul_by_the_email_slack_has_for_him(client, cast, slack, slack_app):
    slack.users["paul@example.com"] = "W012A3CDE"
    client.force_login(cast.paul)

    response = client.post(reverse("slack_links"), {"app": slack_app.pk})

    assert response.status_code == 302
    link = SlackLink.objects.get(user=cast.paul)
    assert (link.team_id, link.slack_user_id, link.method) == (TEAM_ID, "W012A3CDE", "email")
    [lookup] = slack.called("users.lookupByEmail")
    assert lookup.args == {"email": "paul@example.com"}
    assert ProjectEvent.objects.filter(project=None, action="added", actor=cast.paul).exists()
    page = client.get(reverse("slack_links"))
    assert "W012A3CDE" in page.content.decode()


def test_it_says_so_when_slack_knows_no_one_with_that_email(client, cast, slack, slack_app):
    client.force_login(cast.paul)

    response = client.post(reverse("slack_links"), {"app": slack_app.pk}, follow=True)

    assert "No one in the Subarachnoid Workspace workspace has the email address" in (
        response.content.decode()
    )
    assert not SlackLink.objects.exists()


def test_it_does_not_link_an_outsider_through_a_projects_app(client, cast, slack, slack_app):
    slack.users["otto@example.com"] = "WOTTO"
    client.force_login(cast.otto)

    response = client.post(reverse("slack_links"), {"app": slack_app.pk})

    assert response.status_code == 404
    assert not SlackLink.objects.exists()


def test_it_links_through_a_one_time_link_from_the_slash_command(client, cast, slack, slack_app):
    answer = slash(client, cast.project, "UQUINN", "link")

    assert answer["response_type"] == "ephemeral"
    url = re.search(r"<(http[^|>]+)\|", answer["text"]).group(1)
    path = url.removeprefix("http://127.0.0.1:8000")
    client.force_login(cast.quinn)
    confirm = client.get(path)
    assert confirm.status_code == 200
    assert "UQUINN" in confirm.content.decode()

    client.post(path)

    link = SlackLink.objects.get()
    assert (link.user, link.slack_user_id, link.method) == (cast.quinn, "UQUINN", "link")
    # The link is spent: opening it again (by anyone) links nothing.
    client.force_login(cast.dana)
    assert client.post(path).status_code == 409
    assert SlackLink.objects.get().user == cast.quinn


def test_it_refuses_an_expired_one_time_link(cast, slack, slack_app):
    url = services.issue_link_code(slack_app, "UQUINN")
    code = url.rstrip("/").rsplit("/", 1)[-1]
    SlackLinkCode.objects.update(
        created_at=SlackLinkCode.objects.get().created_at - dt.timedelta(minutes=16)
    )

    with pytest.raises(Refused, match="expired"):
        services.link_by_code(code, user=cast.quinn)
    assert not SlackLink.objects.exists()


def test_it_keeps_one_slack_user_to_one_account(cast, slack, slack_app):
    first = services.issue_link_code(slack_app, "USHARED").rsplit("/", 2)[-2]
    services.link_by_code(first, user=cast.quinn)
    second = services.issue_link_code(slack_app, "USHARED").rsplit("/", 2)[-2]

    with pytest.raises(Refused, match="already linked to another Greenlight account"):
        services.link_by_code(second, user=cast.dana)


def test_it_unlinks(client, cast, linked):
    link = SlackLink.objects.get(user=cast.paul)
    client.force_login(cast.paul)

    client.post(reverse("slack_links"), {"action": "unlink", "link": link.pk})

    assert not SlackLink.objects.filter(user=cast.paul).exists()
    assert SlackLink.objects.filter(user=cast.quinn).exists()


def test_it_shows_a_release_privately_to_a_linked_member(client, cast, release, linked, slack):
    answer = slash(client, cast.project, "UVIC", "1.0.0")

    assert answer["response_type"] == "ephemeral"
    assert answer["text"] == "Payments 1.0.0: Planning"
    shown = "\n".join(b["text"]["text"] for b in answer["blocks"])
    assert "Readiness" in shown
    assert "Not ready:" in shown


def test_it_does_not_show_a_release_to_someone_it_does_not_know(
    client, cast, release, linked, slack
):
    answer = slash(client, cast.project, "UOTTO", "1.0.0")

    assert answer["response_type"] == "ephemeral"
    assert answer["text"].startswith(services.NOT_LINKED)
    assert "1.0.0" not in answer["text"]


def test_it_says_when_there_is_no_such_release(client, cast, release, linked, slack):
    answer = slash(client, cast.project, "UPAUL", "9.9.9")

    assert answer == {"response_type": "ephemeral", "text": "Payments has no release 9.9.9."}


def test_it_takes_slacks_own_slash_command_body(client, cast, release, linked, slack):
    body = (RECORDED / "slash_command.txt").read_text()
    body = body.replace("user_id=U2147483697", "user_id=UPAUL").replace("text=94070", "text=1.0.0")
    body = body.replace("command=/weather", "command=/greenlight")
    response = post(client, reverse("slack_command", args=[cast.project.slug]), body, signed(body))

    assert response.json()["text"] == "Payments 1.0.0: Planning"
