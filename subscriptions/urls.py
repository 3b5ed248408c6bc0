from django.urls import path

from subscriptions import views

webhooks = "projects/<slug:slug>/settings/webhooks/"

urlpatterns = [
    path(webhooks + "new/", views.subscription_create, name="webhook_create"),
    path(webhooks + "<int:pk>/", views.subscription_log, name="webhook_log"),
    path(webhooks + "<int:pk>/edit/", views.subscription_edit, name="webhook_edit"),
    path(webhooks + "<int:pk>/action/", views.subscription_action, name="webhook_action"),
    path(
        webhooks + "<int:pk>/deliveries/<int:delivery_pk>/redeliver/",
        views.delivery_redeliver,
        name="webhook_redeliver",
    ),
]
