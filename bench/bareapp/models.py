from django.db import models


class BareDelivery(models.Model):
    """The least a webhook endpoint can do: keep the parsed body, with a timestamp."""

    body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"bare delivery {self.pk}"
