"""Twenty sign-off requests at once on real PostgreSQL: one current sign-off per person and role,
no lost update, completeness and the decision recorded once."""

from __future__ import annotations

from collections import Counter

import pytest

from approvals.models import Decision, SignOff
from approvals.readiness import readiness_for
from approvals.services.decisions import record_decision
from approvals.services.deploy import assign_role
from approvals.services.sign_offs import record_sign_off
from lib.errors import NotAllowed, Refused
from releases.models import Notification, Release
from releases.services.lifecycle import lock_scope
from tests.builders import (
    complete_rollback_plan,
    make_cast,
    make_ready,
    make_release,
    pass_checks,
    tick_readiness,
)
from tests.releases.test_concurrency import race

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def fresh(release: Release) -> Release:
    return Release.objects.get(pk=release.pk)


def test_it_keeps_one_current_sign_off_per_person_and_role_under_twenty_requests():
    cast = make_cast()
    release = make_release(cast)
    lock_scope(release, by=cast.rita)
    tick_readiness(release, cast)
    complete_rollback_plan(release, cast)
    pass_checks(release)
    # vic also holds QA and Dev on this release: separation of duties lets one role win.
    assign_role(release, cast.vic, "qa", by=cast.rita)
    assign_role(release, cast.vic, "dev", by=cast.rita)

    def sign(user, role, n):
        return lambda: record_sign_off(
            fresh(release), by=user, role=role, decision="go", comment=f"go #{n}"
        )

    calls = [
        sign(user, role, n)
        for n in range(4)
        for user, role in [
            (cast.paul, "product"),
            (cast.quinn, "qa"),
            (cast.dana, "devops"),
            (cast.devin, "dev"),
        ]
    ]
    calls += [sign(cast.vic, "qa", 10), sign(cast.vic, "qa", 11)]
    calls += [sign(cast.vic, "dev", 20), sign(cast.vic, "dev", 21)]
    assert len(calls) == 20

    outcomes = race(*calls)

    recorded = [o for o in outcomes if isinstance(o, SignOff)]
    refused = [o for o in outcomes if not isinstance(o, SignOff)]
    assert len(recorded) == 18
    assert len(refused) == 2
    assert all(isinstance(o, NotAllowed) for o in refused), refused
    assert all("one person gives at most one role's sign-off" in str(o) for o in refused)

    rows = list(SignOff.objects.filter(release=release).order_by("pk"))
    assert len(rows) == 18  # every successful request left its row: no lost write
    current = [s for s in rows if s.is_current]
    assert Counter((s.user_id, s.role) for s in current) == Counter(
        {(s.user_id, s.role): 1 for s in current}
    )
    assert {s.user.username for s in current} == {"paul", "quinn", "dana", "devin", "vic"}
    vic_roles = {s.role for s in rows if s.user_id == cast.vic.pk}
    assert len(vic_roles) == 1
    for user_role in {(s.user_id, s.role) for s in rows}:
        history = [s for s in rows if (s.user_id, s.role) == user_role]
        # The latest write is the current one; every earlier one was superseded, none lost.
        assert history[-1].is_current
        assert all(not s.is_current and s.superseded_at for s in history[:-1])

    events = release.events.filter(verb="sign_off_go")
    assert sorted(e.data["sign_off"] for e in events) == [s.pk for s in rows]
    assert release.events.filter(verb="sign_offs_complete").count() == 1
    assert Notification.objects.filter(verb="sign_offs_complete", user=cast.rita).count() == 1
    assert readiness_for(release).ready


def test_it_records_one_decision_when_twenty_arrive_at_once():
    cast = make_cast()
    release = make_ready(make_release(cast), cast)

    outcomes = race(
        *[lambda: record_decision(fresh(release), by=cast.rita, outcome="go") for _ in range(20)]
    )

    decisions = [o for o in outcomes if isinstance(o, Decision)]
    refused = [o for o in outcomes if isinstance(o, Refused)]
    assert len(decisions) == 1
    assert len(refused) == 19
    assert {str(o) for o in refused} == {
        "A Go is recorded on a frozen release; this one is approved."
    }
    assert Decision.objects.filter(release=release).count() == 1
    assert release.events.filter(verb="decision_go").count() == 1
    assert release.events.filter(verb="approved").count() == 1
