"""Read queries of shipping."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Case, Q, QuerySet, Value, When
from django.utils import timezone

from fulfilment.models import ServiceLevel
from shipping.models import Shipment, ShipmentStatus

# Shipments the courier still moves: polled, and stale when they have not been scanned for a while.
ACTIVE = (
    ShipmentStatus.LABEL_CREATED,
    ShipmentStatus.PICKED_UP,
    ShipmentStatus.IN_TRANSIT,
    ShipmentStatus.OUT_FOR_DELIVERY,
    ShipmentStatus.AVAILABLE_FOR_PICKUP,
    ShipmentStatus.ATTEMPT_FAILED,
    ShipmentStatus.EXCEPTION,
    ShipmentStatus.RETURNING_TO_SENDER,
)


def stale_q(now: dt.datetime | None = None) -> Q:
    """Active, booked, and no scan within its service's window (``TRACKING_STALE_HOURS``)."""
    now = now or timezone.now()
    windows = settings.TRACKING_STALE_HOURS
    per_service = Q()
    for service in ServiceLevel.values:
        cutoff = now - dt.timedelta(hours=windows[service])
        last_seen_before = Q(last_event_at__lt=cutoff) | Q(last_event_at__isnull=True, booked_at__lt=cutoff)
        per_service |= Q(service=service) & last_seen_before
    return Q(status__in=ACTIVE, booked_at__isnull=False) & per_service


def with_stale(rows: QuerySet[Shipment]) -> QuerySet[Shipment]:
    return rows.annotate(is_stale=Case(When(stale_q(), then=Value(True)), default=Value(False)))


def shipment_list() -> QuerySet[Shipment]:
    return with_stale(
        Shipment.objects.select_related("order", "warehouse").prefetch_related("parcels", "events").order_by("-pk")
    )


def shipments_in_trouble(*, limit: int = 20) -> list[Shipment]:
    """For the operations dashboard: shipments in exception or stale, newest first."""
    rows = with_stale(Shipment.objects.select_related("order")).filter(Q(status=ShipmentStatus.EXCEPTION) | stale_q())
    return list(rows.order_by("-updated_at", "-pk")[:limit])
