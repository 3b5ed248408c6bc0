"""Only Slack gets in: a request is acted upon when signed with the app's signing secret within
Slack's 5-minute window, and only once."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from approvals.models import SignOff
from approvals.services import sign_offs
from chat import blocks
from chat.models import SlackRequest
from releases.services import lifecycle
from tests.chat.helpers import (
    button_payload,
    interact,
    interaction_body,
    post,
    signed,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen(release, cast, linked):
    lifecycle.lock_scope(release, by=cast.rita)
    release.refresh_from_db()
    return release


def go_as_product(release, cast):
    value = blocks.value(release, blocks.content_version(release), role="product")
    return button_payload(cast.paul, blocks.GO, value)


def test_it_acts_on_a_correctly_signed_button(client, cast, frozen, slack):
    response = interact(client, cast.project, go_as_product(frozen, cast))

    assert response.status_code == 200
    assert SignOff.objects.current().get(release=frozen, role="product").user == cast.paul


def test_it_refuses_a_wrong_signature(client, cast, frozen, slack):
    response = interact(client, cast.project, go_as_product(frozen, cast), secret="not-the-secret")

    assert response.status_code == 401
    assert not SignOff.objects.exists()


def test_it_refuses_a_body_changed_after_signing(client, cast, frozen, slack):
    body = interaction_body(go_as_product(frozen, cast))
    headers = signed(body)
    url = reverse("slack_interactivity", args=[cast.project.slug])

    response = post(client, url, body.replace("product", "qa"), headers)

    assert response.status_code == 401
    assert not SignOff.objects.exists()


@pytest.mark.parametrize("age", [301, 3600, -301])
def test_it_refuses_a_timestamp_outside_five_minutes(client, cast, frozen, slack, age):
    response = interact(
        client, cast.project, go_as_product(frozen, cast), ts=int(time.time()) - age
    )

    assert response.status_code == 401
    assert not SignOff.objects.exists()


def test_it_accepts_a_timestamp_inside_five_minutes(client, cast, frozen, slack):
    response = interact(
        client, cast.project, go_as_product(frozen, cast), ts=int(time.time()) - 240
    )

    assert response.status_code == 200
    assert SignOff.objects.filter(user=cast.paul).exists()


def test_it_refuses_a_replay_of_a_request_it_acted_upon(client, cast, frozen, slack):
    body = interaction_body(go_as_product(frozen, cast))
    headers = signed(body)
    url = reverse("slack_interactivity", args=[cast.project.slug])
    assert post(client, url, body, headers).status_code == 200
    # Paul withdraws; the same signed request sent again must not give the Go back.
    sign_offs.withdraw_sign_off(frozen, by=cast.paul, role="product")

    replay = post(client, url, body, headers)

    assert replay.status_code == 401
    assert not SignOff.objects.current().filter(release=frozen, role="product").exists()
    assert SlackRequest.objects.count() == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Slack-Request-Timestamp": str(int(time.time()))},
        {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=abc"},
    ],
)
def test_it_refuses_unsigned_requests(client, cast, frozen, slack, headers):
    body = interaction_body(go_as_product(frozen, cast))
    response = post(client, reverse("slack_interactivity", args=[cast.project.slug]), body, headers)

    assert response.status_code == 401
    assert not SignOff.objects.exists()


def test_it_signs_the_slash_command_the_same_way(client, cast, frozen, slack):
    body = "command=%2Fgreenlight&text=1.0.0&user_id=UPAUL&team_id=T12345678"
    url = reverse("slack_command", args=[cast.project.slug])

    assert post(client, url, body, signed(body, secret="wrong")).status_code == 401
    assert post(client, url, body, signed(body)).status_code == 200


def test_it_knows_no_slack_app_for_a_project_without_one(client, cast, release):
    body = "payload=%7B%7D"
    response = post(
        client, reverse("slack_interactivity", args=[cast.project.slug]), body, signed(body)
    )

    assert response.status_code == 404
