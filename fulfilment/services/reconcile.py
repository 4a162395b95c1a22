"""WooCommerce reconciliation: read the orders changed since the last run into the inbox (WooCommerce
never retries a webhook), through ``fulfilment.storefronts.woocommerce_client`` (HTTP)."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from fulfilment.errors import PayloadInvalid
from fulfilment.models import Channel, ChannelCursor
from fulfilment.services.intake import delivery_accept, delivery_store_rejected
from fulfilment.storefronts import woocommerce, woocommerce_client

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReconcileResult:
    read: int = 0  # orders read from the API
    accepted: int = 0  # versions the inbox had not seen, or had seen fail: (re)processed
    duplicates: int = 0  # versions a webhook (or an earlier run) had already delivered and processed
    rejected: int = 0  # orders that could not be read (stored as rejected, with the error)
    position: datetime | None = None  # the cursor after this run
    configured: bool = True


def woocommerce_reconcile(*, since: datetime | None = None, session=None) -> ReconcileResult:
    """Read the WooCommerce orders modified since the last run into the inbox (WooCommerce never retries).

    Starts ``WOOCOMMERCE_RECONCILE_LOOKBACK_SECONDS`` before the stored cursor (a day back on
    the first run, or at ``since``), so orders saved while the previous run read are not missed;
    versions seen before are duplicates in the inbox. The cursor is saved after every page, so
    a failure part-way (ChannelUnavailable) keeps what was read. Not configured (no URL or
    credentials): does nothing.
    """
    if not (settings.WOOCOMMERCE_URL and settings.WOOCOMMERCE_CONSUMER_KEY and settings.WOOCOMMERCE_CONSUMER_SECRET):
        return ReconcileResult(configured=False)
    cursor = ChannelCursor.objects.filter(channel=Channel.WOOCOMMERCE).first()
    if since is None:
        lookback = timedelta(seconds=settings.WOOCOMMERCE_RECONCILE_LOOKBACK_SECONDS)
        since = cursor.position - lookback if cursor else timezone.now() - timedelta(days=1)
    position = cursor.position if cursor else None
    # The cursor never passes the moment this run started: one order dated in the future (a bad
    # import, a wrong clock) must not make the next runs skip every real change before that date.
    started = timezone.now()
    # The same key webhooks use (verify: shop_key of the configured host), so both paths meet in one order.
    shop = woocommerce.shop_key(woocommerce.shop_host(settings.WOOCOMMERCE_URL))
    counts: dict[str, int] = defaultdict(int)
    pages = woocommerce_client.orders_modified_after(
        base_url=settings.WOOCOMMERCE_URL,
        key=settings.WOOCOMMERCE_CONSUMER_KEY,
        secret=settings.WOOCOMMERCE_CONSUMER_SECRET,
        after=since,
        timeout=(settings.HTTP_CONNECT_TIMEOUT, settings.HTTP_READ_TIMEOUT),
        session=session,
    )
    for page in pages:
        for data in page.orders:
            counts["read"] += 1
            counts[_reconcile_one(data, shop=shop)] += 1
        newest = min(page.newest, started) if page.newest is not None else None
        if newest is not None and (position is None or newest > position):
            position = newest
            ChannelCursor.objects.update_or_create(channel=Channel.WOOCOMMERCE, defaults={"position": position})
    logger.info("woocommerce reconciliation from %s: %s", since.isoformat(), dict(counts))
    return ReconcileResult(
        read=counts["read"],
        accepted=counts["accepted"],
        duplicates=counts["duplicates"],
        rejected=counts["rejected"],
        position=position,
    )


def _reconcile_one(data: dict, *, shop: str) -> str:
    """Put one order read from the API through the inbox; returns how it went."""
    try:
        delivery = woocommerce.reconciled_delivery(data, shop=shop)
        incoming = woocommerce.parse(delivery)
    except PayloadInvalid as exc:
        body, headers = woocommerce.reconciled_body(data), woocommerce.RECONCILED_HEADERS
        delivery_store_rejected(channel=Channel.WOOCOMMERCE, headers=headers, body=body, error=exc)
        logger.warning("woocommerce reconciliation: unreadable order %r: %s", data.get("id"), exc.detail)
        return "rejected"
    result = delivery_accept(delivery=delivery, incoming=incoming)
    return "duplicates" if result.duplicate else "accepted"
