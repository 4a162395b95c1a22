"""Intake limits end to end over HTTP: a signed order that cannot be right is kept on hold, never lost.

Shop keys from configuration, implausible amounts and quantities, the topic against the signed
body, unbounded text and line counts. Transactional, as in test_intake.py: a webhook is
processed after its acceptance commits (on_commit), as in production.
"""

from __future__ import annotations

import pytest

from fulfilment.models import InboxDelivery, Order
from fulfilment.storefronts.base import DEFAULT_SHOP
from inventory import services
from tests.fulfilment.helpers import level, post_shopify, post_woo
from tests.fulfilment.payloads import shopify_order, woo_line, woo_order

pytestmark = pytest.mark.django_db(transaction=True)


# --- the shop key comes from configuration, never from an unsigned header ----------------------


def test_woocommerce_without_a_configured_url_is_one_order_for_two_sources(client, world, settings):
    settings.WOOCOMMERCE_URL = ""
    first = post_woo(client, source="https://shop.example.com/").json()["order"]
    update = woo_order(date_modified_gmt="2024-05-02T14:30:00", line_items=[woo_line(quantity=2)])
    second = post_woo(client, update, source="https://www.shop.example.com/").json()["order"]

    assert second["id"] == first["id"]
    assert Order.objects.get().shop == DEFAULT_SHOP
    # One pair was reserved, then the update made it two: not one plus two.
    assert level("ARCH-EU42", "EU").reserved == 2
    assert services.stock_verify() == []
    # The unsigned header is still kept on the delivery, for diagnosis.
    sources = sorted(d.headers["x-wc-webhook-source"] for d in InboxDelivery.objects.all())
    assert sources == ["https://shop.example.com/", "https://www.shop.example.com/"]
    assert set(InboxDelivery.objects.values_list("shop", flat=True)) == {DEFAULT_SHOP}


def test_shopify_without_a_configured_domain_is_one_order_for_two_shop_headers(client, world, settings):
    settings.SHOPIFY_SHOP_DOMAIN = ""
    first = post_shopify(client, shop="insoles-test.myshopify.com").json()["order"]
    update = shopify_order(updated_at="2024-05-02T14:05:00+10:00")
    second = post_shopify(client, update, topic="orders/updated", shop="someone-else.myshopify.com").json()["order"]

    assert second["id"] == first["id"]
    assert Order.objects.get().shop == DEFAULT_SHOP
    assert (level("ARCH-EU42", "AU").reserved, level("ARCH-EU38", "AU").reserved) == (1, 2)
    headers = sorted(d.headers["x-shopify-shop-domain"] for d in InboxDelivery.objects.all())
    assert headers == ["insoles-test.myshopify.com", "someone-else.myshopify.com"]


def test_configured_shops_name_the_orders(client, world, settings):
    settings.SHOPIFY_SHOP_DOMAIN = "https://Insoles-Test.myshopify.com/"
    shopify = post_shopify(client, shop="INSOLES-TEST.myshopify.com").json()["order"]
    woo = post_woo(client, source="https://Insoles-Woo.example/").json()["order"]
    # Reconciliation names the WooCommerce shop shop_host(WOOCOMMERCE_URL): webhooks must agree.
    assert (shopify["shop"], woo["shop"]) == ("insoles-test.myshopify.com", "insoles-woo.example")
