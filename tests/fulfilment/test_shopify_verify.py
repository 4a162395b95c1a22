"""Shopify webhook verification: signature, headers, shop (pure, no database)."""

from __future__ import annotations

import json

import pytest
from django.http.request import HttpHeaders

from fulfilment.errors import PayloadInvalid, ShopMismatch, SignatureInvalid
from fulfilment.storefronts import shopify
from fulfilment.storefronts.base import DEFAULT_SHOP
from tests.fulfilment.helpers import OLD_SECRET
from tests.fulfilment.payloads import (
    SHOPIFY_SECRET,
    SHOPIFY_SHOP,
    shopify_address,
    shopify_body,
    shopify_headers,
    shopify_order,
    shopify_webhook,
)

# --- Shopify verify -------------------------------------------------------------


def test_shopify_verify_valid_signature_returns_delivery():
    body, headers = shopify_webhook(topic="orders/paid", event_id="evt-123")
    delivery = shopify.verify(headers=headers, body=body, secrets=[SHOPIFY_SECRET], shop_domain=SHOPIFY_SHOP)
    assert delivery.channel == "shopify"
    assert delivery.topic == "orders/paid"
    assert delivery.event_id == "evt-123"
    assert delivery.shop == SHOPIFY_SHOP
    assert delivery.body is body
    assert delivery.headers["x-shopify-topic"] == "orders/paid"
    assert delivery.headers["x-shopify-event-id"] == "evt-123"
    # The signature is a credential-like value: it is not kept for logging.
    assert "x-shopify-hmac-sha256" not in delivery.headers


def test_shopify_verify_wrong_secret_is_refused():
    body, headers = shopify_webhook(secret="someone-elses-secret")
    with pytest.raises(SignatureInvalid) as info:
        shopify.verify(headers=headers, body=body, secrets=[SHOPIFY_SECRET])
    assert info.value.status == 401
    assert info.value.code == "invalid_signature"


def test_shopify_verify_tampered_body_is_refused():
    body, headers = shopify_webhook()
    tampered = body.replace(b'"quantity":2', b'"quantity":20')
    assert tampered != body
    with pytest.raises(SignatureInvalid):
        shopify.verify(headers=headers, body=tampered, secrets=[SHOPIFY_SECRET])


@pytest.mark.parametrize("value", [None, "", "   "])
def test_shopify_verify_missing_signature_is_refused(value):
    body, headers = shopify_webhook()
    del headers["X-Shopify-Hmac-Sha256"]
    if value is not None:
        headers["X-Shopify-Hmac-Sha256"] = value
    with pytest.raises(SignatureInvalid) as info:
        shopify.verify(headers=headers, body=body, secrets=[SHOPIFY_SECRET])
    assert info.value.extra == {"header": "X-Shopify-Hmac-Sha256"}


@pytest.mark.parametrize("signed_with", [SHOPIFY_SECRET, OLD_SECRET])
def test_shopify_verify_accepts_either_secret_during_rotation(signed_with):
    body, headers = shopify_webhook(secret=signed_with)
    delivery = shopify.verify(headers=headers, body=body, secrets=[SHOPIFY_SECRET, OLD_SECRET])
    assert delivery.topic == "orders/paid"


def test_shopify_verify_reserialized_json_fails():
    body, headers = shopify_webhook(shopify_order(shipping_address=shopify_address(city="東京都")))
    reserialized = json.dumps(json.loads(body), indent=1).encode()
    assert json.loads(reserialized) == json.loads(body)
    with pytest.raises(SignatureInvalid):
        shopify.verify(headers=headers, body=reserialized, secrets=[SHOPIFY_SECRET])


def test_shopify_verify_empty_secret_list_verifies_nothing():
    body, headers = shopify_webhook()
    with pytest.raises(SignatureInvalid):
        shopify.verify(headers=headers, body=body, secrets=[])


def test_shopify_verify_never_uses_an_empty_secret():
    # An unset env var must not turn into a key anyone can sign with.
    body = shopify_body(shopify_order())
    headers = shopify_headers(body, secret="")
    with pytest.raises(SignatureInvalid):
        shopify.verify(headers=headers, body=body, secrets=["", "  "])


def test_shopify_verify_non_ascii_signature_is_refused_not_crashing():
    body, headers = shopify_webhook()
    headers["X-Shopify-Hmac-Sha256"] = "Ünïcødé=="
    with pytest.raises(SignatureInvalid):
        shopify.verify(headers=headers, body=body, secrets=[SHOPIFY_SECRET])


def test_shopify_verify_header_names_are_case_insensitive():
    body, headers = shopify_webhook(event_id="evt-lower")
    lowered = {name.lower(): value for name, value in headers.items()}
    upper = {name.upper(): value for name, value in headers.items()}
    assert shopify.verify(headers=lowered, body=body, secrets=[SHOPIFY_SECRET]).event_id == "evt-lower"
    assert shopify.verify(headers=upper, body=body, secrets=[SHOPIFY_SECRET]).event_id == "evt-lower"


