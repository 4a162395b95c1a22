"""Lists are ordered explicitly and deterministically; no model's default ordering joins another table.

Default orderings by related fields (``product__code``, ``warehouse__code``) made every
plain query, ``.first()`` and ``get_or_create`` join just to sort. Each list now states
its order, ending on a unique key, so equal sort keys never swap between pages.
"""

from __future__ import annotations

import pytest

from inventory import selectors, services
from inventory.models import Bin, Product, Size, Sku, StockLevel, StockMovement, Warehouse, WarehouseZone
from tests.factories import BinFactory, ProductFactory, SizeFactory, SkuFactory, WarehouseFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", [Product, Size, Sku, Warehouse, WarehouseZone, Bin, StockLevel, StockMovement])
def test_no_default_ordering_joins(model):
    sql = str(model.objects.all().query)
    assert "JOIN" not in sql, sql


@pytest.fixture
def tied():
    """Two SKUs of one product whose sizes sort equal (EU 40 and US-M 40), the later code created first."""
    product = ProductFactory(code="P")
    us = SkuFactory(product=product, size=SizeFactory(system="US-M", label="40", sort_order=400), code="P-US40")
    eu = SkuFactory(product=product, size=SizeFactory(system="EU", label="40", sort_order=400), code="P-EU40")
    small = SkuFactory(product=product, size=SizeFactory(system="EU", label="39", sort_order=390), code="P-EU39")
    warehouses = [WarehouseFactory(code="US", country="US"), WarehouseFactory(code="AU", country="AU")]
    for sku in (us, eu, small):
        for warehouse in warehouses:
            services.stock_receive(sku=sku, warehouse=warehouse, quantity=1)
    return us, eu, small


def test_stock_list_orders_by_warehouse_product_size_then_sku_code(tied):
    rows = [(level.warehouse.code, level.sku.code) for level in selectors.stock_list()]
    assert rows == [
        ("AU", "P-EU39"),
        ("AU", "P-EU40"),
        ("AU", "P-US40"),
        ("US", "P-EU39"),
        ("US", "P-EU40"),
        ("US", "P-US40"),
    ]


def test_sku_list_and_product_skus_order_by_size_then_code(tied):
    assert [sku.code for sku in selectors.sku_list()] == ["P-EU39", "P-EU40", "P-US40"]
    (product,) = selectors.product_list()
    assert [sku.code for sku in product.skus.all()] == ["P-EU39", "P-EU40", "P-US40"]


def test_bins_order_by_warehouse_then_walk(tied):
    au, us = Warehouse.objects.get(code="AU"), Warehouse.objects.get(code="US")
    BinFactory(warehouse=us, code="B", walk_sequence=10)
    BinFactory(warehouse=au, code="Z", walk_sequence=20)
    BinFactory(warehouse=au, code="C", walk_sequence=20)
    BinFactory(warehouse=au, code="Y", walk_sequence=5)
    assert [str(b) for b in selectors.bin_list()] == ["AU/Y", "AU/C", "AU/Z", "US/B"]


def test_the_api_lists_follow_the_selectors_order(client_for, tied):
    client = client_for("operations")
    stock = client.get("/api/stock/", {"warehouse": "AU"}).json()["results"]
    assert [row["sku"] for row in stock] == ["P-EU39", "P-EU40", "P-US40"]
    pages = [client.get("/api/skus/", {"page_size": 1, "page": n}).json()["results"][0]["code"] for n in (1, 2, 3)]
    assert pages == ["P-EU39", "P-EU40", "P-US40"]
    movements = client.get("/api/movements/").json()["results"]
    assert [m["id"] for m in movements] == sorted((m["id"] for m in movements), reverse=True)
    assert [w["code"] for w in client.get("/api/warehouses/").json()["results"]] == ["AU", "US"]


def test_warehouse_zones_are_listed_best_priority_first(client_for):
    warehouse = WarehouseFactory(code="EU")
    for zone, priority in (("*", 9), ("R:EU", 1), ("R:AF", 1)):
        WarehouseZone.objects.create(warehouse=warehouse, zone=zone, priority=priority)
    zones = client_for("operations").get("/api/warehouses/EU/").json()["zones"]
    assert [(z["zone"], z["priority"]) for z in zones] == [("R:AF", 1), ("R:EU", 1), ("*", 9)]
