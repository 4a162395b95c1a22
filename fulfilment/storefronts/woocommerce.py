"""WooCommerce order webhooks: verify the HMAC header, parse the REST v3 order JSON.

Topics handled by ``parse``: ``order.created`` and ``order.updated``. Others
(``order.deleted``, ``order.restored``, product/customer/coupon topics, ``ping``)
verify but parse to None.

Ping: when a webhook is saved, WooCommerce POSTs ``webhook_id=<n>`` form-encoded
with no topic and *no signature* (``WC_Webhook::deliver_ping``), and keeps the
webhook pending unless it gets a 200. ``verify`` therefore recognises exactly that
shape and returns a Delivery with topic ``"ping"`` without a signature check;
it carries no order data and ``parse`` returns None, so accepting it changes nothing.

Paid rule: status ``processing`` or ``completed`` (cash-on-delivery orders are
``processing`` too, and are meant to ship). ``pending``, ``on-hold`` (awaiting
bank transfer), ``failed``, ``refunded`` are not paid; ``cancelled`` -> action
``"cancel"``. Only the signed body's ``status`` decides; the unsigned topic header only
routes (``order.created`` and ``order.updated`` alike). A body with no ``status`` is no
version of the order (``order.deleted`` sends only the id): a ``topic_mismatch`` issue, so
the service never applies it to an existing order.

Event id: WooCommerce sends a fresh delivery id on every send and never retries,
so the dedupe key is ``f"{order id}:{date_modified_gmt}"`` (the raw string).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from fulfilment.errors import PayloadInvalid, ShopMismatch
from fulfilment.storefronts.base import (
    ACTION_CANCEL,
    ACTION_UPSERT,
    DEFAULT_SHOP,
    LINE_PRICE_DIGITS,
    ORDER_TOTAL_DIGITS,
    TOPIC_MISMATCH,
    Address,
    Delivery,
    IncomingOrder,
    Issue,
    LineIn,
    OrderIn,
    address_or_none,
    check_signature,
    country_code,
    full_name,
    get_amount,
    get_datetime,
    get_id,
    get_list,
    get_object,
    get_text,
    load_object,
    lower_headers,
    object_items,
    require_count,
    require_header,
    service_level,
)

NAME = "woocommerce"

SIGNATURE_HEADER = "X-WC-Webhook-Signature"
TOPIC_PING = "ping"
TOPIC_RECONCILED = "order.updated"  # what a missed webhook for a changed order would have said
RECONCILED_HEADERS = {"x-wc-webhook-topic": TOPIC_RECONCILED, "x-reconciled-from": "rest-api"}
TOPICS = frozenset({"order.created", "order.updated"})
PAID_STATUSES = frozenset({"processing", "completed"})
CANCELLED_STATUS = "cancelled"
_PING_RE = re.compile(rb"webhook_id=([0-9]{1,20})")
_KEPT_HEADERS = (
    "x-wc-webhook-source",
    "x-wc-webhook-topic",
    "x-wc-webhook-resource",
    "x-wc-webhook-event",
    "x-wc-webhook-id",
    "x-wc-webhook-delivery-id",
)


def verify(
    *, headers: Mapping[str, str], body: bytes, secrets: Sequence[str], shop_domain: str | None = None
) -> Delivery:
    """Authenticate a WooCommerce webhook (signature, then shop).

    ``shop_domain``: the host of the configured shop URL (``shop_host(WOOCOMMERCE_URL)``). The
    delivery's shop is that host, or DEFAULT_SHOP when none is configured; X-WC-Webhook-Source is
    not signed, so it never names the shop (an order keyed by it doubled when the site's host
    changed). When a shop is configured, a webhook from another source host is still refused:
    it is most likely another site sharing the secret; reconciliation reads what it missed.
    """
    lowered = lower_headers(headers)
    kept = {name: lowered[name] for name in _KEPT_HEADERS if name in lowered}
    shop = shop_key(shop_domain)
    topic = lowered.get("x-wc-webhook-topic", "")

    ping = _PING_RE.fullmatch(body.strip()) if not topic else None
    if ping is not None:
        webhook_id = ping.group(1).decode("ascii")
        return Delivery(
            channel=NAME, topic=TOPIC_PING, event_id=f"ping:{webhook_id}", shop=shop, body=body, headers=kept
        )

    check_signature(
        body=body, signature=lowered.get(SIGNATURE_HEADER.lower()), secrets=secrets, header=SIGNATURE_HEADER
    )
    claimed = shop_host(lowered.get("x-wc-webhook-source", ""))
    if shop_domain and claimed != shop:
        raise ShopMismatch(
            "Webhook comes from a shop this service does not serve (X-WC-Webhook-Source).",
            shop=claimed,
            configured=shop_domain,
        )
    topic = require_header(lowered, "X-WC-Webhook-Topic", max_length=100)
    return Delivery(
        channel=NAME,
        topic=topic,
        event_id=_event_id(load_object(body), lowered),
        shop=shop,
        body=body,
        headers=kept,
    )


def reconciled_delivery(order: dict[str, Any], *, shop: str) -> Delivery:
    """A delivery for an order read from the REST API (reconciliation), as if its webhook had come.

    The body is the order re-serialised; it carries the event id its webhook would have had,
    so a version that did arrive by webhook is a duplicate in the inbox. Raises PayloadInvalid
    when the order has no id or no ``date_modified_gmt``.
    """
    if not get_id(order, "id", "") or not get_text(order, "date_modified_gmt", ""):
        raise PayloadInvalid("A reconciled order needs an id and date_modified_gmt.", field="date_modified_gmt")
    return Delivery(
        channel=NAME,
        topic=TOPIC_RECONCILED,
        event_id=_event_id(order, {}),
        shop=shop[:255],
        body=reconciled_body(order),
        headers=dict(RECONCILED_HEADERS),
    )


def reconciled_body(order: dict[str, Any]) -> bytes:
    """An order read from the REST API, serialised as the body of its delivery (also when rejected)."""
    return json.dumps(order, ensure_ascii=False, separators=(",", ":")).encode()


def parse(delivery: Delivery) -> IncomingOrder | None:
    """Turn a verified delivery into an IncomingOrder, or None for topics we ignore."""
    if delivery.topic not in TOPICS:
        return None
    order = _order(load_object(delivery.body), topic=delivery.topic)
    return IncomingOrder(delivery=delivery, action=ACTION_CANCEL if order.is_cancelled else ACTION_UPSERT, order=order)


def shop_key(shop_domain: str | None) -> str:
    """The shop an order is keyed by: the configured host, or DEFAULT_SHOP when none is configured."""
    return shop_domain.strip().lower()[:255] if shop_domain and shop_domain.strip() else DEFAULT_SHOP


def shop_host(source: str) -> str:
    # X-WC-Webhook-Source is home_url("/"), e.g. "https://shop.example/".
    if not source:
        return ""
    if "//" not in source:
        source = "//" + source
    try:
        netloc = urlsplit(source).netloc
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return ""
    return netloc.rpartition("@")[2].lower()[:255]


def _event_id(data: dict[str, Any], headers: Mapping[str, str]) -> str:
    order_id = get_id(data, "id", "")
    modified = get_text(data, "date_modified_gmt", "")
    if not modified:
        # order.deleted sends only {"id": n}; nothing to dedupe on but the delivery itself.
        delivery_id = headers.get("x-wc-webhook-delivery-id", "")
        if not delivery_id:
            raise PayloadInvalid("date_modified_gmt is required to identify this event.", field="date_modified_gmt")
        return f"{order_id}:delivery:{delivery_id}"[:255]
    # date_modified has one-second resolution: "pending" then "processing" within the same second
    # would share a key and the paid update would be dropped as a duplicate. The status tells them apart.
    status = get_text(data, "status", "")
    return f"{order_id}:{modified}:{status}"[:255]


def _order(data: dict[str, Any], *, topic: str) -> OrderIn:
    external_id = get_id(data, "id", "")
    issues: list[Issue] = []  # filled by the readers below, in the order of the body
    # REST v3 drops the "wc-" prefix, but a filtered payload may still carry it.
    status = get_text(data, "status", "").lower().removeprefix("wc-")
    is_paid = status in PAID_STATUSES
    if not status:
        detail = f"status is missing: the body is not a version of the order (topic {topic})"
        issues.append(Issue(TOPIC_MISMATCH, "status", detail))

    billing = get_object(data, "billing", "") or {}
    email = get_text(billing, "email", "billing")
    shipping_address = _address(
        get_object(data, "shipping", ""), "shipping", issues, email=email, phone=get_text(billing, "phone", "billing")
    )

    shipping_lines = object_items(get_list(data, "shipping_lines", ""), "shipping_lines")
    method_texts = [get_text(line, key, path) for path, line in shipping_lines for key in ("method_id", "method_title")]
    shipping_method = next(
        (get_text(line, "method_title", path) or get_text(line, "method_id", path) for path, line in shipping_lines),
        "",
    )

    paid_at = None
    if is_paid:
        # Cash-on-delivery orders are processing without date_paid; creation is the fair stand-in.
        paid_at = get_datetime(data, "date_paid_gmt", "", naive_is_utc=True) or get_datetime(
            data, "date_created_gmt", "", naive_is_utc=True
        )

    return OrderIn(
        external_id=external_id,
        number=get_text(data, "number", "") or external_id,
        email=email,
        customer_name=(
            full_name(get_text(billing, "first_name", "billing"), get_text(billing, "last_name", "billing"))
            or (shipping_address.name if shipping_address else "")
        ),
        financial_status=status,
        is_paid=is_paid,
        is_cancelled=status == CANCELLED_STATUS,
        currency=get_text(data, "currency", "").upper(),
        total_price=get_amount(data, "total", "", issues, digits=ORDER_TOTAL_DIGITS),
        total_weight_g=0,  # orders carry no weight in WooCommerce; the service sums SKU weights
        service_level=service_level(method_texts),
        shipping_method=shipping_method,
        shipping_address=shipping_address,
        lines=tuple(
            _line(item, path, issues) for path, item in object_items(get_list(data, "line_items", ""), "line_items")
        ),
        paid_at=paid_at,
        updated_at=get_datetime(data, "date_modified_gmt", "", naive_is_utc=True),
        cancelled_at=None,  # WooCommerce records no cancellation time
        issues=tuple(issues),  # last: the arguments above fill it
    )


def _line(item: dict[str, Any], path: str, issues: list[Issue]) -> LineIn:
    return LineIn(
        external_id=get_id(item, "id", path),
        sku=get_text(item, "sku", path),
        title=get_text(item, "name", path),
        quantity=require_count(item, "quantity", path, issues),
        # Order line items say nothing about shipping; virtual products are rare for insoles.
        requires_shipping=True,
        # REST v3 sends line price as a JSON number (total / quantity).
        unit_price=get_amount(item, "price", path, issues, digits=LINE_PRICE_DIGITS),
        fulfillable_quantity=None,
    )


def _address(raw: dict[str, Any] | None, path: str, issues: list[Issue], *, email: str, phone: str) -> Address | None:
    if raw is None:
        return None

    def text(key: str) -> str:
        return get_text(raw, key, path)

    state = text("state")
    return address_or_none(
        Address(
            name=full_name(text("first_name"), text("last_name")),
            company=text("company"),
            address1=text("address_1"),
            address2=text("address_2"),
            city=text("city"),
            # Woo stores a state code ("NSW") for most countries and free text otherwise.
            province=state,
            province_code=state,
            postcode=text("postcode"),
            country_code=country_code(text("country")),
            phone=text("phone") or phone,
            email=email,
        ),
        issues,
    )
