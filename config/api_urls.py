"""Every REST endpoint, under ``/api/`` (see ``lib/rest/`` for the conventions)."""

from collections.abc import Callable

from django.conf import settings
from django.urls import include, path
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny

from approvals.api import decisions, deploy, policy, sign_offs
from chat import api as chat
from monitoring.api import checks, flags, health, integrations, polling, results, trackers
from monitoring.api import rollback as monitoring_rollback
from releases.api import (
    checklists,
    events,
    freeze_windows,
    incidents,
    lifecycle,
    metrics,
    notes,
    notifications,
    projects,
    releases,
    review,
    rollback,
    scope,
    timeline,
    trains,
)

R = "releases/<int:release_id>/"


def swagger_ui(view: Callable) -> Callable:
    """Swagger UI loads its start-up script from a URL (the split view) so that the site's
    Content-Security-Policy holds on its page too; only its page's own small <style> block
    needs inline styles."""
    if not settings.SECURE_CSP:
        return view
    return csp_override({**settings.SECURE_CSP, "style-src": [CSP.SELF, CSP.UNSAFE_INLINE]})(view)


urlpatterns = [
    # The schema and its documentation are public: they describe the API, not anyone's data.
    path(
        "schema/",
        SpectacularAPIView.as_view(permission_classes=[AllowAny], authentication_classes=[]),
        name="api-schema",
    ),
    path(
        "docs/",
        swagger_ui(
            SpectacularSwaggerSplitView.as_view(
                url_name="api-schema", permission_classes=[AllowAny], authentication_classes=[]
            )
        ),
        name="api-docs",
    ),
    # The deploy gate CI asks, and its GitHub App and GitLab approvals.
    path("", include("gate.api_urls")),
    # Projects.
    path("projects/", projects.ProjectList.as_view(), name="api-projects"),
    path("projects/<slug:slug>/", projects.ProjectDetail.as_view(), name="api-project"),
    path("projects/<slug:slug>/members/", projects.ProjectMembers.as_view(), name="api-members"),
    path(
        "projects/<slug:slug>/members/<int:user_id>/",
        projects.ProjectMember.as_view(),
        name="api-member",
    ),
    path(
        "projects/<slug:slug>/approval-policy/",
        policy.ApprovalPolicyView.as_view(),
        name="api-approval-policy",
    ),
    path("projects/<slug:slug>/slack/", chat.SlackAppView.as_view(), name="api-slack-app"),
    path(
        "projects/<slug:slug>/deploy-environments/",
        projects.ProjectDeployEnvironments.as_view(),
        name="api-deploy-environments",
    ),
    path(
        "projects/<slug:slug>/freeze-windows/",
        freeze_windows.FreezeWindows.as_view(),
        name="api-freeze-windows",
    ),
    path(
        "projects/<slug:slug>/freeze-windows/<int:window_id>/",
        freeze_windows.FreezeWindowDetail.as_view(),
        name="api-freeze-window",
    ),
    path(
        "projects/<slug:slug>/rollback-webhook-secret/reveal/",
        monitoring_rollback.RevealRollbackSecret.as_view(),
        name="api-rollback-secret-reveal",
    ),
    path(
        "projects/<slug:slug>/rollback-webhook-secret/rotate/",
        monitoring_rollback.RotateRollbackSecret.as_view(),
        name="api-rollback-secret-rotate",
    ),
    path(
        "projects/<slug:slug>/integrations/",
        integrations.Integrations.as_view(),
        name="api-integrations",
    ),
    path(
        "projects/<slug:slug>/integrations/<int:integration_id>/",
        integrations.IntegrationDetail.as_view(),
        name="api-integration",
    ),
    path(
        "projects/<slug:slug>/integrations/<int:integration_id>/test/",
        integrations.TestIntegration.as_view(),
        name="api-integration-test",
    ),
    path(
        "projects/<slug:slug>/checks/",
        checks.CheckTemplates.as_view(),
        name="api-check-templates",
    ),
    path(
        "projects/<slug:slug>/checks/<int:check_id>/",
        checks.CheckTemplateDetail.as_view(),
        name="api-check-template",
    ),
    path(
        "projects/<slug:slug>/checklist-templates/",
        checklists.ChecklistTemplates.as_view(),
        name="api-checklist-templates",
    ),
    path(
        "projects/<slug:slug>/checklist-templates/<int:template_id>/",
        checklists.ChecklistTemplateDetail.as_view(),
        name="api-checklist-template",
    ),
    path("projects/<slug:slug>/trains/", trains.Trains.as_view(), name="api-trains"),
    path(
        "projects/<slug:slug>/trains/<int:train_id>/",
        trains.TrainDetail.as_view(),
        name="api-train",
    ),
    path(
        "projects/<slug:slug>/trains/<int:train_id>/slots/",
        trains.TrainSlots.as_view(),
        name="api-train-slots",
    ),
    path(
        "projects/<slug:slug>/trains/<int:train_id>/skip/",
        trains.SkipSlot.as_view(),
        name="api-train-skip",
    ),
    path("projects/<slug:slug>/metrics/", metrics.ProjectMetrics.as_view(), name="api-metrics"),
    path(
        "projects/<slug:slug>/incidents/",
        incidents.ProjectIncidents.as_view(),
        name="api-project-incidents",
    ),
    path(
        "projects/<slug:slug>/incidents/pagerduty/",
        incidents.PagerDutyIncidents.as_view(),
        name="api-pagerduty-incidents",
    ),
    path(
        "projects/<slug:slug>/incidents/opsgenie/",
        incidents.OpsgenieIncidents.as_view(),
        name="api-opsgenie-incidents",
    ),
    path("projects/<slug:slug>/events/", events.ProjectEvents.as_view(), name="api-project-events"),
    # The signed-in person's own notifications.
    path("notifications/", notifications.Notifications.as_view(), name="api-notifications"),
    path(
        "notifications/read/",
        notifications.MarkNotificationsRead.as_view(),
        name="api-notifications-read",
    ),
    path(
        "notifications/read-all/",
        notifications.MarkAllNotificationsRead.as_view(),
        name="api-notifications-read-all",
    ),
    # Releases and their lifecycle.
    path("releases/", releases.Releases.as_view(), name="api-releases"),
    path("timeline/", timeline.Timeline.as_view(), name="api-timeline"),
    path(R, releases.ReleaseDetail.as_view(), name="api-release"),
    path(R + "lock-scope/", lifecycle.LockScope.as_view(), name="api-lock-scope"),
    path(R + "cancel/", lifecycle.CancelRelease.as_view(), name="api-cancel"),
    path(R + "start-deploy/", deploy.StartDeploy.as_view(), name="api-start-deploy"),
    path(R + "finish-deploy/", lifecycle.FinishDeploy.as_view(), name="api-finish-deploy"),
    path(R + "complete/", health.CompleteRelease.as_view(), name="api-complete"),
    path(R + "roll-back/", rollback.RollBack.as_view(), name="api-roll-back"),
    path(R + "restore-health/", health.RestoreHealth.as_view(), name="api-restore-health"),
    path(R + "deploy-reports/", lifecycle.DeployReports.as_view(), name="api-deploy-reports"),
    path(R + "finish-rollback/", rollback.FinishRollback.as_view(), name="api-finish-rollback"),
    path(R + "carry-forward/", rollback.CarryForward.as_view(), name="api-carry-forward"),
    path(R + "readiness/", deploy.ReleaseReadiness.as_view(), name="api-readiness"),
    path(R + "release-notes/", releases.ReleaseNotesView.as_view(), name="api-release-notes"),
    path(R + "events/", events.ReleaseEvents.as_view(), name="api-events"),
    path(R + "notes/", notes.ReleaseNotes.as_view(), name="api-notes"),
    # Scope and change requests.
    path(R + "scope-items/", scope.ScopeItems.as_view(), name="api-scope-items"),
    path(
        R + "scope-items/<int:item_id>/",
        scope.ScopeItemDetail.as_view(),
        name="api-scope-item",
    ),
    path(
        R + "scope-items/<int:item_id>/defer/",
        scope.DeferScopeItem.as_view(),
        name="api-scope-defer",
    ),
    path(
        R + "scope-items/<int:item_id>/restore/",
        scope.RestoreScopeItem.as_view(),
        name="api-scope-restore",
    ),
    path(
        R + "scope-items/<int:item_id>/resolve-risk/",
        scope.ResolveRisk.as_view(),
        name="api-resolve-risk",
    ),
    path(R + "change-requests/", scope.ChangeRequests.as_view(), name="api-change-requests"),
    path(
        R + "change-requests/<int:request_id>/accept/",
        scope.AcceptChange.as_view(),
        name="api-change-accept",
    ),
    path(
        R + "change-requests/<int:request_id>/reject/",
        scope.RejectChange.as_view(),
        name="api-change-reject",
    ),
    path(
        R + "change-requests/<int:request_id>/withdraw/",
        scope.WithdrawChange.as_view(),
        name="api-change-withdraw",
    ),
    # Roles, checklists, rollback plan, review.
    path(R + "assignments/", deploy.Assignments.as_view(), name="api-assignments"),
    path(
        R + "assignments/<int:assignment_id>/",
        deploy.AssignmentDetail.as_view(),
        name="api-assignment",
    ),
    path(R + "checklist-items/", checklists.ChecklistItems.as_view(), name="api-checklist"),
    path(R + "checklist-items/<int:item_id>/tick/", checklists.TickItem.as_view(), name="api-tick"),
    path(
        R + "checklist-items/<int:item_id>/untick/",
        checklists.UntickItem.as_view(),
        name="api-untick",
    ),
    path(R + "rollback-plan/", rollback.RollbackPlanView.as_view(), name="api-rollback-plan"),
    # Scope from trackers and the commit range.
    path(R + "scope-sources/", trackers.ScopeSources.as_view(), name="api-scope-sources"),
    path(
        R + "scope-sources/sync/",
        trackers.SyncScopeSource.as_view(),
        name="api-scope-source-sync",
    ),
    path(
        R + "scope-sources/remove/",
        trackers.RemoveScopeSource.as_view(),
        name="api-scope-source-remove",
    ),
    path(R + "commit-range/", trackers.CommitRangeView.as_view(), name="api-commit-range"),
    path(
        R + "commit-range/read/", trackers.ReadCommitRange.as_view(), name="api-commit-range-read"
    ),
    path(
        R + "commit-range/accept/",
        trackers.AcceptUnplannedChange.as_view(),
        name="api-commit-range-accept",
    ),
    path(
        R + "commit-range/change-request/",
        trackers.RequestChangeForUnplanned.as_view(),
        name="api-commit-range-change-request",
    ),
    path(
        R + "rollback-triggers/",
        health.RollbackTriggers.as_view(),
        name="api-rollback-triggers",
    ),
    path(
        R + "rollback-triggers/<int:trigger_id>/",
        health.RollbackTriggerDetail.as_view(),
        name="api-rollback-trigger",
    ),
    path(R + "incidents/", incidents.ReleaseIncidents.as_view(), name="api-incidents"),
    path(
        R + "incidents/<int:incident_id>/",
        incidents.ReleaseIncidentDetail.as_view(),
        name="api-incident",
    ),
    path(R + "review/", review.ReviewView.as_view(), name="api-review"),
    path(R + "review/actions/", review.ReviewActions.as_view(), name="api-review-actions"),
    path(
        R + "review/actions/<int:action_id>/complete/",
        review.CompleteReviewAction.as_view(),
        name="api-review-action-complete",
    ),
    # Approvals.
    path(R + "sign-offs/", sign_offs.SignOffs.as_view(), name="api-sign-offs"),
    path(R + "sign-offs/withdraw/", sign_offs.WithdrawSignOff.as_view(), name="api-withdraw"),
    path(R + "poll/", decisions.OpenPoll.as_view(), name="api-open-poll"),
    path(R + "decisions/", decisions.Decisions.as_view(), name="api-decisions"),
    path("decisions/<int:decision_id>/", decisions.DecisionDetail.as_view(), name="api-decision"),
    # Checks.
    path(R + "checks/", checks.Checks.as_view(), name="api-checks"),
    path(R + "checks/<int:check_id>/", checks.CheckDetail.as_view(), name="api-check"),
    path(
        R + "checks/<int:check_id>/results/",
        results.CheckResults.as_view(),
        name="api-check-results",
    ),
    path(R + "checks/<int:check_id>/judge/", results.JudgeCheck.as_view(), name="api-judge"),
    path(
        R + "checks/<int:check_id>/poll-now/",
        polling.PollCheckNow.as_view(),
        name="api-poll-now",
    ),
    # Outgoing webhooks.
    path("", include("subscriptions.api_urls")),
    *flags.urlpatterns,
]
