"""Catalogue and bin imports: all rows or none."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction

from inventory.bins import BinRow
from inventory.catalogue import CatalogueRow
from inventory.errors import CatalogueImportError
from inventory.models import (
    STOCK_LEVEL_MAX,
    Bin,
    Product,
    Size,
    Sku,
    StockLevel,
    Warehouse,
)
from inventory.services.levels import Actor, _stock_changed
from inventory.services.stock import stock_count


@dataclass
class CatalogueImportResult:
    rows: int = 0
    products_created: int = 0
    skus_created: int = 0
    skus_updated: int = 0
    levels_created: int = 0
    stock_counted: int = 0

    def __str__(self) -> str:
        return (
            f"{self.rows} rows: {self.products_created} products and {self.skus_created} SKUs created, "
            f"{self.skus_updated} SKUs updated, {self.levels_created} stock levels created, "
            f"{self.stock_counted} stock levels set"
        )


def size_sort_order(label: str) -> int:
    """Natural order of a size label: numeric labels by value (EU 35 < EU 35.5 < EU 36), others last."""
    try:
        return round(float(label.replace(",", ".")) * 10)
    except ValueError:
        return 100_000


@transaction.atomic
def catalogue_import(
    *, rows: list[CatalogueRow], actor: Actor = None, reference: str = "catalogue-import", only_new_stock: bool = False
) -> CatalogueImportResult:
    """Create or update products, SKUs, bins and stock from parsed rows; all or nothing.

    Stock is set like a physical count (ledger kind ``count``), so re-importing the
    same file changes nothing. With ``only_new_stock`` levels that already exist
    keep their numbers (the demo seed uses this so it never resets live stock).
    """
    result = CatalogueImportResult(rows=len(rows))
    errors: list[tuple[int, str]] = []
    repointed: list[int] = []
    warehouses = {w.code: w for w in Warehouse.objects.filter(code__in={r.warehouse for r in rows})}
    existing_skus = {
        s.code: s for s in Sku.objects.select_related("product", "size").filter(code__in={r.sku for r in rows})
    }
    barcode_owner = dict(
        Sku.objects.filter(barcode__in={r.barcode for r in rows if r.barcode}).values_list("barcode", "code")
    )
    for row in rows:
        if row.warehouse not in warehouses:
            errors.append((row.line, f"unknown warehouse {row.warehouse!r}"))
        sku = existing_skus.get(row.sku)
        if sku is not None and (sku.product.code, sku.size.system, sku.size.label) != (
            row.product_code,
            row.size_system,
            row.size,
        ):
            errors.append(
                (row.line, f"sku {row.sku} already exists as {sku.product.code}/{sku.size.system}/{sku.size.label}")
            )
        owner = barcode_owner.get(row.barcode) if row.barcode else None
        if owner is not None and owner != row.sku:
            errors.append((row.line, f"barcode {row.barcode} already belongs to sku {owner}"))
    if errors:
        raise CatalogueImportError(errors)

    products: dict[str, Product] = {}
    sizes: dict[tuple[str, str], Size] = {}
    for row in rows:
        product = products.get(row.product_code)
        if product is None:
            product, created = Product.objects.update_or_create(
                code=row.product_code, defaults={"name": row.product_name}
            )
            products[row.product_code] = product
            result.products_created += created
        size = sizes.get((row.size_system, row.size))
        if size is None:
            size, _ = Size.objects.get_or_create(
                system=row.size_system, label=row.size, defaults={"sort_order": size_sort_order(row.size)}
            )
            sizes[(row.size_system, row.size)] = size
        fields = {
            "product": product,
            "size": size,
            "barcode": row.barcode,
            "hs_code": row.hs_code,
            "weight_g": row.weight_g,
        }
        sku = existing_skus.get(row.sku)
        if sku is None:
            sku = Sku.objects.create(code=row.sku, **fields)
            existing_skus[row.sku] = sku
            result.skus_created += 1
        elif any(getattr(sku, name) != value for name, value in fields.items()):
            for name, value in fields.items():
                setattr(sku, name, value)
            sku.save(update_fields=list(fields))
            result.skus_updated += 1

        warehouse = warehouses[row.warehouse]
        level, created = StockLevel.objects.get_or_create(sku=sku, warehouse=warehouse)
        result.levels_created += created
        changes: dict = {}
        if row.bin:
            bin, _ = Bin.objects.get_or_create(
                warehouse=warehouse,
                code=row.bin,
                defaults={"walk_sequence": (Bin.objects.filter(warehouse=warehouse).count() + 1) * 10},
            )
            if level.bin_id != bin.pk:
                changes["bin"] = bin
        if row.reorder_point is not None and level.reorder_point != row.reorder_point:
            changes["reorder_point"] = row.reorder_point
        if changes:
            StockLevel.objects.filter(pk=level.pk).update(**changes)
            if "reorder_point" in changes:
                repointed.append(level.pk)
        if row.on_hand is not None and row.on_hand != level.on_hand and (created or not only_new_stock):
            if row.on_hand < level.reserved:
                errors.append((row.line, f"on_hand {row.on_hand} is below the {level.reserved} units reserved"))
                continue
            if row.on_hand > STOCK_LEVEL_MAX:
                errors.append((row.line, f"on_hand {row.on_hand} is more than a level can hold ({STOCK_LEVEL_MAX})"))
                continue
            stock_count(sku=sku, warehouse=warehouse, counted=row.on_hand, actor=actor, reference=reference)
            result.stock_counted += 1
    if errors:
        raise CatalogueImportError(errors)
    # A new reorder point can open or close a low-stock alert without any movement.
    _stock_changed(repointed)
    return result


@transaction.atomic
def bins_import(*, rows: Iterable[BinRow]) -> dict[str, int]:
    """Create or update bins and their walk order; all rows or none (an unknown warehouse is a bad row)."""
    rows = list(rows)
    warehouses = {w.code: w for w in Warehouse.objects.filter(code__in={row.warehouse for row in rows})}
    errors = [(row.line, f"unknown warehouse {row.warehouse!r}") for row in rows if row.warehouse not in warehouses]
    if errors:
        raise CatalogueImportError(errors)
    existing = {(b.warehouse_id, b.code): b for b in Bin.objects.filter(warehouse__in=warehouses.values())}
    created, updated = [], []
    for row in rows:
        warehouse = warehouses[row.warehouse]
        current = existing.get((warehouse.pk, row.bin))
        if current is None:
            created.append(Bin(warehouse=warehouse, code=row.bin, walk_sequence=row.walk_sequence))
        elif current.walk_sequence != row.walk_sequence:
            current.walk_sequence = row.walk_sequence
            updated.append(current)
    Bin.objects.bulk_create(created)
    Bin.objects.bulk_update(updated, ["walk_sequence"])
    return {"created": len(created), "updated": len(updated), "unchanged": len(rows) - len(created) - len(updated)}