def test_shopify_verify_accepts_django_request_headers():
    body, headers = shopify_webhook(event_id="evt-django")
    meta = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
    delivery = shopify.verify(headers=HttpHeaders(meta), body=body, secrets=[SHOPIFY_SECRET])
    assert delivery.event_id == "evt-django"


def test_shopify_verify_shop_mismatch_is_refused():
    body, headers = shopify_webhook(shop="someone-else.myshopify.com")
    with pytest.raises(ShopMismatch) as info:
        shopify.verify(headers=headers, body=body, secrets=[SHOPIFY_SECRET], shop_domain=SHOPIFY_SHOP)
    assert info.value.status == 401
    assert info.value.code == "unknown_shop"
    assert info.value.extra == {"shop": "someone-else.myshopify.com"}


@pytest.mark.parametrize("shop", [SHOPIFY_SHOP, "someone-else.myshopify.com", None])
def test_shopify_verify_without_a_configured_shop_keys_the_default_shop(shop):
    # X-Shopify-Shop-Domain is not covered by the HMAC: it never names the shop an order is keyed by.
    body, headers = shopify_webhook()
    if shop is None:
        del headers["X-Shopify-Shop-Domain"]
    else:
        headers["X-Shopify-Shop-Domain"] = shop
    delivery = shopify.verify(headers=headers, body=body, secrets=[SHOPIFY_SECRET])
    assert delivery.shop == DEFAULT_SHOP == "default"
    assert delivery.headers.get("x-shopify-shop-domain") == shop


def test_shopify_verify_missing_shop_header_with_configured_shop_is_mismatch():
    body, headers = shopify_webhook()
    del headers["X-Shopify-Shop-Domain"]
    with pytest.raises(ShopMismatch):
        shopify.verify(headers=headers, body=body, secrets=[SHOPIFY_SECRET], shop_domain=SHOPIFY_SHOP)


@pytest.mark.parametrize(
    "configured", ["INSOLES-TEST.myshopify.com", "https://insoles-test.myshopify.com/", " insoles-test.myshopify.com "]
)
def test_shopify_verify_shop_comparison_tolerates_case_and_url_form(configured):
    body, headers = shopify_webhook(shop="Insoles-Test.myshopify.com")
    delivery = shopify.verify(headers=headers, body=body, secrets=[SHOPIFY_SECRET], shop_domain=configured)
    assert delivery.shop == "insoles-test.myshopify.com"


def test_shopify_verify_checks_signature_before_shop():
    # A forged request learns nothing about which shop is configured.
    body, headers = shopify_webhook(secret="forged", shop="someone-else.myshopify.com")
    with pytest.raises(SignatureInvalid):
        shopify.verify(headers=headers, body=body, secrets=[SHOPIFY_SECRET], shop_domain=SHOPIFY_SHOP)


def test_shopify_verify_event_id_falls_back_to_webhook_id():
    body = shopify_body(shopify_order())
    headers = shopify_headers(body, webhook_id="b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")
    del headers["X-Shopify-Event-Id"]
    delivery = shopify.verify(headers=headers, body=body, secrets=[SHOPIFY_SECRET])
    assert delivery.event_id == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"


def test_shopify_verify_prefers_event_id_over_webhook_id():
    body = shopify_body(shopify_order())
    headers = shopify_headers(body, event_id="evt-1", webhook_id="wh-1")
    assert shopify.verify(headers=headers, body=body, secrets=[SHOPIFY_SECRET]).event_id == "evt-1"


def test_shopify_verify_missing_event_and_webhook_id_is_payload_invalid():
    body, headers = shopify_webhook()
    del headers["X-Shopify-Event-Id"], headers["X-Shopify-Webhook-Id"]
    with pytest.raises(PayloadInvalid) as info:
        shopify.verify(headers=headers, body=body, secrets=[SHOPIFY_SECRET])
    assert info.value.extra == {"field": "X-Shopify-Webhook-Id"}


def test_shopify_verify_missing_topic_is_payload_invalid():
    body, headers = shopify_webhook()
    del headers["X-Shopify-Topic"]
    with pytest.raises(PayloadInvalid) as info:
        shopify.verify(headers=headers, body=body, secrets=[SHOPIFY_SECRET])
    assert info.value.extra == {"field": "X-Shopify-Topic"}


def test_shopify_verify_does_not_parse_the_body():
    # Signature first and cheap: a signed non-JSON body is parse()'s problem.
    body = b"not json"
    delivery = shopify.verify(headers=shopify_headers(body), body=body, secrets=[SHOPIFY_SECRET])
    with pytest.raises(PayloadInvalid):
        shopify.parse(delivery)
