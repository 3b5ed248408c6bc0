"""Signing in: wrong passwords lock the login out for a while, people change their own
password in the site's layout, idle sessions end, and signed-in pages are never cached."""

from __future__ import annotations

import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.builders import PASSWORD
from tests.html import client_for

pytestmark = pytest.mark.django_db


def log_in(client: Client, username: str, password: str, address: str = "/login/"):
    return client.post(address, {"username": username, "password": password})


@pytest.mark.parametrize("address", ["/login/", "/admin/login/"])
def test_it_locks_the_login_out_after_too_many_wrong_passwords(cast, address):
    client = Client()
    for _ in range(60):
        log_in(client, "rita", "wrong-password", address)

    response = log_in(client, "rita", PASSWORD, address)

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    assert "Too many failed logins" in response.content.decode()
    assert client.get(reverse("dashboard")).status_code == 302  # still signed out


def test_it_locks_out_at_the_configured_number_of_failures(cast):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "rita", "wrong-password").status_code == 200

    assert log_in(client, "rita", "wrong-password").status_code == 429


def test_it_lets_a_person_in_who_got_it_right_before_the_limit(cast):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "rita", "wrong-password")

    assert log_in(client, "rita", PASSWORD).status_code == 302
    client.post(reverse("logout"))
    # A success starts the count again.
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "rita", "wrong-password")
    assert log_in(client, "rita", PASSWORD).status_code == 302


def test_it_keeps_other_people_logging_in_while_one_is_locked_out(cast):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(Client(), "rita", "wrong-password")

    assert log_in(Client(), "paul", PASSWORD).status_code == 302


def test_it_lets_the_locked_out_person_in_once_the_lockout_is_over(cast):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(Client(), "rita", "wrong-password")
    assert log_in(Client(), "rita", PASSWORD).status_code == 429

    AccessAttempt.objects.update(
        attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - dt.timedelta(seconds=1)
    )

    assert log_in(Client(), "rita", PASSWORD).status_code == 302


def test_it_links_the_password_change_page_from_the_user_menu(cast):
    page = client_for(cast.rita).get(reverse("dashboard")).content.decode()

    me = page.split('class="me"')[1].split("</div>")[0]
    assert f'href="{reverse("password_change")}"' in me


def test_it_changes_my_password_in_the_site_layout_and_keeps_me_signed_in(cast):
    client = client_for(cast.rita)
    form = client.get(reverse("password_change"))
    assert form.status_code == 200
    assert 'class="topbar"' in form.content.decode()

    response = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a-much-longer-secret-9",
            "new_password2": "a-much-longer-secret-9",
        },
        follow=True,
    )

    assert response.status_code == 200
    assert "Password changed" in response.content.decode()
    assert client.get(reverse("dashboard")).status_code == 200
    cast.rita.refresh_from_db()
    assert cast.rita.check_password("a-much-longer-secret-9")


def test_it_refuses_a_password_change_with_the_wrong_current_password(cast):
    response = client_for(cast.rita).post(
        reverse("password_change"),
        {
            "old_password": "not-it",
            "new_password1": "a-much-longer-secret-9",
            "new_password2": "a-much-longer-secret-9",
        },
    )

    assert response.status_code == 200
    assert 'id="id_old_password-error"' in response.content.decode()
    cast.rita.refresh_from_db()
    assert cast.rita.check_password(PASSWORD)


def test_it_ends_a_session_after_the_idle_timeout(cast):
    client = client_for(cast.rita)
    assert settings.SESSION_COOKIE_AGE == settings.SESSION_IDLE_TIMEOUT
    Session.objects.update(expire_date=timezone.now() - dt.timedelta(seconds=1))

    response = client.get(reverse("dashboard"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_renews_the_idle_timeout_when_i_open_a_page(cast):
    client = client_for(cast.rita)
    Session.objects.update(expire_date=timezone.now() + dt.timedelta(minutes=5))

    assert client.get(reverse("dashboard")).status_code == 200

    left = Session.objects.get().expire_date - timezone.now()
    assert left > dt.timedelta(seconds=settings.SESSION_IDLE_TIMEOUT - 60)


def test_it_does_not_renew_the_idle_timeout_on_background_refreshes(cast):
    client = client_for(cast.rita)
    soon = timezone.now() + dt.timedelta(minutes=5)
    Session.objects.update(expire_date=soon)

    response = client.get(reverse("dashboard_pulse"), headers={"HX-Request": "true"})

    assert response.status_code in (200, 204, 286)
    assert Session.objects.get().expire_date == soon


def test_it_marks_signed_in_pages_and_api_answers_not_to_be_stored(cast, release):
    client = client_for(cast.rita)

    for address in (reverse("dashboard"), release.get_absolute_url(), "/api/releases/"):
        assert "no-store" in client.get(address).headers["Cache-Control"], address
