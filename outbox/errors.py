"""What outbox handlers raise, and the outbox's own domain errors."""

from __future__ import annotations

from config.exceptions import Conflict, InvalidInput, NotFound


class DeliveryRetry(Exception):
    """The destination could not take the message now (timeout, 5xx, 429): try again later.

    ``retry_after`` (seconds) is obeyed when the destination said how long to wait.
    """

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class DeliveryFailed(Exception):
    """The destination refused the message for good (4xx, validation): a dead letter at once."""


class MessageNotFound(NotFound):
    code = "not_found"
    default_detail = "No such outbox message."


class NotRetryable(Conflict):
    """Only a dead (or still pending) message can be sent again; a sent one is done."""

    code = "outbox_not_retryable"
    default_detail = "This message was delivered; there is nothing to retry."


class UnknownEventType(InvalidInput):
    code = "unknown_event_type"
    default_detail = "Unknown event type."


class SubscriptionNotFound(NotFound):
    code = "not_found"
    default_detail = "No such webhook subscription."
