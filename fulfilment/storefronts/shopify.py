"""Shopify order webhooks: verify the HMAC header, parse the order JSON.

Topics handled by ``parse``: ``orders/paid``, ``orders/updated`` and ``orders/cancelled``
(upsert, or cancel when the body is cancelled). Every other topic (``orders/create``,
``orders/fulfilled``, ``orders/delete``, ``app/uninstalled``...) is verified but
``parse`` returns None: we only act once money is in, and our own fulfilment
push-back would otherwise echo straight back at us.

Only the signed body decides; the topic header is not covered by the HMAC and only routes.
Nor is X-Shopify-Shop-Domain: the shop is the configured one (see ``verify``).

Paid rule: ``financial_status`` of ``paid`` or ``partially_refunded`` (paid in full, some money
later returned: the rest still ships). ``pending``, ``authorized`` (not captured),
``partially_paid`` (deposit only), ``refunded`` and ``voided`` are not paid.

Cancel rule: the body carries ``cancelled_at``, whatever the topic; Shopify does not guarantee
delivery order, so a late ``orders/updated`` must not resurrect a cancelled order.

Topic against body: ``orders/paid`` with an unpaid body, ``orders/cancelled`` without
``cancelled_at``, or a body with no ``financial_status`` at all (``orders/delete`` sends only
the id) is a ``topic_mismatch`` issue: the service holds a new order and never applies such a
delivery to an existing one (it would un-reserve, cancel or wipe it on an unsigned word).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from fulfilment.errors import PayloadInvalid, ShopMismatch
from fulfilment.storefronts.base import (
    ACTION_CANCEL,
    ACTION_UPSERT,
    DEFAULT_SHOP,
    IMPLAUSIBLE_AMOUNT,
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
    get_bool,
    get_count,
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

NAME = "shopify"

HMAC_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_PAID, TOPIC_CANCELLED = "orders/paid", "orders/cancelled"
TOPICS = frozenset({TOPIC_PAID, "orders/updated", TOPIC_CANCELLED})
PAID_STATUSES = frozenset({"paid", "partially_refunded"})
# Kept on the Delivery for logs and the dedupe record; the HMAC is deliberately not.
_KEPT_HEADERS = (
    "x-shopify-topic",
    "x-shopify-shop-domain",
    "x-shopify-event-id",
    "x-shopify-webhook-id",
    "x-shopify-triggered-at",
    "x-shopify-api-version",
)


def verify(
    *, headers: Mapping[str, str], body: bytes, secrets: Sequence[str], shop_domain: str | None = None
) -> Delivery:
    """Authenticate a Shopify webhook from its raw body and headers (signature, then shop).

    The delivery's shop is the configured ``shop_domain`` (``SHOPIFY_SHOP_DOMAIN``), or
    DEFAULT_SHOP when none is configured: X-Shopify-Shop-Domain is not covered by the HMAC,
    so it may refuse a delivery (another shop's) but never name the shop an order is keyed by.
    """
    lowered = lower_headers(headers)
    check_signature(body=body, signature=lowered.get(HMAC_HEADER.lower()), secrets=secrets, header=HMAC_HEADER)
    shop = shop_key(shop_domain)
    if shop_domain:
        claimed = lowered.get("x-shopify-shop-domain", "").lower()
        if claimed != shop:
            raise ShopMismatch("Webhook comes from a shop this service does not serve.", shop=claimed)
    topic = require_header(lowered, "X-Shopify-Topic", max_length=100)
    # X-Shopify-Event-Id is the documented dedupe key; older API versions only send the webhook id.
    event_id = lowered.get("x-shopify-event-id") or require_header(lowered, "X-Shopify-Webhook-Id")
    if len(event_id) > 255:
        raise PayloadInvalid("X-Shopify-Event-Id header is too long.", field="X-Shopify-Event-Id")
    return Delivery(
        channel=NAME,
        topic=topic,
        event_id=event_id,
        shop=shop[:255],
        body=body,
        headers={name: lowered[name] for name in _KEPT_HEADERS if name in lowered},
    )


def parse(delivery: Delivery) -> IncomingOrder | None:
    """Turn a verified delivery into an IncomingOrder, or None for topics we ignore."""
    if delivery.topic not in TOPICS:
        return None
    order = _order(load_object(delivery.body), topic=delivery.topic)
    return IncomingOrder(delivery=delivery, action=ACTION_CANCEL if order.is_cancelled else ACTION_UPSERT, order=order)


def shop_key(shop_domain: str | None) -> str:
    """The shop an order is keyed by: the configured shop domain, or DEFAULT_SHOP when none is configured."""
    return _bare_domain(shop_domain)[:255] if shop_domain and shop_domain.strip() else DEFAULT_SHOP


def _bare_domain(configured: str) -> str:
    # Operators paste the admin URL as often as the bare domain.
    domain = configured.strip().lower().removeprefix("https://").removeprefix("http://")
    return domain.rstrip("/")


def _order(data: dict[str, Any], *, topic: str) -> OrderIn:
    external_id = get_id(data, "id", "")
    issues: list[Issue] = []  # filled by the readers below, in the order of the body
    financial_status = get_text(data, "financial_status", "").lower()
    cancelled_at = get_datetime(data, "cancelled_at", "", naive_is_utc=False)
    is_paid = financial_status in PAID_STATUSES
    issues += _topic_issues(topic, financial_status, cancelled_at)

    customer = get_object(data, "customer", "") or {}
    email = (
        get_text(data, "email", "") or get_text(data, "contact_email", "") or get_text(customer, "email", "customer")
    )
    phone = get_text(data, "phone", "") or get_text(customer, "phone", "customer")
    shipping_address = _address(
        get_object(data, "shipping_address", ""), "shipping_address", issues, email=email, phone=phone
    )
    billing = get_object(data, "billing_address", "") or {}

    shipping_lines = object_items(get_list(data, "shipping_lines", ""), "shipping_lines")
    codes_and_titles = [get_text(line, key, path) for path, line in shipping_lines for key in ("code", "title")]
    shipping_method = next(
        (get_text(line, "title", path) or get_text(line, "code", path) for path, line in shipping_lines), ""
    )

    paid_at = None
    if is_paid:
        # Shopify has no paid-at field; processed_at is stable across replays, which
        # keeps first-paid-first backorder filling deterministic.
        paid_at = get_datetime(data, "processed_at", "", naive_is_utc=False) or get_datetime(
            data, "created_at", "", naive_is_utc=False
        )

    return OrderIn(
        external_id=external_id,
        number=get_text(data, "name", "") or get_text(data, "order_number", "") or external_id,
        email=email,
        customer_name=(
            full_name(get_text(customer, "first_name", "customer"), get_text(customer, "last_name", "customer"))
            or (shipping_address.name if shipping_address else "")
            or get_text(billing, "name", "billing_address")
        ),
        financial_status=financial_status,
        is_paid=is_paid,
        is_cancelled=cancelled_at is not None,
        currency=get_text(data, "currency", "").upper(),
        total_price=get_amount(data, "total_price", "", issues, digits=ORDER_TOTAL_DIGITS),
        total_weight_g=get_count(data, "total_weight", "", issues, default=0, reason=IMPLAUSIBLE_AMOUNT, over=0) or 0,
        service_level=service_level(codes_and_titles),
        shipping_method=shipping_method,
        shipping_address=shipping_address,
        lines=tuple(
            _line(item, path, issues) for path, item in object_items(get_list(data, "line_items", ""), "line_items")
        ),
        paid_at=paid_at,
        updated_at=get_datetime(data, "updated_at", "", naive_is_utc=False),
        cancelled_at=cancelled_at,
        issues=tuple(issues),  # last: the arguments above fill it
    )


def _topic_issues(topic: str, financial_status: str, cancelled_at: datetime | None) -> list[Issue]:
    """Where the unsigned topic claims what the signed body does not say."""
    if not financial_status:
        detail = f"financial_status is missing: the body is not a version of the order (topic {topic})"
        return [Issue(TOPIC_MISMATCH, "financial_status", detail)]
    issues = []
    if topic == TOPIC_PAID and financial_status not in PAID_STATUSES:
        detail = f"financial_status is {financial_status!r} but the topic is {TOPIC_PAID}; not taken as paid"
        issues.append(Issue(TOPIC_MISMATCH, "financial_status", detail))
    if topic == TOPIC_CANCELLED and cancelled_at is None:
        detail = f"cancelled_at is missing but the topic is {TOPIC_CANCELLED}; not taken as cancelled"
        issues.append(Issue(TOPIC_MISMATCH, "cancelled_at", detail))
    return issues


def _line(item: dict[str, Any], path: str, issues: list[Issue]) -> LineIn:
    title = get_text(item, "name", path) or " - ".join(
        part for part in (get_text(item, "title", path), get_text(item, "variant_title", path)) if part
    )
    return LineIn(
        external_id=get_id(item, "id", path),
        sku=get_text(item, "sku", path),
        title=title,
        quantity=require_count(item, "quantity", path, issues),
        # Missing means physical: wrongly shipping beats silently not shipping.
        requires_shipping=get_bool(item, "requires_shipping", path, default=True),
        unit_price=get_amount(item, "price", path, issues, digits=LINE_PRICE_DIGITS),
        fulfillable_quantity=get_count(item, "fulfillable_quantity", path, issues, default=None),
    )


def _address(raw: dict[str, Any] | None, path: str, issues: list[Issue], *, email: str, phone: str) -> Address | None:
    if raw is None:
        return None

    def text(key: str) -> str:
        return get_text(raw, key, path)

    return address_or_none(
        Address(
            name=text("name") or full_name(text("first_name"), text("last_name")),
            company=text("company"),
            address1=text("address1"),
            address2=text("address2"),
            city=text("city"),
            province=text("province"),
            province_code=text("province_code"),
            postcode=text("zip"),
            country_code=country_code(text("country_code")),
            # Couriers (DHL Express) need a contact; Shopify addresses carry no email.
            phone=text("phone") or phone,
            email=email,
        ),
        issues,
    )
