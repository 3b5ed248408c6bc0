from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from approvals import models


class RoleRequirementInline(admin.TabularInline):
    model = models.RoleRequirement
    extra = 0


@admin.register(models.ApprovalPolicy)
class ApprovalPolicyAdmin(admin.ModelAdmin):
    list_display = ["project", "separation_of_duties", "sign_off_expiry_days", "decider_role"]
    inlines = [RoleRequirementInline]


@admin.register(models.SignOff)
class SignOffAdmin(admin.ModelAdmin):
    list_display = ["release", "user", "role", "decision", "created_at", "is_current", "stale_at"]
    list_filter = ["decision", "role", "is_current"]
    list_select_related = ["release__project", "user"]
    readonly_fields = [f.name for f in models.SignOff._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(models.Decision)
class DecisionAdmin(admin.ModelAdmin):
    list_display = ["release", "outcome", "decided_by", "decided_at", "overridden"]
    list_filter = ["outcome", "overridden"]
    list_select_related = ["release__project", "decided_by"]
    readonly_fields = [f.name for f in models.Decision._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(models.Reminder)
class ReminderAdmin(admin.ModelAdmin):
    """What the reminder task sent; read-only, it is the record that stops a resend."""

    list_display = ["sent_at", "release", "kind", "user", "go_no_go_at"]
    list_filter = ["kind"]
    list_select_related = ["release__project", "user"]
    readonly_fields = [f.name for f in models.Reminder._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
