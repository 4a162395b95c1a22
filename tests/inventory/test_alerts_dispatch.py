"""With a broker, a movement marks its levels and queues one debounced check (inventory.dispatch)."""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from config.redis import redis_client
from inventory import dispatch, services
from inventory.models import StockAlert, StockLevel
from inventory.tasks import stock_alerts_flush_task
from tests.factories import SkuFactory, WarehouseFactory

pytestmark = pytest.mark.redis


@pytest.fixture
def worker_mode(settings, monkeypatch):
    """Tasks go to a broker (not run here); the queued checks are recorded instead of sent."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    client = redis_client()
    client.delete(dispatch.ALERTS_DIRTY_KEY, dispatch.ALERTS_KICK_KEY)
    queued: list[dict] = []
    monkeypatch.setattr(stock_alerts_flush_task, "apply_async", lambda *args, **kwargs: queued.append(kwargs))
    yield queued
    client.delete(dispatch.ALERTS_DIRTY_KEY, dispatch.ALERTS_KICK_KEY)


@pytest.fixture
def level(db, django_capture_on_commit_callbacks):
    sku, warehouse = SkuFactory(lead_time_days=0), WarehouseFactory(code="EU")
    services.stock_receive(sku=sku, warehouse=warehouse, quantity=20)
    StockLevel.objects.filter(sku=sku, warehouse=warehouse).update(reorder_point=5)
    return StockLevel.objects.select_related("sku", "warehouse").get(sku=sku, warehouse=warehouse)


def test_movements_mark_their_levels_and_queue_one_check(worker_mode, level, django_capture_on_commit_callbacks):
    client = redis_client()
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            services.reservation_create(warehouse=level.warehouse, items=[(level.sku_id, 5)], reference="order:1")
    assert StockAlert.objects.count() == 0  # nothing checked on the hot path
    assert {int(raw) for raw in client.smembers(dispatch.ALERTS_DIRTY_KEY)} == {level.pk}
    assert worker_mode == [{"countdown": dispatch.ALERTS_DEBOUNCE_SECONDS}]  # one check for the three
    assert dispatch.alerts_flush() == 1
    (alert,) = StockAlert.objects.all()
    assert (alert.kind, alert.available) == ("low_stock", 5)
    assert client.scard(dispatch.ALERTS_DIRTY_KEY) == 0 and not client.exists(dispatch.ALERTS_KICK_KEY)
    with django_capture_on_commit_callbacks(execute=True):  # the next movement queues the next check
        services.reservation_release(reference="order:1")
    assert len(worker_mode) == 2
    dispatch.alerts_flush()
    alert.refresh_from_db()
    assert alert.closed_at is not None


def test_without_redis_the_levels_are_checked_here(worker_mode, level, monkeypatch, django_capture_on_commit_callbacks):
    def down(*args, **kwargs):
        raise RedisConnectionError("redis is down")

    monkeypatch.setattr("redis.client.Pipeline.execute", down)
    with django_capture_on_commit_callbacks(execute=True):
        services.stock_adjust(sku=level.sku, warehouse=level.warehouse, delta=-16, reason="lost")
    assert StockAlert.objects.filter(closed_at__isnull=True).count() == 1
    assert worker_mode == []


def test_a_failed_check_puts_its_levels_back(worker_mode, level, monkeypatch, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.stock_adjust(sku=level.sku, warehouse=level.warehouse, delta=-16, reason="lost")

    def explode(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("inventory.alerts.stock_alerts_check", explode)
    with pytest.raises(RuntimeError):
        dispatch.alerts_flush()
    assert {int(raw) for raw in redis_client().smembers(dispatch.ALERTS_DIRTY_KEY)} == {level.pk}
