import pytest

from inventory import services
from inventory.errors import BelowReserved, InsufficientStock, InvalidQuantity, ReasonRequired, UnknownBin
from inventory.models import MovementKind, Reservation, StockLevel, StockMovement
from tests.factories import BinFactory, SkuFactory, WarehouseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def wh():
    return WarehouseFactory(code="EU")


@pytest.fixture
def sku():
    return SkuFactory()


def level(sku, wh) -> StockLevel:
    return StockLevel.objects.get(sku=sku, warehouse=wh)


def test_receive_adds_on_hand_and_writes_one_ledger_row(sku, wh):
    services.stock_receive(sku=sku, warehouse=wh, quantity=12, reference="PO-1")
    services.stock_receive(sku=sku, warehouse=wh, quantity=3, reference="PO-2")

    assert (level(sku, wh).on_hand, level(sku, wh).reserved) == (15, 0)
    rows = list(StockMovement.objects.order_by("pk").values_list("kind", "quantity", "reference"))
    assert rows == [("receipt", 12, "PO-1"), ("receipt", 3, "PO-2")]


def test_receive_into_bin_sets_the_bin_and_refuses_a_bin_of_another_warehouse(sku, wh):
    bin = BinFactory(warehouse=wh, code="A01")
    services.stock_receive(sku=sku, warehouse=wh, quantity=1, bin=bin)
    assert level(sku, wh).bin == bin

    other_bin = BinFactory(warehouse=WarehouseFactory(code="US"))
    with pytest.raises(UnknownBin):
        services.stock_receive(sku=sku, warehouse=wh, quantity=1, bin=other_bin)
    assert level(sku, wh).on_hand == 1


@pytest.mark.parametrize("quantity", [0, -3, True, 2.5, "4"])
def test_receive_refuses_non_positive_or_non_integer_quantities(sku, wh, quantity):
    with pytest.raises(InvalidQuantity):
        services.stock_receive(sku=sku, warehouse=wh, quantity=quantity)
    assert not StockMovement.objects.exists()


def test_adjust_needs_a_reason_and_never_goes_below_reserved(sku, wh):
    services.stock_receive(sku=sku, warehouse=wh, quantity=10)
    services.reservation_create(warehouse=wh, items=[(sku.pk, 6)], reference="order:1")

    with pytest.raises(ReasonRequired):
        services.stock_adjust(sku=sku, warehouse=wh, delta=-1, reason="   ")
    with pytest.raises(BelowReserved) as err:
        services.stock_adjust(sku=sku, warehouse=wh, delta=-5, reason="water damage")
    assert err.value.extra["reserved"] == 6

    services.stock_adjust(sku=sku, warehouse=wh, delta=-4, reason="water damage")
    assert (level(sku, wh).on_hand, level(sku, wh).reserved) == (6, 6)
    last = StockMovement.objects.filter(kind=MovementKind.ADJUSTMENT).get()
    assert (last.quantity, last.reason) == (-4, "water damage")
    assert services.stock_verify() == []


def test_count_sets_on_hand_records_the_difference_and_refuses_below_reserved(sku, wh):
    services.stock_receive(sku=sku, warehouse=wh, quantity=10)
    services.reservation_create(warehouse=wh, items=[(sku.pk, 4)], reference="order:1")

    services.stock_count(sku=sku, warehouse=wh, counted=7)
    assert level(sku, wh).on_hand == 7
    assert StockMovement.objects.filter(kind=MovementKind.COUNT).get().quantity == -3

    with pytest.raises(BelowReserved):
        services.stock_count(sku=sku, warehouse=wh, counted=3)
    assert level(sku, wh).on_hand == 7
    assert services.stock_verify() == []


def test_count_of_a_new_level_creates_it(sku, wh):
    services.stock_count(sku=sku, warehouse=wh, counted=5)
    assert level(sku, wh).on_hand == 5


