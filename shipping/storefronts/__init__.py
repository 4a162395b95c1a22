"""Storefront push-back clients: HTTP only, no ORM (like the courier adapters).

``shopify`` speaks the GraphQL Admin API (fulfillment orders, fulfillments, fulfillment events);
``woocommerce`` the REST API v3 (order notes, order status). Both raise ``errors``: a
``StorefrontUnavailable`` is an ``outbox.errors.DeliveryRetry`` (timeouts, 5xx, throttling, with the
wait when the storefront says how long), a ``StorefrontRefused`` a ``DeliveryFailed`` (a dead
letter at once: bad credentials, a missing order, Shopify ``userErrors``).
"""

import requests

from config.http import process_session


def session() -> requests.Session:
    """One Session per process for the storefront clients."""
    return process_session("storefronts", user_agent="insoles-fulfilment-pushback/1")
