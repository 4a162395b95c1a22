"""Read queries for orders and the intake backlog."""

from __future__ import annotations

from collections.abc import Collection

from django.db.models import Count, Min, Prefetch, QuerySet, Sum
from django.utils import timezone

from fulfilment.models import InboxDelivery, Order, OrderEvent, OrderLine, OrderStatus, PickWave, PickWaveOrder
from inventory.models import Reservation
from inventory.selectors import staff_warehouse_ids


def order_list() -> QuerySet[Order]:
    """Orders newest paid first (unpaid ones first of all, as PostgreSQL sorts NULL high), then newest id."""
    return (
        Order.objects.select_related("warehouse", "packed_by")
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("pk")))
        .order_by("-paid_at", "-pk")
    )


def order_detail() -> QuerySet[Order]:
    return order_list().prefetch_related(
        Prefetch("events", queryset=OrderEvent.objects.select_related("actor").order_by("created_at", "pk"))
    )


def order_reservations(order: Order) -> QuerySet[Reservation]:
    return (
        Reservation.objects.filter(reference=order.reservation_reference)
        .select_related("stock__sku", "stock__warehouse")
        .order_by("pk")
    )


def intake_backlog() -> dict:
    """What operations watch on intake: deliveries waiting or failed, the oldest wait, held orders.

    Index-backed (inbox status, order status): cheap enough for every Prometheus scrape.
    """
    waiting = InboxDelivery.objects.filter(status__in=[InboxDelivery.Status.PENDING, InboxDelivery.Status.FAILED])
    counts = dict(waiting.order_by().values_list("status").annotate(n=Count("pk")))
    oldest = waiting.filter(status=InboxDelivery.Status.PENDING).aggregate(oldest=Min("received_at"))["oldest"]
    held = dict(
        Order.objects.filter(status=OrderStatus.ON_HOLD).order_by().values_list("hold_reason").annotate(n=Count("pk"))
    )
    return {
        "pending": counts.get(InboxDelivery.Status.PENDING, 0),
        "failed": counts.get(InboxDelivery.Status.FAILED, 0),
        "oldest_pending_seconds": (timezone.now() - oldest).total_seconds() if oldest else 0.0,
        "on_hold": held,
        "needs_attention": Order.objects.exclude(needs_attention="").count(),
    }


def wave_list(*, user=None) -> QuerySet[PickWave]:
    """Pick waves, newest first, with their orders in pick order; limited to the user's warehouses."""
    waves = (
        PickWave.objects.select_related("warehouse", "picker")
        .prefetch_related(Prefetch("entries", queryset=PickWaveOrder.objects.order_by("position")))
        .order_by("-created_at", "-pk")
    )
    assigned = staff_warehouse_ids(user)
    return waves.filter(warehouse__in=assigned) if assigned else waves


def backordered_units(*, sku_ids: Collection[int], warehouse_ids: Collection[int]) -> dict[tuple[int, int], int]:
    """Units on backordered lines waiting for stock, per (sku id, warehouse id): the order's warehouse.

    Registered in ``INVENTORY_BACKORDERED_SOURCES``, so the stock grid shows them without
    inventory importing fulfilment. One query, served by the partial index on backordered lines.
    """
    rows = (
        OrderLine.objects.filter(
            sku_id__in=sku_ids,
            quantity_backordered__gt=0,
            order__status=OrderStatus.BACKORDERED,
            order__warehouse_id__in=warehouse_ids,
        )
        .order_by()
        .values_list("sku_id", "order__warehouse_id")
        .annotate(units=Sum("quantity_backordered"))
    )
    return {(sku_id, warehouse_id): units for sku_id, warehouse_id, units in rows}
