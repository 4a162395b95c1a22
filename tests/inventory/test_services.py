import pytest
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext

from inventory import services
from inventory.errors import BelowReserved, InsufficientStock, InvalidQuantity, ReasonRequired, UnknownBin
from inventory.models import MovementKind, Reservation, StockLevel, StockMovement
from inventory.services import reservations
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
        services.stock_adjust(sku=sku, warehouse=wh, delta=-5, reason="damaged", note="water damage")
    assert err.value.extra["reserved"] == 6

    services.stock_adjust(sku=sku, warehouse=wh, delta=-4, reason="damaged", note=" water damage ")
    assert (level(sku, wh).on_hand, level(sku, wh).reserved) == (6, 6)
    last = StockMovement.objects.filter(kind=MovementKind.ADJUSTMENT).get()
    assert (last.quantity, last.reason, last.note) == (-4, "damaged", "water damage")
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


@pytest.mark.postgres
def test_reservation_on_postgresql_is_one_call_to_the_reserve_function(wh, django_user_model):
    a, b = SkuFactory(), SkuFactory()
    services.stock_receive(sku=a, warehouse=wh, quantity=5)
    services.stock_receive(sku=b, warehouse=wh, quantity=5)
    user = django_user_model.objects.create_user(username="picker")

    with CaptureQueriesContext(connection) as queries:
        made = services.reservation_create(
            warehouse=wh, items=[(b.pk, 1), (a.pk, 2), (b.pk, 1)], reference="order:1", actor=user
        )

    # The test runs in a transaction, so @transaction.atomic adds a savepoint around the one call.
    sql = [query["sql"] for query in queries.captured_queries if "SAVEPOINT" not in query["sql"]]
    assert len(sql) == 1 and "FROM inventory_reserve(" in sql[0]
    assert len(queries) == 3
    stock_a, stock_b = level(a, wh), level(b, wh)
    assert [(r.stock_id, r.quantity, r.status, r.reference, r.closed_at) for r in made] == sorted(
        [(stock_a.pk, 2, "active", "order:1", None), (stock_b.pk, 2, "active", "order:1", None)]
    )
    assert all(not r._state.adding for r in made)
    assert [(r.pk, r.created_at) for r in made] == list(
        Reservation.objects.filter(reference="order:1").order_by("stock_id").values_list("pk", "created_at")
    )
    assert (stock_a.reserved, stock_b.reserved) == (2, 2)
    ledger = StockMovement.objects.filter(kind=MovementKind.RESERVATION)
    assert sorted((m.sku_id, m.warehouse_id, m.quantity, m.reference, m.reason, m.actor_id) for m in ledger) == sorted(
        [(a.pk, wh.pk, 2, "order:1", "", user.pk), (b.pk, wh.pk, 2, "order:1", "", user.pk)]
    )
    assert {m.created_at for m in ledger} == {made[0].created_at}
    assert services.stock_verify() == []


@pytest.mark.postgres
def test_short_reservation_on_postgresql_raises_from_the_function_and_leaves_nothing(wh):
    a, b, missing = SkuFactory(), SkuFactory(), SkuFactory()
    services.stock_receive(sku=a, warehouse=wh, quantity=5)
    services.stock_receive(sku=b, warehouse=wh, quantity=3)
    services.reservation_create(warehouse=wh, items=[(b.pk, 2)], reference="order:0")

    with pytest.raises(InsufficientStock) as err:
        services.reservation_create(warehouse=wh, items=[(a.pk, 4), (b.pk, 2)], reference="order:1")

    assert err.value.extra == {"sku": b.code, "warehouse": "EU", "requested": 2, "available": 1}
    assert err.value.__cause__.__cause__.sqlstate == "IV001"  # raised by inventory_reserve, not the ORM path
    assert (level(a, wh).reserved, level(b, wh).reserved) == (0, 2)
    assert not Reservation.objects.filter(reference="order:1").exists()
    assert not StockMovement.objects.filter(reference="order:1").exists()

    with pytest.raises(InsufficientStock) as err:
        services.reservation_create(warehouse=wh, items=[(a.pk, 1), (missing.pk, 3)], reference="order:2")
    assert err.value.extra == {"sku": missing.code, "warehouse": "EU", "requested": 3, "available": 0}
    assert not Reservation.objects.filter(reference="order:2").exists()
    assert not StockMovement.objects.filter(reference="order:2").exists()
    assert services.stock_verify() == []


