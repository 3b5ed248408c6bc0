"""Every REST endpoint, under ``/api/`` (see ``releases/rest.py`` for the conventions)."""

from collections.abc import Callable

from django.conf import settings
from django.urls import include, path
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny

from approvals import api as approvals
from monitoring import api as monitoring
from releases import api as releases
from releases import train_api as trains

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
    # Projects.
    path("projects/", releases.ProjectList.as_view(), name="api-projects"),
    path("projects/<slug:slug>/", releases.ProjectDetail.as_view(), name="api-project"),
    path("projects/<slug:slug>/members/", releases.ProjectMembers.as_view(), name="api-members"),
    path(
        "projects/<slug:slug>/members/<int:user_id>/",
        releases.ProjectMember.as_view(),
        name="api-member",
    ),
    path(
        "projects/<slug:slug>/approval-policy/",
        approvals.ApprovalPolicyView.as_view(),
        name="api-approval-policy",
    ),
    path(
        "projects/<slug:slug>/deploy-environments/",
        releases.ProjectDeployEnvironments.as_view(),
        name="api-deploy-environments",
    ),
    path(
        "projects/<slug:slug>/freeze-windows/",
        releases.FreezeWindows.as_view(),
        name="api-freeze-windows",
    ),
    path(
        "projects/<slug:slug>/freeze-windows/<int:window_id>/",
        releases.FreezeWindowDetail.as_view(),
        name="api-freeze-window",
    ),
    path(
        "projects/<slug:slug>/rollback-webhook-secret/reveal/",
        monitoring.RevealRollbackSecret.as_view(),
        name="api-rollback-secret-reveal",
    ),
    path(
        "projects/<slug:slug>/rollback-webhook-secret/rotate/",
        monitoring.RotateRollbackSecret.as_view(),
        name="api-rollback-secret-rotate",
    ),
    path(
        "projects/<slug:slug>/integrations/",
        monitoring.Integrations.as_view(),
        name="api-integrations",
    ),
    path(
        "projects/<slug:slug>/integrations/<int:integration_id>/",
        monitoring.IntegrationDetail.as_view(),
        name="api-integration",
    ),
    path(
        "projects/<slug:slug>/integrations/<int:integration_id>/test/",
        monitoring.TestIntegration.as_view(),
        name="api-integration-test",
    ),
    path(
        "projects/<slug:slug>/checks/",
        monitoring.CheckTemplates.as_view(),
        name="api-check-templates",
    ),
    path(
        "projects/<slug:slug>/checks/<int:check_id>/",
        monitoring.CheckTemplateDetail.as_view(),
        name="api-check-template",
    ),
    path(
        "projects/<slug:slug>/checklist-templates/",
        releases.ChecklistTemplates.as_view(),
        name="api-checklist-templates",
    ),
    path(
        "projects/<slug:slug>/checklist-templates/<int:template_id>/",
        releases.ChecklistTemplateDetail.as_view(),
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
    path("projects/<slug:slug>/metrics/", releases.ProjectMetrics.as_view(), name="api-metrics"),
    path(
        "projects/<slug:slug>/events/", releases.ProjectEvents.as_view(), name="api-project-events"
    ),
    # The signed-in person's own notifications.
    path("notifications/", releases.Notifications.as_view(), name="api-notifications"),
    path(
        "notifications/read/",
        releases.MarkNotificationsRead.as_view(),
        name="api-notifications-read",
    ),
    path(
        "notifications/read-all/",
        releases.MarkAllNotificationsRead.as_view(),
        name="api-notifications-read-all",
    ),
    # Releases and their lifecycle.
    path("releases/", releases.Releases.as_view(), name="api-releases"),
    path("timeline/", releases.Timeline.as_view(), name="api-timeline"),
    path(R, releases.ReleaseDetail.as_view(), name="api-release"),
    path(R + "lock-scope/", releases.LockScope.as_view(), name="api-lock-scope"),
    path(R + "cancel/", releases.CancelRelease.as_view(), name="api-cancel"),
    path(R + "start-deploy/", releases.StartDeploy.as_view(), name="api-start-deploy"),
    path(R + "finish-deploy/", releases.FinishDeploy.as_view(), name="api-finish-deploy"),
    path(R + "complete/", releases.CompleteRelease.as_view(), name="api-complete"),
    path(R + "roll-back/", releases.RollBack.as_view(), name="api-roll-back"),
    path(R + "restore-health/", releases.RestoreHealth.as_view(), name="api-restore-health"),
    path(R + "deploy-reports/", releases.DeployReports.as_view(), name="api-deploy-reports"),
    path(R + "finish-rollback/", releases.FinishRollback.as_view(), name="api-finish-rollback"),
    path(R + "carry-forward/", releases.CarryForward.as_view(), name="api-carry-forward"),
    path(R + "readiness/", releases.ReleaseReadiness.as_view(), name="api-readiness"),
    path(R + "release-notes/", releases.ReleaseNotesView.as_view(), name="api-release-notes"),
    path(R + "events/", releases.ReleaseEvents.as_view(), name="api-events"),
    path(R + "notes/", releases.ReleaseNotes.as_view(), name="api-notes"),
    # Scope and change requests.
    path(R + "scope-items/", releases.ScopeItems.as_view(), name="api-scope-items"),
    path(
        R + "scope-items/<int:item_id>/",
        releases.ScopeItemDetail.as_view(),
        name="api-scope-item",
    ),
    path(
        R + "scope-items/<int:item_id>/defer/",
        releases.DeferScopeItem.as_view(),
        name="api-scope-defer",
    ),
    path(
        R + "scope-items/<int:item_id>/restore/",
        releases.RestoreScopeItem.as_view(),
        name="api-scope-restore",
    ),
    path(
        R + "scope-items/<int:item_id>/resolve-risk/",
        releases.ResolveRisk.as_view(),
        name="api-resolve-risk",
    ),
    path(R + "change-requests/", releases.ChangeRequests.as_view(), name="api-change-requests"),
    path(
        R + "change-requests/<int:request_id>/accept/",
        releases.AcceptChange.as_view(),
        name="api-change-accept",
    ),
    path(
        R + "change-requests/<int:request_id>/reject/",
        releases.RejectChange.as_view(),
        name="api-change-reject",
    ),
    path(
        R + "change-requests/<int:request_id>/withdraw/",
        releases.WithdrawChange.as_view(),
        name="api-change-withdraw",
    ),
    # Roles, checklists, rollback plan, review.
    path(R + "assignments/", releases.Assignments.as_view(), name="api-assignments"),
    path(
        R + "assignments/<int:assignment_id>/",
        releases.AssignmentDetail.as_view(),
        name="api-assignment",
    ),
    path(R + "checklist-items/", releases.ChecklistItems.as_view(), name="api-checklist"),
    path(R + "checklist-items/<int:item_id>/tick/", releases.TickItem.as_view(), name="api-tick"),
    path(
        R + "checklist-items/<int:item_id>/untick/",
        releases.UntickItem.as_view(),
        name="api-untick",
    ),
    path(R + "rollback-plan/", releases.RollbackPlanView.as_view(), name="api-rollback-plan"),
    path(
        R + "rollback-triggers/",
        monitoring.RollbackTriggers.as_view(),
        name="api-rollback-triggers",
    ),
    path(
        R + "rollback-triggers/<int:trigger_id>/",
        monitoring.RollbackTriggerDetail.as_view(),
        name="api-rollback-trigger",
    ),
    path(R + "review/", releases.ReviewView.as_view(), name="api-review"),
    path(R + "review/actions/", releases.ReviewActions.as_view(), name="api-review-actions"),
    path(
        R + "review/actions/<int:action_id>/complete/",
        releases.CompleteReviewAction.as_view(),
        name="api-review-action-complete",
    ),
    # Approvals.
    path(R + "sign-offs/", approvals.SignOffs.as_view(), name="api-sign-offs"),
    path(R + "sign-offs/withdraw/", approvals.WithdrawSignOff.as_view(), name="api-withdraw"),
    path(R + "poll/", approvals.OpenPoll.as_view(), name="api-open-poll"),
    path(R + "decisions/", approvals.Decisions.as_view(), name="api-decisions"),
    path("decisions/<int:decision_id>/", approvals.DecisionDetail.as_view(), name="api-decision"),
    # Checks.
    path(R + "checks/", monitoring.Checks.as_view(), name="api-checks"),
    path(R + "checks/<int:check_id>/", monitoring.CheckDetail.as_view(), name="api-check"),
    path(
        R + "checks/<int:check_id>/results/",
        monitoring.CheckResults.as_view(),
        name="api-check-results",
    ),
    path(R + "checks/<int:check_id>/judge/", monitoring.JudgeCheck.as_view(), name="api-judge"),
    path(
        R + "checks/<int:check_id>/poll-now/",
        monitoring.PollCheckNow.as_view(),
        name="api-poll-now",
    ),
    # Outgoing webhooks.
    path("", include("subscriptions.api_urls")),
]
