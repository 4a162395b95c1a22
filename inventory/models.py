"""Catalogue (product, size, SKU), warehouses, bins, stock levels, reservations and the ledger."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

# The largest number a stock level's integer columns hold on PostgreSQL (2^31 - 1). Services refuse
# a change that would pass it (409 stock_limit) before the database would (a 500 "integer out of range").
STOCK_LEVEL_MAX = 2**31 - 1
# The longest free-text note a ledger row keeps (an adjustment's explanation).
NOTE_MAX_LENGTH = 500


def validate_timezone(value: str) -> None:
    """An IANA time zone name (pick lists and cut-offs are in the warehouse's local time)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. Europe/Amsterdam).") from exc


class SizeSystem(models.TextChoices):
    EU = "EU", "EU"
    UK = "UK", "UK"
    US_M = "US-M", "US men"
    US_W = "US-W", "US women"


class Product(models.Model):
    code = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        constraints = [models.CheckConstraint(condition=~Q(code=""), name="product_code_not_empty")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Size(models.Model):
    """A size in one system; equivalents link e.g. EU 42 to UK 8 and US-M 9."""

    system = models.CharField(max_length=8, choices=SizeSystem.choices)
    label = models.CharField(max_length=16)
    sort_order = models.IntegerField(help_text="Natural order within the system (EU 35 before EU 36).")
    equivalents = models.ManyToManyField("self", blank=True, symmetrical=True)

    class Meta:
        ordering = ["system", "sort_order"]
        constraints = [
            models.UniqueConstraint(fields=["system", "label"], name="size_unique_system_label"),
            models.CheckConstraint(condition=~Q(label=""), name="size_label_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.system} {self.label}"


class Sku(models.Model):
    """A product in one size: the unit stock is counted in.

    Like the other models keyed to a product or warehouse it has no default ordering:
    one by a related field joins on every query. Lists order in ``inventory.selectors``.
    """

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="skus")
    size = models.ForeignKey(Size, on_delete=models.PROTECT, related_name="skus")
    code = models.CharField(max_length=64, unique=True)
    barcode = models.CharField(max_length=32, null=True, blank=True, unique=True, help_text="GTIN/EAN/UPC")
    hs_code = models.CharField(max_length=16, blank=True, help_text="Harmonized System code for customs.")
    weight_g = models.PositiveIntegerField(help_text="Shipping weight of one unit, in grams.")
    lead_time_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Days from ordering this SKU from the supplier to receiving it; empty: STOCK_LEAD_TIME_DAYS.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product", "size"], name="sku_unique_product_size"),
            models.CheckConstraint(condition=~Q(code=""), name="sku_code_not_empty"),
            models.CheckConstraint(condition=Q(weight_g__gt=0), name="sku_weight_positive"),
        ]

    def __str__(self) -> str:
        return self.code


class Warehouse(models.Model):
    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=200)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2.")
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postcode = models.CharField(max_length=20, blank=True)
    timezone = models.CharField(
        max_length=64, default="UTC", validators=[validate_timezone], help_text="IANA zone, e.g. Australia/Sydney."
    )
    express_cutoff = models.TimeField(help_text="Local time after which express orders ship the next working day.")
    is_active = models.BooleanField(default=True)
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="warehouses",
        help_text="Warehouse staff limited to this warehouse; a user assigned to none works in all.",
    )

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=~Q(code=""), name="warehouse_code_not_empty"),
            models.CheckConstraint(condition=Q(country__regex=r"^[A-Z]{2}$"), name="warehouse_country_iso2"),
        ]

    def __str__(self) -> str:
        return self.code


class WarehouseZone(models.Model):
    """A destination a warehouse serves: a country code, a region key (``R:OC``) or ``*``; lower priority wins."""

    warehouse = models.ForeignKey(Warehouse, on_delete=models.CASCADE, related_name="zones")
    zone = models.CharField(max_length=8)
    priority = models.PositiveSmallIntegerField(default=10)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["warehouse", "zone"], name="zone_unique_per_warehouse")]

    def __str__(self) -> str:
        return f"{self.warehouse.code} {self.zone} ({self.priority})"


