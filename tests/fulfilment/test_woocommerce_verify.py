"""WooCommerce webhook verification: signature, source, ping (pure, no database)."""

from __future__ import annotations

import json

import pytest

from fulfilment.errors import PayloadInvalid, ShopMismatch, SignatureInvalid
from fulfilment.storefronts import woocommerce
from fulfilment.storefronts.base import DEFAULT_SHOP
from tests.fulfilment.helpers import OLD_SECRET
from tests.fulfilment.payloads import (
    WOO_SECRET,
    woo_address,
    woo_body,
    woo_headers,
    woo_order,
    woo_ping,
    woo_webhook,
)

# --- WooCommerce verify ---------------------------------------------------------


def test_woo_verify_valid_signature_returns_delivery():
    body, headers = woo_webhook(topic="order.updated")
    delivery = woocommerce.verify(headers=headers, body=body, secrets=[WOO_SECRET], shop_domain="insoles-woo.example")
    assert delivery.channel == "woocommerce"
    assert delivery.topic == "order.updated"
    assert delivery.event_id == "727:2024-05-02T14:21:05:processing"
    assert delivery.shop == "insoles-woo.example"
    assert delivery.body is body
    assert delivery.headers["x-wc-webhook-topic"] == "order.updated"
    assert "x-wc-webhook-signature" not in delivery.headers


def test_woo_event_id_is_order_id_and_date_modified_not_delivery_id():
    payload = woo_order(id=812, date_modified_gmt="2024-06-01T08:00:59")
    body = woo_body(payload)
    first = woocommerce.verify(headers=woo_headers(body, delivery_id="d1"), body=body, secrets=[WOO_SECRET])
    second = woocommerce.verify(headers=woo_headers(body, delivery_id="d2"), body=body, secrets=[WOO_SECRET])
    assert first.event_id == second.event_id == "812:2024-06-01T08:00:59:processing"
    later = woo_body(woo_order(id=812, date_modified_gmt="2024-06-01T08:01:00"))
    assert (
        woocommerce.verify(headers=woo_headers(later), body=later, secrets=[WOO_SECRET]).event_id
        == "812:2024-06-01T08:01:00:processing"
    )
    # Paid within the same second as the pending update: a different event, not a duplicate.
    pending = woo_body(woo_order(id=812, date_modified_gmt="2024-06-01T08:00:59", status="pending"))
    assert woocommerce.verify(headers=woo_headers(pending), body=pending, secrets=[WOO_SECRET]).event_id == (
        "812:2024-06-01T08:00:59:pending"
    )


def test_woo_verify_wrong_secret_is_refused():
    body, headers = woo_webhook(secret="not-the-secret")
    with pytest.raises(SignatureInvalid):
        woocommerce.verify(headers=headers, body=body, secrets=[WOO_SECRET])


def test_woo_verify_tampered_body_is_refused():
    body, headers = woo_webhook()
    with pytest.raises(SignatureInvalid):
        woocommerce.verify(headers=headers, body=body.replace(b'"quantity":1', b'"quantity":9'), secrets=[WOO_SECRET])


def test_woo_verify_missing_signature_is_refused():
    body, headers = woo_webhook()
    del headers["X-WC-Webhook-Signature"]
    with pytest.raises(SignatureInvalid):
        woocommerce.verify(headers=headers, body=body, secrets=[WOO_SECRET])


def test_woo_verify_rotation_accepts_old_secret():
    body, headers = woo_webhook(secret=OLD_SECRET)
    assert woocommerce.verify(headers=headers, body=body, secrets=[WOO_SECRET, OLD_SECRET]).topic == "order.updated"


def test_woo_verify_empty_secrets_verify_nothing():
    body, headers = woo_webhook()
    with pytest.raises(SignatureInvalid):
        woocommerce.verify(headers=headers, body=body, secrets=[])


def test_woo_verify_reserialized_json_fails():
    # PHP escapes "/" and non-ASCII; a parser that re-dumps would compute a different HMAC.
    body, headers = woo_webhook(woo_order(shipping=woo_address(city="Köln")))
    assert b"\\/" in body and b"\\u00f6" in body
    reserialized = json.dumps(json.loads(body), ensure_ascii=False, separators=(",", ":")).encode()
    with pytest.raises(SignatureInvalid):
        woocommerce.verify(headers=headers, body=reserialized, secrets=[WOO_SECRET])


def test_woo_verify_header_names_are_case_insensitive():
    body, headers = woo_webhook()
    lowered = {name.lower(): value for name, value in headers.items()}
    assert (
        woocommerce.verify(headers=lowered, body=body, secrets=[WOO_SECRET]).event_id
        == "727:2024-05-02T14:21:05:processing"
    )


