"""The demo seed: six months of believable history, built once, with a health check that reads
the app it runs in."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.utils import timezone

from approvals.models import SignOff
from monitoring.models import Check, CheckPhase, Integration
from monitoring.services.polling import poll_check_now
from releases.metrics import compute_metrics
from releases.models import (
    ChecklistItem,
    Notification,
    Project,
    Release,
    ReleaseEvent,
    ReleaseKind,
    Status,
)
from workspace.management.commands.seed_demo import HEALTH_CHECK

# One worker runs them all, so the class below seeds the demo once for the run.
pytestmark = [pytest.mark.django_db, pytest.mark.xdist_group("seed_demo")]

DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)


@pytest.fixture(scope="class")
def demo(django_db_setup, django_db_blocker):
    """The demo seeded once for a class of tests, rolled back after them."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", verbosity=0)
        yield
        transaction.set_rollback(True)


def counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for app in ("releases", "approvals", "monitoring", "auth")
        for model in apps.get_app_config(app).get_models()
    }


def versions() -> list[tuple[str, str, str]]:
    return list(Release.objects.order_by("version").values_list("version", "status", "kind"))


def health_url(release: Release) -> str:
    check = release.checks.get(phase=CheckPhase.POST_RELEASE)
    return f"{check.integration.base_url}{check.params['url']}"


