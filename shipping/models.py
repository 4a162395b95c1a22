"""Shipments, their parcels and tracking events, label prints, courier rules and manifests."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from fulfilment.models import Order, ServiceLevel
from inventory.models import Warehouse
from inventory.zones import parse_zone
from shipping.couriers import COURIER_CODES
from shipping.couriers.base import EVENT_STATUSES

COURIER_CHOICES = [(code, code) for code in COURIER_CODES]


class ShipmentStatus(models.TextChoices):
    BOOKING = "booking"  # written, the courier has not answered yet
    LABEL_CREATED = "label_created"
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    DELIVERED = "delivered"
    ATTEMPT_FAILED = "attempt_failed"
    EXCEPTION = "exception"
    RETURNING_TO_SENDER = "returning_to_sender"
    CANCELLED = "cancelled"


class Shipment(models.Model):
    """One booking with one courier for one order: one or more parcels under one tracking number.

    At most one shipment of an order is live (not cancelled): a UNIQUE constraint says so. Our
    reference for the courier is the shipment's id; ``tracking_number`` is empty until booked.
    """

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="shipments")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="shipments")
    courier = models.CharField(max_length=16, choices=COURIER_CHOICES)
    service = models.CharField(max_length=10, choices=ServiceLevel.choices)
    product_code = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=24, choices=ShipmentStatus.choices, default=ShipmentStatus.BOOKING)
    status_detail = models.CharField(max_length=500, blank=True, help_text="The courier's message on an exception.")
    tracking_number = models.CharField(max_length=64, blank=True)
    courier_shipment_id = models.CharField(max_length=64, blank=True, help_text="What the courier's void call needs.")
    routing_code = models.CharField(max_length=64, blank=True)
    origin_code = models.CharField(max_length=16, blank=True)
    destination_code = models.CharField(max_length=16, blank=True)
    courier_label = models.BinaryField(null=True, blank=True, editable=False)
    courier_label_format = models.CharField(max_length=8, blank=True)
    booking_attempts = models.PositiveIntegerField(default=0)
    booked_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_with_courier = models.BooleanField(default=False)
    manifest = models.ForeignKey("Manifest", on_delete=models.SET_NULL, null=True, blank=True, related_name="shipments")
    last_event_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["order"], condition=~Q(status="cancelled"), name="shipment_one_live_per_order"
            ),
            models.UniqueConstraint(
                fields=["courier", "tracking_number"],
                condition=~Q(tracking_number=""),
                name="shipment_tracking_unique_per_courier",
            ),
            # Booked means a tracking number; a tracking number means booked.
            models.CheckConstraint(
                condition=Q(booked_at__isnull=True, tracking_number="")
                | Q(booked_at__isnull=False) & ~Q(tracking_number=""),
                name="shipment_booked_has_tracking",
            ),
            models.CheckConstraint(
                condition=~Q(status="booking") | Q(booked_at__isnull=True), name="shipment_booking_not_booked"
            ),
            models.CheckConstraint(
                condition=Q(status="cancelled") | Q(voided_at__isnull=True), name="shipment_voided_is_cancelled"
            ),
            models.CheckConstraint(condition=Q(status__in=ShipmentStatus.values), name="shipment_status_valid"),
            models.CheckConstraint(condition=Q(courier__in=COURIER_CODES), name="shipment_courier_known"),
        ]
        indexes = [
            models.Index(fields=["status", "courier"], name="shipment_status_courier"),
            models.Index(fields=["tracking_number"], name="shipment_tracking"),
        ]

    def __str__(self) -> str:
        return f"{self.courier} {self.tracking_number or '(booking)'} for order {self.order_id}"

    @property
    def reference(self) -> str:
        """Our reference for the courier: it finds the booking again after an ambiguous failure."""
        return f"SHP-{self.pk}"

    @property
    def is_booked(self) -> bool:
        return self.booked_at is not None


class Parcel(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="parcels")
    sequence = models.PositiveSmallIntegerField()
    weight_g = models.PositiveIntegerField()
    length_cm = models.PositiveSmallIntegerField(null=True, blank=True)
    width_cm = models.PositiveSmallIntegerField(null=True, blank=True)
    height_cm = models.PositiveSmallIntegerField(null=True, blank=True)
    tracking_number = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["sequence"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "sequence"], name="parcel_sequence_unique"),
            models.CheckConstraint(condition=Q(weight_g__gt=0), name="parcel_weight_positive"),
            models.CheckConstraint(condition=Q(sequence__gte=1), name="parcel_sequence_positive"),
            models.CheckConstraint(
                condition=Q(length_cm__isnull=True, width_cm__isnull=True, height_cm__isnull=True)
                | Q(length_cm__gt=0, width_cm__gt=0, height_cm__gt=0),
                name="parcel_dimensions_all_or_none",
            ),
        ]

    def __str__(self) -> str:
        return f"parcel {self.sequence} of shipment {self.shipment_id}"

    @property
    def dimensions_cm(self) -> tuple[int, int, int] | None:
        if self.length_cm is None:
            return None
        return (self.length_cm, self.width_cm, self.height_cm)


class TrackingEvent(models.Model):
    """One courier scan, with the courier's own code and text; deduped on (courier, number, code, time)."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="events")
    courier = models.CharField(max_length=16, choices=COURIER_CHOICES)
    tracking_number = models.CharField(max_length=64)
    code = models.CharField(max_length=64)
    description = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=24, choices=[(s, s) for s in EVENT_STATUSES])
    reason = models.CharField(max_length=255, blank=True)
    location = models.CharField(max_length=255, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["courier", "tracking_number", "code", "occurred_at"], name="tracking_event_once"
            ),
        ]
        indexes = [
            # The per-status counts on /metrics read this index only.
            models.Index(fields=["courier", "status"], name="tracking_event_status"),
        ]

    def __str__(self) -> str:
        return f"{self.tracking_number} {self.code} at {self.occurred_at:%Y-%m-%d %H:%M}"


