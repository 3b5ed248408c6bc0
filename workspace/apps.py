from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    """The pages that combine releases, monitoring and approvals: the dashboard, the release page
    and its sections, project settings and the demo data. No models."""

    name = "workspace"
