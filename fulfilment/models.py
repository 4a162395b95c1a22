"""Webhook inbox, orders, order lines and the order timeline."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from inventory.models import Sku, Warehouse


class Channel(models.TextChoices):
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"


class InboxDelivery(models.Model):
    """Every verified webhook delivery, stored before it is processed so none is ever lost."""

    class Status(models.TextChoices):
        PENDING = "pending"  # accepted and committed; a worker will process it
        PROCESSED = "processed"
        IGNORED = "ignored"  # verified, but a topic we do not act on (ping, orders/create ...)
        FAILED = "failed"  # processing raised; kept with its error for replay
        REJECTED = "rejected"  # signed but unreadable (400)

    channel = models.CharField(max_length=16, choices=Channel.choices)
    topic = models.CharField(max_length=64, blank=True)
    event_id = models.CharField(max_length=255)
    shop = models.CharField(max_length=255, blank=True)
    body = models.BinaryField()
    headers = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=1)
    failures = models.PositiveIntegerField(default=0, help_text="Processing attempts that raised.")
    retry_at = models.DateTimeField(
        null=True, blank=True, help_text="After a transient failure: not processed again before this moment."
    )
    order = models.ForeignKey("Order", on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries")
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name_plural = "inbox deliveries"
        constraints = [models.UniqueConstraint(fields=["channel", "event_id"], name="inbox_unique_channel_event")]
        indexes = [models.Index(fields=["status", "received_at"], name="inbox_status_time")]

    def __str__(self) -> str:
        return f"{self.channel} {self.topic} {self.event_id} ({self.status})"


class ChannelCursor(models.Model):
    """How far a reconciliation job has read a storefront's orders (e.g. WooCommerce's ``date_modified``)."""

    channel = models.CharField(max_length=16, choices=Channel.choices, unique=True)
    position = models.DateTimeField(help_text="Orders modified after this moment are still to be read.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.channel} read up to {self.position:%Y-%m-%d %H:%M:%S}"


class OrderStatus(models.TextChoices):
    RECEIVED = "received"
    RESERVED = "reserved"
    BACKORDERED = "backordered"
    ON_HOLD = "on_hold"
    PICKING = "picking"
    PACKED = "packed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNED = "returned"
    CANCELLED = "cancelled"


class HoldReason(models.TextChoices):
    UNKNOWN_SKU = "unknown_sku"
    MISSING_ADDRESS = "missing_address"
    UNSERVED_COUNTRY = "unserved_country"
    NOT_PAID = "not_paid"
    NOTHING_TO_SHIP = "nothing_to_ship"
    # A signed order whose values cannot be right (the storefront gives up on a 400, and it is paid).
    IMPLAUSIBLE_QUANTITY = "implausible_quantity"
    IMPLAUSIBLE_AMOUNT = "implausible_amount"
    TOO_MANY_LINES = "too_many_lines"
    TEXT_TOO_LONG = "text_too_long"  # a name or address line longer than a label can carry
    TOPIC_MISMATCH = "topic_mismatch"  # the unsigned topic header disagrees with the signed body
    PROCESSING_FAILED = "processing_failed"  # a permanent error while processing; delivery kept for replay
    MANUAL = "manual"


class ServiceLevel(models.TextChoices):
    EXPRESS = "express"
    STANDARD = "standard"


class Order(models.Model):
    channel = models.CharField(max_length=16, choices=Channel.choices)
    shop = models.CharField(max_length=255)
    external_id = models.CharField(max_length=64)
    number = models.CharField(max_length=64, blank=True)
    email = models.CharField(max_length=254, blank=True)
    customer_name = models.CharField(max_length=255, blank=True)
    shipping_address = models.JSONField(null=True, blank=True, help_text="Name, lines, city, postcode, country_code...")
    ship_country = models.CharField(max_length=2, blank=True, db_index=True)
    service_level = models.CharField(max_length=10, choices=ServiceLevel.choices, default=ServiceLevel.STANDARD)
    shipping_method = models.CharField(max_length=255, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    total_price = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    total_weight_g = models.PositiveIntegerField(default=0)
    financial_status = models.CharField(max_length=32, blank=True)
    is_paid = models.BooleanField(default=False)
    paid_at = models.DateTimeField(null=True, blank=True, db_index=True)
    external_updated_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=OrderStatus.choices, default=OrderStatus.RECEIVED, db_index=True)
    hold_reason = models.CharField(max_length=20, choices=HoldReason.choices, blank=True)
    hold_detail = models.CharField(max_length=500, blank=True)
    intake_issues = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            "What the storefront's version had that cannot be right (reason, field, detail): a value that "
            "did not fit was stored in its place, so only this shows the cause; the order stays held while it lasts."
        ),
    )
    needs_attention = models.CharField(
        max_length=255, blank=True, help_text="Why a person must look at this order (late address change, return)."
    )
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, null=True, blank=True, related_name="orders")
    # Set by packing (scan-verified): who packed the parcel, when, and what it weighs and measures.
    packed_at = models.DateTimeField(null=True, blank=True)
    packed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="packed_orders"
    )
    parcel_weight_g = models.PositiveIntegerField(null=True, blank=True)
    parcel_dimensions_cm = models.JSONField(null=True, blank=True, help_text="[length, width, height] in cm.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-paid_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "shop", "external_id"], name="order_unique_per_channel_shop"),
            models.CheckConstraint(
                condition=Q(status="on_hold", hold_reason__gt="") | ~Q(status="on_hold") & Q(hold_reason=""),
                name="order_hold_reason_iff_on_hold",
            ),
            models.CheckConstraint(
                condition=Q(packed_at__isnull=True, parcel_weight_g__isnull=True)
                | Q(packed_at__isnull=False, parcel_weight_g__gt=0),
                name="order_packed_with_parcel_weight",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "paid_at"], name="order_status_paid"),
            # Few orders need attention; operations list and count them (API filter, /metrics).
            models.Index(fields=["paid_at"], condition=~Q(needs_attention=""), name="order_needs_attention"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.number or self.external_id} ({self.status})"

    @property
    def reservation_reference(self) -> str:
        return f"order:{self.pk}"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    external_id = models.CharField(max_length=64, blank=True)
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, null=True, blank=True, related_name="order_lines")
    sku_code = models.CharField(max_length=64, blank=True, help_text="The SKU as the storefront sent it.")
    title = models.CharField(max_length=255, blank=True)
    quantity = models.PositiveIntegerField()
    quantity_reserved = models.PositiveIntegerField(default=0)
    quantity_backordered = models.PositiveIntegerField(default=0)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    requires_shipping = models.BooleanField(default=True)
    sku_edited = models.BooleanField(
        default=False, help_text="Operations pointed this line at another SKU; storefront updates keep that SKU."
    )

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(quantity_reserved__lte=F("quantity") - F("quantity_backordered")),
                name="line_reserved_plus_backordered_within_quantity",
            ),
        ]
        indexes = [
            models.Index(
                fields=["sku", "order"], condition=Q(quantity_backordered__gt=0), name="line_backordered_by_sku"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku_code}"


class OrderEvent(models.Model):
    """The order's timeline: what happened, when, and who or what did it."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32)
    message = models.CharField(max_length=500)
    data = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


