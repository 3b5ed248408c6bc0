from django.urls import path

from gate import api

urlpatterns = [
    path("projects/<slug:slug>/gate/", api.Gate.as_view(), name="api-gate"),
    path(
        "projects/<slug:slug>/gate/github-app/",
        api.GitHubAppView.as_view(),
        name="api-gate-github-app",
    ),
    path(
        "projects/<slug:slug>/gate/gitlab-approvals/",
        api.GitLabApprovalsView.as_view(),
        name="api-gate-gitlab-approvals",
    ),
]
