from __future__ import annotations

import pytest
from django.apps import apps
from django.core.management import call_command
from django.test import Client

from releases.models import Release, ReleaseEvent, Status

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for app in ("releases", "approvals", "monitoring", "auth")
        for model in apps.get_app_config(app).get_models()
    }


def test_it_seeds_the_demo_once_and_running_it_again_changes_nothing():
    call_command("seed_demo", verbosity=0)
    first = counts()
    call_command("seed_demo", verbosity=0)
    assert counts() == first


def test_it_spreads_the_demo_releases_over_the_lifecycle():
    call_command("seed_demo", verbosity=0)
    statuses = set(Release.objects.values_list("status", flat=True))
    assert {
        Status.PLANNING,
        Status.FROZEN,
        Status.APPROVED,
        Status.MONITORING,
        Status.RELEASED,
        Status.ROLLED_BACK,
    } <= statuses
    assert Release.objects.count() >= 6
    assert ReleaseEvent.objects.count() > 50


def test_it_gives_every_demo_user_the_demo_password():
    call_command("seed_demo", verbosity=0)
    for username in ("rita", "paul", "quinn", "dana", "devin", "vic", "admin"):
        response = Client().post("/login/", {"username": username, "password": "greenlight"})
        assert response.status_code == 302, username
