from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from releases import models


class MembershipInline(admin.TabularInline):
    model = models.ProjectMembership
    extra = 1
    autocomplete_fields = ["user"]


class ChecklistTemplateInline(admin.TabularInline):
    model = models.ChecklistTemplate
    extra = 0


class FreezeWindowInline(admin.StackedInline):
    model = models.FreezeWindow
    extra = 0


@admin.register(models.Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline, ChecklistTemplateInline, FreezeWindowInline]


class ScopeItemInline(admin.TabularInline):
    model = models.ScopeItem
    extra = 0
    fields = ["kind", "key", "title", "owner", "risk", "state", "added_after_freeze"]
    autocomplete_fields = ["owner"]


class RoleAssignmentInline(admin.TabularInline):
    model = models.RoleAssignment
    extra = 0
    autocomplete_fields = ["user"]


class ChecklistItemInline(admin.TabularInline):
    model = models.ChecklistItem
    extra = 0
    fields = ["phase", "title", "owner_role", "required", "ticked_by", "ticked_at"]
    readonly_fields = ["ticked_by", "ticked_at"]


@admin.register(models.Release)
class ReleaseAdmin(admin.ModelAdmin):
    list_display = ["__str__", "kind", "status", "health", "deploy_window_start", "override_used"]
    list_filter = ["project", "status", "kind", "health"]
    search_fields = ["version", "title", "project__name"]
    date_hierarchy = "created_at"
    list_select_related = ["project"]
    # The lifecycle moves only through its services; the admin does not bypass the guards.
    readonly_fields = [
        "status",
        "health",
        "frozen_at",
        "poll_opened_at",
        "approved_at",
        "deploy_started_at",
        "deploy_finished_at",
        "monitoring_until",
        "released_at",
        "rolled_back_at",
        "cancelled_at",
        "override_used",
        "created_by",
    ]
    inlines = [RoleAssignmentInline, ScopeItemInline, ChecklistItemInline]


@admin.register(models.ScopeItem)
class ScopeItemAdmin(admin.ModelAdmin):
    list_display = ["__str__", "release", "kind", "risk", "state", "added_after_freeze"]
    list_filter = ["kind", "risk", "state", "added_after_freeze"]
    search_fields = ["title", "key"]
    list_select_related = ["release__project"]


@admin.register(models.ScopeChangeRequest)
class ScopeChangeRequestAdmin(admin.ModelAdmin):
    list_display = ["__str__", "release", "state", "requested_by", "requested_at"]
    list_filter = ["state", "action"]
    list_select_related = ["release__project", "scope_item", "requested_by"]


@admin.register(models.RoleAssignment)
class RoleAssignmentAdmin(admin.ModelAdmin):
    list_display = ["release", "user", "role"]
    list_filter = ["role"]
    list_select_related = ["release__project", "user"]


@admin.register(models.ChecklistTemplate)
class ChecklistTemplateAdmin(admin.ModelAdmin):
    list_display = ["title", "project", "phase", "owner_role", "required", "position"]
    list_filter = ["project", "phase", "owner_role"]


@admin.register(models.ChecklistItem)
class ChecklistItemAdmin(admin.ModelAdmin):
    list_display = ["title", "release", "phase", "owner_role", "required", "ticked_by", "ticked_at"]
    list_filter = ["phase", "owner_role", "required"]
    list_select_related = ["release__project", "ticked_by"]


@admin.register(models.RollbackPlan)
class RollbackPlanAdmin(admin.ModelAdmin):
    list_display = ["release", "decider", "rehearsed_at", "updated_at"]
    list_select_related = ["release__project", "decider"]


@admin.register(models.FreezeWindow)
class FreezeWindowAdmin(admin.ModelAdmin):
    list_display = ["reason", "project", "recurrence", "describe"]
    list_filter = ["project", "recurrence"]


@admin.register(models.ProjectMembership)
class ProjectMembershipAdmin(admin.ModelAdmin):
    list_display = ["project", "user", "role"]
    list_filter = ["project", "role"]


@admin.register(models.ReleaseEvent)
class ReleaseEventAdmin(admin.ModelAdmin):
    """The audit trail: readable, never editable."""

    list_display = ["created_at", "release", "actor_name", "verb", "summary"]
    list_filter = ["verb"]
    search_fields = ["summary", "release__version"]
    list_select_related = ["release__project", "actor"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(models.ProjectEvent)
class ProjectEventAdmin(admin.ModelAdmin):
    """The project log, personal tokens included: readable, never editable."""

    list_display = ["created_at", "project", "actor_name", "kind", "action", "summary"]
    list_filter = ["kind"]
    search_fields = ["summary", "project__name"]
    list_select_related = ["project", "actor"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReviewActionInline(admin.TabularInline):
    model = models.ReviewAction
    extra = 0


@admin.register(models.Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["release", "created_by", "updated_at"]
    inlines = [ReviewActionInline]


@admin.register(models.Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "verb", "message", "read_at"]
    list_filter = ["verb"]
    list_select_related = ["user"]


@admin.register(models.ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "user", "project", "prefix", "last_used_at", "revoked_at"]
    list_filter = ["kind"]
    readonly_fields = ["prefix", "hashed_secret", "last_used_at", "created_by"]
