"""The commit range against the locked scope: a change no scope item covers blocks readiness
until a scope change request for it is accepted, or Product and the release manager accept it."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from approvals.readiness import readiness_for
from lib.errors import NotAllowed, Refused
from monitoring.models import CommitRange, RangeChange
from monitoring.scope_checks import unplanned_changes
from monitoring.services import commit_range as ranges
from releases.models import ReleaseEvent
from releases.services.releases import update_release
from releases.services.scope import add_scope_item, approve_change_request
from tests.builders import BASE, HEAD, compare_commits, known, make_ready, make_release
from tests.monitoring.fakes import Answer, FakeProvider
from tests.monitoring.helpers import recorded


class GitHubHost(FakeProvider):
    """A GitHub whose reply the test can change: ``answers["reply"]``."""

    def __init__(self) -> None:
        self.answers = {"reply": Answer(body=recorded("github", "compare_one_unplanned"))}
        super().__init__(lambda seen: self.answers["reply"])


@pytest.fixture
def github_host():
    with GitHubHost() as provider:
        yield provider


@pytest.fixture
def compared(cast, github_host):
    """Payments compares commits on GitHub; 1.0.0 was released on BASE."""
    compare_commits(cast, github_host.url)
    return github_host


def blockers(release, kind="unplanned_change"):
    return [b.message for b in readiness_for(release).blockers if b.kind == kind]


def test_it_blocks_readiness_with_one_unplanned_commit_after_the_scope_lock(
    cast, compared, committed
):
    release = make_release(cast, "1.1.0", sha=HEAD)  # scope: PAY-1
    release = committed(make_ready, release, cast)
    assert [s.path for s in compared.seen] == [f"/repos/example/payments/compare/{BASE}...{HEAD}"]
    (message,) = blockers(release)
    assert "1 unplanned change since the previous release" in message
    assert "Raise the payment gateway timeout" in message
    assert not readiness_for(release).ready
    commit_range = release.commit_range
    assert commit_range.commit_count == 4
    assert [c.ref for c in commit_range.changes.all()] == ["#42", "4444444444"]
    assert ReleaseEvent.objects.filter(release=release, verb="commit_range_read").exists()


def test_it_clears_the_blocker_once_a_scope_change_request_is_accepted(cast, compared, committed):
    release = committed(make_ready, make_release(cast, "1.1.0", sha=HEAD), cast)
    (change,) = unplanned_changes(release)
    request = ranges.request_scope_change_for(
        change, by=cast.dana, reason="The gateway times out under load."
    )
    assert request.proposal["title"] == "Raise the payment gateway timeout"
    approve_change_request(request, by=cast.paul, as_role="product")
    assert blockers(release)  # half accepted is not accepted
    approve_change_request(request, by=cast.rita, as_role="release_manager")
    assert blockers(release) == []
    assert blockers(release, "change_request") == []
    release.refresh_from_db()
    assert release.scope_items.filter(title="Raise the payment gateway timeout").exists()


def test_it_clears_the_blocker_when_product_and_the_release_manager_accept_it(
    cast, compared, committed
):
    release = committed(make_ready, make_release(cast, "1.1.0", sha=HEAD), cast)
    (change,) = unplanned_changes(release)
    ranges.accept_unplanned_change(change, by=cast.paul, as_role="product")
    assert blockers(release)
    with pytest.raises(NotAllowed):
        ranges.accept_unplanned_change(change, by=cast.paul, as_role="release_manager")
    ranges.accept_unplanned_change(change, by=cast.rita, as_role="release_manager")
    assert blockers(release) == []
    summaries = ReleaseEvent.objects.filter(release=release, verb="unplanned_change_accepted")
    assert summaries.count() == 2
    assert "have both accepted it" in known(summaries.order_by("pk").last()).summary


def test_it_lets_only_product_and_the_release_manager_accept(cast, compared, committed):
    release = committed(make_ready, make_release(cast, "1.1.0", sha=HEAD), cast)
    (change,) = unplanned_changes(release)
    with pytest.raises(NotAllowed, match="Only Product and the release manager"):
        ranges.accept_unplanned_change(change, by=cast.devin, as_role="product")
    with pytest.raises(ValidationError):
        ranges.accept_unplanned_change(change, by=cast.rita, as_role="qa")


def test_it_does_not_block_while_planning(cast, compared, committed):
    release = make_release(cast, "1.1.0", sha=HEAD)
    ranges.read_commit_range(release, by=cast.rita)
    assert len(unplanned_changes(release)) == 1
    assert blockers(release) == []


def test_it_fails_closed_when_the_host_cannot_be_read(cast, compared, committed):
    compared.answers["reply"] = Answer(status=500, body={"message": "boom"})
    release = committed(make_ready, make_release(cast, "1.1.0", sha=HEAD), cast)
    (message,) = blockers(release)
    assert "could not be compared" in message
    assert release.commit_range.error


def test_it_reads_again_when_the_commit_changes_and_keeps_decisions_on_the_same_commits(
    cast, compared, committed
):
    release = committed(make_ready, make_release(cast, "1.1.0", sha=HEAD), cast)
    (change,) = unplanned_changes(release)
    ranges.accept_unplanned_change(change, by=cast.paul, as_role="product")
    ranges.accept_unplanned_change(change, by=cast.rita, as_role="release_manager")
    compared.answers["reply"] = Answer(status=500, body={"message": "down"})
    committed(update_release, release, by=cast.rita, commit_sha="5" * 40)
    assert "could not be compared" in blockers(release)[0]
    compared.answers["reply"] = Answer(body=recorded("github", "compare_one_unplanned"))
    release.refresh_from_db()
    ranges.read_commit_range(release, by=cast.rita)
    # The host lists the same commits: the acceptance of exactly those still holds.
    assert blockers(release) == []
    assert release.commit_range.head_sha == "5" * 40


def test_it_compares_nothing_for_a_first_release(cast, github_host, committed):
    compare_commits(cast, github_host.url, released_base=False)
    release = committed(make_ready, make_release(cast, "1.0.0", sha=HEAD), cast)
    assert github_host.seen == []
    assert blockers(release) == []
    assert release.commit_range.read_at is not None


def test_it_leaves_projects_that_do_not_compare_alone(cast, committed):
    release = committed(make_ready, make_release(cast, "1.0.0", sha=HEAD), cast)
    assert not CommitRange.objects.filter(release=release).exists()
    with pytest.raises(Refused, match="compares commits"):
        ranges.read_commit_range(release, by=cast.rita)


def test_it_lists_the_changes_a_scope_item_covers_as_planned(cast, compared, committed):
    release = make_release(cast, "1.1.0", sha=HEAD)
    add_scope_item(release, by=cast.rita, title="Gateway timeout")
    ranges.read_commit_range(release, by=cast.rita)
    assert RangeChange.objects.filter(commit_range__release=release).count() == 2
    (change,) = unplanned_changes(release)
    assert change.ref == "4444444444"