@pytest.mark.postgres
def test_reserve_function_merges_duplicate_skus_and_refuses_malformed_arguments(sku, wh):
    services.stock_receive(sku=sku, warehouse=wh, quantity=5)
    call = "SELECT stock_id, quantity FROM inventory_reserve(%s, %s, NULL, %s::bigint[], %s::integer[])"
    with connection.cursor() as cursor:
        cursor.execute(call, [wh.pk, "order:1", [sku.pk, sku.pk], [1, 2]])
        assert cursor.fetchall() == [(level(sku, wh).pk, 3)]
        for sku_ids, quantities in [([sku.pk], [1, 1]), ([sku.pk], [0]), ([sku.pk], [None]), ([None], [1])]:
            with pytest.raises(DataError, match="inventory_reserve needs"), transaction.atomic():
                cursor.execute(call, [wh.pk, "order:2", sku_ids, quantities])
    assert level(sku, wh).reserved == 3
    assert list(StockMovement.objects.filter(kind=MovementKind.RESERVATION).values_list("quantity", flat=True)) == [3]


def test_a_short_reservation_rolls_back_only_itself_and_leaves_the_callers_transaction_usable(sku, wh):
    other = SkuFactory()
    services.stock_receive(sku=sku, warehouse=wh, quantity=1)
    with transaction.atomic():
        services.stock_receive(sku=other, warehouse=wh, quantity=4)  # the caller's earlier work
        with pytest.raises(InsufficientStock):
            services.reservation_create(warehouse=wh, items=[(other.pk, 1), (sku.pk, 2)], reference="order:1")
        # The savepoint was rolled back: the transaction still works and keeps the caller's work.
        made = services.reservation_create(warehouse=wh, items=[(other.pk, 1)], reference="order:1")

    assert [r.quantity for r in made] == [1]
    assert (level(other, wh).on_hand, level(other, wh).reserved, level(sku, wh).reserved) == (4, 1, 0)
    assert Reservation.objects.filter(reference="order:1").count() == 1
    assert StockMovement.objects.filter(reference="order:1").count() == 1
    assert services.stock_verify() == []


def test_orm_reservation_path_keeps_the_same_rules(wh):
    # CI runs on PostgreSQL, where reservation_create calls the database function;
    # this keeps the SQLite (ORM) path under test too, on whichever database runs the suite.
    a, b, missing = SkuFactory(), SkuFactory(), SkuFactory()
    services.stock_receive(sku=a, warehouse=wh, quantity=5)
    services.stock_receive(sku=b, warehouse=wh, quantity=1)

    with pytest.raises(InsufficientStock) as err, transaction.atomic():
        reservations._reserve_with_orm(warehouse=wh, wanted={a.pk: 2, b.pk: 2}, reference="order:1", actor=None)
    assert err.value.extra == {"sku": b.code, "warehouse": "EU", "requested": 2, "available": 1}
    with pytest.raises(InsufficientStock) as err, transaction.atomic():
        reservations._reserve_with_orm(warehouse=wh, wanted={a.pk: 1, missing.pk: 3}, reference="order:1", actor=None)
    assert err.value.extra == {"sku": missing.code, "warehouse": "EU", "requested": 3, "available": 0}
    assert not Reservation.objects.exists()

    made = reservations._reserve_with_orm(warehouse=wh, wanted={b.pk: 1, a.pk: 3}, reference="order:1", actor=None)
    assert [(r.stock_id, r.quantity) for r in made] == sorted([(level(a, wh).pk, 3), (level(b, wh).pk, 1)])
    assert (level(a, wh).reserved, level(b, wh).reserved) == (3, 1)
    assert services.stock_verify() == []


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
