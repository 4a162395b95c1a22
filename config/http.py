"""Small helpers for outbound HTTP shared by every app (couriers, storefronts, our webhooks)."""

from __future__ import annotations

import datetime as dt
import math
import os
import threading
import urllib.request
from email.utils import parsedate_to_datetime

import requests

_sessions: dict[tuple[str, int], requests.Session] = {}
_sessions_lock = threading.Lock()


def process_session(name: str, *, user_agent: str) -> requests.Session:
    """One ``requests.Session`` (connection pool) per ``name`` per process: a forked worker (Celery
    prefork, gunicorn) makes its own, since sockets must not be shared across a fork. Without proxy,
    CA-bundle or netrc settings it skips requests' per-call environment scan (``ProcessSession``)."""
    key = (name, os.getpid())
    with _sessions_lock:
        found = _sessions.get(key)
        if found is None:
            found = _sessions[key] = ProcessSession()
            found.headers["User-Agent"] = user_agent
        return found


class ProcessSession(requests.Session):
    """A ``requests.Session`` that skips requests' per-call scan of the environment when there is
    nothing in it to find.

    With ``trust_env`` requests reads ``os.environ`` for every request (proxies twice, the CA
    bundle, netrc), about as long as a call to a nearby courier. When the session is made and
    there is no proxy setting (``urllib.request.getproxies()`` empty: no ``HTTP(S)_PROXY``,
    ``ALL_PROXY``), no ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` and no netrc file, the scan
    could only find nothing, so it is switched off. Otherwise requests' own handling stays as it
    is. A proxy set later needs a new process.
    """

    def __init__(self):
        super().__init__()
        if _nothing_to_read():
            self.trust_env = False


def _nothing_to_read() -> bool:
    if urllib.request.getproxies():
        return False
    if os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE"):
        return False
    netrc = [os.environ["NETRC"]] if os.environ.get("NETRC") else ["~/.netrc", "~/_netrc"]
    try:
        return not any(os.path.exists(os.path.expanduser(name)) for name in netrc)
    except (KeyError, RuntimeError):  # no home directory to expand
        return True


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
