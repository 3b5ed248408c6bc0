from django.urls import include, path

from releases import metrics_views
from workspace import train_views, views

release = "releases/<int:pk>/"
project = "projects/<slug:slug>/settings/"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("pulse/", views.dashboard_pulse, name="dashboard_pulse"),
    path("timeline/", views.timeline, name="timeline"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path("releases/new/", views.release_create, name="release_create"),
    path(release, views.release_detail, name="release_detail"),
    path(release + "edit/", views.release_edit, name="release_edit"),
    path(release + "pulse/", views.release_pulse, name="release_pulse"),
    path(release + "events/", views.release_events, name="release_events"),
    path(release + "notes.md", views.release_notes, name="release_notes"),
    path(release + "sections/<slug:section>/", views.release_section, name="release_section"),
    path(release + "do/<slug:action>/", views.release_action, name="release_action"),
    path(release + "scope/", views.scope_add, name="scope_add"),
    path(release + "scope/<int:item_pk>/", views.scope_edit, name="scope_edit"),
    path(release + "scope/<int:item_pk>/state/", views.scope_state, name="scope_state"),
    path(release + "scope/<int:item_pk>/resolve/", views.risk_resolve, name="risk_resolve"),
    path(release + "changes/", views.change_request_new, name="change_request_new"),
    path(
        release + "changes/<int:request_pk>/accept/",
        views.change_request_accept,
        name="change_request_accept",
    ),
    path(
        release + "changes/<int:request_pk>/reject/",
        views.change_request_reject,
        name="change_request_reject",
    ),
    path(
        release + "changes/<int:request_pk>/withdraw/",
        views.change_request_withdraw,
        name="change_request_withdraw",
    ),
    path(release + "checklist/<int:item_pk>/tick/", views.checklist_tick, name="checklist_tick"),
    path(
        release + "checklist/<int:item_pk>/untick/", views.checklist_untick, name="checklist_untick"
    ),
    path(release + "roles/assign/", views.role_assign, name="role_assign"),
    path(release + "roles/unassign/", views.role_unassign, name="role_unassign"),
    path(release + "rollback-plan/", views.rollback_plan, name="rollback_plan"),
    path(
        release + "rollback-plan/triggers/",
        views.rollback_trigger_add,
        name="rollback_trigger_add",
    ),
    path(
        release + "rollback-plan/triggers/<int:trigger_pk>/",
        views.rollback_trigger_save,
        name="rollback_trigger_save",
    ),
    path(
        release + "rollback-plan/triggers/<int:trigger_pk>/remove/",
        views.rollback_trigger_remove,
        name="rollback_trigger_remove",
    ),
    path(release + "notes/", views.note_add, name="note_add"),
    path(release + "review/", views.review_save, name="review_save"),
    path(release + "review/actions/", views.review_action_add, name="review_action_add"),
    path(
        release + "review/actions/<int:action_pk>/done/",
        views.review_action_done,
        name="review_action_done",
    ),
    path(project, views.project_settings, name="project_settings"),
    path(project + "details/", views.project_update, name="project_update"),
    path(project + "audit/", views.project_audit, name="project_audit"),
    path(project + "environments/", views.environments_save, name="environments_save"),
    path(project + "members/", views.member_add, name="member_add"),
    path(project + "members/<int:user_pk>/", views.member_save, name="member_save"),
    path(project + "checklists/", views.template_save, name="template_add"),
    path(project + "checklists/<int:template_pk>/", views.template_save, name="template_save"),
    path(
        project + "checklists/<int:template_pk>/delete/",
        views.template_delete,
        name="template_delete",
    ),
    path(project + "freeze-windows/", views.freeze_add, name="freeze_add"),
    path(
        project + "freeze-windows/<int:window_pk>/delete/",
        views.freeze_delete,
        name="freeze_delete",
    ),
    path(project + "trains/", train_views.project_trains, name="project_trains"),
    path(project + "trains/new/", train_views.train_save, name="train_add"),
    path(project + "trains/<int:train_pk>/", train_views.train_save, name="train_save"),
    path(
        project + "trains/<int:train_pk>/slots/<str:day>/skip/",
        train_views.slot_skip,
        name="slot_skip",
    ),
    path("metrics/", metrics_views.metrics_home, name="metrics"),
    path("projects/<slug:slug>/metrics/", metrics_views.project_metrics, name="project_metrics"),
    path("healthz", views.healthz, name="healthz"),
    path("", include("releases.token_urls")),
]
