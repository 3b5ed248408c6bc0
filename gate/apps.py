from django.apps import AppConfig


class GateConfig(AppConfig):
    name = "gate"
    verbose_name = "Deploy gate"

    def ready(self) -> None:
        from gate import receivers  # noqa: F401
