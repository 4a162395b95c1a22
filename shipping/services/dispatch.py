"""The one place shipping hands work to Celery: the only module that imports ``shipping.tasks`` or asks
whether tasks run in-process.

Tracking polls run as one task per courier, so one courier's slowness never holds another's run.
With ``TRACKING_QUEUE_PREFIX`` set (e.g. ``tracking``) each courier's task goes to its own queue
``tracking.<courier>``; run workers for them, e.g. ``celery -A config worker -Q tracking.ups`` and
``celery -A config worker -Q celery,tracking.dhl_express,tracking.auspost,tracking.fedex``. Without it
they share the default queue: give the worker at least one process more than there are couriers.
A queued poll expires after one polling interval: if workers were away, the next beat run replaces it.
"""

from __future__ import annotations

import logging

from django.conf import settings
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from shipping import couriers

logger = logging.getLogger("shipping")


def tasks_inline() -> bool:
    return bool(settings.CELERY_TASK_ALWAYS_EAGER)


def tracking_queue(courier: str) -> str | None:
    prefix = settings.TRACKING_QUEUE_PREFIX
    return f"{prefix}.{courier}" if prefix else None


def tracking_poll_enqueue(courier: str) -> bool:
    """Queue one courier's poll run (in-process: run it now); False if the broker is unreachable."""
    from shipping.tasks import tracking_poll_task

    if tasks_inline():
        tracking_poll_task.apply((courier,))
        return True
    try:
        tracking_poll_task.apply_async(
            (courier,), queue=tracking_queue(courier), expires=settings.TRACKING_POLL_EVERY_SECONDS, retry=False
        )
    except (OperationalError, RedisError, OSError) as exc:
        logger.warning("broker unreachable (%s); %s tracking waits for the next beat run", exc, courier)
        return False
    return True


def tracking_poll_fanout() -> list[str]:
    """Beat: one poll task per configured courier; the couriers queued.

    The couriers with the smallest tracking batch (most calls per shipment: UPS) are queued first,
    so on a shared queue the longest run starts first.
    """
    configured = [code for code in couriers.COURIER_CODES if couriers.courier_config(code).configured]
    configured.sort(key=lambda code: couriers.courier_class(code).capabilities.track_batch)
    return [code for code in configured if tracking_poll_enqueue(code)]
