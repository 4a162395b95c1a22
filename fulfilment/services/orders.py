"""The order state machine, its transitions, the timeline and the attention flag; cancellation."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from fulfilment import locks
from fulfilment.errors import IllegalTransition
from fulfilment.models import Order, OrderLine, OrderStatus, PickWaveOrder
from fulfilment.models import OrderEvent as TimelineEvent
from inventory import services as inventory

S = OrderStatus
TRANSITIONS: dict[str, frozenset[str]] = {
    S.RECEIVED: frozenset({S.RESERVED, S.BACKORDERED, S.ON_HOLD, S.CANCELLED}),
    S.ON_HOLD: frozenset({S.RESERVED, S.BACKORDERED, S.ON_HOLD, S.CANCELLED}),
    S.BACKORDERED: frozenset({S.RESERVED, S.BACKORDERED, S.ON_HOLD, S.CANCELLED}),
    S.RESERVED: frozenset({S.PICKING, S.RESERVED, S.BACKORDERED, S.ON_HOLD, S.CANCELLED}),
    S.PICKING: frozenset({S.PACKED, S.RESERVED, S.BACKORDERED, S.CANCELLED}),
    S.PACKED: frozenset({S.SHIPPED, S.CANCELLED}),
    # Back to packed only when its shipment is voided before pickup (shipping.services.shipment_cancel).
    S.SHIPPED: frozenset({S.PACKED, S.DELIVERED, S.EXCEPTION, S.RETURNED}),
    S.EXCEPTION: frozenset({S.SHIPPED, S.DELIVERED, S.RETURNED}),
    S.DELIVERED: frozenset({S.RETURNED}),
    S.RETURNED: frozenset(),
    S.CANCELLED: frozenset(),
}
# Statuses in which the goods have left (or are leaving) the building.
AFTER_SHIPPING = frozenset({S.SHIPPED, S.DELIVERED, S.EXCEPTION, S.RETURNED})
# Before packing an address change is applied; from packing on it is only recorded and flagged.
ADDRESS_EDITABLE = frozenset({S.RECEIVED, S.ON_HOLD, S.BACKORDERED, S.RESERVED, S.PICKING})
# Before picking starts a change of items is applied (and the order allocated again).
LINES_EDITABLE = frozenset({S.RECEIVED, S.BACKORDERED, S.RESERVED})


def timeline_entry(order: Order, kind: str, message: str, *, actor=None, **data) -> TimelineEvent:
    """A timeline entry, not saved yet (a new order inserts its entries in one statement)."""
    return TimelineEvent(
        order=order,
        kind=kind,
        message=message[:500],
        data=data,
        actor=actor if actor and actor.is_authenticated else None,
    )


def timeline_add(order: Order, kind: str, message: str, *, actor=None, **data) -> None:
    """Record one entry on the order's timeline now."""
    timeline_entry(order, kind, message, actor=actor, **data).save(force_insert=True)


def status_set(order: Order, status: str, *, hold_reason: str = "", hold_detail: str = "") -> None:
    """Move an order along its state machine (in memory; the caller saves)."""
    if status not in TRANSITIONS[order.status]:
        raise IllegalTransition(
            f"An order that is {order.status} cannot become {status}.",
            order=order.pk,
            current=order.status,
            target=status,
        )
    order.status = status
    order.hold_reason = hold_reason if status == S.ON_HOLD else ""
    order.hold_detail = hold_detail[:500] if status == S.ON_HOLD else ""


def order_flag(order: Order, message: str) -> None:
    """Ask operations to look at the order; earlier reasons are kept (joined with "; ")."""
    if message in order.needs_attention:
        return
    limit = Order._meta.get_field("needs_attention").max_length
    order.needs_attention = "; ".join(filter(None, [order.needs_attention, message]))[:limit]
    order.save(update_fields=["needs_attention", "updated_at"])


