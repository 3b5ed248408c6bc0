"""Every page is sent with a strict Content-Security-Policy, and none of them needs an exception
to it: no inline script, no on…= handler, no style attribute or <style> element.

That the pages then still work (htmx, the charts, the live updates) is proven in a real browser
by tests/browser/, which fail on any policy violation in the console."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.builders import make_monitoring, make_release
from tests.html import client_for

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
STYLE = re.compile(r"<[^>]+\sstyle\s*=|<style", re.I)


def directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }


def pages(cast) -> list[str]:
    release = make_release(cast)
    watched = make_monitoring(make_release(cast, "2.0.0"), cast)
    slug = cast.project.slug
    return [
        reverse("dashboard"),
        reverse("timeline"),
        reverse("notifications"),
        reverse("my_tokens"),
        reverse("password_change"),
        reverse("release_create"),
        release.get_absolute_url(),
        watched.get_absolute_url(),
        reverse("release_checks", args=[watched.pk]),
        reverse("project_settings", args=[slug]),
        reverse("project_trains", args=[slug]),
        reverse("project_metrics", args=[slug]),
        reverse("integration_list", args=[slug]),
        reverse("check_templates", args=[slug]),
    ]


def test_it_sends_a_strict_policy_with_every_page(cast):
    response = client_for(cast.rita).get(reverse("dashboard"))

    policy = directives(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


def test_it_sends_the_policy_with_the_login_page_too():
    response = Client().get(reverse("login"))

    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert not INLINE_SCRIPT.findall(response.content.decode())


def test_it_puts_no_inline_script_handler_or_style_on_any_page(cast):
    client = client_for(cast.rita)
    offences = {}
    for address in pages(cast):
        response = client.get(address)
        assert response.status_code == 200, address
        html = response.content.decode()
        found = INLINE_SCRIPT.findall(html) + HANDLER.findall(html) + STYLE.findall(html)
        if found:
            offences[address] = found[:3]

    assert offences == {}


def test_it_turns_off_htmx_inline_indicator_styles(cast):
    html = client_for(cast.rita).get(reverse("dashboard")).content.decode()

    assert '"includeIndicatorStyles": false' in html


def test_it_serves_the_api_docs_script_from_a_url(cast):
    response = Client().get("/api/docs/")

    assert response.status_code == 200
    assert not INLINE_SCRIPT.findall(response.content.decode())
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
