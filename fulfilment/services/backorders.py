"""Backorders: newly available stock goes to backordered lines, first paid first."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from fulfilment import locks
from fulfilment.models import OrderLine, OrderStatus
from fulfilment.services.allocation import ALLOCATION_ATTEMPTS, stock_available
from fulfilment.services.orders import status_set, timeline_add
from inventory import services as inventory
from inventory.errors import InsufficientStock
from inventory.models import StockLevel, Warehouse

S = OrderStatus


def backorders_fill(*, stock_ids: tuple[int, ...] | list[int]) -> int:
    """Give newly available units to backordered lines, first paid first; returns units reserved.

    Registered in INVENTORY_STOCK_AVAILABLE_HOOKS, so every receipt, positive
    adjustment, count and release calls it after commit; the beat sweeper calls
    it too, in case a process died in between.
    """
    filled = 0
    for level in StockLevel.objects.filter(pk__in=stock_ids).select_related("warehouse").order_by("pk"):
        waiting = (
            OrderLine.objects.filter(
                sku_id=level.sku_id,
                quantity_backordered__gt=0,
                order__status=S.BACKORDERED,
                order__warehouse_id=level.warehouse_id,
            )
            .order_by(F("order__paid_at").asc(nulls_last=True), "order_id")
            .values_list("order_id", flat=True)
        )
        for order_id in dict.fromkeys(waiting):
            units = _backorder_fill_order(order_id=order_id, sku_id=level.sku_id, warehouse=level.warehouse)
            if units is None:
                break  # nothing left in this warehouse
            filled += units
    return filled


def _backorder_fill_order(*, order_id: int, sku_id: int, warehouse: Warehouse) -> int | None:
    """Reserve what is available for one order's backordered lines of one SKU; None when stock ran out."""
    for _ in range(ALLOCATION_ATTEMPTS):
        available = stock_available([warehouse], {sku_id}).get((warehouse.pk, sku_id), 0)
        if available <= 0:
            return None
        try:
            with transaction.atomic():
                order = locks.order_lock(order_id)
                if order.status != S.BACKORDERED or order.warehouse_id != warehouse.pk:
                    return 0
                lines = locks.lines_lock(order)
                take_total = 0
                for line in lines:
                    if line.sku_id == sku_id and line.quantity_backordered and available > take_total:
                        take = min(line.quantity_backordered, available - take_total)
                        line.quantity_reserved += take
                        line.quantity_backordered -= take
                        take_total += take
                if not take_total:
                    return 0
                OrderLine.objects.bulk_update(lines, ["quantity_reserved", "quantity_backordered"])
                complete = not any(line.quantity_backordered for line in lines)
                if complete:
                    status_set(order, S.RESERVED)
                    order.save(update_fields=["status", "updated_at"])
                timeline_add(
                    order,
                    "backorder_filled",
                    f"Reserved {take_total} backordered units in {warehouse.code}",
                    units=take_total,
                    complete=complete,
                )
                inventory.reservation_create(
                    warehouse=warehouse,
                    items=[(sku_id, take_total)],
                    reference=order.reservation_reference,
                    savepoint=False,  # the atomic block above is the savepoint
                )
                return take_total
        except InsufficientStock:
            continue
    return None


def backorders_sweep() -> int:
    """Fill every backorder for which stock is available now (beat safety net for the after-commit hook)."""
    stock_ids = (
        StockLevel.objects.filter(
            on_hand__gt=F("reserved"),
            sku__order_lines__quantity_backordered__gt=0,
            sku__order_lines__order__status=S.BACKORDERED,
            sku__order_lines__order__warehouse_id=F("warehouse_id"),
        )
        .values_list("pk", flat=True)
        .distinct()
    )
    return backorders_fill(stock_ids=list(stock_ids))
