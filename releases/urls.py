"""The core's own pages: the DORA metrics and the API tokens (included by ``workspace.urls``)."""

from django.urls import path

from releases.views import metrics, tokens

urlpatterns = [
    path("metrics/", metrics.metrics_home, name="metrics"),
    path("projects/<slug:slug>/metrics/", metrics.project_metrics, name="project_metrics"),
    path("me/tokens/", tokens.my_tokens, name="my_tokens"),
    path("me/tokens/<int:pk>/revoke/", tokens.revoke_my_token, name="revoke_my_token"),
    path("projects/<slug:slug>/tokens/", tokens.project_tokens, name="project_tokens"),
    path(
        "projects/<slug:slug>/tokens/<int:pk>/revoke/",
        tokens.revoke_project_token,
        name="revoke_project_token",
    ),
]
