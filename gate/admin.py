from django.contrib import admin

from gate.models import AppDelivery, GateRequest, GitHubApp, GitLabApprovals


@admin.register(GitHubApp)
class GitHubAppAdmin(admin.ModelAdmin):
    list_display = ("project", "app_id", "slug", "repository", "api_url")
    # Credentials are set through the project's deploy gate settings, never shown.
    exclude = ("secrets_encrypted",)
    readonly_fields = ("project",)


@admin.register(GitLabApprovals)
class GitLabApprovalsAdmin(admin.ModelAdmin):
    list_display = ("project", "integration")


@admin.register(GateRequest)
class GateRequestAdmin(admin.ModelAdmin):
    list_display = ("project", "provider", "deployment_id", "environment", "sha", "state")
    list_filter = ("provider", "state")
    readonly_fields = [f.name for f in GateRequest._meta.fields]


@admin.register(AppDelivery)
class AppDeliveryAdmin(admin.ModelAdmin):
    list_display = ("app", "event", "delivery_id", "outcome", "received_at")
    readonly_fields = [f.name for f in AppDelivery._meta.fields]
