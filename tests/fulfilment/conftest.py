"""A small world for order tests: the three demo warehouses with zones, a few SKUs with stock."""

from __future__ import annotations

import pytest

from inventory import services
from inventory.demo import WAREHOUSES
from inventory.models import Sku, Warehouse, WarehouseZone
from tests.factories import ProductFactory, SizeFactory, SkuFactory
from tests.fulfilment.payloads import shopify_webhook, woo_webhook

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


@pytest.fixture
def world(db):
    return make_world()


def post_shopify(client, payload=None, **kwargs):
    body, headers = shopify_webhook(payload, **kwargs)
    return client.post("/webhooks/shopify", data=body, content_type="application/json", headers=headers)


def post_woo(client, payload=None, **kwargs):
    body, headers = woo_webhook(payload, **kwargs)
    return client.post("/webhooks/woocommerce", data=body, content_type="application/json", headers=headers)


def sku(code: str) -> Sku:
    return Sku.objects.get(code=code)
