"""The migration that takes back the health the old deploy step gave: a release in its
monitoring window stays healthy only with a passing reading of a deciding check since its
deploy finished."""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any

import pytest
from django.apps import apps
from django.utils import timezone

from releases.models import Release, ReleaseEvent

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("monitoring.migrations.0011_health_unknown_until_checks_pass")
FINISHED = timezone.now() - dt.timedelta(hours=1)


def test_it_forgets_only_the_health_no_deciding_check_has_shown_since_the_deploy():
    # The migration's function on today's models, which have every field it reads: migrating
    # the database back and forth around it would take seconds for the same rows.
    before = apps
    project = before.get_model("releases", "Project").objects.create(name="Pay", slug="pay")
    ci = before.get_model("monitoring", "Integration").objects.create(
        project=project, name="Grafana", kind="prometheus"
    )
    releases = before.get_model("releases", "Release").objects
    checks = before.get_model("monitoring", "Check").objects
    results = before.get_model("monitoring", "CheckResult").objects
    triggers = before.get_model("monitoring", "RollbackTrigger").objects

    def release(version: str, **fields: Any) -> Any:
        values = {"status": "monitoring", "health": "healthy", "deploy_finished_at": FINISHED}
        return releases.create(project=project, version=version, **(values | fields))

    def check(on: Any, **fields: Any) -> Any:
        values = {"name": "Errors", "phase": "post_release", "required": True}
        return checks.create(release=on, integration=ci, **(values | fields))

    hour = dt.timedelta(hours=1)
    # Healthy only by the old deploy step: no checks at all, or no passing reading since.
    release("1.0.0")
    passed_before = release("1.1.0")
    results.create(check_ref=check(passed_before), status="passing", observed_at=FINISHED - hour)
    failing_since = release("1.2.0")
    check(failing_since, status="failing", last_evaluated_at=FINISHED + hour)
    advisory_passed = release("1.3.0")
    results.create(
        check_ref=check(advisory_passed, required=False),
        status="passing",
        observed_at=FINISHED + hour,
    )
    pre_release_passed = release("1.4.0")
    check(pre_release_passed, phase="pre_release", status="passing", last_evaluated_at=FINISHED)
    # Earned: a passing result of a deciding check since the deploy, or a passing check read
    # again since (repeats write no result row), or an advisory check bound to a trigger.
    result_since = release("2.0.0")
    results.create(check_ref=check(result_since), status="passing", observed_at=FINISHED)
    read_again = release("2.1.0")
    check(read_again, status="passing", last_evaluated_at=FINISHED + hour)
    triggered = release("2.2.0")
    bound = check(triggered, required=False, status="passing", last_changed_at=FINISHED + hour)
    triggers.create(release=triggered, check_ref=bound, mode="recommend")
    # Not in question: other statuses and other healths.
    release("0.9.0", status="released")
    release("2.3.0", health="unhealthy")

    MIGRATION.forget_unearned_health(apps, None)

    health = dict(Release.objects.values_list("version", "health"))
    assert health == {
        "1.0.0": "unknown",
        "1.1.0": "unknown",
        "1.2.0": "unknown",
        "1.3.0": "unknown",
        "1.4.0": "unknown",
        "2.0.0": "healthy",
        "2.1.0": "healthy",
        "2.2.0": "healthy",
        "0.9.0": "healthy",
        "2.3.0": "unhealthy",
    }
    assert not ReleaseEvent.objects.exists()
