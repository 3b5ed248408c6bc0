from django.urls import path

from releases import token_views

urlpatterns = [
    path("me/tokens/", token_views.my_tokens, name="my_tokens"),
    path("me/tokens/<int:pk>/revoke/", token_views.revoke_my_token, name="revoke_my_token"),
    path("projects/<slug:slug>/tokens/", token_views.project_tokens, name="project_tokens"),
    path(
        "projects/<slug:slug>/tokens/<int:pk>/revoke/",
        token_views.revoke_project_token,
        name="revoke_project_token",
    ),
]
