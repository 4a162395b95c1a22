"""Stock numbers stay within what the columns hold: a per-request cap (400) and a level limit (409 stock_limit).

Before, repeated receipts of 1,000,000 reached 2^31 and PostgreSQL answered
``integer out of range``: a 500. These run on PostgreSQL, where the column limit bites.
"""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from inventory import services
from inventory.catalogue import CatalogueRow
from inventory.errors import BelowReserved, CatalogueImportError, InsufficientStock, StockLimit
from inventory.models import STOCK_LEVEL_MAX, StockLevel, StockMovement
from tests.factories import SkuFactory, WarehouseFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

NEAR_MAX = STOCK_LEVEL_MAX - 5


@pytest.fixture
def full():
    """A level 5 units short of the column's maximum, booked through the ledger like any count."""
    sku = SkuFactory(code="ARCH-EU42")
    warehouse = WarehouseFactory(code="EU")
    services.stock_count(sku=sku, warehouse=warehouse, counted=NEAR_MAX)
    return sku, warehouse


def _state() -> tuple:
    return list(StockMovement.objects.order_by("pk").values_list("kind", "quantity")), list(
        StockLevel.objects.order_by("pk").values_list("on_hand", "reserved")
    )


def test_the_limit_is_the_postgresql_integer_maximum():
    assert STOCK_LEVEL_MAX == 2**31 - 1


@pytest.mark.parametrize(
    ("url", "payload", "field"),
    [
        ("/api/stock/receive", {"quantity": 1_000_001}, "quantity"),
        ("/api/stock/receive", {"quantity": 2**31}, "quantity"),
        ("/api/stock/adjust", {"delta": 1_000_001, "reason": "found"}, "delta"),
        ("/api/stock/adjust", {"delta": -1_000_001, "reason": "lost"}, "delta"),
        ("/api/stock/count", {"counted": 1_000_001}, "counted"),
        ("/api/stock/count", {"counted": 2**40}, "counted"),
    ],
)
def test_a_quantity_over_the_per_request_cap_is_a_400(client_for, full, url, payload, field):
    before = _state()
    response = client_for("operations").post(url, {"sku": "ARCH-EU42", "warehouse": "EU", **payload}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and "1000000" in body["extra"]["fields"][field][0]
    assert _state() == before


@pytest.mark.parametrize(
    ("url", "payload"),
    [
        ("/api/stock/receive", {"quantity": 6}),
        ("/api/stock/receive", {"quantity": 1_000_000}),
        ("/api/stock/adjust", {"delta": 6, "reason": "found"}),
    ],
)
def test_a_level_past_the_column_maximum_is_a_409_stock_limit(client_for, full, url, payload):
    before = _state()
    response = client_for("operations").post(url, {"sku": "ARCH-EU42", "warehouse": "EU", **payload}, format="json")
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == "stock_limit"
    assert body["extra"] == {
        "sku": "ARCH-EU42",
        "warehouse": "EU",
        "on_hand": NEAR_MAX,
        "change": next(iter(v for k, v in payload.items() if k != "reason")),
        "limit": STOCK_LEVEL_MAX,
    }
    assert _state() == before


def test_a_level_may_reach_the_maximum_exactly(client_for, full):
    response = client_for("operations").post(
        "/api/stock/receive", {"sku": "ARCH-EU42", "warehouse": "EU", "quantity": 5}, format="json"
    )
    assert response.status_code == 200 and response.json()["on_hand"] == STOCK_LEVEL_MAX
    assert services.stock_verify() == []


@pytest.mark.parametrize(
    "call",
    [
        lambda sku, wh: services.stock_receive(sku=sku, warehouse=wh, quantity=6),
        lambda sku, wh: services.stock_receive(sku=sku, warehouse=wh, quantity=2**31),
        lambda sku, wh: services.stock_receive(sku=sku, warehouse=wh, quantity=2**63),
        lambda sku, wh: services.stock_adjust(sku=sku, warehouse=wh, delta=6, reason="found"),
        lambda sku, wh: services.stock_adjust(sku=sku, warehouse=wh, delta=2**40, reason="found"),
        lambda sku, wh: services.stock_count(sku=sku, warehouse=wh, counted=STOCK_LEVEL_MAX + 1),
    ],
    ids=["receive", "receive-2^31", "receive-2^63", "adjust", "adjust-2^40", "count"],
)
def test_services_refuse_a_level_past_the_maximum_for_every_caller(full, call):
    sku, warehouse = full
    before = _state()
    with pytest.raises(StockLimit) as raised:
        call(sku, warehouse)
    assert raised.value.status == 409 and raised.value.extra["limit"] == STOCK_LEVEL_MAX
    assert _state() == before


def test_a_huge_negative_adjustment_is_below_reserved_not_a_500(full):
    sku, warehouse = full
    before = _state()
    with pytest.raises(BelowReserved):
        services.stock_adjust(sku=sku, warehouse=warehouse, delta=-(2**40), reason="lost")
    assert _state() == before


HEADER = "product_code,product_name,size_system,size,sku,barcode,warehouse,bin,on_hand,reorder_point,hs_code,weight_g\n"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("ARCH,ArchPro,EU,42,ARCH-EU42,,EU,A08,2147483648,10,6406.90,85", "on_hand must be at most 2147483647"),
        ("ARCH,ArchPro,EU,42,ARCH-EU42,,EU,A08,99999999999999999999,10,6406.90,85", "on_hand must be at most"),
        ("ARCH,ArchPro,EU,42,ARCH-EU42,,EU,A08,5,2147483648,6406.90,85", "reorder_point must be at most"),
        ("ARCH,ArchPro,EU,42,ARCH-EU42,,EU,A08,5,10,6406.90,2147483648", "weight_g must be at most"),
        ("ARCH,ArchPro,EU,42,ARCH-EU42,,EU,A08,1_000,10,6406.90,85", "on_hand must be a whole number"),
        ("ARCH,ArchPro,EU,42,ARCH-EU42,,EU,A08,٣,10,6406.90,85", "on_hand must be a whole number"),
    ],
)
def test_import_catalogue_reports_a_number_past_the_limit_as_a_bad_row(tmp_path, row, message):
    WarehouseFactory(code="EU")
    path = tmp_path / "catalogue.csv"
    path.write_text(HEADER + "ARCH,ArchPro,EU,43,ARCH-EU43,,EU,A09,12,10,6406.90,88\n" + row + "\n", encoding="utf-8")
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 bad rows; nothing was imported"):
        call_command("import_catalogue", str(path), stdout=io.StringIO(), stderr=err)
    assert f"catalogue.csv:3: {message}" in err.getvalue()
    assert not StockMovement.objects.exists() and not StockLevel.objects.exists()


