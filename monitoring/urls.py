from django.urls import path

from monitoring.views import (
    checks,
    flags,
    integrations,
    polling,
    results,
    rollback,
    trackers,
    webhooks,
)

project = "projects/<slug:slug>/settings/"
release = "releases/<int:pk>/checks/"

urlpatterns = [
    path(project + "integrations/", integrations.integration_list, name="integration_list"),
    path(project + "integrations/new/", integrations.integration_create, name="integration_create"),
    path(
        project + "integrations/<int:pk>/", integrations.integration_edit, name="integration_edit"
    ),
    path(
        project + "integrations/<int:pk>/test/",
        integrations.integration_test,
        name="integration_test",
    ),
    path(
        project + "integrations/<int:pk>/delete/",
        integrations.integration_delete,
        name="integration_delete",
    ),
    path(project + "rollback-secret/", rollback.rollback_secret, name="rollback_secret"),
    path(project + "checks/", checks.check_templates, name="check_templates"),
    path(project + "checks/new/", checks.check_template_edit, name="check_template_create"),
    path(project + "checks/<int:pk>/", checks.check_template_edit, name="check_template_edit"),
    path(
        project + "checks/<int:pk>/delete/",
        checks.check_template_delete,
        name="check_template_delete",
    ),
    path(release, checks.release_checks, name="release_checks"),
    path(release + "new/", checks.release_check_edit, name="release_check_create"),
    path(release + "<int:check_pk>/", checks.release_check_detail, name="release_check_detail"),
    path(release + "<int:check_pk>/edit/", checks.release_check_edit, name="release_check_edit"),
    path(
        release + "<int:check_pk>/delete/",
        checks.release_check_delete,
        name="release_check_delete",
    ),
    path(
        release + "<int:check_pk>/judgement/",
        results.release_check_judgement,
        name="release_check_judgement",
    ),
    path(release + "<int:check_pk>/poll/", polling.release_check_poll, name="release_check_poll"),
    # Scope from trackers and the commit range.
    path("releases/<int:pk>/scope-sources/", trackers.scope_source_add, name="scope_source_add"),
    path(
        "releases/<int:pk>/scope-sources/<int:source_pk>/sync/",
        trackers.scope_source_sync,
        name="scope_source_sync",
    ),
    path(
        "releases/<int:pk>/scope-sources/<int:source_pk>/remove/",
        trackers.scope_source_remove,
        name="scope_source_remove",
    ),
    path(
        "releases/<int:pk>/commit-range/read/",
        trackers.commit_range_read,
        name="commit_range_read",
    ),
    path(
        "releases/<int:pk>/commit-range/<int:change_pk>/accept/",
        trackers.unplanned_change_accept,
        name="unplanned_change_accept",
    ),
    path(
        "releases/<int:pk>/commit-range/<int:change_pk>/request-change/",
        trackers.unplanned_change_request,
        name="unplanned_change_request",
    ),
    path("webhooks/github/<int:integration_id>/", webhooks.webhook_github, name="webhook_github"),
    path("webhooks/gitlab/<int:integration_id>/", webhooks.webhook_gitlab, name="webhook_gitlab"),
    path(
        "webhooks/bitbucket/<int:integration_id>/",
        webhooks.webhook_bitbucket,
        name="webhook_bitbucket",
    ),
    *flags.urlpatterns,
]
