"""Scope imported from a tracker: added while planning, requested as scope changes after the
lock, kept in step on demand and on the schedule, "not done" blocking readiness."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from approvals.readiness import readiness_for
from lib.errors import NotAllowed
from monitoring.models import ScopeSource, TrackedItem
from monitoring.services import health
from monitoring.services import trackers as scope_import
from releases.models import Release, ReleaseEvent, ScopeChangeRequest
from releases.services.lifecycle import lock_scope
from releases.services.scope import approve_change_request, set_scope_item_state
from tests.builders import connect_jira, make_monitoring, make_release
from tests.monitoring.fakes import Answer
from tests.monitoring.jira_standin import jira_stand_in


@pytest.fixture
def jira():
    with jira_stand_in() as stand_in:
        yield stand_in


@pytest.fixture
def tracker(cast, jira):
    return connect_jira(cast, jira.url)


@pytest.fixture
def planning(cast):
    return make_release(cast, "1.2.0", scope=0)


def imported(committed, release, by, tracker, **fields):
    fields.setdefault("source", "fix_version")
    return committed(scope_import.add_scope_source, release, by=by, integration=tracker, **fields)


def tracker_blockers(release):
    return [b.message for b in readiness_for(release).blockers if b.kind == "tracker"]


def test_it_imports_a_fix_version_while_planning(cast, planning, tracker, jira, committed):
    source = imported(committed, planning, cast.paul, tracker)
    assert source.query == "1.2.0"  # the release's version when none is named
    items = {i.key: i for i in planning.scope_items.all()}
    assert sorted(items) == ["PAY-1", "PAY-2", "PAY-3"]
    refunds, crash, vault = items["PAY-1"], items["PAY-2"], items["PAY-3"]
    assert (refunds.title, refunds.kind, refunds.owner) == ("Refunds", "feature", cast.devin)
    assert refunds.url == f"{jira.url}/browse/PAY-1"
    assert (crash.kind, crash.owner) == ("fix", None)
    assert (vault.kind, vault.owner) == ("dependency", cast.paul)
    assert refunds.created_by == cast.paul
    assert [s.query["jql"][0] for s in jira.seen][:1] == [
        'project = "PAY" AND fixVersion = "1.2.0"'
    ]
    source.refresh_from_db()
    assert source.version_id == "10100"
    assert source.last_synced_at is not None
    assert TrackedItem.objects.get(scope_item=refunds).done is True


def test_it_blocks_readiness_while_an_included_item_is_not_done(
    cast, planning, tracker, jira, committed
):
    source = imported(committed, planning, cast.paul, tracker)
    (message,) = tracker_blockers(planning)
    assert message.startswith("2 scope items are not done in the tracker:")
    assert "PAY-2 (In Progress)" in message
    assert "PAY-3 (To Do)" in message
    jira.set_status("PAY-2", "Done", "done")
    jira.set_status("PAY-3", "Done", "done")
    scope_import.sync_scope_source(source, by=cast.rita)
    assert tracker_blockers(planning) == []


def test_it_does_not_hold_a_deferred_item_against_the_release(cast, planning, tracker, committed):
    imported(committed, planning, cast.paul, tracker)
    for key in ("PAY-2", "PAY-3"):
        set_scope_item_state(planning.scope_items.get(key=key), "deferred", by=cast.rita)
    assert tracker_blockers(planning) == []


def test_titles_follow_the_tracker_while_planning(cast, planning, tracker, jira, committed):
    source = imported(committed, planning, cast.paul, tracker)
    jira.issue("PAY-1")["fields"]["summary"] = "Partial refunds"
    result = scope_import.sync_scope_source(source, by=cast.rita)
    assert result.updated == ["PAY-1"]
    assert planning.scope_items.get(key="PAY-1").title == "Partial refunds"


def test_it_requests_a_scope_change_for_an_issue_added_after_the_lock(
    cast, planning, tracker, jira, committed
):
    source = imported(committed, planning, cast.paul, tracker)
    lock_scope(planning, by=cast.rita)
    jira.add("PAY-4", "Chargeback alerts")
    jira.issue("PAY-1")["fields"]["summary"] = "Renamed after the lock"
    result = scope_import.sync_scope_source(source, by=scope_import.SYNC_ACTOR)
    assert result.requested == ["PAY-4"]
    assert not planning.scope_items.filter(key="PAY-4").exists()
    request = ScopeChangeRequest.objects.get(release=planning)
    assert request.proposal["key"] == "PAY-4"
    assert request.state == "pending"
    # Locked scope keeps its titles; the tracker's is shown beside it.
    assert planning.scope_items.get(key="PAY-1").title == "Refunds"
    assert (
        TrackedItem.objects.get(scope_item__key="PAY-1").tracker_title == "Renamed after the lock"
    )
    # The next sync does not ask again.
    assert scope_import.sync_scope_source(source, by=scope_import.SYNC_ACTOR).requested == []
    approve_change_request(request, by=cast.paul, as_role="product")
    approve_change_request(request, by=cast.rita, as_role="release_manager")
    scope_import.sync_scope_source(source, by=scope_import.SYNC_ACTOR)
    item = planning.scope_items.get(key="PAY-4")
    assert item.added_after_freeze
    assert TrackedItem.objects.filter(scope_item=item).exists()


def test_it_changes_nothing_when_the_tracker_fails(cast, planning, tracker, jira, committed):
    source = imported(committed, planning, cast.paul, tracker)
    jira.failure = Answer(status=429, body={}, headers={"Retry-After": "30"})
    jira.set_status("PAY-2", "Done", "done")
    scope_import.sync_scope_source(source, by=scope_import.SYNC_ACTOR)
    scope_import.sync_scope_source(source, by=scope_import.SYNC_ACTOR)
    source.refresh_from_db()
    assert "Rate limited" in source.last_error
    assert TrackedItem.objects.get(scope_item__key="PAY-2").done is False
    failed = ReleaseEvent.objects.filter(release=planning, verb="scope_sync_failed")
    assert failed.count() == 1  # the scheduled sync does not repeat the same error


def test_the_schedule_syncs_every_followed_source(cast, planning, tracker, jira, committed):
    imported(committed, planning, cast.paul, tracker)
    imported(
        committed, planning, cast.paul, tracker, source="jql", query="labels = x", auto_sync=False
    )
    jira.seen.clear()
    assert scope_import.sync_due_sources() == 1
    assert len(jira.seen) == 2  # two pages of one source


def test_it_lets_only_the_people_who_edit_the_scope_import(cast, planning, tracker):
    with pytest.raises(NotAllowed, match="import scope from a tracker"):
        scope_import.add_scope_source(planning, by=cast.vic, integration=tracker, source="jql")
    with pytest.raises(ValidationError) as caught:
        scope_import.add_scope_source(planning, by=cast.rita, integration=tracker, source="list")
    assert "source" in caught.value.message_dict
    with pytest.raises(ValidationError):
        scope_import.add_scope_source(
            planning, by=cast.rita, integration=cast.ci, source="jql", query="x"
        )


def test_it_releases_the_jira_version_after_the_release(cast, tracker, jira, committed):
    release = make_release(cast, "1.2.0", scope=0)
    imported(committed, release, cast.rita, tracker, release_version=True)
    for key in ("PAY-2", "PAY-3"):
        jira.set_status(key, "Done", "done")
    scope_import.sync_scope_source(ScopeSource.objects.get(release=release), by=cast.rita)
    release = make_monitoring(release, cast)
    Release.objects.filter(pk=release.pk).update(
        monitoring_until=timezone.now() - dt.timedelta(minutes=1)
    )
    committed(health.release_if_healthy, release, by=cast.rita)
    (put,) = [s for s in jira.seen if s.method == "PUT"]
    assert put.path == "/rest/api/3/version/10100"
    source = ScopeSource.objects.get(release=release)
    assert source.version_released_at is not None
    assert ReleaseEvent.objects.filter(release=release, verb="tracker_version_released").exists()
    # Once is enough.
    assert scope_import.release_due_versions() == 0


def test_it_leaves_the_jira_version_alone_without_the_option(cast, tracker, jira, committed):
    release = make_release(cast, "1.2.0", scope=0)
    imported(committed, release, cast.rita, tracker)
    assert scope_import.release_tracker_versions(release) == 0
    assert not [s for s in jira.seen if s.method == "PUT"]