class TestTheDemo:
    """Looks at one seeded demo; a test that seeds again is rolled back after it."""

    def test_it_seeds_the_demo_once_and_running_it_again_changes_nothing(self, demo):
        first, first_versions = counts(), versions()
        call_command("seed_demo", verbosity=0)
        assert counts() == first
        assert versions() == first_versions
        assert Project.objects.filter(slug="payments").count() == 1
        assert len({version for version, _s, _k in first_versions}) == len(first_versions)

    def test_it_points_the_demo_health_check_at_the_port_the_app_runs_on(self, demo, monkeypatch):
        monkeypatch.setenv("HOST", "0.0.0.0")
        monkeypatch.setenv("PORT", "8123")
        call_command("seed_demo", verbosity=0)
        monitoring = Release.objects.get(status=Status.MONITORING)
        # Bound to every address, the app answers on the loopback one.
        assert health_url(monitoring) == "http://127.0.0.1:8123/healthz"

        # Started again on another port: the same data, the check follows the app.
        before = versions()
        call_command("seed_demo", "--host", "127.0.0.1", "--port", "9000", verbosity=0)
        assert health_url(monitoring) == "http://127.0.0.1:9000/healthz"
        assert versions() == before
        assert Integration.objects.filter(name=HEALTH_CHECK).count() == 1

    def test_it_spreads_the_demo_releases_over_the_lifecycle_and_lets_every_demo_user_in(
        self, demo
    ):
        statuses = set(Release.objects.values_list("status", flat=True))
        assert {
            Status.PLANNING,
            Status.FROZEN,
            Status.APPROVED,
            Status.MONITORING,
            Status.RELEASED,
            Status.ROLLED_BACK,
            Status.CANCELLED,
        } <= statuses
        for username in ("rita", "paul", "quinn", "dana", "devin", "vic", "admin"):
            response = Client().post("/login/", {"username": username, "password": "greenlight"})
            assert response.status_code == 302, username

    def test_it_tells_six_months_of_weekly_releases_with_hotfixes_a_major_and_one_rollback(
        self, demo
    ):
        now = timezone.now()
        released = Release.objects.filter(status=Status.RELEASED)
        oldest = released.order_by("deploy_started_at").first()
        assert oldest is not None
        assert oldest.deploy_started_at is not None
        assert now - 190 * DAY < oldest.deploy_started_at < now - 170 * DAY
        standard = released.filter(kind=ReleaseKind.STANDARD)
        assert standard.count() >= 22
        assert released.filter(kind=ReleaseKind.HOTFIX).count() == 3
        assert released.filter(kind=ReleaseKind.MAJOR).count() == 1
        # Weekly: one standard deploy a week, on Tuesdays, inside the planned window.
        for release in standard:
            assert release.deploy_started_at is not None
            assert release.deploy_window_start is not None
            assert release.deploy_window_end is not None
            assert release.deploy_started_at.weekday() == 1
            assert release.deploy_window_start <= release.deploy_started_at
            assert release.deploy_started_at < release.deploy_window_end
        # Real durations: scope locked days before the deploy, the deploy itself in minutes, the
        # monitoring window its two hours.
        for release in released:
            assert release.frozen_at is not None
            assert release.approved_at is not None
            assert release.deploy_started_at is not None
            assert release.deploy_finished_at is not None
            assert release.released_at is not None
            assert release.frozen_at < release.approved_at < release.deploy_started_at
            took = release.deploy_finished_at - release.deploy_started_at
            assert dt.timedelta(minutes=5) < took < HOUR
            if release.kind == ReleaseKind.STANDARD:
                assert release.deploy_started_at - release.frozen_at > 3 * DAY
                assert release.released_at - release.deploy_finished_at >= 2 * HOUR
        # No deploy of the past needed an override: each went inside its window, outside freezes.
        assert not Release.objects.filter(override_used=True, released_at__isnull=False).exists()

        rolled_back = Release.objects.get(status=Status.ROLLED_BACK)
        assert rolled_back.rolled_back_at is not None
        assert rolled_back.rollback_finished_at is not None
        assert rolled_back.unhealthy_since is not None
        restored = rolled_back.rollback_finished_at - rolled_back.unhealthy_since
        assert dt.timedelta(minutes=10) < restored < 2 * HOUR
        (incident,) = rolled_back.incidents.all()
        assert incident.severity == "sev1"
        assert incident.started_at == rolled_back.unhealthy_since
        assert incident.resolved_at == rolled_back.rollback_finished_at
        review = rolled_back.review
        assert review.went_well
        assert review.went_badly
        assert review.actions.count() == 2
        assert review.actions.filter(done_at__isnull=False).count() == 1

    def test_it_dates_every_event_sign_off_and_tick_when_it_happened(self, demo):
        release = Release.objects.get(version="2.4.0")
        events = {event.verb: event.created_at for event in release.events.all()}
        assert events["scope_locked"] == release.frozen_at
        assert events["deploy_started"] == release.deploy_started_at
        assert events["released"] == release.released_at
        assert release.created_at < release.frozen_at
        assert release.approved_at is not None
        for sign_off in SignOff.objects.filter(release=release):
            assert release.frozen_at < sign_off.created_at < release.approved_at
        for item in ChecklistItem.objects.filter(release=release, phase="readiness"):
            assert item.ticked_at is not None
            assert release.frozen_at < item.ticked_at <= release.approved_at
        # The events are spread over the six months, not piled up at the moment of seeding.
        recent = ReleaseEvent.objects.filter(created_at__gte=timezone.now() - DAY).count()
        assert recent < ReleaseEvent.objects.count() / 10
        # The team read what the past told them; only the recent notifications are unread.
        assert not Notification.objects.filter(
            created_at__lt=timezone.now() - DAY, read_at__isnull=True
        ).exists()

    def test_it_gives_dora_figures_that_follow_from_the_history(self, demo):
        project = Project.objects.get(slug="payments")
        now = timezone.now()
        metrics = compute_metrics(project, now - 180 * DAY, now)
        assert 25 <= len(metrics.deployments) <= 35
        assert 1.0 <= metrics.deploys_per_week <= 1.5
        assert metrics.lead_time is not None
        assert DAY < metrics.lead_time < 7 * DAY  # days, not seconds
        assert metrics.lead_time_band == "high"
        assert sorted(f.cause for f in metrics.failures) == [
            "fixed by hotfix 1.12.1",
            "fixed by hotfix 2.3.1",
            "fixed by hotfix 2.9.1",
            "rolled back",
        ]
        assert metrics.time_to_restore is not None
        assert 10 * 60 < metrics.time_to_restore.total_seconds() < DAY.total_seconds()
        assert metrics.restore_band == "high"
        assert metrics.failure_rate_band == "medium"


@pytest.mark.django_db(transaction=True)
def test_it_reads_the_apps_own_health_endpoint_and_finds_it_healthy(live_server, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    address = urlsplit(live_server.url)
    call_command(
        "seed_demo", "--host", str(address.hostname), "--port", str(address.port), verbosity=0
    )
    monitoring = Release.objects.get(status=Status.MONITORING)
    check = Check.objects.get(release=monitoring, phase=CheckPhase.POST_RELEASE)
    rita = monitoring.project.memberships.get(user__username="rita").user
    check = poll_check_now(check, by=rita)
    assert check.status == "passing", check.last_detail
