"""Small helpers for outbound HTTP shared by every app (couriers, storefronts, our webhooks)."""

from __future__ import annotations

import datetime as dt
import math
import os
import threading
from email.utils import parsedate_to_datetime

import requests

_sessions: dict[tuple[str, int], requests.Session] = {}
_sessions_lock = threading.Lock()


def process_session(name: str, *, user_agent: str) -> requests.Session:
    """One ``requests.Session`` (connection pool) per ``name`` per process: a forked worker (Celery
    prefork, gunicorn) makes its own, since sockets must not be shared across a fork."""
    key = (name, os.getpid())
    with _sessions_lock:
        found = _sessions.get(key)
        if found is None:
            found = _sessions[key] = requests.Session()
            found.headers["User-Agent"] = user_agent
        return found


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header as seconds to wait: delta-seconds or an HTTP date (RFC 9110).

    None when absent or unreadable (also ``inf`` or ``nan``, which would make a wait no clock can
    hold); a date in the past is 0.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - dt.datetime.now(dt.UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)
