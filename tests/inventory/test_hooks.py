"""After-commit hooks (INVENTORY_STOCK_AVAILABLE_HOOKS): a failing hook never undoes or hides a committed write."""

from __future__ import annotations

import logging

import pytest

from inventory import services
from inventory.models import StockLevel, StockMovement
from tests.factories import SkuFactory, WarehouseFactory

calls: list[tuple[str, tuple[int, ...]]] = []


def exploding_hook(*, stock_ids):
    calls.append(("exploding", stock_ids))
    raise RuntimeError("backorder filling exploded")


def recording_hook(*, stock_ids):
    calls.append(("recording", stock_ids))


HOOKS = ["tests.inventory.test_hooks.exploding_hook", "tests.inventory.test_hooks.recording_hook"]


@pytest.fixture(autouse=True)
def hooks(settings):
    calls.clear()
    settings.INVENTORY_STOCK_AVAILABLE_HOOKS = HOOKS
    settings.INVENTORY_STOCK_CHANGED_HOOKS = []  # the alert check: tests/inventory/test_alerts.py
    yield
    calls.clear()


def _failures(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "inventory.services" and r.levelno == logging.ERROR]


# transaction=True: the service's own atomic() is the outermost one, so its hooks run at its
# COMMIT inside the request, as in production (where a raising hook used to become a 500).
@pytest.mark.django_db(transaction=True)
def test_a_failing_hook_after_a_receipt_is_logged_and_the_client_gets_the_booked_level(client_for, caplog):
    sku = SkuFactory()
    warehouse = WarehouseFactory(code="EU")
    client = client_for("warehouse")
    with caplog.at_level(logging.ERROR, logger="inventory.services"):
        response = client.post(
            "/api/stock/receive", {"sku": sku.code, "warehouse": "EU", "quantity": 5, "reference": "PO-1"}
        )
    assert response.status_code == 200, response.content
    assert response.json()["on_hand"] == 5
    receipts = StockMovement.objects.filter(kind="receipt", sku=sku, warehouse=warehouse)
    assert list(receipts.values_list("quantity", "reference")) == [(5, "PO-1")]
    assert StockLevel.objects.get(sku=sku, warehouse=warehouse).on_hand == 5
    level_id = StockLevel.objects.get(sku=sku, warehouse=warehouse).pk
    # The failing hook did not stop the next one.
    assert calls == [("exploding", (level_id,)), ("recording", (level_id,))]
    (record,) = _failures(caplog)
    assert "tests.inventory.test_hooks.exploding_hook" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError


@pytest.mark.django_db
@pytest.mark.parametrize("command", ["adjust", "count", "release"])
def test_a_failing_hook_after_adjust_count_or_release_does_not_raise(
    command, django_capture_on_commit_callbacks, caplog
):
    sku = SkuFactory()
    warehouse = WarehouseFactory(code="EU")
    with django_capture_on_commit_callbacks(execute=True):
        services.stock_receive(sku=sku, warehouse=warehouse, quantity=10)
        services.reservation_create(warehouse=warehouse, items=[(sku.pk, 4)], reference="order-1")
    calls.clear()
    caplog.clear()
    with (
        caplog.at_level(logging.ERROR, logger="inventory.services"),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        if command == "adjust":
            services.stock_adjust(sku=sku, warehouse=warehouse, delta=3, reason="found")
        elif command == "count":
            services.stock_count(sku=sku, warehouse=warehouse, counted=12)
        else:
            assert services.reservation_release(reference="order-1") == 4
    assert len(callbacks) == 2
    assert [name for name, _ in calls] == ["exploding", "recording"]
    assert len(_failures(caplog)) == 1
    assert services.stock_verify() == []


@pytest.mark.django_db
def test_an_unimportable_hook_is_logged_and_does_not_undo_the_write(
    settings, django_capture_on_commit_callbacks, caplog
):
    settings.INVENTORY_STOCK_AVAILABLE_HOOKS = ["tests.inventory.test_hooks.no_such_hook", HOOKS[1]]
    sku = SkuFactory()
    warehouse = WarehouseFactory(code="EU")
    with (
        caplog.at_level(logging.ERROR, logger="inventory.services"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        level = services.stock_receive(sku=sku, warehouse=warehouse, quantity=2)
    assert level.on_hand == 2
    assert calls == [("recording", (level.pk,))]
    assert "no_such_hook" in _failures(caplog)[0].getMessage()
