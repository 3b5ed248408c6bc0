"""The one gate answer, from the rules the release page uses, and its place on the timeline."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from approvals.services.decisions import record_decision
from gate.services.answer import GO, NO_GO, VERB, WAIT, ask, compute_answer
from releases.models import ReleaseEvent
from releases.services.freeze_windows import save_freeze_window
from releases.services.lifecycle import cancel_release, lock_scope
from releases.services.projects import set_deploy_environments
from releases.services.releases import update_release
from tests.builders import make_approved, make_deploying, make_ready, make_release

pytestmark = pytest.mark.django_db

SHA = "a" * 40


def answer(cast, sha: str = SHA, environment: str = "production"):
    return compute_answer(cast.project, sha=sha, environment=environment)


def test_it_says_go_when_a_go_covers_the_commit_and_nothing_stands_in_the_way(cast) -> None:
    release = make_approved(make_release(cast), cast)

    result = answer(cast)

    assert result.state == GO
    assert result.allowed
    assert result.release == release
    assert result.blockers == ()
    assert result.sentence() == f"Go: {release} (commit {SHA[:12]} to production) may deploy now."


def test_it_waits_for_the_go_naming_every_readiness_blocker(cast) -> None:
    release = make_release(cast)
    lock_scope(release, by=cast.rita)

    result = answer(cast)

    assert result.state == WAIT
    assert result.blockers[0] == "there is no Go decision yet"
    assert any("Critical flows pass" in b for b in result.blockers)
    assert "may not deploy now" in result.sentence()


def test_it_waits_while_a_freeze_window_is_in_force(cast) -> None:
    make_approved(make_release(cast), cast)
    now = timezone.now()
    save_freeze_window(
        cast.project,
        by=cast.rita,
        reason="Black Friday",
        starts_at=now - dt.timedelta(hours=1),
        ends_at=now + dt.timedelta(hours=1),
    )

    result = answer(cast)

    assert result.state == WAIT
    assert len(result.blockers) == 1
    assert result.blockers[0].startswith("a freeze window is in force (Black Friday")


def test_it_waits_until_the_deploy_window_opens(cast) -> None:
    release = make_approved(make_release(cast), cast)
    opens = timezone.now() + dt.timedelta(hours=2)
    update_release(release, by=cast.rita, deploy_window_start=opens)

    result = answer(cast)

    assert result.state == WAIT
    assert result.blockers[0].startswith("the deploy window opens at ")
    assert compute_answer(
        cast.project, sha=SHA, environment="production", now=opens + dt.timedelta(minutes=1)
    ).allowed


def test_it_says_no_go_after_a_no_go_decision(cast) -> None:
    release = make_ready(make_release(cast), cast)
    record_decision(release, by=cast.rita, outcome="no_go", notes="Payments are down")

    result = answer(cast)

    assert result.state == NO_GO
    assert "a No-go was decided by" in result.blockers[0]
    assert result.blockers[0].endswith("Payments are down")


def test_it_says_go_while_the_deploy_is_under_way(cast) -> None:
    make_deploying(make_release(cast), cast)

    assert answer(cast).state == GO


def test_it_says_no_go_for_a_cancelled_release(cast) -> None:
    release = make_release(cast)
    cancel_release(release, by=cast.rita, reason="Not needed")

    result = answer(cast)

    assert result.state == NO_GO
    assert result.blockers == ("it was cancelled",)


def test_it_says_no_go_for_a_commit_no_release_deploys(cast) -> None:
    make_approved(make_release(cast), cast)

    result = answer(cast, sha="b" * 40)

    assert result.state == NO_GO
    assert result.release is None
    assert result.blockers == (f"no release of Payments deploys commit {'b' * 12} to production",)


def test_it_says_no_go_for_another_environment(cast) -> None:
    make_approved(make_release(cast), cast)

    assert answer(cast, environment="staging").state == NO_GO


def test_it_follows_the_projects_deploy_environments(cast) -> None:
    make_approved(make_release(cast), cast)
    set_deploy_environments(
        cast.project, by=cast.rita, mapping={"prod": "production", "github-pages": ""}
    )
    cast.project.refresh_from_db()

    assert answer(cast, environment="PROD").state == GO
    result = answer(cast, environment="github-pages")
    assert result.state == NO_GO
    assert "map it to nothing" in result.blockers[0]


def test_it_matches_a_short_commit_of_the_release(cast) -> None:
    make_approved(make_release(cast, sha="abcdef1"), cast)

    assert answer(cast, sha="abcdef1" + "0" * 33).state == GO


def test_it_refuses_a_malformed_commit(cast) -> None:
    with pytest.raises(ValidationError):
        answer(cast, sha="main")


def test_it_logs_who_asked_for_which_commit_and_environment_and_the_answer(cast) -> None:
    release = make_approved(make_release(cast), cast)

    ask(cast.project, sha=SHA, environment="production", by="CI token deploy-bot")

    event = ReleaseEvent.objects.get(release=release, verb=VERB)
    assert event.actor_label == "CI token deploy-bot"
    assert event.data == {
        "asked_by": "CI token deploy-bot",
        "sha": SHA,
        "environment": "production",
        "state": "go",
        "blockers": [],
    }
    assert event.summary == (
        f"Deploy gate asked by CI token deploy-bot for commit {SHA[:12]} to production: go"
    )


def test_it_logs_a_repeated_answer_once_and_a_changed_one_again(cast) -> None:
    release = make_release(cast)
    lock_scope(release, by=cast.rita)

    for _ in range(3):
        ask(cast.project, sha=SHA, environment="production", by=cast.dana)
    release.refresh_from_db()
    make_approved(release, cast)
    ask(cast.project, sha=SHA, environment="production", by=cast.dana)
    ask(cast.project, sha=SHA, environment="production", by="CI token other")

    events = ReleaseEvent.objects.filter(release=release, verb=VERB).order_by("pk")
    assert [(e.data["asked_by"], e.data["state"]) for e in events] == [
        ("dana", "wait"),
        ("dana", "go"),
        ("CI token other", "go"),
    ]
    assert events[0].actor == cast.dana
