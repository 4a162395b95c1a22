"""Small helpers for outbound HTTP shared by every app (couriers, storefronts, our webhooks)."""

from __future__ import annotations

import datetime as dt
import math
from email.utils import parsedate_to_datetime


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
