"""The database itself refuses bad stock states, whatever code path tries to write them."""

import pytest
from django.db import IntegrityError, connection, transaction

from inventory import services
from inventory.models import StockLevel, StockMovement
from tests.factories import SkuFactory, WarehouseFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def stock():
    sku, wh = SkuFactory(), WarehouseFactory()
    services.stock_receive(sku=sku, warehouse=wh, quantity=5)
    return StockLevel.objects.get(sku=sku, warehouse=wh)


def test_raw_update_making_reserved_exceed_on_hand_is_refused(stock):
    with (
        pytest.raises(IntegrityError, match="stock_reserved_within_on_hand"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE inventory_stocklevel SET reserved = on_hand + 1 WHERE id = %s", [stock.pk])
    stock.refresh_from_db()
    assert stock.reserved == 0


def test_raw_update_making_reserved_negative_is_refused(stock):
    with (
        pytest.raises(IntegrityError, match="stock_reserved_non_negative"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE inventory_stocklevel SET reserved = -1 WHERE id = %s", [stock.pk])


def test_duplicate_level_for_sku_and_warehouse_is_refused(stock):
    with pytest.raises(IntegrityError, match="stock_unique_sku_warehouse"), transaction.atomic():
        StockLevel.objects.create(sku=stock.sku, warehouse=stock.warehouse)


def test_ledger_row_with_the_wrong_sign_is_refused(stock):
    with pytest.raises(IntegrityError, match="movement_sign_matches_kind"), transaction.atomic():
        StockMovement.objects.create(kind="receipt", quantity=-1, sku=stock.sku, warehouse=stock.warehouse)
    with pytest.raises(IntegrityError, match="movement_sign_matches_kind"), transaction.atomic():
        StockMovement.objects.create(kind="adjustment", quantity=2, sku=stock.sku, warehouse=stock.warehouse)


@pytest.mark.parametrize(
    "statement", ["UPDATE inventory_stockmovement SET quantity = 99", "DELETE FROM inventory_stockmovement"]
)
def test_ledger_is_append_only(stock, statement):
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert list(StockMovement.objects.values_list("quantity", flat=True)) == [5]


def test_a_warehouse_time_zone_must_be_an_iana_zone(db):
    import datetime as dt

    import pytest
    from django.core.exceptions import ValidationError

    from inventory.models import Warehouse

    warehouse = Warehouse(code="AU", name="Sydney", country="AU", express_cutoff=dt.time(14), timezone="Sydney")
    with pytest.raises(ValidationError, match="IANA"):
        warehouse.full_clean()
    warehouse.timezone = "Australia/Sydney"
    warehouse.full_clean()
