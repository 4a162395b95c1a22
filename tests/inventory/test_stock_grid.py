"""GET /api/stock/grid/?product=CODE: sizes x warehouses with on hand, reserved, available and backorders."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Case, F, IntegerField, Sum, Value, When

from fulfilment.models import Order, OrderLine
from inventory import selectors, services
from inventory.models import ON_HAND_KINDS, RESERVED_KINDS, Product, Size, SizeSystem, Sku, StockMovement, Warehouse
from tests.inventory.fixtures import demo  # noqa: F401  (module-scoped: seeded once for this file)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("demo")]

SIZES = [str(n) for n in range(35, 49)]
CELL_FIELDS = {"sku", "size", "warehouse", "on_hand", "reserved", "available", "backordered", "days_of_cover"}


@pytest.fixture
def ops(client_for):
    return client_for("operations")


def grid(client, product="ARCH"):
    response = client.get("/api/stock/grid/", {"product": product})
    assert response.status_code == 200, response.content
    return response.json()


def cell(body, sku: str, warehouse: str) -> dict:
    (found,) = [c for c in body["cells"] if (c["sku"], c["warehouse"]) == (sku, warehouse)]
    return found


def backorder(sku: str, warehouse: str, units: int, *, status: str = "backordered", n: int = 1) -> Order:
    order = Order.objects.create(
        channel="shopify",
        shop="insoles-test.myshopify.com",
        external_id=f"{sku}-{warehouse}-{status}-{n}",
        status=status,
        hold_reason="unknown_sku" if status == "on_hold" else "",
        warehouse=Warehouse.objects.get(code=warehouse),
        paid_at=dt.datetime(2026, 1, n, tzinfo=dt.UTC),
        is_paid=True,
    )
    OrderLine.objects.create(
        order=order, sku=Sku.objects.get(code=sku), sku_code=sku, quantity=units + 1, quantity_backordered=units
    )
    return order


def _signed(kinds):
    return Sum(Case(When(kind__in=list(kinds), then=F("quantity")), default=Value(0), output_field=IntegerField()))


def test_the_grid_lists_sizes_in_natural_order_and_a_cell_per_sku_and_warehouse(ops):
    body = grid(ops)
    assert (body["product"], body["product_name"]) == ("ARCH", "ArchPro Support Insole")
    assert body["sizes"] == SIZES
    assert body["warehouses"] == ["AU", "EU", "US"]
    assert len(body["cells"]) == 42 and all(set(c) == CELL_FIELDS for c in body["cells"])
    assert [(c["warehouse"], c["size"]) for c in body["cells"]] == [(w, s) for w in ["AU", "EU", "US"] for s in SIZES]
    assert cell(body, "ARCH-EU42", "EU") == {
        "sku": "ARCH-EU42",
        "size": "42",
        "warehouse": "EU",
        "on_hand": 70,
        "reserved": 0,
        "available": 70,
        "backordered": 0,
        "days_of_cover": None,  # nothing reserved yet: no demand, no cover figure
    }


def test_sizes_sort_by_their_sort_order_not_as_text(ops):
    product = Product.objects.create(code="KIDS", name="Kids Insole")
    for label, order in [("9", 90), ("10", 100), ("8.5", 85), ("11", 110)]:
        size, _ = Size.objects.get_or_create(system=SizeSystem.UK, label=label, defaults={"sort_order": order})
        Sku.objects.create(product=product, size=size, code=f"KIDS-UK{label}", weight_g=40)
    body = grid(ops, "KIDS")
    assert body["sizes"] == ["8.5", "9", "10", "11"]
    # No stock level anywhere yet: every cell is there, at zero.
    assert len(body["cells"]) == 12
    assert {(c["on_hand"], c["reserved"], c["available"], c["backordered"]) for c in body["cells"]} == {(0, 0, 0, 0)}


def test_cells_equal_the_sums_of_the_ledger_after_movements(ops):
    au, eu = Warehouse.objects.get(code="AU"), Warehouse.objects.get(code="EU")
    sku = Sku.objects.get(code="ARCH-EU40")
    services.reservation_create(warehouse=au, items=[(sku.pk, 5)], reference="order:1")
    services.reservation_create(warehouse=eu, items=[(sku.pk, 2)], reference="order:2")
    services.reservation_commit(reference="order:2")
    services.stock_receive(sku=sku, warehouse=eu, quantity=9, reference="PO-7")
    services.stock_adjust(sku=sku, warehouse=au, delta=-3, reason="damaged")
    services.reservation_create(warehouse=au, items=[(Sku.objects.get(code="ARCH-EU41").pk, 1)], reference="order:3")

    body = grid(ops)
    ledger = {
        (row["sku__code"], row["warehouse__code"]): row
        for row in StockMovement.objects.filter(sku__product__code="ARCH")
        .order_by()
        .values("sku__code", "warehouse__code")
        .annotate(on_hand=_signed(ON_HAND_KINDS), reserved=_signed(RESERVED_KINDS))
    }
    for c in body["cells"]:
        row = ledger[(c["sku"], c["warehouse"])]
        assert (c["on_hand"], c["reserved"], c["available"]) == (
            row["on_hand"],
            row["reserved"],
            row["on_hand"] - row["reserved"],
        ), c
    assert (cell(body, "ARCH-EU40", "AU")["reserved"], cell(body, "ARCH-EU40", "EU")["on_hand"]) == (5, 56 + 9 - 2)


def test_backordered_counts_units_of_backordered_orders_waiting_in_that_warehouse(ops):
    backorder("ARCH-EU42", "AU", 3, n=1)
    backorder("ARCH-EU42", "AU", 2, n=2)
    backorder("ARCH-EU42", "US", 4, n=3)
    backorder("ARCH-EU43", "AU", 1, n=4)
    backorder("ARCH-EU42", "AU", 7, status="on_hold", n=5)  # not backordered: not waiting for stock
    backorder("ARCH-EU42", "AU", 6, status="cancelled", n=6)
    backorder("RUN-EU42", "AU", 5, n=7)  # another product

    body = grid(ops)
    assert cell(body, "ARCH-EU42", "AU")["backordered"] == 5
    assert cell(body, "ARCH-EU42", "US")["backordered"] == 4
    assert cell(body, "ARCH-EU42", "EU")["backordered"] == 0
    assert cell(body, "ARCH-EU43", "AU")["backordered"] == 1
    assert sum(c["backordered"] for c in body["cells"]) == 10
    assert cell(grid(ops, "RUN"), "RUN-EU42", "AU")["backordered"] == 5


def test_backorders_come_from_the_configured_sources_only(ops, settings):
    backorder("ARCH-EU42", "AU", 3)
    settings.INVENTORY_BACKORDERED_SOURCES = []
    assert cell(grid(ops), "ARCH-EU42", "AU")["backordered"] == 0
    settings.INVENTORY_BACKORDERED_SOURCES = ["fulfilment.selectors.backordered_units"] * 2
    assert cell(grid(ops), "ARCH-EU42", "AU")["backordered"] == 6  # sources add up


def test_inactive_warehouses_are_left_out(ops):
    Warehouse.objects.filter(code="US").update(is_active=False)
    body = grid(ops)
    assert body["warehouses"] == ["AU", "EU"] and {c["warehouse"] for c in body["cells"]} == {"AU", "EU"}


def test_the_grid_takes_a_constant_number_of_queries(ops, django_assert_num_queries):
    # token, knox clean-up, roles, product, SKUs with sizes, warehouses, levels with demand, backorders
    with django_assert_num_queries(8):
        small = grid(ops, "THERMO")
    for n in range(1, 6):
        backorder(f"ARCH-EU{40 + n}", "EU", n, n=n)
    services.reservation_create(
        warehouse=Warehouse.objects.get(code="AU"), items=[(Sku.objects.get(code="ARCH-EU42").pk, 2)], reference="o:1"
    )
    Product.objects.create(code="WIDE", name="Wide")
    with django_assert_num_queries(8):
        body = grid(ops)
    assert len(small["cells"]) == len(body["cells"]) == 42
    assert selectors.stock_grid(product=Product.objects.get(code="WIDE")).cells == []


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({}, 400, "invalid"),
        ({"product": ""}, 400, "invalid"),
        ({"product": "AR\x00CH"}, 400, "invalid"),
        ({"product": "NOPE"}, 404, "unknown_product"),
        ({"product": "arch"}, 404, "unknown_product"),
    ],
)
def test_a_missing_or_unknown_product_is_a_json_error(ops, params, status, code):
    response = ops.get("/api/stock/grid/", params)
    assert response.status_code == status
    body = response.json()
    assert body["code"] == code and set(body) == {"detail", "code", "extra"}
    if status == 400:
        assert list(body["extra"]["fields"]) == ["product"]


def test_the_grid_is_for_staff(client_for):
    refused = client_for("storefront").get("/api/stock/grid/", {"product": "ARCH"})
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    assert client_for("warehouse").get("/api/stock/grid/", {"product": "ARCH"}).status_code == 200
