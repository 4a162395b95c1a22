"""Helpers for the tracking tests: booked shipments made straight in the database, and events."""

from __future__ import annotations

import datetime as dt
import itertools

from django.utils import timezone

from fulfilment.models import Order, OrderStatus
from inventory.models import Warehouse
from shipping.couriers import base
from shipping.models import Parcel, Shipment, ShipmentStatus

_serial = itertools.count(1)
T0 = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)


def warehouse() -> Warehouse:
    found = Warehouse.objects.filter(code="AU").first()
    return found or Warehouse.objects.create(code="AU", name="Sydney", country="AU", express_cutoff=dt.time(14, 0))


def booked(
    *,
    courier: str = "fedex",
    number: str | None = None,
    service: str = "express",
    order_status: str = OrderStatus.SHIPPED,
    booked_at: dt.datetime | None = None,
    last_event_at: dt.datetime | None = None,
    status: str = ShipmentStatus.LABEL_CREATED,
) -> Shipment:
    """A shipped order with one booked shipment (label created), as ``booking_record`` leaves it."""
    n = next(_serial)
    wh = warehouse()
    order = Order.objects.create(
        channel="shopify",
        shop="insoles-test.myshopify.com",
        external_id=f"track-{n}",
        number=f"#T{n}",
        status=order_status,
        warehouse=wh,
        service_level=service,
    )
    when = booked_at or timezone.now()
    shipment = Shipment.objects.create(
        order=order,
        warehouse=wh,
        courier=courier,
        service=service,
        status=status,
        tracking_number=number or f"{courier[:3].upper()}{n:09d}",
        booked_at=when,
        last_event_at=last_event_at or when,
    )
    Parcel.objects.create(shipment=shipment, sequence=1, weight_g=420, tracking_number=f"{shipment.tracking_number}P1")
    return shipment


def event(number: str, status: str, minutes: int, *, code: str | None = None, reason: str = "") -> base.TrackingEvent:
    return base.TrackingEvent(
        tracking_number=number,
        code=code or status.upper()[:2],
        description=f"{status} scan",
        status=status,
        occurred_at=T0 + dt.timedelta(minutes=minutes),
        location="SYDNEY, NSW, AU",
        reason=reason,
    )


def forget_courier_state() -> None:
    """Tokens, rate-limit blocks and poll locks live in the shared Redis: one test's must not reach the next."""
    from config.redis import redis_client

    client = redis_client()
    if client is not None:
        for pattern in ("courier-token:*", "courier-rate:*", "shipping:tracking-poll:*"):
            for key in client.scan_iter(pattern):
                client.delete(key)


def sandbox_numbers(sandbox, courier: str, count: int, *, prefix: str = "") -> list[str]:
    """``count`` shipments at the sandbox: one booked through the courier's own API, the rest its copies under
    new numbers (booking thousands through the API is not what a tracking test measures)."""
    import copy

    from shipping import couriers
    from tests.shipping.conftest import booking_request

    adapter = couriers.get_courier(courier)
    template_number = adapter.book(booking_request(), f"SHP-TEMPLATE-{courier}").tracking_number
    template = sandbox.state.find(courier, template_number)
    numbers = [template_number]
    tag = prefix or courier[:2].upper()
    for i in range(1, count):
        number = f"{tag}{i:010d}"
        clone = copy.deepcopy(template)
        clone.tracking_number = number
        clone.courier_id = number if template.courier_id == template.tracking_number else f"{template.courier_id}-{i}"
        clone.pieces = [number if p == template.tracking_number else f"{p}-{i}" for p in template.pieces]
        clone.references = [f"SHP-{number}"]
        if "consignment_id" in clone.extra:
            clone.extra["consignment_id"] = f"C{number}"
        sandbox.state.add(clone)
        numbers.append(number)
    return numbers