class PickWave(models.Model):
    """Reserved orders of one warehouse claimed for one picker; ``PickWaveOrder`` keeps them in pick order."""

    class Status(models.TextChoices):
        OPEN = "open"
        CLOSED = "closed"
        CANCELLED = "cancelled"

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="pick_waves")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    picker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="pick_waves"
    )
    service_level = models.CharField(max_length=10, choices=ServiceLevel.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status="open", ended_at__isnull=True) | ~Q(status="open") & Q(ended_at__isnull=False),
                name="wave_ended_iff_not_open",
            )
        ]
        indexes = [models.Index(fields=["warehouse", "status"], name="wave_warehouse_status")]

    def __str__(self) -> str:
        return f"wave {self.pk} {self.warehouse_id} ({self.status})"


class PickWaveOrder(models.Model):
    """One order of a wave, at its place in the pick order. ``active`` while the order is in the open
    wave: the database refuses an order active in two waves."""

    wave = models.ForeignKey(PickWave, on_delete=models.CASCADE, related_name="entries")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="wave_entries")
    position = models.PositiveIntegerField()
    late = models.BooleanField(default=False, help_text="Express, and its cut-off had passed when the wave began.")
    active = models.BooleanField(default=True)
    left_at = models.DateTimeField(
        null=True, blank=True, help_text="When the order left the wave before it ended (a short pick backordered it)."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["wave", "order"], name="wave_order_once"),
            models.UniqueConstraint(fields=["wave", "position"], name="wave_position_once"),
            models.UniqueConstraint(fields=["order"], condition=Q(active=True), name="order_in_one_open_wave"),
            models.CheckConstraint(
                condition=Q(left_at__isnull=True) | Q(active=False), name="wave_order_left_inactive"
            ),
        ]

    def __str__(self) -> str:
        return f"wave {self.wave_id} #{self.position}: order {self.order_id}"
