"""WooCommerce webhooks end to end."""

from __future__ import annotations

import pytest

from fulfilment.models import InboxDelivery, Order
from tests.fulfilment.helpers import post_woo
from tests.fulfilment.payloads import (
    SHOPIFY_SECRET,
    woo_order,
    woo_ping,
)

# Transactional: a webhook is processed after its acceptance commits (on_commit), as in production.
pytestmark = pytest.mark.django_db(transaction=True)


# --- WooCommerce ---------------------------------------------------------------------------------


def test_woocommerce_processing_order_is_reserved(client, world):
    order = post_woo(client).json()["order"]
    assert (order["channel"], order["status"], order["warehouse"]) == ("woocommerce", "reserved", "EU")
    assert order["shipping_address"]["address1"] == "Bergmannstraße 5"


def test_woocommerce_pending_then_processing(client, world):
    held = post_woo(client, woo_order(status="pending", date_paid_gmt=None, date_paid=None)).json()["order"]
    assert (held["status"], held["hold_reason"]) == ("on_hold", "not_paid")
    paid = post_woo(client, woo_order(date_modified_gmt="2024-05-02T14:30:00")).json()["order"]
    assert (paid["id"], paid["status"]) == (held["id"], "reserved")


def test_woocommerce_paid_in_the_same_second_as_pending_is_not_a_duplicate(client, world):
    post_woo(client, woo_order(status="pending", date_paid_gmt=None, date_paid=None))
    paid = post_woo(client, woo_order()).json()  # same date_modified_gmt, now processing
    assert paid["duplicate"] is False and paid["order"]["status"] == "reserved"


def test_woocommerce_same_modification_twice_is_a_duplicate(client, world):
    post_woo(client)
    again = post_woo(client).json()  # new delivery id, same order id + date_modified
    assert again["duplicate"] is True and Order.objects.count() == 1


def test_woocommerce_ping_is_acknowledged(client, world):
    body, headers = woo_ping()
    response = client.post(
        "/webhooks/woocommerce", data=body, content_type="application/x-www-form-urlencoded", headers=headers
    )
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    assert not InboxDelivery.objects.exists()  # unsigned, so nothing is stored


def test_woocommerce_bad_signature(client, world):
    from tests.fulfilment.payloads import woo_webhook

    body, headers = woo_webhook(secret="not-the-secret")
    response = client.post("/webhooks/woocommerce", data=body, content_type="application/json", headers=headers)
    assert response.status_code == 401 and not InboxDelivery.objects.exists()


def test_woocommerce_webhook_from_another_shop_is_401_and_stores_nothing(client, world):
    response = post_woo(client, source="https://www.insoles-woo.example/")
    assert response.status_code == 401
    assert response.json()["code"] == "unknown_shop"
    assert not InboxDelivery.objects.exists() and not Order.objects.exists()


def test_shopify_secret_constant_is_the_configured_one(settings):
    assert SHOPIFY_SECRET in settings.SHOPIFY_WEBHOOK_SECRETS
