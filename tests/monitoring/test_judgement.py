"""A person resolves what the machines could not decide: by role, with a reason, audited."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from approvals.readiness import readiness_for
from lib.errors import NotAllowed, Refused
from monitoring.models import Check, CheckResult
from monitoring.services.results import judge_check, record_check_result
from releases.models import ReleaseEvent
from releases.services.releases import update_release
from tests.builders import known


@pytest.fixture
def undecided(release):
    check = Check.objects.get(release=release, name="CI green")
    return record_check_result(
        check, status="needs_judgement", value="no data", detail="No series", source="api"
    )


@pytest.mark.parametrize("who", ["rita", "dana", "quinn"])
def test_it_lets_the_release_manager_devops_and_qa_judge(cast, undecided, who):
    person = getattr(cast, who)

    check = judge_check(
        undecided, by=person, passed=True, reason="Dashboard shows no errors since the deploy."
    )

    assert (check.status, check.last_value) == ("passing", "judged pass")
    result = known(CheckResult.objects.filter(check_ref=check).first())
    assert (result.source, result.judged_by, result.status) == ("judgement", person, "passing")
    assert result.detail == "Dashboard shows no errors since the deploy."
    event = known(ReleaseEvent.objects.filter(verb="check_status").first())
    assert event.actor == person
    assert "needs judgement → passing" in event.summary
    assert not [b for b in readiness_for(known(check.release)).blockers if "CI green" in b.message]


@pytest.mark.parametrize("who", ["paul", "devin", "vic", "otto"])
def test_it_refuses_anyone_else(cast, undecided, who):
    with pytest.raises(NotAllowed):
        judge_check(undecided, by=getattr(cast, who), passed=True, reason="Looks fine")

    assert Check.objects.get(pk=undecided.pk).status == "needs_judgement"


def test_it_needs_a_reason(cast, undecided):
    with pytest.raises(ValidationError) as info:
        judge_check(undecided, by=cast.rita, passed=False, reason="  ")

    assert "reason" in info.value.message_dict
    assert Check.objects.get(pk=undecided.pk).status == "needs_judgement"


def test_it_judges_only_a_check_that_needs_judgement(cast, release):
    check = Check.objects.get(release=release, name="CI green")
    record_check_result(check, status="failing", source="api")

    with pytest.raises(Refused, match="this one is failing"):
        judge_check(check, by=cast.rita, passed=True, reason="I say so")


def test_a_judgement_stands_while_the_machines_still_cannot_decide(cast, undecided):
    judge_check(undecided, by=cast.rita, passed=True, reason="Checked by hand.")
    results = CheckResult.objects.count()

    check = record_check_result(undecided, status="needs_judgement", source="api")

    assert (check.status, check.last_value) == ("passing", "judged pass")
    assert CheckResult.objects.count() == results


def test_a_definite_result_replaces_a_judgement(cast, undecided):
    judge_check(undecided, by=cast.rita, passed=True, reason="Checked by hand.")

    check = record_check_result(undecided, status="failing", value="3 failed")

    assert check.status == "failing"
    assert check.judged_at is None
    record_check_result(check, status="needs_judgement", source="api")
    assert Check.objects.get(pk=check.pk).status == "needs_judgement"


def test_a_judgement_is_about_one_commit(cast, release, undecided):
    judge_check(undecided, by=cast.rita, passed=True, reason="Checked by hand.")

    update_release(release, by=cast.rita, commit_sha="d" * 40)

    blockers = [b.message for b in readiness_for(release).blockers if "CI green" in b.message]
    assert blockers
    assert "its last result is for commit" in blockers[0]
    check = record_check_result(undecided, status="needs_judgement", source="api")
    assert check.status == "needs_judgement"
