from django.apps import AppConfig


class FulfilmentConfig(AppConfig):
    name = "fulfilment"
    verbose_name = "Fulfilment"

    def ready(self) -> None:
        from fulfilment import metrics

        metrics.register()
