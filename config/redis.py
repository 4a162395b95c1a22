"""One Redis client per process for small coordination keys (the inbox kick; later, rate limits).

The broker has its own connections through kombu; this is for plain commands. redis-py's
pool notices a fork (gunicorn and Celery prefork workers) and opens fresh connections.
"""

from __future__ import annotations

import functools

import redis
from django.conf import settings


@functools.cache
def redis_client() -> redis.Redis | None:
    """The client for ``settings.REDIS_URL``, or None when no Redis is configured."""
    if not settings.REDIS_URL:
        return None
    # Short timeouts: these commands sit on request paths (a webhook's kick), which must answer fast.
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
