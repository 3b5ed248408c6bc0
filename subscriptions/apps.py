from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    name = "subscriptions"
    verbose_name = "Outgoing webhooks"

    def ready(self) -> None:
        from subscriptions import receivers  # noqa: F401
