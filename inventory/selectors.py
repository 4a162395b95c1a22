"""Read queries for inventory; list endpoints and commands use these so the joins live in one place."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.utils.module_loading import import_string

from inventory.models import (
    Bin,
    Product,
    Size,
    Sku,
    StockLevel,
    StockMovement,
    StockReceipt,
    StockReceiptLine,
    Warehouse,
    WarehouseZone,
)


def _sizes_with_equivalents() -> QuerySet[Size]:
    return Size.objects.prefetch_related("equivalents")


# Every list ends its order on a unique key, so rows with equal sort keys never swap between pages.
SKU_ORDER = ("product__code", "size__sort_order", "code")
STOCK_ORDER = ("warehouse__code", "sku__product__code", "sku__size__sort_order", "sku__code")


def product_list() -> QuerySet[Product]:
    """Products by code, each with its SKUs in natural size order."""
    skus = Sku.objects.select_related("size").order_by("size__sort_order", "code")
    return Product.objects.prefetch_related(Prefetch("skus", queryset=skus)).order_by("code")


def sku_list() -> QuerySet[Sku]:
    """SKUs by product code, then natural size order."""
    return (
        Sku.objects.select_related("product", "size")
        .prefetch_related(Prefetch("size__equivalents", queryset=Size.objects.order_by("system", "sort_order", "pk")))
        .order_by(*SKU_ORDER)
    )


def warehouse_list() -> QuerySet[Warehouse]:
    """Warehouses by code, each with its zones best priority first (unique per warehouse: priority, zone)."""
    return Warehouse.objects.prefetch_related(
        Prefetch("zones", queryset=WarehouseZone.objects.order_by("priority", "zone")),
    ).order_by("code")


def bin_list() -> QuerySet[Bin]:
    """Bins by warehouse, then the picker's walk."""
    return Bin.objects.select_related("warehouse").order_by("warehouse__code", "walk_sequence", "code")


def stock_list() -> QuerySet[StockLevel]:
    """Levels by warehouse, product and natural size order (one level per SKU and warehouse)."""
    return StockLevel.objects.select_related("sku__product", "sku__size", "warehouse", "bin").order_by(*STOCK_ORDER)


def movement_list() -> QuerySet[StockMovement]:
    """The ledger, newest first (append-only, so the id orders by time)."""
    return StockMovement.objects.select_related("sku", "warehouse", "actor").order_by("-pk")


def backordered_units(*, sku_ids: Collection[int], warehouse_ids: Collection[int]) -> dict[tuple[int, int], int]:
    """Units waiting for stock per (sku id, warehouse id), from the sources in ``INVENTORY_BACKORDERED_SOURCES``.

    Inventory may not import the apps that depend on it (fulfilment holds the backordered
    lines), so they register a selector there, as the after-commit hooks are registered in
    ``INVENTORY_STOCK_AVAILABLE_HOOKS``. One query per source; no source, no backorders.
    """
    units: dict[tuple[int, int], int] = defaultdict(int)
    for path in getattr(settings, "INVENTORY_BACKORDERED_SOURCES", ()):
        for key, count in import_string(path)(sku_ids=sku_ids, warehouse_ids=warehouse_ids).items():
            units[key] += count
    return dict(units)


@dataclass(frozen=True)
class GridCell:
    sku: str
    size: str
    warehouse: str
    on_hand: int
    reserved: int
    available: int
    backordered: int
    # Units per day of demand are not forecast yet (issue 11, item 3): None until they are.
    days_of_cover: float | None = None


@dataclass(frozen=True)
class StockGrid:
    product: Product
    sizes: list[str]
    warehouses: list[str]
    cells: list[GridCell]


def stock_grid(*, product: Product) -> StockGrid:
    """One product's stock by size x warehouse: a cell for every SKU x active warehouse (zeros where no level).

    Sizes in natural order (``Size.sort_order``), warehouses by code; cells warehouse by warehouse,
    each in size order. Three queries whatever the size of the grid, plus one per backorder source.
    """
    skus = list(product.skus.select_related("size").order_by("size__sort_order", "size__system", "code"))
    warehouses = list(Warehouse.objects.filter(is_active=True).order_by("code"))
    levels = {
        (sku_id, warehouse_id): (on_hand, reserved)
        for sku_id, warehouse_id, on_hand, reserved in StockLevel.objects.filter(
            sku_id__in=[sku.pk for sku in skus], warehouse_id__in=[wh.pk for wh in warehouses]
        ).values_list("sku_id", "warehouse_id", "on_hand", "reserved")
    }
    waiting = backordered_units(sku_ids=[sku.pk for sku in skus], warehouse_ids=[wh.pk for wh in warehouses])
    cells = []
    for warehouse in warehouses:
        for sku in skus:
            on_hand, reserved = levels.get((sku.pk, warehouse.pk), (0, 0))
            cells.append(
                GridCell(
                    sku=sku.code,
                    size=sku.size.label,
                    warehouse=warehouse.code,
                    on_hand=on_hand,
                    reserved=reserved,
                    available=on_hand - reserved,
                    backordered=waiting.get((sku.pk, warehouse.pk), 0),
                )
            )
    return StockGrid(
        product=product,
        sizes=[sku.size.label for sku in skus],
        warehouses=[warehouse.code for warehouse in warehouses],
        cells=cells,
    )


def product_by_code(code: str) -> Product | None:
    return Product.objects.filter(code=code).first()


def receipt_list() -> QuerySet[StockReceipt]:
    """Receipts newest first, each with its lines in the order they were posted."""
    lines = StockReceiptLine.objects.select_related("sku").order_by("pk")
    return (
        StockReceipt.objects.select_related("warehouse", "actor")
        .prefetch_related(Prefetch("lines", queryset=lines))
        .order_by("-pk")
    )


def sku_by_code(code: str) -> Sku | None:
    return Sku.objects.filter(code=code).first()


def warehouse_by_code(code: str) -> Warehouse | None:
    return Warehouse.objects.filter(code=code).first()


def staff_warehouse_ids(user) -> set[int]:
    """The warehouses a staff user is limited to; empty for one who works in all (or no user)."""
    if user is None or not user.is_authenticated:
        return set()
    return set(user.warehouses.values_list("pk", flat=True))
