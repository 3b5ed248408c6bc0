"""Notifications: the in-app list, email and the chat webhook, sent after commit; a failing
channel is retried a bounded number of times and never breaks the action that caused it."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from approvals.models import SignOff
from approvals.services.sign_offs import record_sign_off
from config.celery import app
from releases import notifications, tasks
from releases.models import Notification
from releases.services.lifecycle import lock_scope
from releases.services.projects import update_project
from tests.builders import known, make_release
from tests.local_servers import SmtpServer, WebhookServer, closed_port, serving

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def worker_like(monkeypatch):
    """Run tasks in-process the way a worker does: a retry runs again (at once here; the
    backoff delay is the worker's business) and a final failure stays in the task."""

    monkeypatch.setitem(app.conf, "task_eager_propagates", False)


@pytest.fixture
def frozen(cast, release):
    lock_scope(release, by=cast.rita)
    return release


def use_chat(cast, url: str) -> None:
    update_project(cast.project, by=cast.rita, slack_webhook_url=url)


def use_smtp(settings, port: int) -> None:
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 2},
        }
    }


def say_no_go(cast, release, capture) -> SignOff:
    """quinn's No-go: rita is told in the app, by email and in the project's chat."""
    with capture(execute=True):
        return record_sign_off(
            release, by=cast.quinn, role="qa", decision="no_go", comment="Refunds fail"
        )


class TestDelivery:
    def test_it_sends_email_and_chat_only_after_the_change_commits(
        self, cast, frozen, django_capture_on_commit_callbacks
    ):
        with serving(WebhookServer([200])) as hook:
            use_chat(cast, hook.url)
            with django_capture_on_commit_callbacks(execute=False) as pending:
                record_sign_off(
                    frozen, by=cast.quinn, role="qa", decision="no_go", comment="Refunds fail"
                )
            assert mail.outbox == []
            assert hook.received == []
            for callback in pending:
                callback()
        assert [m.to for m in mail.outbox] == [["rita@example.com"]]
        assert "quinn said No-go as QA on Payments 1.0.0: Refunds fail" in mail.outbox[0].body
        assert f"http://127.0.0.1:8000/releases/{frozen.pk}/" in mail.outbox[0].body
        assert len(hook.received) == 1
        assert hook.received[0]["text"].startswith("quinn said No-go as QA on Payments 1.0.0")
        assert Notification.objects.get(verb="no_go").emailed_at is not None

    def test_it_posts_peoples_words_to_chat_as_text_not_as_mentions_or_links(
        self, cast, frozen, django_capture_on_commit_callbacks
    ):
        # Slack-compatible chats read <…> as a link or a mention: a comment must not ping the
        # channel or put a link of its own where the message's link is.
        comment = "<!channel> see <https://evil.example.net/x|Open in Greenlight> & sign"
        with serving(WebhookServer([200])) as hook:
            use_chat(cast, hook.url)
            with django_capture_on_commit_callbacks(execute=True):
                record_sign_off(frozen, by=cast.quinn, role="qa", decision="no_go", comment=comment)

        text = hook.received[0]["text"]
        assert (
            "&lt;!channel&gt; see &lt;https://evil.example.net/x|Open in Greenlight&gt; &amp; sign"
            in text
        )
        assert text.endswith(f"<http://127.0.0.1:8000/releases/{frozen.pk}/|Open in Greenlight>")

    def test_it_sends_nothing_when_the_change_rolls_back(
        self, cast, frozen, django_capture_on_commit_callbacks
    ):
        with (
            django_capture_on_commit_callbacks(execute=True) as pending,
            pytest.raises(ValidationError),
        ):
            record_sign_off(frozen, by=cast.quinn, role="qa", decision="no_go")
        assert pending == []
        assert mail.outbox == []
        assert not Notification.objects.exists()

    def test_it_mails_each_notification_once_when_the_task_runs_twice(self, cast, frozen):
        rows = notifications.notify(
            [cast.paul, cast.quinn], release=frozen, verb="decision", message="Go on 1.0.0"
        )
        ids = [row.pk for row in rows]
        assert tasks.send_notification_emails(ids) == 2
        assert tasks.send_notification_emails(ids) == 0
        assert sorted(m.to[0] for m in mail.outbox) == ["paul@example.com", "quinn@example.com"]

    def test_it_skips_people_without_an_email_address(self, cast, frozen):
        cast.paul.email = ""
        cast.paul.save()
        rows = notifications.notify([cast.paul], release=frozen, verb="decision", message="Go")
        assert tasks.send_notification_emails([r.pk for r in rows]) == 0
        assert mail.outbox == []


