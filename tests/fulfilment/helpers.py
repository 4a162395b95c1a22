"""Helpers for fulfilment tests: a small world (the three demo warehouses with zones, a few SKUs with
stock), posting signed webhooks, reading stock, parsing payloads without the database."""

from __future__ import annotations

from typing import Any

from fulfilment.storefronts import shopify, woocommerce
from fulfilment.storefronts.base import Delivery, IncomingOrder
from inventory import services
from inventory.demo import WAREHOUSES
from inventory.models import Sku, StockLevel, Warehouse, WarehouseZone
from tests.factories import ProductFactory, SizeFactory, SkuFactory
from tests.fulfilment.payloads import SHOPIFY_SECRET, SHOPIFY_SHOP, WOO_SECRET, shopify_webhook, woo_webhook

STOCK = {"ARCH-EU42": 10, "ARCH-EU38": 10, "RUN-EU40": 10}


def make_world(stock: dict[str, int] | None = None, warehouses=("AU", "EU", "US")) -> dict[str, Warehouse]:
    made = {}
    for spec in WAREHOUSES:
        if spec["code"] not in warehouses:
            continue
        fields = {k: v for k, v in spec.items() if k != "zones"}
        wh = Warehouse.objects.create(**fields)
        WarehouseZone.objects.bulk_create(
            WarehouseZone(warehouse=wh, zone=z, priority=p) for z, p in spec["zones"].items()
        )
        made[wh.code] = wh
    for code, units in (STOCK if stock is None else stock).items():
        product_code, size = code.split("-EU")
        sku = SkuFactory(product=ProductFactory(code=product_code), size=SizeFactory(label=size), code=code)
        for wh in made.values():
            if units:
                services.stock_receive(sku=sku, warehouse=wh, quantity=units, reference="initial")
    return made


def post_shopify(client, payload=None, **kwargs):
    body, headers = shopify_webhook(payload, **kwargs)
    return client.post("/webhooks/shopify", data=body, content_type="application/json", headers=headers)


def post_woo(client, payload=None, **kwargs):
    body, headers = woo_webhook(payload, **kwargs)
    return client.post("/webhooks/woocommerce", data=body, content_type="application/json", headers=headers)


def sku(code: str) -> Sku:
    return Sku.objects.get(code=code)


def stock_snapshot():
    return list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved"))


def level(code: str, wh: str) -> StockLevel:
    return StockLevel.objects.get(sku__code=code, warehouse__code=wh)


OLD_SECRET = "shpss_old_rotated_out"


def shopify_event(payload: dict[str, Any] | None = None, *, topic: str = "orders/paid") -> IncomingOrder | None:
    body, headers = shopify_webhook(payload, topic=topic)
    return shopify.parse(shopify.verify(headers=headers, body=body, secrets=[SHOPIFY_SECRET]))


def woo_event(payload: dict[str, Any] | None = None, *, topic: str = "order.updated") -> IncomingOrder | None:
    body, headers = woo_webhook(payload, topic=topic)
    return woocommerce.parse(woocommerce.verify(headers=headers, body=body, secrets=[WOO_SECRET]))


def shopify_delivery(body: bytes, topic: str = "orders/paid") -> Delivery:
    return Delivery(channel="shopify", topic=topic, event_id="e1", shop=SHOPIFY_SHOP, body=body, headers={})


def woo_delivery(body: bytes, topic: str = "order.updated") -> Delivery:
    return Delivery(
        channel="woocommerce", topic=topic, event_id="727:x", shop="insoles-woo.example", body=body, headers={}
    )
