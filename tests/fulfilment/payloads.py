"""Webhook payload builders shaped like the real storefront deliveries.

Shopify: the documented ``orders/*`` webhook body (Admin REST Order resource),
sent as compact UTF-8 JSON. WooCommerce: the REST v3 order that
``WC_Webhook::build_payload`` sends, encoded the way PHP's ``json_encode`` does
(``\\uXXXX`` for non-ASCII, ``\\/`` for slashes), so a parser that re-serialises
instead of hashing the raw bytes fails the signature tests.

Typical use in an endpoint test::

    body, headers = shopify_webhook(shopify_order(financial_status="paid"))
    client.post("/webhooks/shopify", data=body, content_type="application/json", headers=headers)

Every builder returns a fresh dict; keyword overrides replace top-level keys.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import uuid
from typing import Any

SHOPIFY_SECRET = "shpss_test_0f6c1c2b9a"
SHOPIFY_SHOP = "insoles-test.myshopify.com"
WOO_SECRET = "wc_test_1d3e5a7c9b"
WOO_SOURCE = "https://insoles-woo.example/"

_SHOPIFY_ORDER_ID = 5901234567890
_SHOPIFY_CUSTOMER_ID = 7123456789012


def _money_set(amount: str, currency: str = "AUD") -> dict[str, Any]:
    return {
        "shop_money": {"amount": amount, "currency_code": currency},
        "presentment_money": {"amount": amount, "currency_code": currency},
    }


# --- Shopify -------------------------------------------------------------------


def shopify_address(**overrides: Any) -> dict[str, Any]:
    """A Shopify MailingAddress (shipping_address / billing_address)."""
    address = {
        "first_name": "Olivia",
        "last_name": "Nguyen",
        "name": "Olivia Nguyen",
        "company": None,
        "address1": "12 Example Street",
        "address2": "Unit 4",
        "city": "Fitzroy",
        "province": "Victoria",
        "province_code": "VIC",
        "zip": "3065",
        "country": "Australia",
        "country_code": "AU",
        "phone": "+61 400 000 000",
        "latitude": -37.7982,
        "longitude": 144.9786,
    }
    address.update(overrides)
    return address


def shopify_line(**overrides: Any) -> dict[str, Any]:
    """A Shopify order line item for one insole size."""
    line = {
        "id": 14001234567890,
        "admin_graphql_api_id": "gid://shopify/LineItem/14001234567890",
        "attributed_staffs": [],
        "current_quantity": 1,
        "fulfillable_quantity": 1,
        "fulfillment_service": "manual",
        "fulfillment_status": None,
        "gift_card": False,
        "grams": 120,
        "name": "Arch Support Insole - EU 42",
        "price": "59.95",
        "price_set": _money_set("59.95"),
        "product_exists": True,
        "product_id": 8801234567890,
        "properties": [],
        "quantity": 1,
        "requires_shipping": True,
        "sku": "ARCH-EU42",
        "taxable": True,
        "title": "Arch Support Insole",
        "total_discount": "0.00",
        "total_discount_set": _money_set("0.00"),
        "variant_id": 45001234567890,
        "variant_inventory_management": "shopify",
        "variant_title": "EU 42",
        "vendor": "Stride Insoles",
        "tax_lines": [
            {"channel_liable": False, "price": "5.45", "price_set": _money_set("5.45"), "rate": 0.1, "title": "GST"}
        ],
        "duties": [],
        "discount_allocations": [],
    }
    line.update(overrides)
    return line


def shopify_shipping_line(**overrides: Any) -> dict[str, Any]:
    """A Shopify shipping line (the rate the customer chose at checkout)."""
    line = {
        "id": 4701234567890,
        "carrier_identifier": None,
        "code": "Standard",
        "discounted_price": "9.95",
        "discounted_price_set": _money_set("9.95"),
        "is_removed": False,
        "phone": None,
        "price": "9.95",
        "price_set": _money_set("9.95"),
        "requested_fulfillment_service_id": None,
        "source": "shopify",
        "title": "Standard Shipping",
        "tax_lines": [],
        "discount_allocations": [],
    }
    line.update(overrides)
    return line


def shopify_customer(**overrides: Any) -> dict[str, Any]:
    """The customer object embedded in a Shopify order webhook."""
    customer = {
        "id": _SHOPIFY_CUSTOMER_ID,
        "email": "olivia@example.com",
        "created_at": "2024-03-01T09:12:44+11:00",
        "updated_at": "2024-05-02T14:03:10+10:00",
        "first_name": "Olivia",
        "last_name": "Nguyen",
        "state": "enabled",
        "note": None,
        "verified_email": True,
        "multipass_identifier": None,
        "tax_exempt": False,
        "phone": None,
        "currency": "AUD",
        "tax_exemptions": [],
        "admin_graphql_api_id": f"gid://shopify/Customer/{_SHOPIFY_CUSTOMER_ID}",
        "default_address": shopify_address(id=9101234567890, customer_id=_SHOPIFY_CUSTOMER_ID, default=True),
    }
    customer.update(overrides)
    return customer


def shopify_order(**overrides: Any) -> dict[str, Any]:
    """A paid two-line Shopify order as sent with ``orders/paid``."""
    lines = [
        shopify_line(),
        shopify_line(
            id=14001234567891,
            admin_graphql_api_id="gid://shopify/LineItem/14001234567891",
            name="Arch Support Insole - EU 38",
            variant_title="EU 38",
            variant_id=45001234567891,
            sku="ARCH-EU38",
            quantity=2,
            current_quantity=2,
            fulfillable_quantity=2,
        ),
    ]
    order = {
        "id": _SHOPIFY_ORDER_ID,
        "admin_graphql_api_id": f"gid://shopify/Order/{_SHOPIFY_ORDER_ID}",
        "app_id": 580111,
        "browser_ip": "203.0.113.7",
        "buyer_accepts_marketing": False,
        "cancel_reason": None,
        "cancelled_at": None,
        "cart_token": "Z2NwLXVzLWVhc3QxOjAxSFZUUEtE",
        "checkout_id": 36001234567890,
        "checkout_token": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
        "client_details": {"accept_language": "en-AU", "browser_ip": "203.0.113.7", "user_agent": "Mozilla/5.0"},
        "closed_at": None,
        "confirmation_number": "K7PQ2ZX9M",
        "confirmed": True,
        "contact_email": "olivia@example.com",
        "created_at": "2024-05-02T14:03:07+10:00",
        "currency": "AUD",
        "current_subtotal_price": "179.85",
        "current_total_discounts": "0.00",
        "current_total_price": "189.80",
        "current_total_tax": "17.25",
        "customer_locale": "en-AU",
        "discount_codes": [],
        "email": "olivia@example.com",
        "estimated_taxes": False,
        "financial_status": "paid",
        "fulfillment_status": None,
        "landing_site": "/",
        "name": "#1001",
        "note": None,
        "note_attributes": [],
        "number": 1,
        "order_number": 1001,
        "order_status_url": "https://insoles-test.myshopify.com/71234567/orders/a1b2c3/authenticate?key=x",
        "payment_gateway_names": ["shopify_payments"],
        "phone": None,
        "presentment_currency": "AUD",
        "processed_at": "2024-05-02T14:03:06+10:00",
        "reference": None,
        "source_name": "web",
        "subtotal_price": "179.85",
        "subtotal_price_set": _money_set("179.85"),
        "tags": "",
        "tax_lines": [{"price": "17.25", "rate": 0.1, "title": "GST", "channel_liable": False}],
        "taxes_included": True,
        "test": False,
        "token": "f0e1d2c3b4a5968778695a4b3c2d1e0f",
        "total_discounts": "0.00",
        "total_line_items_price": "179.85",
        "total_outstanding": "0.00",
        "total_price": "189.80",
        "total_price_set": _money_set("189.80"),
        "total_shipping_price_set": _money_set("9.95"),
        "total_tax": "17.25",
        "total_weight": 360,
        "updated_at": "2024-05-02T14:03:10+10:00",
        "user_id": None,
        "billing_address": shopify_address(),
        "customer": shopify_customer(),
        "discount_applications": [],
        "fulfillments": [],
        "line_items": lines,
        "payment_terms": None,
        "refunds": [],
        "shipping_address": shopify_address(),
        "shipping_lines": [shopify_shipping_line()],
    }
    order.update(copy.deepcopy(overrides))
    return order


def shopify_body(payload: dict[str, Any]) -> bytes:
    """Encode like Shopify: compact JSON, raw UTF-8."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign_shopify(body: bytes, secret: str = SHOPIFY_SECRET) -> str:
    """X-Shopify-Hmac-Sha256 for ``body``."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def shopify_headers(
    body: bytes,
    secret: str = SHOPIFY_SECRET,
    topic: str = "orders/paid",
    event_id: str | None = None,
    shop: str = SHOPIFY_SHOP,
    webhook_id: str | None = None,
) -> dict[str, str]:
    """Headers Shopify sends with ``body``; a fresh event id unless one is given."""
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign_shopify(body, secret),
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-API-Version": "2024-07",
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": "2024-05-02T04:03:11.123456789Z",
    }


def shopify_webhook(
    payload: dict[str, Any] | None = None,
    *,
    secret: str = SHOPIFY_SECRET,
    topic: str = "orders/paid",
    event_id: str | None = None,
    shop: str = SHOPIFY_SHOP,
) -> tuple[bytes, dict[str, str]]:
    """Body and signed headers for one Shopify delivery."""
    body = shopify_body(shopify_order() if payload is None else payload)
    return body, shopify_headers(body, secret, topic=topic, event_id=event_id, shop=shop)


# --- WooCommerce ---------------------------------------------------------------


def woo_address(**overrides: Any) -> dict[str, Any]:
    """A WooCommerce ``shipping`` block (``billing`` adds email; see woo_billing)."""
    address = {
        "first_name": "Lukas",
        "last_name": "Schmidt",
        "company": "",
        "address_1": "Bergmannstraße 5",
        "address_2": "",
        "city": "Berlin",
        "state": "BE",
        "postcode": "10961",
        "country": "DE",
        "phone": "",
    }
    address.update(overrides)
    return address


def woo_billing(**overrides: Any) -> dict[str, Any]:
    """A WooCommerce ``billing`` block."""
    billing = woo_address(email="lukas@example.de", phone="+49 30 1234567")
    billing.update(overrides)
    return billing


def woo_line(**overrides: Any) -> dict[str, Any]:
    """A WooCommerce REST v3 order line item (``price`` is a JSON number there)."""
    line = {
        "id": 311,
        "name": "Arch Support Insole - EU 42",
        "product_id": 93,
        "variation_id": 101,
        "quantity": 1,
        "tax_class": "",
        "subtotal": "50.38",
        "subtotal_tax": "9.57",
        "total": "50.38",
        "total_tax": "9.57",
        "taxes": [{"id": 1, "total": "9.57", "subtotal": "9.57"}],
        "meta_data": [
            {"id": 2901, "key": "pa_size", "value": "eu-42", "display_key": "Size", "display_value": "EU 42"}
        ],
        "sku": "ARCH-EU42",
        "price": 50.38,
        "image": {"id": 77, "src": "https://insoles-woo.example/wp-content/uploads/arch.jpg"},
        "parent_name": "Arch Support Insole",
    }
    line.update(overrides)
    return line


def woo_shipping_line(**overrides: Any) -> dict[str, Any]:
    """A WooCommerce shipping line."""
    line = {
        "id": 312,
        "method_title": "Flat rate",
        "method_id": "flat_rate",
        "instance_id": "3",
        "total": "6.90",
        "total_tax": "1.31",
        "taxes": [{"id": 1, "total": "1.31", "subtotal": ""}],
        "meta_data": [{"id": 2905, "key": "Items", "value": "Arch Support Insole - EU 42 × 1"}],
    }
    line.update(overrides)
    return line


def woo_order(**overrides: Any) -> dict[str, Any]:
    """A paid (``processing``) WooCommerce order as sent with ``order.updated``."""
    order = {
        "id": 727,
        "parent_id": 0,
        "status": "processing",
        "currency": "EUR",
        "version": "8.9.1",
        "prices_include_tax": True,
        "date_created": "2024-05-02T16:20:41",
        "date_modified": "2024-05-02T16:21:05",
        "discount_total": "0.00",
        "discount_tax": "0.00",
        "shipping_total": "6.90",
        "shipping_tax": "1.31",
        "cart_tax": "9.57",
        "total": "68.16",
        "total_tax": "10.88",
        "customer_id": 12,
        "order_key": "wc_order_6T1xQ2b9aLk3Z",
        "billing": woo_billing(),
        "shipping": woo_address(),
        "payment_method": "stripe",
        "payment_method_title": "Credit card",
        "transaction_id": "pi_3PBxYz2eZvKYlo2C1",
        "customer_ip_address": "198.51.100.23",
        "customer_user_agent": "Mozilla/5.0",
        "created_via": "checkout",
        "customer_note": "",
        "date_completed": None,
        "date_paid": "2024-05-02T16:21:04",
        "cart_hash": "4a1d9c0e8b7f6a5d4c3b2a1908f7e6d5",
        "number": "727",
        "meta_data": [],
        "line_items": [woo_line()],
        "tax_lines": [{"id": 313, "rate_code": "DE-MWST-1", "rate_id": 1, "label": "MwSt.", "compound": False}],
        "shipping_lines": [woo_shipping_line()],
        "fee_lines": [],
        "coupon_lines": [],
        "refunds": [],
        "payment_url": "https://insoles-woo.example/checkout/order-pay/727/?pay_for_order=true&key=wc_order_6T1xQ2b9aLk3Z",
        "is_editable": False,
        "needs_payment": False,
        "needs_processing": True,
        "date_created_gmt": "2024-05-02T14:20:41",
        "date_modified_gmt": "2024-05-02T14:21:05",
        "date_completed_gmt": None,
        "date_paid_gmt": "2024-05-02T14:21:04",
        "currency_symbol": "€",
        "_links": {
            "self": [{"href": "https://insoles-woo.example/wp-json/wc/v3/orders/727"}],
            "collection": [{"href": "https://insoles-woo.example/wp-json/wc/v3/orders"}],
            "customer": [{"href": "https://insoles-woo.example/wp-json/wc/v3/customers/12"}],
        },
    }
    order.update(copy.deepcopy(overrides))
    return order


def woo_body(payload: dict[str, Any]) -> bytes:
    """Encode like PHP ``json_encode`` (WooCommerce): ASCII-only, escaped slashes."""
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode("ascii")


def sign_woo(body: bytes, secret: str = WOO_SECRET) -> str:
    """X-WC-Webhook-Signature for ``body``."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def woo_headers(
    body: bytes,
    secret: str = WOO_SECRET,
    topic: str = "order.updated",
    source: str = WOO_SOURCE,
    webhook_id: int = 7,
    delivery_id: str | None = None,
) -> dict[str, str]:
    """Headers WooCommerce sends with ``body``; a fresh delivery id unless given."""
    resource, _, event = topic.partition(".")
    return {
        "Content-Type": "application/json",
        "User-Agent": "WooCommerce/8.9.1 Hookshot (WordPress/6.5.3)",
        "X-WC-Webhook-Source": source,
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": sign_woo(body, secret),
        "X-WC-Webhook-ID": str(webhook_id),
        "X-WC-Webhook-Delivery-ID": delivery_id or uuid.uuid4().hex,
    }


def woo_webhook(
    payload: dict[str, Any] | None = None,
    *,
    secret: str = WOO_SECRET,
    topic: str = "order.updated",
    source: str = WOO_SOURCE,
) -> tuple[bytes, dict[str, str]]:
    """Body and signed headers for one WooCommerce delivery."""
    body = woo_body(woo_order() if payload is None else payload)
    return body, woo_headers(body, secret, topic=topic, source=source)


def woo_ping(webhook_id: int = 7) -> tuple[bytes, dict[str, str]]:
    """The unsigned, topic-less ping WooCommerce sends when a webhook is saved."""
    return (
        f"webhook_id={webhook_id}".encode("ascii"),
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "WooCommerce/8.9.1 Hookshot (WordPress/6.5.3)",
        },
    )
