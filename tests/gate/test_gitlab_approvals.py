"""Greenlight approves or rejects blocked GitLab deployments through GitLab's deployment
approval API, against a local stand-in answering with GitLab's published examples."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.exceptions import ValidationError

from approvals.services.decisions import record_decision
from gate import tasks
from gate.models import GateRequest
from gate.services import providers
from gate.services.answer import VERB
from monitoring.services.integrations import save_integration
from releases.models import ReleaseEvent
from tests.builders import make_approved, make_ready, make_release
from tests.gate.stand_ins import GitLabStandIn
from tests.local_servers import serving

pytestmark = pytest.mark.django_db

TOKEN = "glpat-greenlight-approver"
# The commit of GitLab's deployments example.
GITLAB_SHA = "99d03678b90d914dbb1b109132516d71a4a03ea8"


@pytest.fixture
def gitlab() -> Iterator[GitLabStandIn]:
    server = GitLabStandIn(token=TOKEN)
    with serving(server):
        yield server


@pytest.fixture
def approving(cast, gitlab):
    integration = save_integration(
        cast.project,
        by=cast.dana,
        name="GitLab",
        kind="gitlab",
        base_url=gitlab.url,
        config={"project": "7"},
        secrets={"token": TOKEN},
    )
    return providers.set_gitlab_approvals(cast.project, by=cast.dana, integration=integration)


def test_it_approves_a_blocked_deployment_the_gate_allows(cast, gitlab, approving) -> None:
    release = make_approved(make_release(cast, sha=GITLAB_SHA), cast)

    tasks.watch_gates()

    assert gitlab.queries[0]["status"] == ["blocked"]
    [approval] = gitlab.approvals
    assert approval["deployment_id"] == 41
    assert approval["body"] == {
        "status": "approved",
        "comment": f"Greenlight: Go: {release} (commit {GITLAB_SHA[:12]} to production) "
        "may deploy now.",
    }
    request = GateRequest.objects.get()
    assert (request.provider, request.state, request.release) == ("gitlab", "approved", release)
    event = ReleaseEvent.objects.get(release=release, verb=VERB)
    assert event.data["asked_by"] == "GitLab deployment approvals (7)"


def test_it_leaves_a_deployment_blocked_until_the_go_then_approves_it(
    cast, gitlab, approving, django_capture_on_commit_callbacks
) -> None:
    release = make_ready(make_release(cast, sha=GITLAB_SHA), cast)

    tasks.watch_gates()
    tasks.watch_gates()

    assert gitlab.approvals == []
    assert GateRequest.objects.get().state == "pending"

    with django_capture_on_commit_callbacks(execute=True):
        record_decision(release, by=cast.rita, outcome="go")

    assert [a["body"]["status"] for a in gitlab.approvals] == ["approved"]


def test_it_rejects_a_blocked_deployment_when_the_gate_closes(
    cast, gitlab, approving, django_capture_on_commit_callbacks
) -> None:
    release = make_ready(make_release(cast, sha=GITLAB_SHA), cast)
    tasks.watch_gates()

    with django_capture_on_commit_callbacks(execute=True):
        record_decision(release, by=cast.rita, outcome="no_go", notes="Data migration")

    [rejection] = gitlab.approvals
    assert rejection["body"]["status"] == "rejected"
    assert "Data migration" in rejection["body"]["comment"]
    assert GateRequest.objects.get().state == "rejected"
    tasks.watch_gates()
    assert len(gitlab.approvals) == 1  # answered once


def test_it_keeps_waiting_when_gitlab_refuses_the_token(cast, gitlab, approving) -> None:
    make_approved(make_release(cast, sha=GITLAB_SHA), cast)
    gitlab.token = "another"

    tasks.watch_gates()

    assert gitlab.approvals == []
    assert not GateRequest.objects.exists()


def test_it_approves_only_through_a_gitlab_integration_of_the_project(cast) -> None:
    with pytest.raises(ValidationError):
        providers.set_gitlab_approvals(cast.project, by=cast.dana, integration=cast.ci)
