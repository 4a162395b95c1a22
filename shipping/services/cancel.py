"""Cancelling a shipment: void it with the courier, the order packed again, the stock commit reversed."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from fulfilment import locks as order_locks
from fulfilment.models import OrderStatus
from fulfilment.services import order_unship
from fulfilment.services.orders import timeline_add
from shipping import couriers
from shipping.couriers.base import Booking, PermanentError, RetryableError
from shipping.errors import NotCancellable, ShipmentNotFound
from shipping.models import Shipment, ShipmentStatus
from shipping.services.pushback import pushback_shipment_cancelled

# Once the courier has the parcel, voiding the label does not bring it back.
CANCELLABLE = frozenset({ShipmentStatus.BOOKING, ShipmentStatus.LABEL_CREATED, ShipmentStatus.EXCEPTION})


def _booking_of(shipment: Shipment) -> Booking:
    return Booking(
        courier=shipment.courier,
        reference=shipment.reference,
        tracking_number=shipment.tracking_number,
        parcels=tuple(shipment.parcels.order_by("sequence").values_list("tracking_number", flat=True)),
        product_code=shipment.product_code,
        courier_id=shipment.courier_shipment_id,
    )


def shipment_cancel(*, shipment_id: int, actor=None) -> Shipment:
    """Void a shipment that the courier has not picked up: with the courier where it has a void call
    (DHL Express has none: recorded void here, it bills scanned parcels only); the order is packed
    again and its stock commit reversed. 409 ``shipment_not_cancellable`` once picked up; a courier
    that refuses the void (already manifested) is a 409 with its message."""
    shipment = Shipment.objects.filter(pk=shipment_id).first()
    if shipment is None:
        raise ShipmentNotFound(shipment=shipment_id)
    if shipment.status == ShipmentStatus.CANCELLED:
        return shipment
    if shipment.status not in CANCELLABLE:
        raise NotCancellable(
            f"A shipment that is {shipment.status} can no longer be cancelled.",
            shipment=shipment.pk,
            status_now=shipment.status,
        )
    voided_with_courier = False
    if shipment.is_booked:
        adapter = couriers.get_courier(shipment.courier)
        if adapter.capabilities.void:
            try:
                voided_with_courier = adapter.void(_booking_of(shipment))
            except PermanentError as exc:
                raise NotCancellable(
                    f"{shipment.courier} refused the void: {exc.message}",
                    shipment=shipment.pk,
                    courier_code=exc.code,
                ) from exc
            except RetryableError as exc:
                raise NotCancellable(
                    f"{shipment.courier} could not be reached to void it ({exc.code}); try again.",
                    shipment=shipment.pk,
                    courier_code=exc.code,
                ) from exc
    with transaction.atomic():
        order = order_locks.order_lock(shipment.order_id)
        shipment = Shipment.objects.select_for_update().get(pk=shipment_id)
        if shipment.status == ShipmentStatus.CANCELLED:
            return shipment
        was_booked = shipment.is_booked
        shipment.status = ShipmentStatus.CANCELLED
        shipment.voided_at = timezone.now()
        shipment.voided_with_courier = voided_with_courier
        shipment.save(update_fields=["status", "voided_at", "voided_with_courier", "updated_at"])
        how = "voided with the courier" if voided_with_courier else "recorded void (no courier void call)"
        if was_booked and order.status == OrderStatus.SHIPPED:
            order_unship(order=order, actor=actor, note=f"Shipment {shipment.tracking_number} {how}; packed again")
        if was_booked:
            pushback_shipment_cancelled(shipment=shipment)
        else:
            timeline_add(order, "shipment_cancelled", f"Shipment {shipment.pk} cancelled before booking", actor=actor)
    return shipment
