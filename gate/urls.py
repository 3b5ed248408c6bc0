from django.urls import path

from gate import views

urlpatterns = [
    path(
        "webhooks/gate/github/<int:app_id>/", views.github_app_webhook, name="gate_github_webhook"
    ),
    path("gate/greenlight-gate.py", views.gate_command, name="gate_command"),
    path("projects/<slug:slug>/settings/gate/", views.gate_settings, name="gate_settings"),
]
