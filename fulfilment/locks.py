"""Row locks for fulfilment, in the one order every service takes them.

    delivery (InboxDelivery) -> pick wave (PickWave) -> order (Order) -> its lines (OrderLine, by pk)
        -> stock (StockLevel)

A transaction that needs several takes them in this order, so two transactions never wait
for each other in a cycle (no deadlocks). Stock rows are the last and shortest lock: they
are taken by ``inventory.services.reservation_create``'s conditional UPDATEs, in ascending
stock-row id order, as the last statements before COMMIT. Nothing in fulfilment locks a
stock row any other way.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Q, QuerySet

from config.exceptions import NotFound
from fulfilment.models import InboxDelivery, Order, OrderLine, OrderStatus, PickWave


def delivery_lock(delivery_id: int, *, status: str | None = None, due: Q | None = None) -> InboxDelivery | None:
    """Lock one delivery (waiting for a duplicate that briefly holds it); None if absent, not in
    ``status`` or not matching ``due``."""
    rows = InboxDelivery.objects.select_for_update().filter(pk=delivery_id)
    if status is not None:
        rows = rows.filter(status=status)
    if due is not None:
        rows = rows.filter(due)
    return rows.first()


def delivery_lock_by_event(channel: str, event_id: str) -> InboxDelivery:
    """Lock the delivery stored for this storefront event id (it exists: its INSERT just collided)."""
    return InboxDelivery.objects.select_for_update().get(channel=channel, event_id=event_id)


def delivery_claim_next(pending: QuerySet[InboxDelivery]) -> Callable[[], InboxDelivery | None]:
    """A claim for drains: the next delivery of ``pending`` that no other drain holds (SKIP LOCKED)."""
    return pending.select_for_update(skip_locked=True).first


def order_lock(order_id: int) -> Order:
    """Lock an order by id; 404 if there is none."""
    order = Order.objects.select_for_update().filter(pk=order_id).first()
    if order is None:
        raise NotFound("No such order.", order=order_id)
    return order


def order_lock_by_key(key: dict[str, str]) -> Order | None:
    """Lock the order with this (channel, shop, external id), if it exists."""
    return Order.objects.select_for_update().filter(**key).first()


def lines_lock(order: Order) -> list[OrderLine]:
    """Lock an order's lines (after the order itself), in primary-key order."""
    return list(OrderLine.objects.select_for_update().filter(order=order).order_by("pk"))


def wave_lock(wave_id: int) -> PickWave:
    """Lock a pick wave by id; 404 if there is none."""
    wave = PickWave.objects.select_for_update().filter(pk=wave_id).first()
    if wave is None:
        raise NotFound("No such pick wave.", wave=wave_id)
    return wave


def orders_claim_for_picking(pickable: QuerySet[Order], limit: int) -> list[Order]:
    """Lock up to ``limit`` reserved orders of ``pickable`` (already in pick order) that no other
    wave is claiming right now (SKIP LOCKED): two waves created at once never share an order."""
    rows = pickable.filter(status=OrderStatus.RESERVED).select_for_update(skip_locked=True, of=("self",))
    return list(rows[:limit])


def wave_orders_lock(wave: PickWave) -> list[Order]:
    """Lock the orders still in a wave (after the wave itself), in primary-key order."""
    return list(
        Order.objects.select_for_update(of=("self",))
        .filter(wave_entries__wave=wave, wave_entries__active=True)
        .order_by("pk")
    )
