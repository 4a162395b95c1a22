"""Writes of the outbox: enqueue in the caller's transaction, deliver after commit, retry, dead letters.

A delivery first leases its message (claimed with ``SKIP LOCKED``, the attempt counted and
committed), then runs the handler outside any transaction, then records the outcome. Two
workers never send one message at once; a worker killed mid-send leaves the message pending,
and once its lease runs out the sweeper hands it out again. Delivery is therefore at least
once towards the destination (a crash after the destination answered and before we recorded
it sends again): handlers make a resend harmless (our webhooks carry a stable
``webhook-id``; a courier booking looks itself up by our reference when ``attempts > 1``).
Handlers commit their own writes.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Callable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from outbox import dispatch
from outbox.errors import DeliveryFailed, DeliveryRetry, MessageNotFound, NotRetryable, UnknownEventType
from outbox.events import EVENT_TYPES
from outbox.models import Message, MessageStatus, WebhookSubscription

logger = logging.getLogger("outbox")

WEBHOOK = "webhook"


def message_enqueue(*, kind: str, key: str, payload: dict, destination: str = "", group: str = "") -> Message:
    """Write one outbound message in the current transaction; it is sent after commit.

    Idempotent: the same (kind, destination, key) is one message; a second call returns the
    first row and sends nothing more.
    """
    if kind not in settings.OUTBOX_HANDLERS:
        raise ValueError(f"no outbox handler for kind {kind!r} (settings.OUTBOX_HANDLERS)")
    lookup = {"kind": kind, "destination": destination, "key": key}
    existing = Message.objects.filter(**lookup).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            message = Message.objects.create(**lookup, payload=payload, group=group)
    except IntegrityError:
        # Written meanwhile by a concurrent transaction that has committed: that one is sent.
        return Message.objects.get(**lookup)
    message_id = message.pk
    transaction.on_commit(lambda: dispatch.message_kick(message_id))
    return message


def event_publish(*, event_type: str, data: dict, key: str) -> list[Message]:
    """Queue one signed webhook per active subscription to ``event_type``; ``key`` makes it idempotent."""
    if event_type not in EVENT_TYPES:
        raise UnknownEventType(event_type=event_type, allowed=list(EVENT_TYPES))
    subscriptions = [
        s for s in WebhookSubscription.objects.filter(active=True).order_by("pk") if event_type in (s.events or [])
    ]
    if not subscriptions:
        return []
    payload = {"type": event_type, "timestamp": timezone.now().isoformat(), "data": data}
    return [
        message_enqueue(kind=WEBHOOK, destination=str(s.pk), key=f"{event_type}:{key}", payload=payload)
        for s in subscriptions
    ]


def _due() -> Q:
    return Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now())


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next try: exponential from 2 s, capped, with jitter; at least Retry-After."""
    cap = settings.OUTBOX_RETRY_MAX_DELAY_SECONDS
    delay = min(cap, 2.0 ** max(1, attempts))
    delay *= random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not security
    if retry_after:
        delay = max(delay, retry_after)
    return delay


def message_deliver(*, message_id: int) -> str | None:
    """Send one pending, due message with its handler; its new status, or None if there was nothing to do.

    Returns None when the message is sent, dead, not yet due, leased by another worker, or
    waiting behind an earlier message of its group.
    """
    message = _claim(message_id)
    if message is None:
        return None
    handler: Callable[[Message], None] = import_string(settings.OUTBOX_HANDLERS[message.kind])
    retry_in: float | None = None
    try:
        handler(message)
    except DeliveryFailed as exc:
        _dead(message, str(exc) or exc.__class__.__name__)
    except DeliveryRetry as exc:
        retry_in = _retry_or_dead(message, str(exc), exc.retry_after)
    except Exception as exc:  # the retry boundary: a bug in a handler must not lose the message
        logger.exception("outbox handler %s failed on message %s", message.kind, message.pk)
        retry_in = _retry_or_dead(message, f"{exc.__class__.__name__}: {exc}", None)
    else:
        message.status, message.sent_at, message.next_attempt_at = MessageStatus.SENT, timezone.now(), None
    # Only the holder of this attempt's lease records its outcome: if the lease ran out and
    # another worker took the message over, that worker's attempt decides.
    recorded = Message.objects.filter(pk=message.pk, status=MessageStatus.PENDING, attempts=message.attempts).update(
        status=message.status,
        next_attempt_at=message.next_attempt_at,
        last_error=message.last_error,
        sent_at=message.sent_at,
        dead_at=message.dead_at,
    )
    if not recorded:
        logger.warning("outbox message %s: attempt %s outlived its lease", message.pk, message.attempts)
        return None
    if message.status != MessageStatus.PENDING and message.group:
        _kick_next_in_group(message.group)
    if retry_in is not None:
        dispatch.message_retry_later(message.pk, retry_in)
    return message.status


