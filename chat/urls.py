from django.urls import path

from chat import views

urlpatterns = [
    path("slack/<slug:slug>/interactivity/", views.interactivity, name="slack_interactivity"),
    path("slack/<slug:slug>/command/", views.command, name="slack_command"),
    path("slack/link/<str:code>/", views.link_code, name="slack_link_code"),
    path("account/slack/", views.links, name="slack_links"),
    path(
        "projects/<slug:slug>/settings/slack/",
        views.slack_app_settings,
        name="slack_app_settings",
    ),
]
