"""Pick waves: claim reserved orders of one warehouse for one picker, express first, then oldest paid.

Claiming locks the orders with ``FOR UPDATE SKIP LOCKED`` (``fulfilment.locks``), so two staff
creating waves at the same moment never get the same order; the database's partial unique
index ``order_in_one_open_wave`` refuses it as well. Orders in a wave are ``picking``;
cancelling or closing the wave returns those not packed yet to ``reserved``.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Case, CharField, Exists, F, IntegerField, OuterRef, Value, When
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from fulfilment import locks
from fulfilment.errors import NothingToPick, WarehouseForbidden, WaveNotOpen
from fulfilment.models import Order, OrderStatus, PickWave, PickWaveOrder, ServiceLevel
from fulfilment.models import OrderEvent as TimelineEvent
from fulfilment.services.orders import status_set, timeline_entry
from inventory.errors import UnknownWarehouse
from inventory.models import Reservation, Warehouse
from inventory.selectors import staff_warehouse_ids

S = OrderStatus
DEFAULT_WAVE_SIZE = 50
MAX_WAVE_SIZE = 500


def express_due(*, paid_at: datetime, cutoff: time, zone: str) -> datetime:
    """When an express order paid at ``paid_at`` must leave: that day's cut-off (warehouse local
    time) if paid before it, else the next day's. Pure."""
    tz = ZoneInfo(zone)
    local = paid_at.astimezone(tz)
    due = datetime.combine(local.date(), cutoff, tzinfo=tz)
    return due if local <= due else datetime.combine(local.date() + timedelta(days=1), cutoff, tzinfo=tz)


def is_late(order: Order, warehouse: Warehouse, now: datetime) -> bool:
    """An express order whose cut-off has passed (it is still picked first, and marked late)."""
    if order.service_level != ServiceLevel.EXPRESS or order.paid_at is None:
        return False
    return now > express_due(paid_at=order.paid_at, cutoff=warehouse.express_cutoff, zone=warehouse.timezone)


def warehouse_check_access(*, user, warehouse: Warehouse) -> None:
    """Staff assigned to some warehouses work only there; staff assigned to none work in all."""
    assigned = staff_warehouse_ids(user)
    if assigned and warehouse.pk not in assigned:
        raise WarehouseForbidden(warehouse=warehouse.code)


def wave_create(
    *, warehouse_code: str, actor, max_orders: int | None = None, service_level: str | None = None
) -> PickWave:
    """Claim up to ``max_orders`` reserved orders of a warehouse, express first then oldest paid, into a
    new open wave for ``actor``; 409 ``nothing_to_pick`` when none is waiting."""
    warehouse = Warehouse.objects.filter(code=warehouse_code.upper()).first()
    if warehouse is None:
        raise UnknownWarehouse(warehouse=warehouse_code)
    warehouse_check_access(user=actor, warehouse=warehouse)
    limit = min(max_orders or DEFAULT_WAVE_SIZE, MAX_WAVE_SIZE)
    # An order reserved in several warehouses (FULFILMENT_ALLOCATION=split) is not picked here:
    # a wave picks from one warehouse, and the order ships as one shipment. Allocation flags it.
    elsewhere = Reservation.objects.filter(
        reference=Concat(Value("order:"), Cast(OuterRef("pk"), CharField())), status=Reservation.Status.ACTIVE
    ).exclude(stock__warehouse=warehouse)
    pickable = Order.objects.filter(warehouse=warehouse).exclude(Exists(elsewhere))
    if service_level:
        pickable = pickable.filter(service_level=service_level)
    express_first = Case(
        When(service_level=ServiceLevel.EXPRESS, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    pickable = pickable.annotate(express_first=express_first).order_by(
        "express_first", F("paid_at").asc(nulls_last=True), "pk"
    )
    now = timezone.now()
    with transaction.atomic():
        orders = locks.orders_claim_for_picking(pickable, limit)
        if not orders:
            raise NothingToPick(warehouse=warehouse.code, service_level=service_level or None)
        wave = PickWave.objects.create(
            warehouse=warehouse,
            picker=actor if actor is not None and actor.is_authenticated else None,
            service_level=service_level or "",
        )
        entries, events = [], []
        for position, order in enumerate(orders, start=1):
            late = is_late(order, warehouse, now)
            status_set(order, S.PICKING)
            order.updated_at = now
            entries.append(PickWaveOrder(wave=wave, order=order, position=position, late=late))
            message = f"Picking in wave {wave.pk}" + (" (late: express cut-off passed)" if late else "")
            events.append(timeline_entry(order, "wave", message, actor=actor, wave=wave.pk, late=late))
        Order.objects.bulk_update(orders, ["status", "updated_at"])
        PickWaveOrder.objects.bulk_create(entries)
        TimelineEvent.objects.bulk_create(events)
    return wave


def _wave_end(*, wave_id: int, actor, status: str) -> PickWave:
    with transaction.atomic():
        wave = locks.wave_lock(wave_id)
        if wave.status != PickWave.Status.OPEN:
            raise WaveNotOpen(wave=wave.pk, current=wave.status)
        warehouse_check_access(user=actor, warehouse=wave.warehouse)
        returned = [order for order in locks.wave_orders_lock(wave) if order.status == S.PICKING]
        events = []
        ended = timezone.now()
        for order in returned:
            status_set(order, S.RESERVED)
            order.updated_at = ended
            message = f"Back to reserved: wave {wave.pk} {status}"
            events.append(timeline_entry(order, "wave", message, actor=actor, wave=wave.pk))
        Order.objects.bulk_update(returned, ["status", "updated_at"])
        TimelineEvent.objects.bulk_create(events)
        PickWaveOrder.objects.filter(wave=wave, active=True).update(active=False)
        wave.status, wave.ended_at = status, ended
        wave.save(update_fields=["status", "ended_at"])
    return wave


def wave_cancel(*, wave_id: int, actor) -> PickWave:
    """Cancel an open wave: its orders not packed yet go back to ``reserved`` for another wave."""
    return _wave_end(wave_id=wave_id, actor=actor, status=PickWave.Status.CANCELLED)


def wave_close(*, wave_id: int, actor) -> PickWave:
    """End an open wave once picked: orders packed stay packed; any still ``picking`` (not found,
    not packed) go back to ``reserved`` so the next wave picks them."""
    return _wave_end(wave_id=wave_id, actor=actor, status=PickWave.Status.CLOSED)