class TestChatRetries:
    def test_it_retries_the_webhook_until_it_accepts(
        self, cast, frozen, django_capture_on_commit_callbacks
    ):
        with serving(WebhookServer([503, 429, 200])) as hook:
            use_chat(cast, hook.url)
            say_no_go(cast, frozen, django_capture_on_commit_callbacks)
        assert len(hook.received) == 3
        assert len({message["text"] for message in hook.received}) == 1

    def test_it_gives_up_after_a_bounded_number_of_tries_and_keeps_the_change(
        self, cast, frozen, django_capture_on_commit_callbacks
    ):
        with serving(WebhookServer([500])) as hook:
            use_chat(cast, hook.url)
            sign_off = say_no_go(cast, frozen, django_capture_on_commit_callbacks)
        assert len(hook.received) == 1 + known(tasks.post_to_chat.max_retries)
        assert SignOff.objects.get(pk=sign_off.pk).is_current
        assert frozen.events.filter(verb="sign_off_no_go").exists()
        # The other channels are not held up by the broken one.
        assert Notification.objects.filter(user=cast.rita, verb="no_go").exists()
        assert [m.to for m in mail.outbox] == [["rita@example.com"]]

    def test_it_does_not_retry_a_webhook_that_refuses_for_good(
        self, cast, frozen, django_capture_on_commit_callbacks
    ):
        with serving(WebhookServer([404, 200])) as hook:
            use_chat(cast, hook.url)
            say_no_go(cast, frozen, django_capture_on_commit_callbacks)
        assert len(hook.received) == 1
        assert [m.to for m in mail.outbox] == [["rita@example.com"]]

    def test_it_keeps_the_change_when_the_webhook_cannot_be_reached(
        self, cast, frozen, django_capture_on_commit_callbacks
    ):
        use_chat(cast, f"http://127.0.0.1:{closed_port()}/hook")
        sign_off = say_no_go(cast, frozen, django_capture_on_commit_callbacks)
        assert SignOff.objects.get(pk=sign_off.pk).decision == "no_go"
        assert [m.to for m in mail.outbox] == [["rita@example.com"]]

    def test_it_does_not_post_to_a_private_address_the_egress_policy_refuses(
        self, cast, frozen, settings, django_capture_on_commit_callbacks
    ):
        with serving(WebhookServer([200])) as hook:
            use_chat(cast, hook.url)
            # Saved while allowed; the operator takes loopback off the list afterwards.
            settings.OUTBOUND_ALLOWED_NETWORKS = []
            sign_off = say_no_go(cast, frozen, django_capture_on_commit_callbacks)
        assert hook.received == []
        assert SignOff.objects.get(pk=sign_off.pk).decision == "no_go"
        assert [m.to for m in mail.outbox] == [["rita@example.com"]]

    def test_it_backs_off_with_jitter_and_a_bound(self):
        # Celery's stubs do not declare the retry options a task is given.
        retrying: tuple[Any, ...] = (tasks.post_to_chat, tasks.send_notification_emails)
        for task in retrying:
            assert task.retry_backoff
            assert task.retry_jitter is True
            assert 0 < task.retry_backoff_max <= 3600  # below the broker's visibility timeout
            assert 0 < task.max_retries <= 10


