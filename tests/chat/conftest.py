from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import timezone

from chat import services
from chat.models import SlackApp, SlackLink
from tests.chat.helpers import slack_id
from tests.chat.slack_server import SIGNING_SECRET, TEAM_ID, TOKEN, SlackServer
from tests.local_servers import serving


@pytest.fixture
def slack(settings) -> Iterator[SlackServer]:
    """Slack's Web API, standing in on 127.0.0.1."""
    with serving(SlackServer()) as server:
        settings.SLACK_API_URL = server.url
        yield server


@pytest.fixture
def slack_app(cast, slack) -> SlackApp:
    return services.configure_slack_app(
        cast.project, by=cast.rita, bot_token=TOKEN, signing_secret=SIGNING_SECRET
    )


@pytest.fixture
def linked(cast, slack_app) -> None:
    """Everyone in the cast has linked their Slack user (otto has no business here)."""
    for person in (cast.rita, cast.paul, cast.quinn, cast.dana, cast.devin, cast.vic):
        SlackLink.objects.create(
            user=person,
            team_id=TEAM_ID,
            slack_user_id=slack_id(person),
            method=SlackLink.Method.EMAIL,
            linked_at=timezone.now(),
        )
