"""WooCommerce REST API v3, read side: the orders modified after a moment, for reconciliation.

WooCommerce sends each webhook once and never retries, so a webhook lost to a network error
or an outage of ours would be a lost order. The reconciliation job reads what changed through
``GET /wp-json/wc/v3/orders`` and feeds it through the same inbox as the webhooks; the inbox's
dedupe key (order id + ``date_modified_gmt`` + status) makes a version seen twice a no-op, except
that a version whose processing failed is processed again, as a storefront's retry would be.

Paging walks a cursor rather than page numbers: every request asks for the orders modified
after the newest ``date_modified_gmt`` seen so far (minus one second, for orders modified in
the same second), oldest first. Page numbers over a list that changes while it is read skip
orders: an order modified meanwhile moves to the end and the rest shift back by one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from fulfilment.errors import ChannelUnavailable, PayloadInvalid
from fulfilment.storefronts.base import get_datetime

ORDERS_PATH = "/wp-json/wc/v3/orders"
PER_PAGE = 100  # WooCommerce's maximum


@dataclass(frozen=True)
class Page:
    orders: list[dict[str, Any]]  # each as the REST API (and a webhook) sends it
    newest: datetime | None  # the latest date_modified_gmt on the page


def _order_modified(order: dict[str, Any]) -> datetime | None:
    try:
        return get_datetime(order, "date_modified_gmt", "", naive_is_utc=True)
    except PayloadInvalid:
        return None


def orders_modified_after(
    *,
    base_url: str,
    key: str,
    secret: str,
    after: datetime,
    timeout: tuple[float, float],
    session: requests.Session | None = None,
    max_pages: int = 50,
) -> Iterator[Page]:
    """Pages of orders modified after ``after`` (UTC), oldest first, until none is left (or ``max_pages``).

    Raises ChannelUnavailable on a network error, a timeout, a non-2xx answer or a body that is
    not a JSON list of objects.
    """
    http = session or requests.Session()
    url = base_url.rstrip("/") + ORDERS_PATH
    cursor, page_number = after, 1
    for _ in range(max_pages):
        params = {
            "modified_after": cursor.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "dates_are_gmt": "true",
            "orderby": "modified",
            "order": "asc",
            "per_page": PER_PAGE,
            "page": page_number,
        }
        orders = _get_orders(http, url, params=params, auth=(key, secret), timeout=timeout)
        stamps = [stamp for stamp in map(_order_modified, orders) if stamp is not None]
        newest = max(stamps, default=None)
        yield Page(orders=orders, newest=newest)
        if len(orders) < PER_PAGE:
            return
        # Next: after the newest seen, one second back (WooCommerce compares whole seconds, strictly).
        following = newest - timedelta(seconds=1) if newest is not None else cursor
        if following > cursor:
            cursor, page_number = following, 1
        else:
            page_number += 1  # a full page within one second: only page numbers make progress


def _get_orders(http: requests.Session, url: str, **kwargs) -> list[dict[str, Any]]:
    try:
        response = http.get(url, **kwargs)
    except requests.RequestException as exc:
        raise ChannelUnavailable(f"WooCommerce did not answer: {exc}", url=url) from exc
    if not response.ok:
        raise ChannelUnavailable(
            f"WooCommerce answered {response.status_code}.",
            url=url,
            http_status=response.status_code,
            body=response.text[:500],
        )
    try:
        orders = response.json()
    except json.JSONDecodeError as exc:
        raise ChannelUnavailable("WooCommerce's answer is not JSON.", url=url, body=response.text[:500]) from exc
    if not isinstance(orders, list) or not all(isinstance(order, dict) for order in orders):
        raise ChannelUnavailable("WooCommerce's answer is not a list of orders.", url=url, body=response.text[:500])
    return orders
