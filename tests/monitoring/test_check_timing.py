"""When checks are read and what time does to them: stabilisation, phases, hold, timeout."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from approvals.readiness import compute_readiness, with_readiness_data
from monitoring.models import Check, CheckPhase
from monitoring.services import polling
from monitoring.services.checks import save_release_check
from releases.models import Phase, Release
from releases.services.checklists import tick_checklist_item
from releases.services.lifecycle import finish_deploy
from releases.services.releases import update_release
from releases.services.rollback import roll_back
from tests.builders import known, make_deploying, make_monitoring
from tests.monitoring.fakes import Answer, FakeProvider, add_check, check_runs, github, run_cycle

SECONDS = dt.timedelta(seconds=1)


class Runs:
    """A GitHub that answers with whatever runs the test sets."""

    def __init__(self, *runs) -> None:
        self.runs = runs

    def __call__(self, seen):
        return Answer(body=check_runs(*self.runs))


def readiness_at(release: Release, now: dt.datetime):
    loaded = with_readiness_data(Release.objects.filter(pk=release.pk)).get()
    return compute_readiness(loaded, now=now)


def blockers_about(release: Release, name: str, now: dt.datetime) -> list[str]:
    return [b.message for b in readiness_at(release, now).blockers if f"“{name}”" in b.message]


def test_the_first_read_waits_for_the_stabilisation_delay(cast, release):
    with FakeProvider(Runs(("build", "completed", "success"))) as api:
        check = add_check(release, github(cast, api.url), cast.rita, stabilisation_seconds=300)
        now = timezone.now()

        assert run_cycle(now=now + 299 * SECONDS).checks == 0
        assert run_cycle(now=now + 301 * SECONDS).checks == 1

    check.refresh_from_db()
    assert check.status == "passing"
    assert len(api.fetches()) == 1


def test_post_release_checks_start_when_the_release_enters_monitoring(cast, release):
    with FakeProvider(Runs(("build", "completed", "success"))) as api:
        integration = github(cast, api.url)
        pre = add_check(release, integration, cast.rita, name="pre")
        post = add_check(
            release,
            integration,
            cast.rita,
            name="post",
            phase="post_release",
            stabilisation_seconds=60,
        )
        assert Check.objects.get(pk=post.pk).next_poll_at is None

        make_deploying(release, cast)
        assert Check.objects.get(pk=pre.pk).next_poll_at is None  # readiness is decided
        assert Check.objects.get(pk=post.pk).next_poll_at is None

        for item in release.checklist_items.filter(phase=Phase.DEPLOYMENT):
            tick_checklist_item(item, by=cast.dana)
        finish_deploy(release, by=cast.dana)
        post.refresh_from_db()
        assert post.started_at is not None
        assert post.next_poll_at == post.started_at + 60 * SECONDS
        assert Check.objects.get(pk=pre.pk).next_poll_at is None

        run_cycle(now=post.next_poll_at)
        assert len(api.fetches()) == 1
    post.refresh_from_db()
    assert post.status == "passing"
    assert post.observed_sha == ""  # health is about the running system, not one commit


def test_checks_stop_when_the_release_is_over(cast, release):
    check = add_check(release, github(cast, "http://127.0.0.1:9"), cast.rita, phase="post_release")
    make_monitoring(release, cast)
    assert Check.objects.get(pk=check.pk).next_poll_at is not None

    roll_back(release, by=cast.rita, reason="Error rate")

    assert Check.objects.get(pk=check.pk).next_poll_at is None
    assert polling.claim_due_checks(now=timezone.now() + dt.timedelta(days=1)).checks == 0


def test_a_pass_counts_only_once_it_has_held(cast, release):
    runs = Runs(("build", "completed", "success"))
    with FakeProvider(runs) as api:
        check = add_check(release, github(cast, api.url), cast.rita, name="held", hold_seconds=120)
        start = timezone.now()
        run_cycle(now=start)
        check.refresh_from_db()
        assert check.status == "passing"
        assert blockers_about(release, "held", start + 60 * SECONDS) == [
            "Check “held” is not passing: passing, but not for long enough yet"
        ]
        assert blockers_about(release, "held", known(check.passing_since) + 121 * SECONDS) == []

        # A failure in between starts the hold again.
        runs.runs = (("build", "completed", "failure"),)
        run_cycle(now=start + 61 * SECONDS)
        runs.runs = (("build", "completed", "success"),)
        run_cycle(now=start + 122 * SECONDS)
    check.refresh_from_db()
    assert check.status == "passing"
    assert blockers_about(release, "held", start + 200 * SECONDS) != []
    assert blockers_about(release, "held", start + 243 * SECONDS) == []


def test_a_check_that_never_passes_within_its_timeout_fails(cast, release):
    runs = Runs(("build", "in_progress", None))
    with FakeProvider(runs) as api:
        check = add_check(release, github(cast, api.url), cast.rita, timeout_seconds=600)
        start = known(check.started_at)
        run_cycle(now=start + 60 * SECONDS)
        check.refresh_from_db()
        assert check.status == "pending"

        run_cycle(now=start + 601 * SECONDS)
        check.refresh_from_db()
        assert (check.status, check.last_value) == ("failing", "timed out")
        assert "Not passing 10 min after it started (still pending" in check.last_detail

        # Evidence still wins: a late pass passes.
        runs.runs = (("build", "completed", "success"),)
        run_cycle(now=start + 700 * SECONDS)
    check.refresh_from_db()
    assert check.status == "passing"


def test_a_check_that_has_passed_does_not_time_out(cast, release):
    runs = Runs(("build", "completed", "success"))
    with FakeProvider(runs) as api:
        check = add_check(release, github(cast, api.url), cast.rita, timeout_seconds=600)
        start = known(check.started_at)
        run_cycle(now=start + 10 * SECONDS)
        runs.runs = (("build", "in_progress", None),)  # re-run on the same commit
        run_cycle(now=start + 700 * SECONDS)
    check.refresh_from_db()
    assert check.status == "pending"


def test_the_timeout_applies_to_pushed_checks_too(cast, release):
    check = save_release_check(
        release,
        by=cast.rita,
        integration=cast.ci,
        name="Deploy tests",
        timeout_seconds=300,
        phase=CheckPhase.PRE_RELEASE,
    )
    assert check.next_poll_at == known(check.started_at) + 300 * SECONDS

    assert run_cycle(now=known(check.started_at) + 299 * SECONDS).checks == 0
    assert run_cycle(now=known(check.started_at) + 300 * SECONDS).checks == 1

    check.refresh_from_db()
    assert (check.status, check.last_value) == ("failing", "timed out")
    assert check.next_poll_at is None


def test_a_new_commit_starts_the_timing_again(cast, release):
    with FakeProvider(Runs(("build", "completed", "success"))) as api:
        check = add_check(release, github(cast, api.url), cast.rita, stabilisation_seconds=30)
        run_cycle(now=check.next_poll_at)
        check.refresh_from_db()
        assert check.first_passed_at is not None

        update_release(release, by=cast.rita, commit_sha="c" * 40)

    check.refresh_from_db()
    assert check.first_passed_at is None
    assert check.etag == ""
    assert check.next_poll_at == check.started_at + 30 * SECONDS
    assert check.is_stale_for("c" * 40)  # the old pass does not count for the new commit
