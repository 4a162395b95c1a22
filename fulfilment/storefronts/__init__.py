"""Storefronts: webhook verification and parsing, one module per storefront.

``base``, ``shopify`` and ``woocommerce`` are pure: bytes and mappings in, frozen dataclasses
out, no ORM, no settings, no HTTP. ``woocommerce_client`` is the exception and says so: it
is the HTTP client that reads WooCommerce's REST API for reconciliation.

The ``Storefront`` protocol is what a storefront module provides; ``fulfilment.models.Channel``
is the database's name for where an order came from.
"""

from __future__ import annotations

from config.exceptions import NotFound
from fulfilment.storefronts import shopify, woocommerce
from fulfilment.storefronts.base import (
    Address,
    Delivery,
    IncomingOrder,
    Issue,
    LineIn,
    OrderIn,
    Storefront,
)

_STOREFRONTS: dict[str, Storefront] = {shopify.NAME: shopify, woocommerce.NAME: woocommerce}
STOREFRONT_NAMES = tuple(_STOREFRONTS)


def get_storefront(name: str) -> Storefront:
    """Return the storefront module for ``name``; unknown names are a 404, not a crash."""
    try:
        return _STOREFRONTS[name]
    except KeyError:
        raise NotFound("Unknown storefront.", channel=name) from None


__all__ = [
    "STOREFRONT_NAMES",
    "Address",
    "Delivery",
    "IncomingOrder",
    "Issue",
    "LineIn",
    "OrderIn",
    "Storefront",
    "get_storefront",
]