class TestEmailRetries:
    def test_it_retries_email_when_the_mail_server_turns_it_away(
        self, cast, frozen, settings, django_capture_on_commit_callbacks
    ):
        with serving(SmtpServer(refuse=2)) as smtp:
            use_smtp(settings, smtp.port)
            say_no_go(cast, frozen, django_capture_on_commit_callbacks)
        assert smtp.connections == 3
        assert len(smtp.messages) == 1
        assert "To: rita@example.com" in smtp.messages[0]
        assert Notification.objects.get(verb="no_go").emailed_at is not None

    def test_it_posts_to_chat_when_email_is_down_and_keeps_the_mail_for_later(
        self, cast, frozen, settings, django_capture_on_commit_callbacks
    ):
        use_smtp(settings, closed_port())
        with serving(WebhookServer([200])) as hook:
            use_chat(cast, hook.url)
            sign_off = say_no_go(cast, frozen, django_capture_on_commit_callbacks)
        assert len(hook.received) == 1
        assert SignOff.objects.get(pk=sign_off.pk).is_current
        note = Notification.objects.get(verb="no_go")
        # Not marked as mailed, so a later run (or a retry) still sends it.
        assert note.emailed_at is None
        with serving(SmtpServer()) as smtp:
            use_smtp(settings, smtp.port)
            assert tasks.send_notification_emails([note.pk]) == 1
        assert len(smtp.messages) == 1


class TestInAppList:
    def test_it_counts_and_lists_my_unread_notifications_only(self, cast, frozen):
        notifications.notify([cast.paul, cast.quinn], release=frozen, verb="decision", message="A")
        notifications.notify([cast.paul], release=frozen, verb="no_go", message="B")
        assert notifications.unread_count(cast.paul) == 2
        assert notifications.unread_count(cast.quinn) == 1
        assert notifications.unread_count(cast.otto) == 0
        assert [n.message for n in notifications.unread_for(cast.paul)] == ["B", "A"]

    def test_it_marks_some_read_and_ignores_other_peoples(self, cast, frozen):
        paul_a, paul_b = (
            notifications.notify([cast.paul], release=frozen, verb="decision", message=m)[0]
            for m in ("A", "B")
        )
        quinn_a = notifications.notify([cast.quinn], release=frozen, verb="decision", message="A")[
            0
        ]
        assert notifications.mark_read(cast.paul, [paul_a.pk, quinn_a.pk]) == 1
        assert notifications.mark_read(cast.paul, [paul_a.pk]) == 0  # already read
        assert [n.pk for n in notifications.unread_for(cast.paul)] == [paul_b.pk]
        assert notifications.unread_count(cast.quinn) == 1
        assert notifications.notifications_for(cast.paul).count() == 2

    def test_it_marks_all_of_mine_read(self, cast, frozen):
        notifications.notify([cast.paul, cast.quinn], release=frozen, verb="decision", message="A")
        notifications.notify([cast.paul], release=frozen, verb="decision", message="B")
        assert notifications.mark_all_read(cast.paul) == 2
        assert notifications.unread_count(cast.paul) == 0
        assert notifications.unread_count(cast.quinn) == 1

    def test_it_refuses_ids_that_are_not_numbers(self, cast, frozen):
        notifications.notify([cast.paul], release=frozen, verb="decision", message="A")
        with pytest.raises(ValidationError) as error:
            notifications.mark_read(cast.paul, ["1", "all"])
        assert "ids" in error.value.message_dict
        assert notifications.unread_count(cast.paul) == 1

    def test_it_lists_many_notifications_in_a_fixed_number_of_queries(
        self, cast, django_assert_max_num_queries
    ):
        for n in range(6):
            release = make_release(cast, f"1.{n}.0", scope=0)
            notifications.notify([cast.paul], release=release, verb="decision", message=f"{n}")
        with django_assert_max_num_queries(1):
            rows = [
                (n.message, known(n.release).project.name)
                for n in notifications.unread_for(cast.paul)
            ]
        assert len(rows) == 6
