"""Notification email: what people type never reaches a mail header, a failed send is kept and
tried again, and every ``EMAIL_URL`` form the README names gives a working mailer."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.utils import timezone

from config.celery import app
from config.settings import mailers_from_url
from releases import tasks
from releases.models import Notification
from releases.services.lifecycle import cancel_release

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def worker_like(monkeypatch):
    """A retry runs again at once, as a worker would run it later; a final failure stays in the
    task."""

    monkeypatch.setitem(app.conf, "task_eager_propagates", False)


class FlakyMailer(LocmemBackend):
    """A mail server that fails the first ``failures`` sends with an unexpected error."""

    failures = 0
    attempts = 0

    def send_messages(self, messages):
        type(self).attempts += 1
        if type(self).attempts <= type(self).failures:
            raise RuntimeError("the mail server's client broke")
        return super().send_messages(messages)


def test_it_keeps_a_line_break_in_a_reason_out_of_the_mail_headers(
    cast, release, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        cancel_release(
            release, by=cast.rita, reason="Broken\r\nBcc: mallory@example.com\nX-Evil: 1"
        )

    assert mail.outbox, "the cancellation was mailed"
    message = mail.outbox[0]
    assert "\n" not in message.subject
    assert "\r" not in message.subject
    assert message.subject.endswith("Broken Bcc: mallory@example.com X-Evil: 1")
    assert message.bcc == []
    assert "X-Evil" not in message.message()
    assert "Bcc: mallory@example.com" in message.body
    assert not Notification.objects.filter(emailed_at__isnull=True).exclude(user__email="")


def test_it_tries_a_failed_email_again_until_it_goes_out(
    cast, release, settings, django_capture_on_commit_callbacks
):
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.FlakyMailer"}}
    FlakyMailer.failures, FlakyMailer.attempts = 2, 0

    with django_capture_on_commit_callbacks(execute=True):
        cancel_release(release, by=cast.rita, reason="Not needed")

    note = Notification.objects.get(verb="cancelled", user=cast.paul)
    assert FlakyMailer.attempts > 2
    assert note.emailed_at is not None
    assert any("paul@example.com" in m.to for m in mail.outbox)


def test_it_keeps_an_email_that_failed_every_try_for_a_later_run(
    cast, release, settings, django_capture_on_commit_callbacks
):
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.FlakyMailer"}}
    FlakyMailer.failures, FlakyMailer.attempts = 1000, 0

    with django_capture_on_commit_callbacks(execute=True):
        cancel_release(release, by=cast.rita, reason="Not needed")

    note = Notification.objects.get(verb="cancelled", user=cast.paul)
    assert FlakyMailer.attempts > tasks.RETRY["max_retries"]
    assert note.emailed_at is None

    # The mail server is back; the sweep finds the mail once its task has given up.
    FlakyMailer.failures = 0
    assert tasks.send_unsent_emails() == 0
    Notification.objects.update(created_at=timezone.now() - tasks.UNSENT_AFTER)
    assert tasks.send_unsent_emails() >= 1
    note.refresh_from_db()
    assert note.emailed_at is not None
    assert any("paul@example.com" in m.to for m in mail.outbox)


@pytest.mark.parametrize(
    "url", ["consolemail://", "memorymail://", "dummymail://", "filemail:///tmp/greenlight-mail"]
)
def test_it_sends_with_every_mailer_an_email_url_names(
    url, cast, release, settings, django_capture_on_commit_callbacks
):
    settings.MAILERS = mailers_from_url(url)

    with django_capture_on_commit_callbacks(execute=True):
        cancel_release(release, by=cast.rita, reason="Not needed")

    assert not Notification.objects.filter(emailed_at__isnull=True).exclude(user__email="")


def test_it_passes_the_smtp_server_and_its_credentials_from_the_email_url():
    mailer = mailers_from_url("smtp+tls://greenlight:s3cret@mail.example.com:587")["default"]

    assert mailer["BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert mailer["OPTIONS"]["host"] == "mail.example.com"
    assert mailer["OPTIONS"]["port"] == 587
    assert mailer["OPTIONS"]["username"] == "greenlight"
    assert mailer["OPTIONS"]["use_tls"] is True