def test_reservation_of_many_skus_is_all_or_nothing(wh):
    a, b = SkuFactory(), SkuFactory()
    services.stock_receive(sku=a, warehouse=wh, quantity=5)
    services.stock_receive(sku=b, warehouse=wh, quantity=1)

    with pytest.raises(InsufficientStock) as err:
        services.reservation_create(warehouse=wh, items=[(a.pk, 2), (b.pk, 2)], reference="order:1")
    assert err.value.extra == {"sku": b.code, "warehouse": "EU", "requested": 2, "available": 1}
    assert (level(a, wh).reserved, level(b, wh).reserved) == (0, 0)
    assert not Reservation.objects.exists()
    assert not StockMovement.objects.filter(kind=MovementKind.RESERVATION).exists()

    made = services.reservation_create(warehouse=wh, items=[(a.pk, 2), (b.pk, 1), (a.pk, 1)], reference="order:1")
    assert sorted((r.stock.sku_id, r.quantity) for r in made) == sorted([(a.pk, 3), (b.pk, 1)])
    assert (level(a, wh).reserved, level(b, wh).reserved) == (3, 1)
    assert (level(a, wh).available, level(b, wh).available) == (2, 0)


def test_reservation_without_a_stock_level_is_short(sku, wh):
    with pytest.raises(InsufficientStock) as err:
        services.reservation_create(warehouse=wh, items=[(sku.pk, 1)], reference="order:1")
    assert err.value.extra["available"] == 0
    assert err.value.code == "insufficient_stock" and err.value.status == 409


def test_release_returns_units_once(sku, wh):
    services.stock_receive(sku=sku, warehouse=wh, quantity=5)
    services.reservation_create(warehouse=wh, items=[(sku.pk, 2)], reference="order:1")
    services.reservation_create(warehouse=wh, items=[(sku.pk, 1)], reference="order:1")

    assert services.reservation_release(reference="order:1") == 3
    assert services.reservation_release(reference="order:1") == 0
    assert (level(sku, wh).on_hand, level(sku, wh).reserved) == (5, 0)
    assert set(Reservation.objects.values_list("status", flat=True)) == {"released"}
    assert StockMovement.objects.filter(kind=MovementKind.RELEASE).get().quantity == -3
    assert services.stock_verify() == []


def test_release_of_some_skus_only(wh):
    a, b = SkuFactory(), SkuFactory()
    for sku in (a, b):
        services.stock_receive(sku=sku, warehouse=wh, quantity=5)
    services.reservation_create(warehouse=wh, items=[(a.pk, 2), (b.pk, 2)], reference="order:1")

    assert services.reservation_release(reference="order:1", sku_ids=[a.pk]) == 2
    assert (level(a, wh).reserved, level(b, wh).reserved) == (0, 2)


def test_commit_ships_units_once(sku, wh):
    services.stock_receive(sku=sku, warehouse=wh, quantity=5)
    services.reservation_create(warehouse=wh, items=[(sku.pk, 2)], reference="order:1")

    assert services.reservation_commit(reference="order:1") == 2
    assert services.reservation_commit(reference="order:1") == 0
    assert services.reservation_release(reference="order:1") == 0
    assert (level(sku, wh).on_hand, level(sku, wh).reserved) == (3, 0)
    assert StockMovement.objects.filter(kind=MovementKind.SHIPMENT).get().quantity == -2
    assert services.stock_verify() == []


def test_verify_reports_a_level_that_disagrees_with_the_ledger(sku, wh):
    services.stock_receive(sku=sku, warehouse=wh, quantity=5)
    StockLevel.objects.filter(sku=sku).update(on_hand=9)  # bypassing the services, as a bug would

    [mismatch] = services.stock_verify()
    assert (mismatch.sku, mismatch.warehouse, mismatch.field, mismatch.level, mismatch.expected) == (
        sku.code,
        "EU",
        "on_hand",
        9,
        5,
    )


def test_stock_available_hooks_run_after_commit(sku, wh, settings, django_capture_on_commit_callbacks):
    settings.INVENTORY_STOCK_AVAILABLE_HOOKS = ["tests.inventory.test_services.record_hook"]
    RECORDED.clear()
    with django_capture_on_commit_callbacks() as callbacks:
        services.stock_receive(sku=sku, warehouse=wh, quantity=2)
    assert RECORDED == []  # nothing is told before the receipt is committed
    for callback in callbacks:
        callback()
    assert [(level(sku, wh).pk,)] == RECORDED


RECORDED: list = []


def record_hook(*, stock_ids):
    RECORDED.append(stock_ids)
