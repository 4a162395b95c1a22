"""The one place the outbox hands work to Celery (or runs it here, in embedded mode)."""

from __future__ import annotations

import logging

from django.conf import settings
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

logger = logging.getLogger("outbox")

_inline_depth = 0


def tasks_inline() -> bool:
    return bool(settings.CELERY_TASK_ALWAYS_EAGER)


def message_kick(message_id: int) -> None:
    """After commit: deliver now in-process, or queue the delivery task; a broker outage leaves it to the sweeper."""
    global _inline_depth
    if tasks_inline():
        from outbox import services

        # Delivery may enqueue more messages (a booking writes its push-back); they run after this one.
        _inline_depth += 1
        try:
            services.message_deliver(message_id=message_id)
            if _inline_depth == 1:
                # Embedded mode has no countdown tasks: what is due (earlier failures) goes now too.
                services.outbox_drain_due(limit=20)
        finally:
            _inline_depth -= 1
        return
    _send(message_id, countdown=None)


def message_retry_later(message_id: int, delay: float) -> None:
    """Queue the next try after ``delay`` seconds, never past the broker's visibility timeout.

    A longer wait is left to the beat sweeper, which re-enqueues it when it is due. In embedded
    mode nothing is queued: the next delivery in this process, or the sweep, sends it.
    """
    if tasks_inline():
        return
    ceiling = settings.CELERY_VISIBILITY_TIMEOUT - 60
    if delay >= ceiling:
        return
    _send(message_id, countdown=max(0.0, delay))


def _send(message_id: int, *, countdown: float | None) -> None:
    from outbox.tasks import outbox_deliver_task

    try:
        with outbox_deliver_task.app.producer_or_acquire() as producer:
            # One connection attempt: left to itself kombu retries for about 6 s (broker_connection_timeout
            # and its interval) before failing anyway, and this runs inside the request that committed.
            producer.connection.ensure_connection(max_retries=0)
            outbox_deliver_task.apply_async((message_id,), countdown=countdown, retry=False, producer=producer)
    except (OperationalError, RedisError, OSError) as exc:
        logger.warning("broker unreachable (%s); outbox message %s waits for the sweeper", exc, message_id)
