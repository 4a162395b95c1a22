"""Read queries for orders."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from fulfilment.models import Order, OrderEvent, OrderLine
from inventory.models import Reservation


def order_list() -> QuerySet[Order]:
    return Order.objects.select_related("warehouse").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("pk"))
    )


def order_detail() -> QuerySet[Order]:
    return order_list().prefetch_related(
        Prefetch("events", queryset=OrderEvent.objects.select_related("actor").order_by("created_at", "pk"))
    )


def order_reservations(order: Order) -> QuerySet[Reservation]:
    return Reservation.objects.filter(reference=order.reservation_reference).select_related(
        "stock__sku", "stock__warehouse"
    )