def test_woo_ping_is_recognised_without_signature():
    body, headers = woo_ping(webhook_id=12)
    delivery = woocommerce.verify(headers=headers, body=body, secrets=[WOO_SECRET])
    assert (delivery.topic, delivery.event_id, delivery.channel) == ("ping", "ping:12", "woocommerce")
    assert woocommerce.parse(delivery) is None


def test_woo_ping_shaped_body_with_a_topic_still_needs_a_signature():
    body = b"webhook_id=12"
    with pytest.raises(SignatureInvalid):
        woocommerce.verify(headers={"X-WC-Webhook-Topic": "order.updated"}, body=body, secrets=[WOO_SECRET])


@pytest.mark.parametrize("body", [b"webhook_id=abc", b"webhook_id=12&x=1", b"hello"])
def test_woo_non_ping_form_body_needs_a_signature(body):
    with pytest.raises(SignatureInvalid):
        woocommerce.verify(headers={}, body=body, secrets=[WOO_SECRET])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", ""),
        (b"[1, 2]", ""),
        (b'{"status": "processing"}', "id"),
        (b'{"id": "seven"}', "id"),
        (b'{"id": 7, "date_modified_gmt": ["x"]}', "date_modified_gmt"),
    ],
)
def test_woo_verify_signed_body_without_order_id_is_payload_invalid(body, field):
    with pytest.raises(PayloadInvalid) as info:
        woocommerce.verify(headers=woo_headers(body), body=body, secrets=[WOO_SECRET])
    assert info.value.extra == {"field": field}


def test_woo_verify_signed_body_is_checked_before_it_is_parsed():
    body = b"not json"
    headers = woo_headers(body, secret="wrong")
    with pytest.raises(SignatureInvalid):
        woocommerce.verify(headers=headers, body=body, secrets=[WOO_SECRET])


def test_woo_deleted_order_uses_delivery_id_and_is_ignored():
    body = woo_body({"id": 727})
    headers = woo_headers(body, topic="order.deleted", delivery_id="abc123")
    delivery = woocommerce.verify(headers=headers, body=body, secrets=[WOO_SECRET])
    assert delivery.event_id == "727:delivery:abc123"
    assert woocommerce.parse(delivery) is None


@pytest.mark.parametrize(
    "source", ["https://insoles-woo.example/", "https://Shop.Example:8443/store/", "shop.example", "http://[::1", None]
)
def test_woo_shop_is_the_default_shop_whatever_the_source_header_when_none_is_configured(source):
    # X-WC-Webhook-Source is unsigned: keying orders by it doubled an order when the host changed.
    body, headers = woo_webhook()
    if source is None:
        del headers["X-WC-Webhook-Source"]
    else:
        headers["X-WC-Webhook-Source"] = source
    delivery = woocommerce.verify(headers=headers, body=body, secrets=[WOO_SECRET])
    assert delivery.shop == DEFAULT_SHOP == "default"
    assert delivery.headers.get("x-wc-webhook-source") == (source.strip() if source else None)


@pytest.mark.parametrize(
    ("configured", "source"),
    [("https://Shop.Example:8443/store/", "https://shop.example:8443/"), ("shop.example", "shop.example")],
)
def test_woo_shop_is_the_configured_host(configured, source):
    body, headers = woo_webhook(source=source)
    shop_domain = woocommerce.shop_host(configured)
    assert woocommerce.verify(headers=headers, body=body, secrets=[WOO_SECRET], shop_domain=shop_domain).shop == (
        shop_domain
    )


@pytest.mark.parametrize("configured", ["insoles-woo.example", "Insoles-Woo.Example"])
def test_woo_verify_accepts_the_configured_shop(configured):
    body, headers = woo_webhook()
    delivery = woocommerce.verify(headers=headers, body=body, secrets=[WOO_SECRET], shop_domain=configured)
    assert delivery.shop == "insoles-woo.example"


@pytest.mark.parametrize("source", ["https://www.insoles-woo.example/", "https://insoles-woo.example:8443/", None])
def test_woo_verify_refuses_another_shop_when_one_is_configured(source):
    # Orders are unique per shop and reconciliation names the shop after WOOCOMMERCE_URL: a
    # webhook naming it differently could store the same order twice, so it is refused.
    body, headers = woo_webhook()
    if source is None:
        del headers["X-WC-Webhook-Source"]
    else:
        headers["X-WC-Webhook-Source"] = source
    with pytest.raises(ShopMismatch) as refused:
        woocommerce.verify(headers=headers, body=body, secrets=[WOO_SECRET], shop_domain="insoles-woo.example")
    assert refused.value.extra["configured"] == "insoles-woo.example"


def test_woo_shop_check_comes_after_the_signature():
    body, headers = woo_webhook(secret="not-the-secret", source="https://elsewhere.example/")
    with pytest.raises(SignatureInvalid):
        woocommerce.verify(headers=headers, body=body, secrets=[WOO_SECRET], shop_domain="insoles-woo.example")
