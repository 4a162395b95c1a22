"""Stock alerts (inventory.alerts): open once, stay quiet, close on recovery, reopen as a new row; after commit only."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from inventory import alerts, services
from inventory.models import AlertKind, StockAlert, StockLevel
from tests.factories import SkuFactory, WarehouseFactory
from tests.inventory.fixtures import ledger_row

LOW = AlertKind.LOW_STOCK
RISK = AlertKind.STOCKOUT_RISK


@pytest.fixture
def level(db, django_capture_on_commit_callbacks):
    """20 on hand, reorder point 5; lead time 0, so only low-stock alerts can open (no stock-out risk)."""
    sku = SkuFactory(lead_time_days=0)
    warehouse = WarehouseFactory(code="EU")
    with django_capture_on_commit_callbacks(execute=True):
        services.stock_receive(sku=sku, warehouse=warehouse, quantity=20)
    StockLevel.objects.filter(sku=sku, warehouse=warehouse).update(reorder_point=5)
    return StockLevel.objects.select_related("sku", "warehouse").get(sku=sku, warehouse=warehouse)


def _alerts(level, kind=LOW):
    return list(StockAlert.objects.filter(sku=level.sku, warehouse=level.warehouse, kind=kind).order_by("pk"))


def _adjust(level, delta, capture):
    with capture(execute=True):
        services.stock_adjust(
            sku=level.sku, warehouse=level.warehouse, delta=delta, reason="found" if delta > 0 else "lost"
        )


def test_an_alert_opens_once_stays_quiet_closes_and_reopens_as_a_new_alert(level, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    _adjust(level, -14, capture)  # available 6: above the point
    assert _alerts(level) == []
    _adjust(level, -1, capture)  # available 5: at the point
    (first,) = _alerts(level)
    assert first.closed_at is None and first.status == "open"
    assert (first.on_hand, first.reserved, first.available, first.reorder_point) == (5, 0, 5, 5)
    for _ in range(3):  # more movements while it stays low: no second alert
        _adjust(level, -1, capture)
    _adjust(level, 1, capture)
    assert [alert.pk for alert in _alerts(level)] == [first.pk]
    _adjust(level, 10, capture)  # available 13: recovered
    (closed,) = _alerts(level)
    assert closed.pk == first.pk and closed.closed_at is not None and closed.closed_at >= closed.opened_at
    assert closed.closed_available == 13
    _adjust(level, 10, capture)  # still fine: nothing new
    assert len(_alerts(level)) == 1
    _adjust(level, -20, capture)  # low again: a new alert, the old one stays closed
    old, new = _alerts(level)
    assert old.pk == first.pk and old.closed_at is not None
    assert new.closed_at is None and new.available == 3
    assert services.stock_verify() == []


def test_the_alert_opens_after_commit_only(level, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.stock_adjust(sku=level.sku, warehouse=level.warehouse, delta=-18, reason="lost")
        assert _alerts(level) == []
    assert _alerts(level) == []  # not committed yet: nothing opened
    for callback in callbacks:
        callback()
    assert len(_alerts(level)) == 1


def test_a_rolled_back_movement_opens_nothing(level, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.stock_adjust(sku=level.sku, warehouse=level.warehouse, delta=-18, reason="lost")
        raise RuntimeError("the caller gives up")
    assert callbacks == []
    assert _alerts(level) == []
    assert StockLevel.objects.get(pk=level.pk).on_hand == 20


def test_a_rolled_back_recovery_closes_nothing(level, django_capture_on_commit_callbacks):
    _adjust(level, -18, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        services.stock_receive(sku=level.sku, warehouse=level.warehouse, quantity=50)
        raise RuntimeError("the caller gives up")
    (alert,) = _alerts(level)
    assert alert.closed_at is None


def test_a_reservation_opens_and_its_release_closes(level, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.reservation_create(warehouse=level.warehouse, items=[(level.sku_id, 16)], reference="order:1")
    (alert,) = _alerts(level)
    assert (alert.on_hand, alert.reserved, alert.available) == (20, 16, 4)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.reservation_release(reference="order:1") == 16
    (alert,) = _alerts(level)
    assert alert.closed_at is not None and alert.closed_available == 20


def test_a_short_reservation_opens_nothing(level, django_capture_on_commit_callbacks):
    from inventory.errors import InsufficientStock

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(InsufficientStock):
        services.reservation_create(warehouse=level.warehouse, items=[(level.sku_id, 21)], reference="order:2")
    assert callbacks == []
    assert _alerts(level) == []


def test_a_commit_write_off_and_count_are_checked_too(level, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    with capture(execute=True):
        services.reservation_create(warehouse=level.warehouse, items=[(level.sku_id, 10)], reference="order:3")
    assert _alerts(level) == []
    with capture(execute=True):
        services.reservation_write_off(reference="order:3", sku=level.sku, warehouse=level.warehouse, quantity=2)
        services.reservation_commit(reference="order:3")
    assert _alerts(level) == []  # available unchanged by either: 10
    with capture(execute=True):
        services.stock_count(sku=level.sku, warehouse=level.warehouse, counted=4)
    assert len(_alerts(level)) == 1


def test_a_failing_check_is_logged_and_never_fails_the_movement(
    level, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    def explode(*args, **kwargs):
        raise RuntimeError("alert check exploded")

    monkeypatch.setattr(alerts, "readings", explode)
    with caplog.at_level(logging.ERROR, logger="inventory.services"), django_capture_on_commit_callbacks(execute=True):
        changed = services.stock_adjust(sku=level.sku, warehouse=level.warehouse, delta=-18, reason="lost")
    assert changed.on_hand == 2
    (record,) = [r for r in caplog.records if r.name == "inventory.services"]
    assert "inventory.dispatch.alerts_check_soon" in record.getMessage() and "alert sweep" in record.getMessage()
    monkeypatch.undo()
    # The beat sweep catches up.
    changes = alerts.stock_alerts_sweep()
    assert [(a.kind, a.sku_id) for a in changes.opened] == [(LOW, level.sku_id)]


def test_the_sweep_opens_and_closes_what_no_movement_announced(level):
    StockLevel.objects.filter(pk=level.pk).update(reorder_point=25)  # e.g. edited in the admin
    changes = alerts.stock_alerts_sweep()
    assert [alert.kind for alert in changes.opened] == [LOW]
    assert alerts.stock_alerts_sweep().opened == []  # nothing twice
    StockLevel.objects.filter(pk=level.pk).update(reorder_point=0)  # none set: never low
    changes = alerts.stock_alerts_sweep()
    assert [alert.kind for alert in changes.closed] == [LOW]
    assert _alerts(level)[0].closed_at is not None


def test_a_reorder_point_of_zero_never_alerts(db, django_capture_on_commit_callbacks):
    sku, warehouse = SkuFactory(lead_time_days=0), WarehouseFactory(code="EU")
    with django_capture_on_commit_callbacks(execute=True):
        services.stock_receive(sku=sku, warehouse=warehouse, quantity=1)
        services.stock_adjust(sku=sku, warehouse=warehouse, delta=-1, reason="lost")
    assert StockAlert.objects.count() == 0


def test_stockout_risk_opens_when_cover_is_shorter_than_the_lead_time(db, django_capture_on_commit_callbacks):
    sku, warehouse = SkuFactory(lead_time_days=10), WarehouseFactory(code="EU")
    with django_capture_on_commit_callbacks(execute=True):
        services.stock_receive(sku=sku, warehouse=warehouse, quantity=100)
    # 2 units a day for 90 days: daily demand 2; 100 available = 50 days of cover, no risk.
    now = timezone.now()
    for day in range(1, 91):
        at = now - dt.timedelta(days=day) + dt.timedelta(hours=1)
        ledger_row(kind="reservation", quantity=2, sku=sku, warehouse=warehouse, at=at)
    level = StockLevel.objects.get(sku=sku, warehouse=warehouse)
    assert alerts.stock_alerts_check(stock_ids=[level.pk]).opened == []
    with django_capture_on_commit_callbacks(execute=True):  # 19 left: 9.5 days < 10 days lead time
        services.stock_adjust(sku=sku, warehouse=warehouse, delta=-81, reason="damaged")
    (alert,) = StockAlert.objects.filter(kind=RISK)
    assert alert.available == 19 and alert.lead_time_days == 10
    assert alert.daily_demand == pytest.approx(2.0, abs=0.01) and alert.days_of_cover == pytest.approx(9.5, abs=0.1)
    assert not StockAlert.objects.filter(kind=LOW).exists()  # no reorder point set
    with django_capture_on_commit_callbacks(execute=True):  # 21 left: 10.5 days
        services.stock_receive(sku=sku, warehouse=warehouse, quantity=2)
    alert.refresh_from_db()
    assert alert.closed_at is not None


def test_the_database_allows_one_open_alert_per_kind_and_no_close_before_open(
    level, django_capture_on_commit_callbacks
):
    _adjust(level, -18, django_capture_on_commit_callbacks)
    (alert,) = _alerts(level)
    fields = {f: getattr(alert, f) for f in ("on_hand", "reserved", "available", "reorder_point", "lead_time_days")}
    with pytest.raises(IntegrityError), transaction.atomic():
        StockAlert.objects.create(
            sku=level.sku, warehouse=level.warehouse, kind=LOW, opened_at=timezone.now(), daily_demand=0, **fields
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        StockAlert.objects.filter(pk=alert.pk).update(closed_at=alert.opened_at - dt.timedelta(seconds=1))
    # A closed one and an open one of the same kind may coexist: the history.
    StockAlert.objects.filter(pk=alert.pk).update(closed_at=timezone.now())
    StockAlert.objects.create(
        sku=level.sku, warehouse=level.warehouse, kind=LOW, opened_at=timezone.now(), daily_demand=0, **fields
    )


def test_the_check_for_one_movement_takes_one_query_when_nothing_changes(level, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert alerts.stock_alerts_check(stock_ids=[level.pk]).opened == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_threads_lowering_the_same_sku_at_once_open_one_alert():
    sku, warehouse = SkuFactory(lead_time_days=0), WarehouseFactory(code="EU")
    services.stock_receive(sku=sku, warehouse=warehouse, quantity=20)
    level = StockLevel.objects.get(sku=sku, warehouse=warehouse)
    StockLevel.objects.filter(pk=level.pk).update(reorder_point=10)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    results: list[alerts.AlertChanges] = []
    original = alerts._apply

    def apply_together(found, *, now):
        # Both threads read "low, nothing open" before either inserts: the unique index decides.
        barrier.wait(timeout=10)
        changes = original(found, now=now)
        results.append(changes)
        return changes

    def lower(reference: str) -> None:
        try:
            services.reservation_create(warehouse=warehouse, items=[(sku.pk, 6)], reference=reference)
        except BaseException as exc:  # reported to the main thread
            errors.append(exc)
        finally:
            connection.close()

    alerts._apply = apply_together
    try:
        threads = [threading.Thread(target=lower, args=(f"order:{n}",)) for n in (1, 2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        alerts._apply = original
    assert errors == []
    (alert,) = StockAlert.objects.filter(sku=sku, warehouse=warehouse)
    assert alert.closed_at is None and alert.kind == LOW
    # One check opened it; the other's INSERT met the conflict and opened (and announced) nothing.
    assert sorted(len(changes.opened) for changes in results) == [0, 1]
    assert StockLevel.objects.get(pk=level.pk).reserved == 12


def test_the_check_reads_the_same_demand_and_cover_as_the_cover_endpoint(db, django_capture_on_commit_callbacks):
    """The check's own statement follows inventory.selectors.with_demand: the same windows, kinds and history."""
    from inventory import forecast, selectors

    sku, warehouse = SkuFactory(lead_time_days=5), WarehouseFactory(code="EU")
    with django_capture_on_commit_callbacks(execute=True):
        services.stock_receive(sku=sku, warehouse=warehouse, quantity=40)
    now = timezone.now()
    for days, kind, quantity in [
        (1, "reservation", 3),
        (6, "reservation", 4),
        (20, "release", -2),
        (27, "reservation", 5),
    ]:
        ledger_row(kind=kind, quantity=quantity, sku=sku, warehouse=warehouse, at=now - dt.timedelta(days=days))
    ledger_row(kind="reservation", quantity=9, sku=sku, warehouse=warehouse, at=now - dt.timedelta(days=60))
    ledger_row(kind="shipment", quantity=-1, sku=sku, warehouse=warehouse, at=now - dt.timedelta(days=2))
    level = StockLevel.objects.get(sku=sku, warehouse=warehouse)
    (reading,) = alerts.readings([level.pk], now=now)
    demand = selectors.demand_by_level(now=now, sku_ids=[sku.pk])[(sku.pk, warehouse.pk)]
    assert reading.daily_demand == pytest.approx(forecast.daily_demand(demand))
    assert reading.days_of_cover == pytest.approx(
        forecast.days_of_cover(available=40, daily=forecast.daily_demand(demand))
    )
    assert (reading.available, reading.lead_time_days, reading.open_kinds) == (40, 5, frozenset())


