"""Two requests on one release at the same moment: the row lock lets exactly one win."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from approvals.models import SignOff
from approvals.services.deploy import start_deploy
from approvals.services.sign_offs import record_sign_off
from lib.errors import GreenlightError
from releases.models import Incident, Release, ReleaseEvent, Status
from releases.services.incidents import report_incident
from releases.services.lifecycle import cancel_release, lock_scope
from tests.builders import make_approved, make_cast, make_monitoring, make_release

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads (each with its own database connection) released together."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            outcomes[index] = call()
        except Exception as exc:
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


def test_it_lets_one_of_two_scope_locks_win():
    cast = make_cast()
    release = make_release(cast)
    outcomes = race(
        lambda: lock_scope(Release.objects.get(pk=release.pk), by=cast.rita),
        lambda: lock_scope(Release.objects.get(pk=release.pk), by=cast.rita),
    )
    refusals = [o for o in outcomes if isinstance(o, GreenlightError)]
    wins = [o for o in outcomes if isinstance(o, Release)]
    assert len(wins) == 1
    assert len(refusals) == 1
    assert str(refusals[0]) == "Cannot lock the scope: the release is scope frozen."
    assert ReleaseEvent.objects.filter(release=release, verb="scope_locked").count() == 1


def test_it_lets_one_of_deploy_and_cancel_win_and_writes_only_the_winner():
    cast = make_cast()
    release = make_approved(make_release(cast), cast)
    outcomes = race(
        lambda: start_deploy(Release.objects.get(pk=release.pk), by=cast.dana),
        lambda: cancel_release(
            Release.objects.get(pk=release.pk), by=cast.rita, reason="Changed our minds"
        ),
    )
    release.refresh_from_db()
    winners = [o for o in outcomes if isinstance(o, Release)]
    losers = [o for o in outcomes if isinstance(o, GreenlightError)]
    assert len(winners) == 1
    assert len(losers) == 1
    verbs = set(ReleaseEvent.objects.filter(release=release).values_list("verb", flat=True))
    if release.status == Status.DEPLOYING:
        assert "cancelled" not in verbs
        assert release.cancelled_at is None
        assert "roll it back instead" in str(losers[0])
    else:
        assert release.status == Status.CANCELLED
        assert "deploy_started" not in verbs
        assert release.deploy_started_at is None
        assert "the release is cancelled" in str(losers[0])


def test_it_never_starts_a_deploy_after_a_no_go_was_committed():
    """Twenty deploy starts race one No-go: a deploy that began first stands (and the No-go is
    recorded against the deploying release); every start after the No-go is refused."""
    cast = make_cast()
    release = make_approved(make_release(cast), cast)

    def deploy() -> Any:
        return start_deploy(Release.objects.get(pk=release.pk), by=cast.dana)

    def no_go() -> Any:
        return record_sign_off(
            Release.objects.get(pk=release.pk),
            by=cast.quinn,
            role="qa",
            decision="no_go",
            comment="Payments fail on staging",
        )

    outcomes = race(*[deploy] * 20, no_go)
    starts, sign_off = outcomes[:20], outcomes[20]
    assert isinstance(sign_off, SignOff), sign_off
    started = [o for o in starts if isinstance(o, Release)]
    refused = [o for o in starts if isinstance(o, GreenlightError)]
    assert len(started) + len(refused) == 20
    assert len(started) <= 1
    release.refresh_from_db()
    events = ReleaseEvent.objects.filter(release=release)
    no_go_event = events.get(verb="sign_off_no_go")
    if started:
        # The deploy committed first: the No-go came after, against a deploying release.
        assert release.status == Status.DEPLOYING
        assert events.get(verb="deploy_started").pk < no_go_event.pk
        assert not events.filter(verb="approval_withdrawn").exists()
        assert all("the release is deploying" in str(r) for r in refused)
    else:
        # The No-go committed first: it withdrew the Go and every start was refused.
        assert release.status == Status.FROZEN
        assert not events.filter(verb="deploy_started").exists()
        assert release.deploy_started_at is None
        assert events.get(verb="approval_withdrawn").pk > no_go_event.pk
        assert all("the release is scope frozen" in str(r) for r in refused)


def test_it_records_one_incident_when_two_reports_of_it_name_different_releases():
    """An incident tool sends one alert twice at once, each naming another deployed release of
    the project: the second waits for the first and changes the incident it recorded."""
    cast = make_cast()
    earlier = make_monitoring(make_release(cast, "1.0.0"), cast)
    later = make_release(cast, "1.1.0", sha="b" * 40)
    started = timezone.now() - dt.timedelta(hours=1)
    Release.objects.filter(pk__in=[earlier.pk, later.pk]).update(
        status=Status.MONITORING, deploy_started_at=started - dt.timedelta(hours=1)
    )

    def report(release: Release, external_id: str) -> Any:
        return report_incident(
            Release.objects.get(pk=release.pk),
            by="CI token opsgenie",
            source="opsgenie",
            external_id=external_id,
            title="Checkout errors",
            severity="sev2",
            started_at=started,
        )

    # Several alerts, each reported twice at once, so the race is run more than once.
    ids = [f"alert-{n}" for n in range(4)]
    outcomes = race(*[lambda i=i, r=r: report(r, i) for i in ids for r in (earlier, later)])

    assert [o for o in outcomes if isinstance(o, Exception)] == []
    assert sorted(created for _, created in outcomes) == [False] * 4 + [True] * 4
    assert Incident.objects.filter(project=cast.project).count() == 4
    assert ReleaseEvent.objects.filter(verb="incident_recorded").count() == 4