class Bin(models.Model):
    warehouse = models.ForeignKey(Warehouse, on_delete=models.CASCADE, related_name="bins")
    code = models.CharField(max_length=32)
    walk_sequence = models.PositiveIntegerField(help_text="Position on the picker's walk; pick lists sort by it.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["warehouse", "code"], name="bin_unique_per_warehouse")]

    def __str__(self) -> str:
        return f"{self.warehouse.code}/{self.code}"


class StockLevel(models.Model):
    """Units of one SKU in one warehouse. Only inventory.services writes these numbers."""

    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="stock_levels")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="stock_levels")
    bin = models.ForeignKey(Bin, on_delete=models.SET_NULL, null=True, blank=True, related_name="stock_levels")
    on_hand = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    reorder_point = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sku", "warehouse"], name="stock_unique_sku_warehouse"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stock_reserved_non_negative"),
            models.CheckConstraint(condition=Q(reserved__lte=F("on_hand")), name="stock_reserved_within_on_hand"),
            models.CheckConstraint(condition=Q(reorder_point__gte=0), name="stock_reorder_point_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.sku.code}@{self.warehouse.code}: {self.on_hand} on hand, {self.reserved} reserved"

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class Reservation(models.Model):
    """Units held for one reference (an order) until released or shipped."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        RELEASED = "released"
        COMMITTED = "committed"

    stock = models.ForeignKey(StockLevel, on_delete=models.PROTECT, related_name="reservations")
    # Looked up by (reference, status): the composite index below serves reference alone too.
    reference = models.CharField(max_length=100)
    quantity = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="reservation_quantity_positive"),
            models.CheckConstraint(
                condition=Q(status="active", closed_at__isnull=True) | ~Q(status="active") & Q(closed_at__isnull=False),
                name="reservation_closed_iff_not_active",
            ),
        ]
        indexes = [models.Index(fields=["reference", "status"], name="reservation_ref_status")]

    def __str__(self) -> str:
        return f"{self.reference}: {self.quantity} x {self.stock_id} ({self.status})"


class MovementKind(models.TextChoices):
    RECEIPT = "receipt"
    RESERVATION = "reservation"
    RELEASE = "release"
    SHIPMENT = "shipment"
    ADJUSTMENT = "adjustment"
    COUNT = "count"
    RETURN = "return"


# Which of a level's two numbers each kind of movement changes (by its signed quantity).
ON_HAND_KINDS = (
    MovementKind.RECEIPT,
    MovementKind.SHIPMENT,
    MovementKind.ADJUSTMENT,
    MovementKind.COUNT,
    MovementKind.RETURN,
)
RESERVED_KINDS = (MovementKind.RESERVATION, MovementKind.RELEASE, MovementKind.SHIPMENT)


class AdjustmentReason(models.TextChoices):
    """Why on-hand was corrected; stored in ``StockMovement.reason`` of an adjustment, free text in ``note``."""

    DAMAGED = "damaged"
    LOST = "lost"
    FOUND = "found"
    RETURNED = "returned"
    SHORT_PICK = "short_pick", "Short pick"
    OTHER = "other"


# ``other`` says nothing by itself: it needs a note.
NOTE_REQUIRED_REASONS = (AdjustmentReason.OTHER,)


class StockMovement(models.Model):
    """Append-only ledger: one row per change of stock. On PostgreSQL a trigger refuses UPDATE and DELETE."""

    kind = models.CharField(max_length=12, choices=MovementKind.choices)
    quantity = models.IntegerField(help_text="Signed change: positive adds, negative removes.")
    # Every ledger row is written on the reservation hot path, so each index costs there: the
    # (sku, warehouse, created_at) index serves lookups by SKU, and nobody searches by actor.
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="movements", db_index=False)
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="movements")
    reference = models.CharField(max_length=100, blank=True, db_index=True)
    # An adjustment's reason code (AdjustmentReason); rows booked before the codes keep their free text.
    reason = models.CharField(max_length=255, blank=True)
    # db_default: inventory_reserve (migration 0003) inserts ledger rows without naming this column.
    note = models.CharField(max_length=NOTE_MAX_LENGTH, blank=True, default="", db_default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="stock_movements",
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Append-only, so the id orders rows by time: newest-first lists walk the primary key
        # and the ledger needs no separate time index.
        ordering = ["-pk"]
        indexes = [models.Index(fields=["sku", "warehouse", "created_at"], name="movement_sku_wh_time")]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind__in=["receipt", "reservation", "return"], quantity__gt=0)
                    | Q(kind__in=["release", "shipment"], quantity__lt=0)
                    | Q(kind="adjustment") & ~Q(quantity=0) & ~Q(reason="")
                    | Q(kind="count")
                ),
                name="movement_sign_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.quantity:+d} {self.sku_id}@{self.warehouse_id}"


class StockReceipt(models.Model):
    """A delivery booked into one warehouse in one go: all its lines or none.

    The supplier's reference is unique per warehouse, so the same delivery posted twice books
    once; ``fingerprint`` (SHA-256 of the lines) tells a repeat of it from a different delivery
    that reuses the reference. Like the ledger, a receipt is never edited: a mistake is corrected
    by an adjustment or a count.
    """

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="receipts")
    reference = models.CharField(max_length=100, help_text="The supplier's reference (purchase order, ASN).")
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the lines (sku, quantity, bin), sorted.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="stock_receipts"
    )
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["warehouse", "reference"], name="receipt_unique_reference_per_warehouse"),
            models.CheckConstraint(condition=~Q(reference=""), name="receipt_reference_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} into {self.warehouse_id}"


class StockReceiptLine(models.Model):
    """One SKU of a receipt, as booked (the bin by code, so the record stays as it was if bins change)."""

    receipt = models.ForeignKey(StockReceipt, on_delete=models.CASCADE, related_name="lines")
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="receipt_lines")
    quantity = models.PositiveIntegerField()
    bin = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["receipt", "sku"], name="receipt_line_unique_sku"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="receipt_line_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku_id}"


class AlertKind(models.TextChoices):
    LOW_STOCK = "low_stock", "Low stock"  # available at or below the reorder point (a point of 0 is none set)
    STOCKOUT_RISK = "stockout_risk", "Stock-out risk"  # projected stock-out before a reorder placed now arrives


class StockAlert(models.Model):
    """A condition on one SKU x warehouse, open from when it starts until the stock recovers.

    At most one alert of a kind is open per SKU x warehouse (a partial unique index); recovery
    closes it, and the condition starting again opens a new row, so the table is the history.
    Only ``inventory.alerts`` writes these rows. The numbers are those seen when it opened.
    """

    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="alerts")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="alerts")
    kind = models.CharField(max_length=16, choices=AlertKind.choices)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    on_hand = models.IntegerField(help_text="On hand when the alert opened.")
    reserved = models.IntegerField(help_text="Reserved when the alert opened.")
    available = models.IntegerField(help_text="Available when the alert opened.")
    reorder_point = models.IntegerField(help_text="The level's reorder point when the alert opened.")
    daily_demand = models.FloatField(help_text="Weighted units per day when the alert opened (inventory.forecast).")
    days_of_cover = models.FloatField(null=True, blank=True, help_text="Null: no demand.")
    lead_time_days = models.PositiveSmallIntegerField(help_text="The supplier lead time the check used.")
    closed_available = models.IntegerField(null=True, blank=True, help_text="Available when the alert closed.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["sku", "warehouse", "kind"],
                condition=Q(closed_at__isnull=True),
                name="alert_one_open_per_sku_warehouse_kind",
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(closed_at__gte=F("opened_at")),
                name="alert_closed_after_opened",
            ),
        ]
        indexes = [models.Index(fields=["-opened_at"], name="alert_opened_at")]

    def __str__(self) -> str:
        state = "open" if self.closed_at is None else "closed"
        return f"{self.kind} {self.sku_id}@{self.warehouse_id} ({state})"

    @property
    def status(self) -> str:
        return "open" if self.closed_at is None else "closed"
