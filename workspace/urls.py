from django.urls import include, path

from releases import metrics_views
from workspace.views import (
    checklists,
    dashboard,
    freeze_windows,
    lifecycle,
    notes,
    notifications,
    projects,
    releases,
    review,
    roles,
    rollback,
    scope,
    timeline,
    trains,
)

release = "releases/<int:pk>/"
project = "projects/<slug:slug>/settings/"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("pulse/", dashboard.dashboard_pulse, name="dashboard_pulse"),
    path("timeline/", timeline.timeline, name="timeline"),
    path("notifications/", notifications.notifications, name="notifications"),
    path("notifications/read/", notifications.notifications_read, name="notifications_read"),
    path("releases/", releases.release_list, name="release_list"),
    path("releases/new/", releases.release_create, name="release_create"),
    path(release, releases.release_detail, name="release_detail"),
    path(release + "edit/", releases.release_edit, name="release_edit"),
    path(release + "pulse/", releases.release_pulse, name="release_pulse"),
    path(release + "events/", releases.release_events, name="release_events"),
    path(release + "notes.md", releases.release_notes, name="release_notes"),
    path(release + "sections/<slug:section>/", releases.release_section, name="release_section"),
    path(release + "do/<slug:action>/", lifecycle.release_action, name="release_action"),
    path(release + "scope/", scope.scope_add, name="scope_add"),
    path(release + "scope/<int:item_pk>/", scope.scope_edit, name="scope_edit"),
    path(release + "scope/<int:item_pk>/state/", scope.scope_state, name="scope_state"),
    path(release + "scope/<int:item_pk>/resolve/", scope.risk_resolve, name="risk_resolve"),
    path(release + "changes/", scope.change_request_new, name="change_request_new"),
    path(
        release + "changes/<int:request_pk>/accept/",
        scope.change_request_accept,
        name="change_request_accept",
    ),
    path(
        release + "changes/<int:request_pk>/reject/",
        scope.change_request_reject,
        name="change_request_reject",
    ),
    path(
        release + "changes/<int:request_pk>/withdraw/",
        scope.change_request_withdraw,
        name="change_request_withdraw",
    ),
    path(
        release + "checklist/<int:item_pk>/tick/", checklists.checklist_tick, name="checklist_tick"
    ),
    path(
        release + "checklist/<int:item_pk>/untick/",
        checklists.checklist_untick,
        name="checklist_untick",
    ),
    path(release + "roles/assign/", roles.role_assign, name="role_assign"),
    path(release + "roles/unassign/", roles.role_unassign, name="role_unassign"),
    path(release + "rollback-plan/", rollback.rollback_plan, name="rollback_plan"),
    path(
        release + "rollback-plan/triggers/",
        rollback.rollback_trigger_add,
        name="rollback_trigger_add",
    ),
    path(
        release + "rollback-plan/triggers/<int:trigger_pk>/",
        rollback.rollback_trigger_save,
        name="rollback_trigger_save",
    ),
    path(
        release + "rollback-plan/triggers/<int:trigger_pk>/remove/",
        rollback.rollback_trigger_remove,
        name="rollback_trigger_remove",
    ),
    path(release + "notes/", notes.note_add, name="note_add"),
    path(release + "review/", review.review_save, name="review_save"),
    path(release + "review/actions/", review.review_action_add, name="review_action_add"),
    path(
        release + "review/actions/<int:action_pk>/done/",
        review.review_action_done,
        name="review_action_done",
    ),
    path(project, projects.project_settings, name="project_settings"),
    path(project + "details/", projects.project_update, name="project_update"),
    path(project + "audit/", projects.project_audit, name="project_audit"),
    path(project + "environments/", projects.environments_save, name="environments_save"),
    path(project + "members/", projects.member_add, name="member_add"),
    path(project + "members/<int:user_pk>/", projects.member_save, name="member_save"),
    path(project + "checklists/", checklists.template_save, name="template_add"),
    path(project + "checklists/<int:template_pk>/", checklists.template_save, name="template_save"),
    path(
        project + "checklists/<int:template_pk>/delete/",
        checklists.template_delete,
        name="template_delete",
    ),
    path(project + "freeze-windows/", freeze_windows.freeze_add, name="freeze_add"),
    path(
        project + "freeze-windows/<int:window_pk>/delete/",
        freeze_windows.freeze_delete,
        name="freeze_delete",
    ),
    path(project + "trains/", trains.project_trains, name="project_trains"),
    path(project + "trains/new/", trains.train_save, name="train_add"),
    path(project + "trains/<int:train_pk>/", trains.train_save, name="train_save"),
    path(
        project + "trains/<int:train_pk>/slots/<str:day>/skip/",
        trains.slot_skip,
        name="slot_skip",
    ),
    path("metrics/", metrics_views.metrics_home, name="metrics"),
    path("projects/<slug:slug>/metrics/", metrics_views.project_metrics, name="project_metrics"),
    path("healthz", dashboard.healthz, name="healthz"),
    path("", include("releases.token_urls")),
]