@pytest.mark.postgres
def test_the_function_and_the_statement_read_the_same(db, django_capture_on_commit_callbacks):
    """PostgreSQL reads through inventory_alert_readings (migration 0012); SQLite runs the statement: both agree."""
    sku, warehouse = SkuFactory(lead_time_days=30), WarehouseFactory(code="EU")
    other = SkuFactory(lead_time_days=None)
    with django_capture_on_commit_callbacks(execute=True):
        services.stock_receive(sku=sku, warehouse=warehouse, quantity=12)
        services.stock_receive(sku=other, warehouse=warehouse, quantity=3)
    StockLevel.objects.filter(sku=other).update(reorder_point=5)
    alerts.stock_alerts_sweep()
    now = timezone.now()
    for days, quantity in [(2, 3), (10, 4), (50, 6), (120, 9)]:
        ledger_row(
            kind="reservation", quantity=quantity, sku=sku, warehouse=warehouse, at=now - dt.timedelta(days=days)
        )
    ids = sorted(StockLevel.objects.values_list("pk", flat=True))
    from_function = alerts._rows_from_function(ids, now=now)
    assert from_function == alerts._rows_from_statement(ids, now=now)
    assert [row[-2:] for row in from_function] == [(False, False), (True, False)]  # the second is in low stock