def _claim(message_id: int) -> Message | None:
    """Lease a due message for one attempt, in a short transaction of its own.

    The attempt is counted and committed before the handler runs, so a handler knows whether
    an earlier attempt may have reached the destination (``message.attempts > 1``) even when
    the worker of that attempt was killed. While the lease (``OUTBOX_LEASE_SECONDS``) runs no
    other worker takes the message; after it, the sweeper hands it out again.
    """
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(skip_locked=True)
            .filter(_due(), pk=message_id, status=MessageStatus.PENDING)
            .first()
        )
        if message is None:
            return None
        if message.group and (
            Message.objects.filter(group=message.group, status=MessageStatus.PENDING, pk__lt=message.pk).exists()
        ):
            return None  # the earlier one kicks this one when it is done
        message.attempts += 1
        message.next_attempt_at = timezone.now() + dt.timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)
        message.save(update_fields=["attempts", "next_attempt_at"])
    return message


def _retry_or_dead(message: Message, error: str, retry_after: float | None) -> float | None:
    if message.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
        _dead(message, f"{error} (after {message.attempts} attempts)")
        return None
    delay = retry_delay(message.attempts, retry_after)
    message.last_error = error[:2000]
    message.next_attempt_at = timezone.now() + dt.timedelta(seconds=delay)
    logger.warning(
        "outbox %s %s: attempt %s failed (%s); next in %.1f s", message.kind, message.pk, message.attempts, error, delay
    )
    return delay


def _dead(message: Message, error: str) -> None:
    logger.error("outbox %s %s is a dead letter: %s", message.kind, message.pk, error)
    message.status, message.dead_at, message.next_attempt_at = MessageStatus.DEAD, timezone.now(), None
    message.last_error = error[:2000]


def _kick_next_in_group(group: str) -> None:
    following = (
        Message.objects.filter(group=group, status=MessageStatus.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    if following is not None:
        dispatch.message_kick(following)


def message_retry(*, message_id: int) -> Message:
    """Send a dead letter again (operations, after fixing the cause): pending now, attempts from zero."""
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(pk=message_id).first()
        if message is None:
            raise MessageNotFound(message=message_id)
        if message.status == MessageStatus.SENT:
            raise NotRetryable(message=message_id, message_status=message.status)
        message.status, message.attempts, message.next_attempt_at, message.dead_at = (
            MessageStatus.PENDING,
            0,
            None,
            None,
        )
        message.save(update_fields=["status", "attempts", "next_attempt_at", "dead_at"])
        transaction.on_commit(lambda: dispatch.message_kick(message_id))
    return message


def outbox_sweep(*, older_than_seconds: int = 30, limit: int = 1000) -> int:
    """Beat: re-enqueue pending messages that are due and were not picked up (broker outage, lost task)."""
    cutoff = timezone.now() - dt.timedelta(seconds=older_than_seconds)
    due = Message.objects.filter(status=MessageStatus.PENDING).filter(
        Q(next_attempt_at__isnull=True, created_at__lt=cutoff) | Q(next_attempt_at__lte=cutoff)
    )
    ids = list(due.order_by("pk").values_list("pk", flat=True)[:limit])
    for message_id in ids:
        dispatch.message_kick(message_id)
    return len(ids)


def outbox_drain_due(*, limit: int = 100) -> int:
    """Deliver messages that are due now, oldest first (embedded mode has no countdown tasks)."""
    ids = list(
        Message.objects.filter(_due(), status=MessageStatus.PENDING).order_by("pk").values_list("pk", flat=True)[:limit]
    )
    return sum(1 for message_id in ids if message_deliver(message_id=message_id) == MessageStatus.SENT)


def subscription_create(*, url: str, events: list[str], description: str = "", actor=None) -> WebhookSubscription:
    """Subscribe a URL to event types; the generated ``whsec_`` secret is shown once, by the caller."""
    from outbox.webhooks import secret_generate

    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown or not events:
        raise UnknownEventType(
            "Name at least one event type; unknown: " + ", ".join(unknown)
            if unknown
            else "Name at least one event type.",
            unknown=unknown,
            allowed=list(EVENT_TYPES),
        )
    return WebhookSubscription.objects.create(
        url=url,
        events=sorted(set(events), key=EVENT_TYPES.index),
        description=description,
        secret=secret_generate(),
        created_by=actor if getattr(actor, "pk", None) else None,
    )


def subscription_delete(*, subscription_id: int) -> None:
    """Remove a subscription; its pending messages become dead letters when their turn comes."""
    from outbox.errors import SubscriptionNotFound

    deleted, _ = WebhookSubscription.objects.filter(pk=subscription_id).delete()
    if not deleted:
        raise SubscriptionNotFound(subscription=subscription_id)
