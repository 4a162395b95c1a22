"""The one place fulfilment hands work to Celery: the only module that imports
``fulfilment.tasks`` or asks whether tasks run in-process (``CELERY_TASK_ALWAYS_EAGER``).

Domain services call these functions after their transaction commits; which task runs,
and whether it runs here and now (embedded mode) or on a worker, is decided here. Tasks
import services; services import this module; this module imports tasks lazily, so there
is no import cycle.

The inbox *kick*: with a broker, an accepted delivery is not sent to the broker itself. A
drain task is queued at most once until a worker starts it (``SET NX`` on a Redis key the
drain deletes before it looks for work), so under a burst of webhooks the web process
publishes almost nothing and workers take the pending deliveries oldest first, many per task.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from config.redis import redis_client

logger = logging.getLogger(__name__)

# Set while a drain task is queued and has not started; expires in case that task is lost.
INBOX_KICK_KEY = "fulfilment:inbox:kick"
INBOX_KICK_TTL = 30
INBOX_KICK_PAUSE = 10  # seconds without kicks after the broker failed (per process)
_kick_paused_until = 0.0


def tasks_inline() -> bool:
    """Do tasks run in this process (embedded mode, no broker) rather than on a worker?"""
    return bool(settings.CELERY_TASK_ALWAYS_EAGER)


def delivery_enqueue(delivery_id: int) -> None:
    """Hand a committed delivery to the workers; if the broker is down the sweeper picks it up later.

    In-process, the delivery is processed right here. With a broker a drain is kicked.
    """
    from fulfilment.tasks import inbox_process_task

    if tasks_inline():
        inbox_process_task.delay(delivery_id)
        return
    drain_kick()


def drain_kick(*, force: bool = False) -> bool:
    """Queue one drain task unless one is queued and not yet started; False if nothing could be queued.

    ``force`` queues one whatever the key says (the sweeper, a drain handing over). After a
    failure this process stops trying for ``INBOX_KICK_PAUSE`` seconds, so a Redis outage
    costs the storefront's requests one timeout, not one each; what arrives meanwhile stays
    pending, and the beat sweeper drains it once Redis is back.
    """
    from fulfilment.tasks import inbox_drain_task

    global _kick_paused_until
    if not force and time.monotonic() < _kick_paused_until:
        return False
    client = redis_client()
    claimed = False
    try:
        if not force and client is not None:
            claimed = bool(client.set(INBOX_KICK_KEY, "1", nx=True, ex=INBOX_KICK_TTL))
            if not claimed:
                return True  # a drain is queued; it has not looked for work yet, so it will see this delivery
        inbox_drain_task.delay()
    except (OperationalError, RedisError) as exc:
        logger.warning("broker unreachable (%s); pending deliveries wait for the sweeper", exc)
        _kick_paused_until = time.monotonic() + INBOX_KICK_PAUSE
        if claimed:
            drain_started()  # no drain was queued: let the next delivery try again
        return False
    _kick_paused_until = 0.0
    return True


def drain_started() -> None:
    """A drain is starting: the next delivery committed from now on must kick another one."""
    client = redis_client()
    if client is not None:
        try:
            client.delete(INBOX_KICK_KEY)
        except RedisError as exc:  # the key expires by itself; the sweeper covers the gap
            logger.warning("could not clear the inbox kick: %s", exc)


def kick_paused() -> bool:
    """Is this process holding back kicks after a broker failure?"""
    return time.monotonic() < _kick_paused_until


def kick_pause_clear() -> None:
    """Forget an earlier broker failure (the next kick tries at once)."""
    global _kick_paused_until
    _kick_paused_until = 0.0


def delivery_retry_later(delivery_id: int, *, countdown: float) -> bool:
    """Process a delivery again after ``countdown`` seconds (a transient failure); False if not queued.

    In-process there is no worker to wait: the sweeper retries it on its next run. With a
    broker the countdown stays under the visibility timeout, so the task is never redelivered
    early; if the broker is down, the sweeper retries it too.
    """
    from fulfilment.tasks import inbox_process_task

    if tasks_inline():
        return False
    countdown = min(countdown, max(settings.CELERY_VISIBILITY_TIMEOUT - 60, 1))
    try:
        inbox_process_task.apply_async((delivery_id,), countdown=countdown)
    except (OperationalError, RedisError) as exc:
        logger.warning("broker unreachable (%s); delivery %s waits for the sweeper", exc, delivery_id)
        return False
    return True
