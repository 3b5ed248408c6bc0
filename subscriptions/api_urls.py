from django.urls import path

from subscriptions import api

webhooks = "projects/<slug:slug>/webhooks/"

urlpatterns = [
    path(webhooks, api.Webhooks.as_view(), name="api-webhooks"),
    path(webhooks + "<int:webhook_id>/", api.WebhookDetail.as_view(), name="api-webhook"),
    path(
        webhooks + "<int:webhook_id>/rotate-secret/",
        api.RotateWebhookSecret.as_view(),
        name="api-webhook-rotate-secret",
    ),
    path(
        webhooks + "<int:webhook_id>/deliveries/",
        api.WebhookDeliveries.as_view(),
        name="api-webhook-deliveries",
    ),
    path(
        webhooks + "<int:webhook_id>/deliveries/<int:delivery_id>/redeliver/",
        api.Redeliver.as_view(),
        name="api-webhook-redeliver",
    ),
]