class UnmatchedTrackingPush(models.Model):
    """A pushed event for a tracking number we do not know (another shipper's, or one of ours voided
    and forgotten): kept for operations, answered 200 so the courier does not retry it forever."""

    courier = models.CharField(max_length=16, choices=COURIER_CHOICES)
    tracking_number = models.CharField(max_length=64)
    code = models.CharField(max_length=64)
    status = models.CharField(max_length=24, choices=[(s, s) for s in EVENT_STATUSES])
    description = models.CharField(max_length=500, blank=True)
    location = models.CharField(max_length=255, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["courier", "tracking_number", "code", "occurred_at"], name="unmatched_push_once"
            ),
        ]

    def __str__(self) -> str:
        return f"unmatched {self.courier} {self.tracking_number} {self.code}"


class LabelPrint(models.Model):
    """Every time a shipment's label is printed; all but the first are reprints, marked on the label."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="prints")
    format = models.CharField(max_length=4, choices=[("pdf", "pdf"), ("zpl", "zpl")])
    reprint = models.BooleanField(default=False)
    batch = models.CharField(max_length=40, blank=True, help_text="The batch request that printed it, if any.")
    printed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    printed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["shipment", "printed_at"], name="label_print_shipment")]

    def __str__(self) -> str:
        return f"{'reprint' if self.reprint else 'print'} of shipment {self.shipment_id}"


def _validate_destination(value: str) -> None:
    if value.upper() == DOMESTIC:
        return
    try:
        parse_zone(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


DOMESTIC = "DOMESTIC"


class CourierRule(models.Model):
    """Courier choice: the first active rule (lowest ``priority``) that matches the shipment wins.

    Blank criteria match anything. ``destination`` is a country code, a region key (``R:OC``),
    ``*`` or ``DOMESTIC`` (same country as the warehouse). Without a match the warehouse's
    ``CourierDefault`` applies.
    """

    priority = models.PositiveSmallIntegerField(default=100)
    warehouse = models.ForeignKey(Warehouse, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    destination = models.CharField(max_length=8, blank=True, validators=[_validate_destination])
    service_level = models.CharField(max_length=10, choices=ServiceLevel.choices, blank=True)
    min_weight_g = models.PositiveIntegerField(null=True, blank=True)
    max_weight_g = models.PositiveIntegerField(null=True, blank=True, help_text="Up to and including.")
    courier = models.CharField(max_length=16, choices=COURIER_CHOICES)
    product_code = models.CharField(max_length=40, blank=True, help_text="The courier's product; blank: its default.")
    active = models.BooleanField(default=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["priority", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_weight_g__isnull=True)
                | Q(max_weight_g__isnull=True)
                | Q(min_weight_g__lte=models.F("max_weight_g")),
                name="courier_rule_weight_band",
            ),
            models.CheckConstraint(condition=Q(courier__in=COURIER_CODES), name="courier_rule_courier_known"),
        ]

    def __str__(self) -> str:
        parts = [self.warehouse.code if self.warehouse_id else "any warehouse", self.destination or "anywhere"]
        if self.service_level:
            parts.append(self.service_level)
        return f"{' / '.join(parts)} -> {self.courier}"

    def clean(self):
        self.destination = self.destination.strip().upper()


class CourierDefault(models.Model):
    """The courier a warehouse ships with when no rule matches."""

    warehouse = models.OneToOneField(Warehouse, on_delete=models.CASCADE, related_name="courier_default")
    courier = models.CharField(max_length=16, choices=COURIER_CHOICES)
    product_code = models.CharField(max_length=40, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(courier__in=COURIER_CODES), name="courier_default_known")]

    def __str__(self) -> str:
        return f"{self.warehouse.code} -> {self.courier}"


class ShipperDetails(models.Model):
    """How a warehouse appears as the shipper on bookings: contact, phone, email, state or province."""

    warehouse = models.OneToOneField(Warehouse, on_delete=models.CASCADE, related_name="shipper_details")
    contact_name = models.CharField(max_length=60, blank=True)
    phone = models.CharField(max_length=30, blank=True)
    email = models.EmailField(blank=True)
    state = models.CharField(max_length=10, blank=True, help_text="State or province code (AU, US, CA need one).")

    class Meta:
        verbose_name_plural = "shipper details"

    def __str__(self) -> str:
        return f"shipper details of {self.warehouse.code}"


class Manifest(models.Model):
    """An end-of-day close with one courier for one warehouse."""

    courier = models.CharField(max_length=16, choices=COURIER_CHOICES)
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(max_length=100, blank=True, help_text="The courier's manifest or order id.")
    document = models.BinaryField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.courier} manifest {self.reference or self.pk} ({self.warehouse.code})"


class PushbackOutcome(models.TextChoices):
    CREATED = "created"  # we created the storefront's fulfillment
    ADOPTED = "adopted"  # an earlier, ambiguous try had created it: found by our tracking number
    CLOSED = "closed"  # fulfilled by hand in the storefront before us: nothing created
    COMPLETED = "completed"  # WooCommerce: the tracking note written and the order completed


class StorefrontFulfillment(models.Model):
    """What a shipment became in its storefront: at most one per shipment, so the storefront sees one
    fulfillment however often the push is sent (Shopify's fulfillment id; empty when nothing was created)."""

    shipment = models.OneToOneField(Shipment, on_delete=models.CASCADE, related_name="storefront_fulfillment")
    channel = models.CharField(max_length=16)
    external_fulfillment_id = models.CharField(max_length=100, blank=True)
    outcome = models.CharField(max_length=12, choices=PushbackOutcome.choices, default=PushbackOutcome.CREATED)
    detail = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The shipment was cancelled after it was pushed, and the storefront was told: Shopify's
    # fulfillment cancelled, or the WooCommerce order back to processing.
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(outcome__in=["created", "adopted"]) | ~Q(external_fulfillment_id=""),
                name="storefront_fulfillment_has_id",
            ),
            models.CheckConstraint(condition=Q(outcome__in=PushbackOutcome.values), name="storefront_outcome_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.outcome} {self.external_fulfillment_id or '-'} for shipment {self.shipment_id}"