def test_catalogue_import_reports_an_on_hand_the_level_cannot_hold(full):
    """Rows built in code (not parsed) meet the same limit in the service, as a bad row."""
    sku, _ = full
    before = _state()
    row = CatalogueRow(
        line=2,
        product_code=sku.product.code,
        product_name=sku.product.name,
        size_system=sku.size.system,
        size=sku.size.label,
        sku=sku.code,
        barcode=None,
        warehouse="EU",
        bin="",
        on_hand=STOCK_LEVEL_MAX + 1,
        reorder_point=None,
        hs_code=sku.hs_code,
        weight_g=sku.weight_g,
    )
    with pytest.raises(CatalogueImportError) as raised:
        services.catalogue_import(rows=[row])
    assert raised.value.errors == [
        (2, f"on_hand {STOCK_LEVEL_MAX + 1} is more than a level can hold ({STOCK_LEVEL_MAX})")
    ]
    assert _state() == before


def test_a_reservation_larger_than_any_level_is_short_not_a_500(full):
    """Two order lines of one SKU can add up past 2^31 - 1: that is "short", like any other shortage."""
    sku, warehouse = full
    before = _state()
    with pytest.raises(InsufficientStock) as raised:
        services.reservation_create(
            warehouse=warehouse, items=[(sku.pk, STOCK_LEVEL_MAX), (sku.pk, 1)], reference="order-1"
        )
    assert raised.value.extra == {
        "sku": "ARCH-EU42",
        "warehouse": "EU",
        "requested": STOCK_LEVEL_MAX + 1,
        "available": NEAR_MAX,
    }
    assert _state() == before
