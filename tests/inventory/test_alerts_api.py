"""GET /api/stock/alerts/: values, filters, pagination and who may read it."""

from __future__ import annotations

import pytest

from inventory import services
from inventory.models import StockLevel
from tests.factories import SkuFactory, WarehouseFactory


@pytest.fixture
def world(db, django_capture_on_commit_callbacks):
    """Two SKUs x two warehouses, reorder point 5; A-EU40 in EU goes low, recovers and goes low again."""
    eu, us = WarehouseFactory(code="EU"), WarehouseFactory(code="US")
    a, b = SkuFactory(lead_time_days=0), SkuFactory(lead_time_days=0)
    with django_capture_on_commit_callbacks(execute=True):
        for sku in (a, b):
            for warehouse in (eu, us):
                services.stock_receive(sku=sku, warehouse=warehouse, quantity=10)
    StockLevel.objects.update(reorder_point=5)

    def move(sku, warehouse, delta):
        with django_capture_on_commit_callbacks(execute=True):
            services.stock_adjust(sku=sku, warehouse=warehouse, delta=delta, reason="found" if delta > 0 else "lost")

    move(a, eu, -6)  # open
    move(a, eu, 6)  # closed
    move(a, eu, -7)  # open again
    move(b, us, -8)  # open
    return {"a": a, "b": b, "eu": eu, "us": us}


def test_alerts_list_open_and_closed_with_their_numbers(world, client_for):
    client = client_for("operations")
    page = client.get("/api/stock/alerts/").json()
    assert page["count"] == 3 and set(page) >= {"count", "next", "results"}
    opened = client.get("/api/stock/alerts/", {"status": "open"}).json()["results"]
    assert [(r["sku"], r["warehouse"], r["kind"], r["available"]) for r in opened] == [
        (world["b"].code, "US", "low_stock", 2),
        (world["a"].code, "EU", "low_stock", 3),
    ]
    assert all(r["closed_at"] is None and r["status"] == "open" and r["opened_at"] for r in opened)
    (closed,) = client.get("/api/stock/alerts/", {"status": "closed"}).json()["results"]
    assert closed["sku"] == world["a"].code and closed["warehouse"] == "EU" and closed["available"] == 4
    assert closed["closed_at"] >= closed["opened_at"] and closed["closed_available"] == 10
    assert closed["reorder_point"] == 5 and closed["status"] == "closed"


def test_alerts_filter_by_warehouse_sku_and_kind(world, client_for):
    client = client_for("warehouse")
    by_warehouse = client.get("/api/stock/alerts/", {"warehouse": "US"}).json()["results"]
    assert [r["sku"] for r in by_warehouse] == [world["b"].code]
    by_sku = client.get("/api/stock/alerts/", {"sku": world["a"].code, "status": "open"}).json()["results"]
    assert [(r["warehouse"], r["status"]) for r in by_sku] == [("EU", "open")]
    assert client.get("/api/stock/alerts/", {"kind": "stockout_risk"}).json()["count"] == 0
    assert client.get("/api/stock/alerts/", {"page_size": 1}).json()["next"]


def test_a_bad_status_is_a_400_naming_it(world, client_for):
    response = client_for("operations").get("/api/stock/alerts/", {"status": "maybe"})
    assert response.status_code == 400
    assert "status" in response.json()["extra"]["fields"]


def test_storefront_and_anonymous_see_no_alerts(world, client_for, api_client):
    assert client_for("storefront").get("/api/stock/alerts/").status_code == 403
    assert api_client.get("/api/stock/alerts/").status_code == 401


def test_the_list_takes_a_constant_number_of_queries(world, client_for, django_assert_max_num_queries):
    client = client_for("operations")
    with django_assert_max_num_queries(6):
        assert client.get("/api/stock/alerts/").status_code == 200
