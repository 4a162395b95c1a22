"""Storefront push-back clients: HTTP only, no ORM (like the courier adapters).

``shopify`` speaks the GraphQL Admin API (fulfillment orders, fulfillments, fulfillment events);
``woocommerce`` the REST API v3 (order notes, order status). Both raise ``errors``: a
``StorefrontUnavailable`` is an ``outbox.errors.DeliveryRetry`` (timeouts, 5xx, throttling, with the
wait when the storefront says how long), a ``StorefrontRefused`` a ``DeliveryFailed`` (a dead
letter at once: bad credentials, a missing order, Shopify ``userErrors``).
"""

import os
import threading

import requests

_sessions: dict[int, requests.Session] = {}
_sessions_lock = threading.Lock()


def session() -> requests.Session:
    """One Session per process for the storefront clients (a forked Celery child makes its own:
    sockets are not shared across a fork)."""
    pid = os.getpid()
    with _sessions_lock:
        found = _sessions.get(pid)
        if found is None:
            found = _sessions[pid] = requests.Session()
            found.headers["User-Agent"] = "insoles-fulfilment-pushback/1"
    return found
