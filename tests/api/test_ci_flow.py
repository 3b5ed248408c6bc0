"""A CI pipeline with nothing but a project token: create, add scope, report, read."""

from __future__ import annotations

import pytest

from approvals.services.decisions import record_decision
from releases.models import Release, ReleaseEvent
from releases.services.checklists import tick_checklist_item
from releases.services.lifecycle import lock_scope
from tests.api.conftest import bearer, project_token
from tests.builders import (
    complete_rollback_plan,
    make_approved,
    make_release,
    sign_required,
    tick_readiness,
)

pytestmark = pytest.mark.django_db

SHA = "c0ffee" + "0" * 34


def test_it_runs_a_release_from_ci_with_only_a_project_token(cast):
    ci = bearer(project_token(cast, name="deploy-bot"))

    created = ci.post(
        "/api/releases/",
        {"project": "payments", "version": "3.1.0", "git_ref": "release/3.1", "commit_sha": SHA},
    )
    assert created.status_code == 201, created.json()
    release_id = created.json()["id"]
    assert created.json()["status"] == "planning"

    scope = ci.post(
        f"/api/releases/{release_id}/scope-items/",
        {"kind": "fix", "title": "Card retries", "key": "PAY-7", "url": "https://t.example/PAY-7"},
    )
    assert scope.status_code == 201, scope.json()

    checks = ci.get(f"/api/releases/{release_id}/checks/").json()["results"]
    ci_green = next(c for c in checks if c["name"] == "CI green")
    assert ci_green["status"] == "pending"
    reported = ci.post(
        f"/api/releases/{release_id}/checks/{ci_green['id']}/results/",
        {"status": "passing", "value": "success", "url": "https://ci.example/run/41", "sha": SHA},
    )
    assert reported.status_code == 200, reported.json()
    assert reported.json()["status"] == "passing"
    assert reported.json()["counts_as_passing"] is True

    readiness = ci.get(f"/api/releases/{release_id}/readiness/").json()
    assert readiness["ready"] is False
    kinds = {b["kind"] for b in readiness["blockers"]}
    assert "check" not in kinds
    assert {"checklist", "rollback_plan", "sign_off"} <= kinds

    # The people do their part in the browser…
    release = Release.objects.get(pk=release_id)
    lock_scope(release, by=cast.rita)
    tick_readiness(release, cast)
    complete_rollback_plan(release, cast)
    sign_required(release, cast)
    record_decision(release, by=cast.rita, outcome="go")

    # …and CI reads the outcome and the evidence it rested on.
    assert ci.get(f"/api/releases/{release_id}/readiness/").json()["ready"] is True
    decisions = ci.get(f"/api/releases/{release_id}/decisions/").json()["results"]
    assert [d["outcome"] for d in decisions] == ["go"]
    decision = ci.get(f"/api/decisions/{decisions[0]['id']}/").json()
    assert decision["decided_by"] == "rita"
    snapshot = decision["snapshot"]
    assert snapshot["release"]["commit_sha"] == SHA
    assert [(c["name"], c["status"], c["value"]) for c in snapshot["checks"]] == [
        ("CI green", "passing", "success")
    ]
    assert [i["key"] for i in snapshot["scope"]] == ["PAY-7"]
    assert snapshot["readiness"]["ready"] is True

    # The event log names the machine that acted.
    actors = set(
        ReleaseEvent.objects.filter(
            release_id=release_id,
            verb__in=["release_created", "scope_added", "check_status"],
        ).values_list("actor_label", flat=True)
    )
    assert actors == {"CI token deploy-bot"}


def test_it_keeps_the_token_out_of_what_only_people_do(cast):
    ci = bearer(project_token(cast))
    release_id = ci.post("/api/releases/", {"project": "payments", "version": "3.2.0"}).json()["id"]
    ci.post(f"/api/releases/{release_id}/scope-items/", {"title": "Refunds"})

    assert ci.post(f"/api/releases/{release_id}/lock-scope/").status_code == 403
    assert (
        ci.post(
            f"/api/releases/{release_id}/sign-offs/", {"role": "dev", "decision": "go"}
        ).status_code
        == 403
    )
    assert ci.post(f"/api/releases/{release_id}/decisions/", {"outcome": "go"}).status_code == 403
    assert Release.objects.get(pk=release_id).status == "planning"


def test_it_gates_a_pipelines_deploy_on_the_release_state(cast):
    release = make_approved(make_release(cast, "4.0.0"), cast)
    ci = bearer(project_token(cast, name="deployer"))
    url = f"/api/releases/{release.pk}/deploy-reports/"

    started = ci.post(url, {"stage": "started", "detail": "pipeline 88"})
    again = ci.post(url, {"stage": "started"})
    early = ci.post(url, {"stage": "finished"})

    assert started.status_code == 200, started.json()
    assert started.json()["status"] == "deploying"
    assert again.status_code == 409
    assert early.status_code == 409
    assert "Smoke test in production" in early.json()["detail"]

    smoke = release.checklist_items.get(title="Smoke test in production")
    tick_checklist_item(smoke, by=cast.dana, note="green")
    finished = ci.post(url, {"stage": "finished"})
    failed = ci.post(url, {"stage": "failed", "detail": "5xx above 2 %"})

    assert finished.json()["status"] == "monitoring"
    assert failed.status_code == 200
    assert failed.json()["health"] == "unhealthy"
    assert "deploy failed (5xx above 2 %)" in failed.json()["unhealthy_reason"]
    assert ci.post(url, {"stage": "started", "override_reason": "urgent"}).status_code == 403


def test_it_reads_release_notes_and_dora_metrics_with_the_token(cast):
    ci = bearer(project_token(cast))
    release_id = ci.post("/api/releases/", {"project": "payments", "version": "5.0.0"}).json()["id"]
    ci.post(
        f"/api/releases/{release_id}/scope-items/",
        {"kind": "fix", "title": "Refund rounding", "key": "PAY-9"},
    )

    notes = ci.get(f"/api/releases/{release_id}/release-notes/").json()
    metrics = ci.get("/api/projects/payments/metrics/")

    assert "PAY-9 Refund rounding" in notes["markdown"]
    assert metrics.status_code == 200
    assert metrics.json()["deployments"] == 0
    assert metrics.json()["change_failure_rate"] is None
    assert ci.get("/api/projects/payments/metrics/?start=2031-01-01T00:00:00Z").status_code == 400
