from __future__ import annotations

from django.contrib import admin

from monitoring import models


@admin.register(models.Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "project",
        "kind",
        "enabled",
        "circuit_state",
        "consecutive_failures",
        "last_success_at",
    ]
    list_filter = ["kind", "enabled", "circuit_state"]
    # Credentials are set on the integration's settings page, which encrypts them; the
    # ciphertext is never shown here.
    exclude = ["secrets_encrypted"]
    readonly_fields = [
        "last_success_at",
        "last_error_at",
        "last_error",
        "consecutive_failures",
        "circuit_state",
        "circuit_opened_at",
        "backoff_until",
    ]


class CheckResultInline(admin.TabularInline):
    model = models.CheckResult
    extra = 0
    can_delete = False
    readonly_fields = ("status", "value", "detail", "sha", "source", "judged_by", "observed_at")
    fields = readonly_fields


@admin.register(models.Check)
class CheckAdmin(admin.ModelAdmin):
    list_display = ["name", "release", "project", "integration", "phase", "required", "status"]
    list_filter = ["phase", "status", "required"]
    list_select_related = ["release__project", "project", "integration"]
    readonly_fields = [
        "status",
        "last_value",
        "last_detail",
        "last_url",
        "observed_sha",
        "last_evaluated_at",
        "last_changed_at",
        "passing_since",
        "consecutive_errors",
        "etag",
        "evidence",
        "started_at",
        "first_passed_at",
        "judged_at",
        "poll_claim",
    ]
    inlines = [CheckResultInline]


@admin.register(models.CheckResult)
class CheckResultAdmin(admin.ModelAdmin):
    list_display = ["check_ref", "status", "value", "source", "observed_at"]
    list_filter = ["status", "source"]
    list_select_related = ["check_ref"]


@admin.register(models.WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["provider", "delivery_id", "event", "received_at"]
    list_filter = ["provider"]


@admin.register(models.PollerHeartbeat)
class PollerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "ran_at", "claimed", "groups"]
    readonly_fields = ["name", "ran_at", "claimed", "groups"]


@admin.register(models.RollbackTrigger)
class RollbackTriggerAdmin(admin.ModelAdmin):
    list_display = ["description", "release", "check_ref", "mode", "fired_at"]
    list_filter = ["mode"]
    list_select_related = ["release__project", "check_ref"]
    # Added and changed on the release's rollback plan (monitoring.services.health), which
    # validates the check and logs the change; here they are read.
    readonly_fields = ["release", "check_ref", "mode", "description", "fired_at", "created_by"]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(models.RollbackWebhookCall)
class RollbackWebhookCallAdmin(admin.ModelAdmin):
    list_display = ["release", "state", "attempts", "response_status", "delivered_at"]
    list_filter = ["state"]
    list_select_related = ["release__project"]
    readonly_fields = [
        "release",
        "trigger",
        "delivery_id",
        "url",
        "body",
        "state",
        "attempts",
        "claimed_at",
        "response_status",
        "last_error",
        "delivered_at",
        "created_at",
    ]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(models.ScopeSource)
class ScopeSourceAdmin(admin.ModelAdmin):
    list_display = ["release", "integration", "source", "query", "auto_sync", "last_synced_at"]
    list_filter = ["source", "auto_sync", "release_version"]
    list_select_related = ["release__project", "integration"]
    # Changed through the release page and the API, which log every change.
    readonly_fields = [f.name for f in models.ScopeSource._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(models.CommitRange)
class CommitRangeAdmin(admin.ModelAdmin):
    list_display = ["release", "base_sha", "head_sha", "commit_count", "read_at", "error"]
    list_select_related = ["release__project"]
    readonly_fields = [f.name for f in models.CommitRange._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False
