"""Storefront channels: pure webhook verification and parsing, one module per storefront."""

from __future__ import annotations

from config.exceptions import NotFound
from fulfilment.channels import shopify, woocommerce
from fulfilment.channels.base import (
    Address,
    Channel,
    Delivery,
    LineIn,
    OrderEvent,
    OrderIn,
)

_CHANNELS: dict[str, Channel] = {shopify.NAME: shopify, woocommerce.NAME: woocommerce}
CHANNEL_NAMES = tuple(_CHANNELS)


def get_channel(name: str) -> Channel:
    """Return the channel module for ``name``; unknown names are a 404, not a crash."""
    try:
        return _CHANNELS[name]
    except KeyError:
        raise NotFound("Unknown storefront channel.", channel=name) from None


__all__ = [
    "CHANNEL_NAMES",
    "Address",
    "Channel",
    "Delivery",
    "LineIn",
    "OrderEvent",
    "OrderIn",
    "get_channel",
]
