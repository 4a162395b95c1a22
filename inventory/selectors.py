"""Read queries for inventory; list endpoints and commands use these so the joins live in one place."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from inventory.models import Bin, Product, Size, Sku, StockLevel, StockMovement, Warehouse, WarehouseZone


def _sizes_with_equivalents() -> QuerySet[Size]:
    return Size.objects.prefetch_related("equivalents")


def product_list() -> QuerySet[Product]:
    skus = Sku.objects.select_related("size").order_by("size__sort_order")
    return Product.objects.prefetch_related(Prefetch("skus", queryset=skus))


def sku_list() -> QuerySet[Sku]:
    return Sku.objects.select_related("product", "size").prefetch_related(
        Prefetch("size__equivalents", queryset=Size.objects.order_by("system", "sort_order"))
    )


def warehouse_list() -> QuerySet[Warehouse]:
    return Warehouse.objects.prefetch_related(
        Prefetch("zones", queryset=WarehouseZone.objects.order_by("priority", "zone")),
    )


def bin_list() -> QuerySet[Bin]:
    return Bin.objects.select_related("warehouse")


def stock_list() -> QuerySet[StockLevel]:
    return StockLevel.objects.select_related("sku__product", "sku__size", "warehouse", "bin").order_by(
        "warehouse__code", "sku__product__code", "sku__size__sort_order"
    )


def movement_list() -> QuerySet[StockMovement]:
    return StockMovement.objects.select_related("sku", "warehouse", "actor")


def sku_by_code(code: str) -> Sku | None:
    return Sku.objects.filter(code=code).first()


def warehouse_by_code(code: str) -> Warehouse | None:
    return Warehouse.objects.filter(code=code).first()
