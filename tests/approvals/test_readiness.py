"""Readiness: each kind of blocker appears and disappears as the data changes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from approvals.readiness import compute_readiness, readiness_for, with_readiness_data
from approvals.services.sign_offs import record_sign_off, withdraw_sign_off
from monitoring.models import Check, CheckStatus
from monitoring.services.results import record_check_result
from releases.models import Release
from releases.services.checklists import tick_checklist_item, untick_checklist_item
from releases.services.releases import update_release
from releases.services.rollback import update_rollback_plan
from releases.services.scope import (
    add_scope_item,
    reject_change_request,
    request_scope_change,
    resolve_risk,
)
from tests.builders import make_ready, make_release

pytestmark = pytest.mark.django_db


def kinds(release: Release) -> list[str]:
    return [b.kind for b in readiness_for(release).blockers]


def messages(release: Release) -> list[str]:
    return [b.message for b in readiness_for(release).blockers]


def test_it_is_ready_when_every_criterion_is_met(cast, release):
    make_ready(release, cast)
    readiness = readiness_for(release)
    assert readiness.ready
    assert readiness.blockers == []
    assert readiness.percent == 100


def test_it_lists_every_blocker_of_a_new_release(cast, release):
    readiness = readiness_for(release)
    assert not readiness.ready
    assert [b.kind for b in readiness.blockers] == [
        "checklist",
        "check",
        "rollback_plan",
        "sign_off",
        "sign_off",
        "sign_off",
        "sign_off",
    ]
    assert 0 < readiness.percent < 100


def test_it_blocks_on_unticked_required_items_and_clears_when_ticked(cast, release):
    make_ready(release, cast)
    item = release.checklist_items.get(title="Critical flows pass")
    untick_checklist_item(item, by=cast.quinn, reason="Flaky on Safari")
    assert "1 required checklist item is not ticked: Critical flows pass" in messages(release)
    tick_checklist_item(item, by=cast.quinn, note="Fixed")
    assert "checklist" not in kinds(release)


def test_it_ignores_optional_checklist_items(cast, release):
    make_ready(release, cast)
    optional = release.checklist_items.get(title="Stakeholders told")
    assert optional.ticked_at is None
    assert readiness_for(release).ready


@pytest.mark.parametrize(
    "status",
    [CheckStatus.PENDING, CheckStatus.ERROR, CheckStatus.FAILING, CheckStatus.NEEDS_JUDGEMENT],
)
def test_it_fails_closed_on_any_check_status_but_passing(cast, release, status):
    make_ready(release, cast)
    check = release.checks.get()
    record_check_result(check, status=status, detail="from the test", source="api")
    label = CheckStatus(status).label.lower()
    assert f"Check “CI green” is not passing: {label} – from the test" in messages(release)
    record_check_result(check, status="passing", source="api")
    assert "check" not in kinds(release)


def test_it_treats_a_result_for_another_commit_as_stale(cast, release):
    make_ready(release, cast)
    check = release.checks.get()
    record_check_result(check, status="passing", sha="b" * 40, source="api")
    assert any("its last result is for commit bbbbbbbbbb" in m for m in messages(release))


def test_it_ignores_advisory_checks(cast, release):
    make_ready(release, cast)
    Check.objects.filter(pk=release.checks.get().pk).update(required=False, status="failing")
    assert readiness_for(release).ready


def test_it_waits_for_a_passing_check_to_hold(cast, release):
    make_ready(release, cast)
    check = release.checks.get()
    Check.objects.filter(pk=check.pk).update(hold_seconds=300, passing_since=timezone.now())
    assert any("not for long enough" in m for m in messages(release))
    Check.objects.filter(pk=check.pk).update(
        passing_since=timezone.now() - dt.timedelta(seconds=301)
    )
    assert readiness_for(release).ready


def test_it_blocks_until_the_rollback_plan_is_complete(cast, release):
    make_ready(release, cast)
    update_rollback_plan(release, by=cast.dana, triggers="")
    assert "The rollback plan is missing what triggers a rollback" in messages(release)
    update_rollback_plan(release, by=cast.dana, triggers="p95 > 800 ms")
    assert "rollback_plan" not in kinds(release)


def test_it_requires_a_rehearsal_for_major_releases(cast):
    release = make_release(cast, "2.0.0", kind="major")
    update_rollback_plan(
        release,
        by=cast.dana,
        revert_steps="Revert",
        decider=cast.rita,
        triggers="Errors",
        data_considerations="None",
    )
    assert any("a rehearsal (required for a major release)" in m for m in messages(release))


def test_it_blocks_on_an_open_blocker_risk_until_resolved(cast):
    release = make_release(cast)
    risk = add_scope_item(
        release, by=cast.rita, title="Vault migration", kind="risk", risk="blocker"
    )
    make_ready(release, cast)
    assert messages(release) == ["Open blocker risk: Vault migration"]
    resolve_risk(risk, by=cast.rita, resolution="Dry run on a prod copy passed")
    assert readiness_for(release).ready


def test_it_blocks_while_a_scope_change_waits(cast, release):
    make_ready(release, cast)
    request = request_scope_change(
        release, by=cast.devin, action="add", reason="Tiny", proposal={"title": "Receipt tweak"}
    )
    assert "1 scope change request is waiting for a decision" in messages(release)
    reject_change_request(request, by=cast.paul, reason="Next release")
    assert readiness_for(release).ready


def test_it_blocks_on_missing_sign_offs_and_names_the_role(cast, release):
    make_ready(release, cast)
    withdraw_sign_off(release, by=cast.paul, role="product")
    assert messages(release) == ["Product has not signed off"]


def test_it_blocks_on_a_no_go_with_the_reason(cast, release):
    make_ready(release, cast)
    record_sign_off(
        release, by=cast.quinn, role="qa", decision="no_go", comment="Checkout broken on iOS"
    )
    assert messages(release) == ["QA: quinn said No-go – Checkout broken on iOS"]


def test_it_blocks_on_a_stale_sign_off_and_says_why(cast, release):
    make_ready(release, cast)
    update_release(release, by=cast.rita, commit_sha="c" * 40)
    texts = messages(release)
    assert any(
        t.startswith("Product sign-off is stale: paul's is stale (the commit changed")
        for t in texts
    )


def test_it_computes_many_releases_in_a_fixed_number_of_queries(
    cast, django_assert_max_num_queries
):
    for n in range(12):
        make_release(cast, f"1.{n}.0", scope=3)
    with django_assert_max_num_queries(10):
        results = [compute_readiness(r) for r in with_readiness_data(Release.objects.all())]
    assert len(results) == 12
