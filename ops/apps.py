from django.apps import AppConfig


class OpsConfig(AppConfig):
    """The operations dashboard (/ops/), the home page and the stock metrics: the top of the dependency chain."""

    name = "ops"
    verbose_name = "Operations dashboard"

    def ready(self) -> None:
        from ops import metrics

        metrics.register()
