"""Outbox messages and webhook subscriptions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class MessageStatus(models.TextChoices):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"


class Message(models.Model):
    """One outbound call: written in the transaction of the change that causes it, sent after commit.

    ``kind`` names the handler (``OUTBOX_HANDLERS``); ``destination`` and ``key`` make it
    idempotent: the same (kind, destination, key) is one message however often it is written.
    Messages of one non-empty ``group`` go out in id order (a shipment's pushes): a message is
    not sent while an earlier one of its group is still pending.
    """

    kind = models.CharField(max_length=40)
    destination = models.CharField(max_length=200, blank=True, default="")
    key = models.CharField(max_length=200)
    group = models.CharField(max_length=200, blank=True, default="")
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=8, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    dead_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "destination", "key"], name="outbox_message_once"),
            models.CheckConstraint(
                condition=Q(status=MessageStatus.PENDING)
                | Q(status=MessageStatus.SENT, sent_at__isnull=False)
                | Q(status=MessageStatus.DEAD, dead_at__isnull=False),
                name="outbox_message_status_time",
            ),
            models.CheckConstraint(condition=Q(status__in=MessageStatus.values), name="outbox_message_status_valid"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(status=MessageStatus.PENDING),
                name="outbox_pending_due",
            ),
            models.Index(
                fields=["group", "id"], condition=Q(status=MessageStatus.PENDING), name="outbox_pending_group"
            ),
            models.Index(fields=["status", "-id"], name="outbox_status_recent"),
        ]

    def __str__(self):
        return f"{self.kind} {self.key} ({self.status})"


class WebhookSubscription(models.Model):
    """Where our own signed webhooks go: a URL, its ``whsec_`` secret and the event types it wants."""

    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=100, editable=False)
    events = models.JSONField(default=list)
    description = models.CharField(max_length=200, blank=True, default="")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(secret__startswith="whsec_"), name="webhook_secret_whsec"),  # noqa: S106
        ]

    def __str__(self):
        return self.url
