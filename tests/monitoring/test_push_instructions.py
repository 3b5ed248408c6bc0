"""A check whose results are pushed says how to push them; every page links the API docs."""

from __future__ import annotations

import html
import json
import re
import shlex

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from monitoring.models import Integration, IntegrationKind
from releases.services.tokens import create_api_token
from tests.builders import known
from tests.html import client_for

pytestmark = pytest.mark.django_db


def push_card(user, release, check) -> str:
    page = client_for(user).get(reverse("release_check_detail", args=[release.pk, check.pk]))
    assert page.status_code == 200
    match = re.search(r'<section class="card" id="push".*?</section>', page.text, re.S)
    return match.group(0) if match else ""


def test_it_shows_a_curl_example_that_reports_a_result_as_written(cast, release):
    check = release.checks.get(name="CI green")
    card = push_card(cast.vic, release, check)
    endpoint = settings.SITE_URL.rstrip("/") + (
        f"/api/releases/{release.pk}/checks/{check.pk}/results/"
    )
    assert f"POST {endpoint}" in card
    assert f'<code id="push-check-id">{check.pk}</code>' in card
    assert f'href="{reverse("api-docs")}"' in card
    assert f'href="{reverse("project_tokens", args=[cast.project.slug])}"' in card

    curl = html.unescape(
        known(re.search(r'<pre[^>]*id="push-curl"[^>]*>(.*?)</pre>', card, re.S))[1]
    )
    words = shlex.split(curl.replace("\\\n", " "))
    assert words[:3] == ["curl", "-X", "POST"]
    assert words[3] == endpoint
    headers = [words[i + 1] for i, word in enumerate(words) if word == "-H"]
    assert "Authorization: Bearer $GREENLIGHT_TOKEN" in headers
    body = json.loads(words[words.index("-d") + 1])
    assert body["sha"] == release.commit_sha

    # Run it as CI would, with a project token in place of the variable.
    _, secret = create_api_token(by=cast.rita, name="ci", project=cast.project)
    response = Client().post(
        endpoint.removeprefix(settings.SITE_URL.rstrip("/")),
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 200, response.content
    check.refresh_from_db()
    assert check.status == "passing"
    assert check.last_url == body["url"]


def test_it_shows_no_push_instructions_for_a_check_that_is_read(cast, release):
    check = release.checks.get(name="CI green")
    Integration.objects.filter(pk=check.integration_id).update(kind=IntegrationKind.PROMETHEUS)
    assert push_card(cast.rita, release, check) == ""


@pytest.mark.parametrize("name", ["dashboard", "release_list", "timeline", "login"])
def test_it_links_the_api_docs_from_every_page_footer(cast, name):
    client = Client() if name == "login" else client_for(cast.vic)
    page = client.get(reverse(name)).content.decode()
    footer = re.search(r'<footer class="site-footer">.*?</footer>', page, re.S)
    assert footer, f"no footer on {name}"
    assert f'href="{reverse("api-docs")}"' in footer.group(0)
