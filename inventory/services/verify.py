"""Stock verification: every level recomputed from the ledger and the active reservations."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Case, F, IntegerField, Sum, Value, When

from inventory.models import (
    ON_HAND_KINDS,
    RESERVED_KINDS,
    Reservation,
    Sku,
    StockLevel,
    StockMovement,
    Warehouse,
)


@dataclass(frozen=True)
class StockMismatch:
    sku: str
    warehouse: str
    field: str
    level: int
    expected: int
    source: str

    def __str__(self) -> str:
        return f"{self.sku}@{self.warehouse}: {self.field} is {self.level} but the {self.source} says {self.expected}"


def _signed_sum(kinds: Iterable[str]) -> Sum:
    return Sum(Case(When(kind__in=list(kinds), then=F("quantity")), default=Value(0), output_field=IntegerField()))


def stock_verify() -> list[StockMismatch]:
    """Recompute every level from the ledger (and reserved from active reservations); list what disagrees."""
    ledger = {
        (row["sku_id"], row["warehouse_id"]): row
        for row in StockMovement.objects.order_by()
        .values("sku_id", "warehouse_id")
        .annotate(on_hand=_signed_sum(ON_HAND_KINDS), reserved=_signed_sum(RESERVED_KINDS))
    }
    held = {
        row["stock_id"]: row["units"]
        for row in Reservation.objects.filter(status=Reservation.Status.ACTIVE)
        .order_by()
        .values("stock_id")
        .annotate(units=Sum("quantity"))
    }
    mismatches: list[StockMismatch] = []
    seen: set[tuple[int, int]] = set()
    levels = (
        StockLevel.objects.select_related("sku", "warehouse")
        .only("id", "on_hand", "reserved", "sku__code", "warehouse__code", "sku_id", "warehouse_id")
        .order_by("pk")
    )
    for level in levels.iterator(chunk_size=2000):
        key = (level.sku_id, level.warehouse_id)
        seen.add(key)
        row = ledger.get(key, {"on_hand": 0, "reserved": 0})
        sku, wh = level.sku.code, level.warehouse.code
        if level.on_hand != row["on_hand"]:
            mismatches.append(StockMismatch(sku, wh, "on_hand", level.on_hand, row["on_hand"], "ledger"))
        if level.reserved != row["reserved"]:
            mismatches.append(StockMismatch(sku, wh, "reserved", level.reserved, row["reserved"], "ledger"))
        if level.reserved != held.get(level.pk, 0):
            mismatches.append(
                StockMismatch(sku, wh, "reserved", level.reserved, held.get(level.pk, 0), "active reservations")
            )
    orphans = set(ledger) - seen
    if orphans:
        skus = dict(Sku.objects.filter(pk__in={s for s, _ in orphans}).values_list("pk", "code"))
        warehouses = dict(Warehouse.objects.filter(pk__in={w for _, w in orphans}).values_list("pk", "code"))
        for sku_id, warehouse_id in sorted(orphans):
            row = ledger[(sku_id, warehouse_id)]
            mismatches.append(
                StockMismatch(skus[sku_id], warehouses[warehouse_id], "on_hand", 0, row["on_hand"], "ledger (no level)")
            )
    return mismatches
