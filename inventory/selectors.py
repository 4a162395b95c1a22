"""Read queries for inventory; list endpoints and commands use these so the joins live in one place."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from inventory.models import Bin, Product, Size, Sku, StockLevel, StockMovement, Warehouse, WarehouseZone


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


def sku_by_code(code: str) -> Sku | None:
    return Sku.objects.filter(code=code).first()


def warehouse_by_code(code: str) -> Warehouse | None:
    return Warehouse.objects.filter(code=code).first()


def staff_warehouse_ids(user) -> set[int]:
    """The warehouses a staff user is limited to; empty for one who works in all (or no user)."""
    if user is None or not user.is_authenticated:
        return set()
    return set(user.warehouses.values_list("pk", flat=True))
