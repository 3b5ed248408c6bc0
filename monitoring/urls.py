from django.urls import path

from monitoring import tracker_views, views

project = "projects/<slug:slug>/settings/"
release = "releases/<int:pk>/checks/"

urlpatterns = [
    path(project + "integrations/", views.integration_list, name="integration_list"),
    path(project + "integrations/new/", views.integration_create, name="integration_create"),
    path(project + "integrations/<int:pk>/", views.integration_edit, name="integration_edit"),
    path(project + "integrations/<int:pk>/test/", views.integration_test, name="integration_test"),
    path(
        project + "integrations/<int:pk>/delete/",
        views.integration_delete,
        name="integration_delete",
    ),
    path(project + "rollback-secret/", views.rollback_secret, name="rollback_secret"),
    path(project + "checks/", views.check_templates, name="check_templates"),
    path(project + "checks/new/", views.check_template_edit, name="check_template_create"),
    path(project + "checks/<int:pk>/", views.check_template_edit, name="check_template_edit"),
    path(
        project + "checks/<int:pk>/delete/",
        views.check_template_delete,
        name="check_template_delete",
    ),
    path(release, views.release_checks, name="release_checks"),
    path(release + "new/", views.release_check_edit, name="release_check_create"),
    path(release + "<int:check_pk>/", views.release_check_detail, name="release_check_detail"),
    path(release + "<int:check_pk>/edit/", views.release_check_edit, name="release_check_edit"),
    path(
        release + "<int:check_pk>/delete/",
        views.release_check_delete,
        name="release_check_delete",
    ),
    path(
        release + "<int:check_pk>/judgement/",
        views.release_check_judgement,
        name="release_check_judgement",
    ),
    path(release + "<int:check_pk>/poll/", views.release_check_poll, name="release_check_poll"),
    # Scope from trackers and the commit range.
    path(
        "releases/<int:pk>/scope-sources/", tracker_views.scope_source_add, name="scope_source_add"
    ),
    path(
        "releases/<int:pk>/scope-sources/<int:source_pk>/sync/",
        tracker_views.scope_source_sync,
        name="scope_source_sync",
    ),
    path(
        "releases/<int:pk>/scope-sources/<int:source_pk>/remove/",
        tracker_views.scope_source_remove,
        name="scope_source_remove",
    ),
    path(
        "releases/<int:pk>/commit-range/read/",
        tracker_views.commit_range_read,
        name="commit_range_read",
    ),
    path(
        "releases/<int:pk>/commit-range/<int:change_pk>/accept/",
        tracker_views.unplanned_change_accept,
        name="unplanned_change_accept",
    ),
    path(
        "releases/<int:pk>/commit-range/<int:change_pk>/request-change/",
        tracker_views.unplanned_change_request,
        name="unplanned_change_request",
    ),
    path("webhooks/github/<int:integration_id>/", views.webhook_github, name="webhook_github"),
    path("webhooks/gitlab/<int:integration_id>/", views.webhook_gitlab, name="webhook_gitlab"),
]
