"""End-of-day manifests: the day's booked shipments of one courier and warehouse, closed with the courier."""

from __future__ import annotations

from django.db import transaction

from inventory.models import Warehouse
from shipping import couriers
from shipping.couriers.base import Booking
from shipping.errors import UnknownCourier
from shipping.models import Manifest, Shipment, ShipmentStatus


def manifest_create(*, courier: str, warehouse_code: str) -> Manifest | None:
    """Close the booked, not yet manifested shipments of a courier and warehouse; None when there are none.

    Couriers with an end-of-day call (Australia Post's order) get it; the others get a manifest of
    our own, listing the tracking numbers handed over.
    """
    if courier not in couriers.COURIER_CODES:
        raise UnknownCourier(courier=courier, allowed=list(couriers.COURIER_CODES))
    warehouse = Warehouse.objects.filter(code=warehouse_code.upper()).first()
    if warehouse is None:
        from inventory.errors import UnknownWarehouse

        raise UnknownWarehouse(warehouse=warehouse_code)
    shipments = list(
        Shipment.objects.filter(courier=courier, warehouse=warehouse, manifest__isnull=True, booked_at__isnull=False)
        .exclude(status=ShipmentStatus.CANCELLED)
        .order_by("pk")
    )
    if not shipments:
        return None
    bookings = [
        Booking(
            courier=courier,
            reference=s.reference,
            tracking_number=s.tracking_number,
            parcels=(),
            courier_id=s.courier_shipment_id,
        )
        for s in shipments
    ]
    closed = couriers.get_courier(courier).manifest(bookings)
    with transaction.atomic():
        manifest = Manifest.objects.create(
            courier=courier, warehouse=warehouse, reference=closed.reference, document=closed.document
        )
        Shipment.objects.filter(pk__in=[s.pk for s in shipments], manifest__isnull=True).update(manifest=manifest)
        if not manifest.reference:
            manifest.reference = f"MAN-{manifest.pk}"
            manifest.save(update_fields=["reference"])
    return manifest
