"""Shipping an order: the shipment and its booking message in one transaction, the booking after commit.

Exactly once, as the warehouse sees it (DESIGN.md "Couriers"):

- one live shipment per order (a partial UNIQUE constraint); shipping an order that already
  has one answers with it instead of booking again;
- the booking is an outbox message (kind ``shipment_book``); the outbox counts each attempt
  before it runs, so a retry knows an earlier attempt may have reached the courier (a timeout
  after sending, a worker killed mid-call) and first looks the booking up by our reference
  (``SHP-<id>``) with the courier's reference lookup, adopting what it finds;
- only when nothing is found does it book again. A booking that comes back for a shipment no
  longer waiting for one (cancelled meanwhile, or booked by another attempt) is an orphan: it is
  voided with the courier, or recorded void where the courier has no void call (DHL Express);
- so one tracking number is ever stored, printed and pushed.

A courier's permanent refusal (an address it cannot deliver to) puts the shipment in
``exception`` with the courier's message; operations fix the order and ship again, which books
the same shipment again. Retryable failures (timeouts, 5xx, 429) go back to the outbox, which
tries again with capped, jittered backoff, obeying Retry-After.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from fulfilment import locks as order_locks
from fulfilment.errors import IllegalTransition
from fulfilment.models import OrderStatus, ServiceLevel
from fulfilment.services import order_ship
from fulfilment.services.orders import timeline_add
from fulfilment.services.waves import warehouse_check_access
from outbox import services as outbox
from outbox.errors import DeliveryRetry
from outbox.events import SHIPMENT_BOOKED
from shipping import couriers
from shipping.couriers.base import Booking, CourierError, PermanentError, RetryableError
from shipping.errors import CourierNotConfigured, InvalidParcels, UnknownCourier
from shipping.models import Parcel, Shipment, ShipmentStatus
from shipping.services import build
from shipping.services.choice import courier_choose
from shipping.services.pushback import pushback_shipment_booked

logger = logging.getLogger("shipping")

BOOK = "shipment_book"
MAX_PARCELS = 20
MAX_PARCEL_WEIGHT_G = 70_000
MAX_DIMENSION_CM = 300


def _parcels(order, parcels: list[dict] | None) -> list[dict]:
    if parcels is None:
        if not order.parcel_weight_g:
            raise InvalidParcels("The order was packed without a parcel weight; name the parcels.", order=order.pk)
        dims = order.parcel_dimensions_cm
        return [{"weight_g": order.parcel_weight_g, "dimensions_cm": list(dims) if dims else None}]
    if not 1 <= len(parcels) <= MAX_PARCELS:
        raise InvalidParcels(f"Between 1 and {MAX_PARCELS} parcels.", count=len(parcels))
    for index, parcel in enumerate(parcels):
        weight = parcel.get("weight_g")
        if not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= MAX_PARCEL_WEIGHT_G:
            raise InvalidParcels(f"parcels[{index}].weight_g must be 1 to {MAX_PARCEL_WEIGHT_G} grams.", parcel=index)
        dims = parcel.get("dimensions_cm")
        if dims is not None and (
            not isinstance(dims, list | tuple)
            or len(dims) != 3
            or not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= MAX_DIMENSION_CM for d in dims)
        ):
            raise InvalidParcels(
                f"parcels[{index}].dimensions_cm must be [length, width, height], 1 to {MAX_DIMENSION_CM} cm.",
                parcel=index,
            )
    return parcels


def shipment_create(
    *,
    order_id: int,
    actor=None,
    courier: str | None = None,
    service: str | None = None,
    parcels: list[dict] | None = None,
) -> tuple[Shipment, bool]:
    """Ship a packed order: the shipment and its booking message are written together and the booking
    runs after commit. Returns (shipment, created).

    An order whose live shipment is still booking answers with that shipment (nothing new is
    booked); one whose booking was refused (``exception``) is booked again with what is sent now.
    """
    if courier is not None and courier not in couriers.COURIER_CODES:
        raise UnknownCourier(courier=courier, allowed=list(couriers.COURIER_CODES))
    if service is not None and service not in ServiceLevel.values:
        raise InvalidParcels(f"service must be one of: {', '.join(ServiceLevel.values)}.", service=service)
    with transaction.atomic():
        order = order_locks.order_lock(order_id)
        if actor is not None and order.warehouse_id:
            warehouse_check_access(user=actor, warehouse=order.warehouse)
        live = Shipment.objects.select_for_update().filter(order=order).exclude(status=ShipmentStatus.CANCELLED).first()
        if live is not None and live.status != ShipmentStatus.EXCEPTION:
            return live, False  # booking, or booked: the same shipment, never a second booking
        if order.status != OrderStatus.PACKED:
            raise IllegalTransition(
                f"Only a packed order can be shipped; this one is {order.status}.",
                order=order.pk,
                current=order.status,
                target=OrderStatus.SHIPPED,
            )
        boxes = _parcels(order, parcels)
        level = service or order.service_level
        weight = sum(p["weight_g"] for p in boxes)
        country = ((order.shipping_address or {}).get("country_code") or order.ship_country or "").upper()
        if courier is None:
            courier, product_code = courier_choose(
                warehouse=order.warehouse, country=country, service=level, weight_g=weight
            )
        else:
            product_code = ""
        if not couriers.courier_config(courier).configured:
            raise CourierNotConfigured(courier=courier)
        if live is None:
            shipment = Shipment.objects.create(
                order=order,
                warehouse=order.warehouse,
                courier=courier,
                service=level,
                product_code=product_code,
                created_by=actor if getattr(actor, "pk", None) else None,
            )
        else:  # a refused booking, fixed by operations: the same shipment, booked again
            shipment = live
            shipment.courier, shipment.service, shipment.product_code = courier, level, product_code
            shipment.status, shipment.status_detail = ShipmentStatus.BOOKING, ""
            shipment.save(update_fields=["courier", "service", "product_code", "status", "status_detail", "updated_at"])
            shipment.parcels.all().delete()
        Parcel.objects.bulk_create(
            [
                Parcel(
                    shipment=shipment,
                    sequence=index,
                    weight_g=box["weight_g"],
                    length_cm=(box.get("dimensions_cm") or [None] * 3)[0],
                    width_cm=(box.get("dimensions_cm") or [None] * 3)[1],
                    height_cm=(box.get("dimensions_cm") or [None] * 3)[2],
                )
                for index, box in enumerate(boxes, start=1)
            ]
        )
        round_ = shipment.booking_attempts  # read under the row lock (0 for a new shipment)
        outbox.message_enqueue(
            kind=BOOK,
            key=f"shipment:{shipment.pk}:book:{round_}:{courier}",
            payload={"shipment": shipment.pk},
            group=f"shipment:{shipment.pk}",
        )
        timeline_add(order, "shipping", f"Shipping with {courier} ({level})", actor=actor, shipment=shipment.pk)
    return shipment, True


def shipment_book_message(message) -> None:
    """Outbox handler for ``shipment_book``."""
    shipment_book(shipment_id=message.payload["shipment"], attempt=message.attempts)


def shipment_book(*, shipment_id: int, attempt: int = 1) -> Shipment | None:
    """Book a shipment with its courier, once (see the module docstring); None if it no longer waits."""
    shipment = build.shipments_for_documents().filter(pk=shipment_id).first()
    if shipment is None:
        return None
    if shipment.status == ShipmentStatus.CANCELLED and not shipment.is_booked and shipment.booking_attempts:
        _void_unseen_booking(shipment)
        return shipment
    if shipment.status != ShipmentStatus.BOOKING:
        return shipment
    adapter = couriers.get_courier(shipment.courier)
    booking: Booking | None = None
    try:
        if attempt > 1 or shipment.booking_attempts > 0:
            # An earlier attempt may have reached the courier: find it before booking again.
            booking = adapter.find_by_reference(shipment.reference)
            if booking is not None:
                logger.info("shipment %s: adopted booking %s found by reference", shipment.pk, booking.tracking_number)
        if booking is None:
            Shipment.objects.filter(pk=shipment.pk).update(booking_attempts=F("booking_attempts") + 1)
            booking = adapter.book(build.booking_request(shipment), shipment.reference)
    except RetryableError as exc:
        _note_failure(shipment, exc)
        raise DeliveryRetry(str(exc), retry_after=exc.retry_after) from exc
    except PermanentError as exc:
        return _refused(shipment, exc)
    return booking_record(shipment_id=shipment.pk, booking=booking)


def _void_unseen_booking(shipment: Shipment) -> None:
    """A shipment cancelled while a try may have reached the courier: a booking made by that try is
    an orphan; find it by our reference and void it."""
    try:
        booking = couriers.get_courier(shipment.courier).find_by_reference(shipment.reference)
    except RetryableError as exc:
        raise DeliveryRetry(str(exc), retry_after=exc.retry_after) from exc
    except PermanentError as exc:
        logger.error("shipment %s: cannot look for an orphan booking: %s", shipment.pk, exc)
        return
    if booking is not None:
        orphan_void(courier=shipment.courier, booking=booking, shipment_id=shipment.pk)


def _note_failure(shipment: Shipment, exc: CourierError) -> None:
    Shipment.objects.filter(pk=shipment.pk, status=ShipmentStatus.BOOKING).update(
        status_detail=f"Retrying: {exc}"[:500], updated_at=timezone.now()
    )


def _refused(shipment: Shipment, exc: PermanentError) -> Shipment:
    """The courier refused the booking for good: the shipment shows why; operations fix and ship again."""
    detail = f"{exc.message} ({exc.code})" if exc.code else exc.message
    with transaction.atomic():
        order = order_locks.order_lock(shipment.order_id)
        updated = Shipment.objects.filter(pk=shipment.pk, status=ShipmentStatus.BOOKING).update(
            status=ShipmentStatus.EXCEPTION, status_detail=detail[:500], updated_at=timezone.now()
        )
        if updated:
            timeline_add(order, "shipping_refused", f"{shipment.courier} refused the booking: {detail}"[:500])
    shipment.refresh_from_db()
    return shipment


def booking_record(*, shipment_id: int, booking: Booking) -> Shipment:
    """Store a booking: tracking numbers, the courier's label; the stock leaves (order shipped).

    A booking for a shipment that no longer waits for one is an orphan and is voided.
    """
    with transaction.atomic():
        shipment = Shipment.objects.select_related("order").get(pk=shipment_id)
        order = order_locks.order_lock(shipment.order_id)
        shipment = Shipment.objects.select_for_update().get(pk=shipment_id)
        if shipment.status != ShipmentStatus.BOOKING or order.status != OrderStatus.PACKED:
            orphan = shipment.tracking_number != booking.tracking_number
        else:
            orphan = False
            now = timezone.now()
            shipment.tracking_number = booking.tracking_number
            shipment.courier_shipment_id = booking.courier_id or booking.tracking_number
            shipment.product_code = booking.product_code or shipment.product_code
            shipment.routing_code, shipment.origin_code = booking.routing_code[:64], booking.origin[:16]
            shipment.destination_code = booking.destination[:16]
            shipment.courier_label, shipment.courier_label_format = booking.label_document, booking.label_format
            shipment.status, shipment.status_detail = ShipmentStatus.LABEL_CREATED, ""
            shipment.booked_at = shipment.last_event_at = now
            shipment.save()
            parcels = list(shipment.parcels.order_by("sequence"))
            for parcel, number in zip(parcels, booking.parcels, strict=False):
                parcel.tracking_number = number
            Parcel.objects.bulk_update(parcels, ["tracking_number"])
            order_ship(order=order)
            timeline_add(
                order,
                "shipment_booked",
                f"Booked with {shipment.courier}: {booking.tracking_number}",
                shipment=shipment.pk,
                tracking_number=booking.tracking_number,
            )
            outbox.event_publish(
                event_type=SHIPMENT_BOOKED,
                data=shipment_event_data(shipment, order),
                key=f"shipment:{shipment.pk}:booked:{booking.tracking_number}",
            )
            pushback_shipment_booked(shipment=shipment)
    if orphan:
        orphan_void(courier=shipment.courier, booking=booking, shipment_id=shipment.pk)
    return shipment


def orphan_void(*, courier: str, booking: Booking, shipment_id: int) -> bool:
    """Void a booking nothing of ours uses; False where the courier has no void (recorded only)."""
    adapter = couriers.get_courier(courier)
    if not adapter.capabilities.void:
        logger.warning(
            "shipment %s: orphan %s booking %s recorded void (the courier bills scanned parcels only)",
            shipment_id,
            courier,
            booking.tracking_number,
        )
        return False
    try:
        voided = adapter.void(booking)
    except CourierError as exc:
        # Left for operations: logged with the number, so it can be voided by hand.
        logger.error("shipment %s: could not void orphan booking %s: %s", shipment_id, booking.tracking_number, exc)
        return False
    logger.warning("shipment %s: voided orphan %s booking %s", shipment_id, courier, booking.tracking_number)
    return voided


def shipment_event_data(shipment: Shipment, order) -> dict:
    return {
        "shipment": shipment.pk,
        "order": order.pk,
        "order_number": order.number,
        "external_id": order.external_id,
        "channel": order.channel,
        "courier": shipment.courier,
        "service": shipment.service,
        "status": shipment.status,
        "tracking_number": shipment.tracking_number,
        "tracking_url": (
            couriers.get_courier(shipment.courier).tracking_url(shipment.tracking_number)
            if shipment.tracking_number
            else ""
        ),
    }
