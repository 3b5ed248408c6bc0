"""The poller end to end in one process: claiming, grouping, fetching once, writing once."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from approvals.readiness import readiness_for
from monitoring import tasks
from monitoring.models import Check, CheckResult, PollerHeartbeat
from monitoring.services import polling
from monitoring.services.checks import save_check_template
from releases.models import ReleaseEvent
from releases.services.releases import update_release
from tests.builders import known, make_cast, make_release
from tests.monitoring.fakes import Answer, FakeProvider, add_check, check_runs, github, run_cycle

SHA_B = "b" * 40


def status_events(release):
    return list(ReleaseEvent.objects.filter(release=release, verb="check_status"))


def green(seen):
    return Answer(body=check_runs(("build", "completed", "success")))


def test_it_polls_a_due_check_and_records_the_change_with_an_event(cast, release):
    with FakeProvider(green) as api:
        check = add_check(release, github(cast, api.url), cast.rita)

        run_cycle()

    commit = f"/repos/example/payments/commits/{release.commit_sha}"
    assert api.paths() == [f"{commit}/check-runs", f"{commit}/status"]
    assert api.seen[0].headers["authorization"] == "Bearer ghp_polltoken"
    check.refresh_from_db()
    assert check.status == "passing"
    assert check.last_value == "1 of 1 check run succeeded"
    assert check.observed_sha == release.commit_sha
    assert check.poll_claim is None
    assert known(check.next_poll_at) > timezone.now() + dt.timedelta(seconds=50)
    [result] = CheckResult.objects.filter(check_ref=check)
    assert (result.status, result.source, result.sha) == ("passing", "poll", release.commit_sha)
    [event] = status_events(release)
    assert "pending → passing" in event.summary


def test_it_only_moves_last_evaluated_when_the_status_repeats(cast, release):
    with FakeProvider(green) as api:
        check = add_check(release, github(cast, api.url), cast.rita)
        run_cycle()
        check.refresh_from_db()
        first = known(check.last_evaluated_at)

        later = timezone.now() + dt.timedelta(seconds=61)
        run_cycle(now=later)

    assert len(api.fetches()) == 2
    check.refresh_from_db()
    assert check.last_evaluated_at == later > first
    assert CheckResult.objects.filter(check_ref=check).count() == 1
    assert len(status_events(release)) == 1


def test_it_leaves_alone_what_is_not_due(cast, release):
    with FakeProvider(green) as api:
        integration = github(cast, api.url)
        later = add_check(release, integration, cast.rita, name="later", stabilisation_seconds=300)
        template = save_check_template(
            cast.project, by=cast.rita, integration=integration, name="template"
        )
        post = add_check(release, integration, cast.rita, name="post", phase="post_release")
        Check.objects.filter(pk=template.pk).update(next_poll_at=timezone.now())

        dispatch = run_cycle()

    assert dispatch.claims == []
    assert api.seen == []
    assert Check.objects.get(pk=later.pk).status == "pending"
    # Post-release checks wait for the release to enter monitoring.
    assert Check.objects.get(pk=post.pk).next_poll_at is None


def test_it_skips_a_disabled_integration(cast, release):
    with FakeProvider(green) as api:
        integration = github(cast, api.url)
        add_check(release, integration, cast.rita)
        integration.enabled = False
        integration.save(update_fields=["enabled"])

        run_cycle()

    assert api.seen == []


def test_it_fetches_each_integration_and_commit_once_per_cycle(cast):
    """200 checks over 20 (integration, commit) pairs: exactly 20 requests per cycle."""
    with FakeProvider(green) as api:
        integrations = [github(cast, api.url, name=f"GitHub {n}") for n in range(4)]
        releases = [make_release(cast, f"1.{n}.0", sha=f"{n:040x}") for n in range(5)]
        now = timezone.now()
        Check.objects.bulk_create(
            Check(
                release=release,
                integration=integration,
                name=f"job {n}",
                params={"check_name": "build"} if n % 2 else {},
                started_at=now,
                next_poll_at=now,
            )
            for release in releases
            for integration in integrations
            for n in range(10)
        )

        # Through the real tasks (run eagerly in tests): dispatcher, then one fetch per group.
        assert tasks.dispatch_due_checks() == 200
        assert len(api.fetches()) == 20
        assert len({(s.path, s.headers["host"]) for s in api.fetches()}) == 5
        assert Check.objects.filter(release__isnull=False, status="passing").count() == 200

        Check.objects.update(next_poll_at=timezone.now())
        tasks.dispatch_due_checks()
        assert len(api.fetches()) == 40


def test_a_claimed_check_is_not_claimed_again_by_the_next_tick(cast, release):
    with FakeProvider(green) as api:
        add_check(release, github(cast, api.url), cast.rita)

        first = polling.claim_due_checks()
        second = polling.claim_due_checks()

    assert first.checks == 1
    assert second.checks == 0
    assert api.seen == []  # claiming fetches nothing
    assert PollerHeartbeat.objects.get(name="dispatcher").claimed == 0


def test_a_redelivered_fetch_writes_nothing_twice(cast, release):
    with FakeProvider(green) as api:
        check = add_check(release, github(cast, api.url), cast.rita)
        [claim] = polling.claim_due_checks().claims

        assert polling.poll_group(claim.check_ids, claim.token) == 1
        assert polling.poll_group(claim.check_ids, claim.token) == 0

    assert len(api.fetches()) == 1  # the second run did not even fetch
    assert CheckResult.objects.filter(check_ref=check).count() == 1
    assert len(status_events(release)) == 1


def test_a_lost_fetch_is_claimed_again_when_its_lease_lapses(cast, release):
    with FakeProvider(green) as api:
        check = add_check(release, github(cast, api.url), cast.rita)
        lost = polling.claim_due_checks().claims[0]  # its task never runs

        after_lease = timezone.now() + dt.timedelta(seconds=polling.LEASE_SECONDS + 1)
        run_cycle(now=after_lease)
        # The lost task turns up late: its claim is void.
        assert polling.poll_group(lost.check_ids, lost.token) == 0

    check.refresh_from_db()
    assert check.status == "passing"
    assert len(api.fetches()) == 1


def test_a_new_commit_voids_a_fetch_in_flight(cast, release):
    with FakeProvider(green) as api:
        check = add_check(release, github(cast, api.url), cast.rita)
        [claim] = polling.claim_due_checks().claims
        update_release(release, by=cast.rita, commit_sha=SHA_B)

        assert polling.poll_group(claim.check_ids, claim.token) == 0

    check.refresh_from_db()
    assert check.status == "pending"
    assert known(check.next_poll_at) <= timezone.now()  # the new commit is read at the next tick


def test_it_sends_the_etag_and_keeps_the_result_when_nothing_changed(cast, release):
    def github_api(seen):
        if seen.headers.get("if-none-match") == '"v1"':
            return Answer(status=304, headers={"ETag": '"v1"'})
        return Answer(body=check_runs(("build", "completed", "failure")), headers={"ETag": '"v1"'})

    with FakeProvider(github_api) as api:
        check = add_check(release, github(cast, api.url), cast.rita)
        run_cycle()
        check.refresh_from_db()
        assert (check.status, check.etag) == ("failing", '["\\"v1\\"", "\\"v1\\""]')

        run_cycle(now=timezone.now() + dt.timedelta(seconds=61))

    assert ["if-none-match" in seen.headers for seen in api.seen] == [False, False, True, True]
    assert api.seen[2].headers["if-none-match"] == '"v1"'
    check.refresh_from_db()
    assert check.status == "failing"
    assert check.last_value == "1 of 1 check run failed"
    assert CheckResult.objects.filter(check_ref=check).count() == 1


def test_errors_never_count_as_passing(cast, release):
    with FakeProvider(lambda seen: Answer(status=500)) as api:
        check = add_check(release, github(cast, api.url), cast.rita)
        run_cycle()

    check.refresh_from_db()
    assert check.status == "error"
    assert check.last_value == "unavailable"
    blockers = [b.message for b in readiness_for(release).blockers]
    assert "Check “GitHub checks” is not passing: error – " + check.last_detail[:120] in blockers


def test_it_never_logs_or_stores_the_token(cast, release, caplog):
    token = "ghp_NeverInALogLine42"
    caplog.set_level(logging.DEBUG)
    answer = Answer(status=401, body={"message": "Bad credentials"})
    with FakeProvider(lambda seen: answer) as api:
        integration = github(cast, api.url, token=token)
        check = add_check(release, integration, cast.rita)
        for n in range(3):
            run_cycle(now=timezone.now() + dt.timedelta(hours=n))

    assert api.seen[0].headers["authorization"] == f"Bearer {token}"
    integration.refresh_from_db()
    check.refresh_from_db()
    assert check.status == "error"
    assert "Bad credentials" in integration.last_error
    stored = " ".join(
        [
            integration.last_error,
            check.last_detail,
            check.last_value,
            str(integration.config),
            *CheckResult.objects.values_list("detail", flat=True),
            *ReleaseEvent.objects.values_list("summary", flat=True),
        ]
    )
    assert token not in stored
    assert token not in caplog.text


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_second_dispatcher_skips_the_rows_another_holds():
    assert connection.vendor == "postgresql"
    cast = make_cast()
    release = make_release(cast)
    integration = github(cast, "http://127.0.0.1:9")
    checks = [add_check(release, integration, cast.rita, name=f"c{n}") for n in range(6)]
    held = [c.pk for c in checks[:3]]
    locked, release_lock = threading.Event(), threading.Event()

    def other_dispatcher():
        # Another dispatcher in the middle of its transaction, holding three rows.
        with transaction.atomic():
            list(Check.objects.select_for_update().filter(pk__in=held))
            locked.set()
            release_lock.wait(10)
        connection.close()

    thread = threading.Thread(target=other_dispatcher)
    thread.start()
    try:
        assert locked.wait(10)
        started = timezone.now()
        dispatch = polling.claim_due_checks()
        waited = (timezone.now() - started).total_seconds()
    finally:
        release_lock.set()
        thread.join()

    claimed = {pk for claim in dispatch.claims for pk in claim.check_ids}
    assert claimed == {c.pk for c in checks[3:]}
    assert waited < 2  # skipped, did not wait for the lock


def test_the_beat_health_check_fails_when_the_dispatcher_stops(db):
    with pytest.raises(CommandError, match="never run"):
        call_command("check_poller", stdout=StringIO())

    PollerHeartbeat.objects.create(
        name="dispatcher", ran_at=timezone.now() - dt.timedelta(seconds=90)
    )
    with pytest.raises(CommandError, match="last ran 90 s ago"):
        call_command("check_poller", "--max-age", "60", stdout=StringIO())

    polling.claim_due_checks()
    out = StringIO()
    call_command("check_poller", "--max-age", "60", stdout=out)
    assert "ran 0 s ago" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_a_live_fetch_keeps_its_claim_past_the_lease_while_it_waits(monkeypatch):
    # A short lease and renewal, so the fetch (two reads of 1.5 s) outlives several leases.
    monkeypatch.setattr(polling, "LEASE_SECONDS", 1)
    monkeypatch.setattr(polling, "RENEW_SECONDS", 0.2)
    cast = make_cast()
    release = make_release(cast)

    def slow(seen):
        return Answer(body=check_runs(("build", "completed", "success")), delay=1.5)

    with FakeProvider(slow) as api:
        check = add_check(release, github(cast, api.url), cast.rita)
        [claim] = polling.claim_due_checks().claims

        def run() -> None:
            try:
                polling.poll_group(claim.check_ids, claim.token)
            finally:
                connection.close()

        fetch = threading.Thread(target=run)
        fetch.start()
        taken = []
        while fetch.is_alive():
            taken += polling.claim_due_checks().claims
            fetch.join(0.3)

    assert taken == []
    check.refresh_from_db()
    assert check.status == "passing"
    assert len(api.fetches()) == 1
