"""The one place inventory hands work to Celery: the only module that imports ``inventory.tasks``
or asks whether tasks run in-process (``CELERY_TASK_ALWAYS_EAGER``).

**The alert check after a movement** (``alerts_check_soon``, the stock-changed hook). In-process
(embedded mode, tests) the touched levels are checked right after the commit. With a broker, the
movement only marks them: one Redis round trip adds the level ids to a set and, if no check is
queued yet, queues one (``SET NX``, like the inbox kick) to run ``ALERTS_DEBOUNCE_SECONDS`` later
on a worker, where it checks every level marked meanwhile in one set-based statement. A hot SKU
reserved a hundred times a second is then checked once a second, not a hundred times, and the
reservation hot path pays a Redis round trip instead of the check (bench/README.md: checking
inline after every reservation cut the hot path's throughput to a third).

Lost work is found again: if Redis or the broker is down the levels are checked inline instead,
and a marked level whose check task was lost is checked when the kick key expires and the next
movement queues one, or by the beat sweep (``stock_alerts_sweep_task``) at the latest.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from django.conf import settings
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from config.redis import redis_client

logger = logging.getLogger(__name__)

# Level ids whose alerts a queued check will look at.
ALERTS_DIRTY_KEY = "inventory:alerts:dirty"
# Set while a check is queued and has not started; expires in case that task is lost.
ALERTS_KICK_KEY = "inventory:alerts:kick"
ALERTS_KICK_TTL = 30
# How long a queued check waits, gathering the levels moved meanwhile.
ALERTS_DEBOUNCE_SECONDS = 1.0
# Level ids a check takes from the set per statement.
ALERTS_BATCH = 1000


def tasks_inline() -> bool:
    """Do tasks run in this process (embedded mode, no broker) rather than on a worker?"""
    return bool(settings.CELERY_TASK_ALWAYS_EAGER)


def alerts_check_soon(*, stock_ids: Collection[int]) -> None:
    """After commit: check these levels' alerts now (in-process), or mark them for one debounced check."""
    from inventory import alerts

    client = redis_client()
    if tasks_inline() or client is None:
        alerts.stock_alerts_check(stock_ids=stock_ids)
        return
    from inventory.tasks import stock_alerts_flush_task

    try:
        pipe = client.pipeline(transaction=False)
        pipe.sadd(ALERTS_DIRTY_KEY, *stock_ids)
        pipe.set(ALERTS_KICK_KEY, "1", nx=True, ex=ALERTS_KICK_TTL)
        _, claimed = pipe.execute()
        if claimed:
            stock_alerts_flush_task.apply_async(countdown=ALERTS_DEBOUNCE_SECONDS)
    except (OperationalError, RedisError) as exc:
        logger.warning("broker or Redis unreachable (%s); checking the alerts of %s here", exc, sorted(stock_ids))
        _kick_clear(client)
        alerts.stock_alerts_check(stock_ids=stock_ids)


def alerts_flush() -> int:
    """The queued check (on a worker): every level marked since the last one; returns how many."""
    from inventory import alerts

    client = redis_client()
    if client is None:
        return 0
    # Cleared first: a level marked from now on queues the next check (at worst one check too many).
    _kick_clear(client)
    checked = 0
    while True:
        ids = [int(raw) for raw in client.spop(ALERTS_DIRTY_KEY, ALERTS_BATCH) or []]
        if not ids:
            return checked
        try:
            alerts.stock_alerts_check(stock_ids=ids)
        except Exception:
            # Put them back for the next check (or the sweep) before the task's failure is reported.
            client.sadd(ALERTS_DIRTY_KEY, *ids)
            raise
        checked += len(ids)


def _kick_clear(client) -> None:
    try:
        client.delete(ALERTS_KICK_KEY)
    except RedisError as exc:  # the key expires by itself; the sweep covers the gap
        logger.warning("could not clear the alert check kick: %s", exc)