@transaction.atomic
def order_attention_set(*, order_id: int, note: str, actor=None) -> Order:
    """Operations set or clear the attention note (clearing it says the issue is dealt with)."""
    order = locks.order_lock(order_id)
    limit = Order._meta.get_field("needs_attention").max_length
    previous, order.needs_attention = order.needs_attention, note.strip()[:limit]
    order.save(update_fields=["needs_attention", "updated_at"])
    message = f"Attention note set: {order.needs_attention}" if order.needs_attention else "Attention note cleared"
    timeline_add(order, "attention", message, actor=actor, previous=previous)
    return order


@transaction.atomic
def order_transition(*, order: Order, status: str, actor=None, message: str = "") -> Order:
    """Move an order to ``status`` if the state machine allows it (pick, pack and delivery stages use this)."""
    order = locks.order_lock(order.pk)
    previous = order.status
    status_set(order, status)
    order.save(update_fields=["status", "hold_reason", "hold_detail", "updated_at"])
    timeline_add(order, "status", message or f"{previous} -> {status}", actor=actor, previous=previous, status=status)
    return order


@transaction.atomic
def order_ship(*, order: Order, actor=None) -> Order:
    """Mark a packed order shipped: its reserved units leave on-hand (ledger: shipment)."""
    order = order_transition(order=order, status=S.SHIPPED, actor=actor)
    inventory.reservation_commit(reference=order.reservation_reference, actor=actor)
    return order


@transaction.atomic
def order_unship(*, order: Order, actor=None, note: str = "") -> Order:
    """A shipped order whose shipment was voided before pickup is packed again: its units are back on
    hand and held for it (ledger: ``shipment`` rows reversed)."""
    if order.status != S.SHIPPED:
        raise IllegalTransition(
            f"An order that is {order.status} cannot go back to packed.",
            order=order.pk,
            current=order.status,
            target=S.PACKED,
        )
    status_set(order, S.PACKED)
    order.save(update_fields=["status", "hold_reason", "hold_detail", "updated_at"])
    restored = inventory.reservation_uncommit(reference=order.reservation_reference, actor=actor)
    timeline_add(order, "unshipped", note or f"Shipment voided; {restored} units back on hand", actor=actor)
    return order


def order_cancel_locked(order: Order, *, actor=None, source: str) -> bool:
    """Cancel a locked order; after shipping refuse and flag for a return. Returns whether it cancelled."""
    if order.status == S.CANCELLED:
        return True
    if order.status in AFTER_SHIPPING:
        message = f"Cancellation requested by {source} after shipping: arrange a return"
        order_flag(order, message)
        timeline_add(order, "cancel_refused", message, actor=actor, source=source)
        return False
    status_set(order, S.CANCELLED)
    order.save(update_fields=["status", "hold_reason", "hold_detail", "updated_at"])
    OrderLine.objects.filter(order=order).update(quantity_reserved=0, quantity_backordered=0)
    # Out of its pick wave, if it is in one: its tote is emptied back onto the shelves.
    PickWaveOrder.objects.filter(order=order, active=True).update(active=False, left_at=timezone.now())
    released = inventory.reservation_release(reference=order.reservation_reference, actor=actor)
    message = f"Cancelled by {source}; released {released} units"
    timeline_add(order, "cancelled", message, actor=actor, released=released)
    return True


def order_cancel(*, order_id: int, actor=None, source: str = "staff") -> Order:
    """Cancel an order and release its stock; after shipping it is refused (409) and flagged for a return."""
    with transaction.atomic():
        order = locks.order_lock(order_id)
        cancelled = order_cancel_locked(order, actor=actor, source=source)
    if not cancelled:
        # Raised after commit so the flag and the timeline entry are kept.
        raise IllegalTransition(
            "The order has shipped and cannot be cancelled; it is flagged for a return.",
            order=order.pk,
            current=order.status,
            target=S.CANCELLED,
        )
    return order
