from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from subscriptions import models


@admin.register(models.Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    """Read-only: webhooks are managed on the project's settings page and through the API, which
    check the target against the egress policy and log every change."""

    list_display = ["name", "project", "target_url", "active", "created_at"]
    list_filter = ["active"]
    exclude = ["secret_encrypted"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(models.Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["guid", "subscription", "event", "state", "attempts", "response_status"]
    list_filter = ["state", "event"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
