"""Read queries for inventory; list endpoints and commands use these so the joins live in one place."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.db.models import DateTimeField, F, Func, IntegerField, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.module_loading import import_string

from inventory import forecast
from inventory.models import (
    Bin,
    MovementKind,
    Product,
    Size,
    Sku,
    StockAlert,
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


# --- Demand and cover (the rules are in inventory.forecast) -----------------------------

# The ledger kinds whose signed sum is demand: reservations net of releases (see inventory.forecast).
DEMAND_KINDS = (MovementKind.RESERVATION, MovementKind.RELEASE)


def with_demand(levels: QuerySet[StockLevel], *, now: dt.datetime) -> QuerySet[StockLevel]:
    """Stock levels annotated with their demand per window and first ledger movement, in the same query.

    Each annotation is a correlated subquery over the level's own ledger rows, so each is a range
    scan of the (sku, warehouse, created_at) index: the units of a window sum the rows since its
    start, and the first movement is the first entry of the pair in that index. A pair's history
    is read from its first movement ever, not just the last 90 days.
    """
    pair = StockMovement.objects.filter(
        sku_id=OuterRef("sku_id"), warehouse_id=OuterRef("warehouse_id"), created_at__lte=now
    ).order_by()

    def units(window: int) -> Coalesce:
        rows = pair.filter(kind__in=DEMAND_KINDS, created_at__gte=now - dt.timedelta(days=window))
        total = rows.annotate(total=Func(F("quantity"), function="SUM")).values("total")
        return Coalesce(Subquery(total, output_field=IntegerField()), 0)

    first = pair.annotate(first=Func(F("created_at"), function="MIN")).values("first")
    return levels.annotate(
        **{f"units_{window}d": units(window) for window in forecast.WINDOWS},
        first_movement_at=Subquery(first, output_field=DateTimeField()),
    )


def _demand(row: dict, *, now: dt.datetime) -> forecast.Demand:
    return forecast.Demand(
        units_7d=max(0, row["units_7d"]),
        units_28d=max(0, row["units_28d"]),
        units_90d=max(0, row["units_90d"]),
        history_days=forecast.history_days(first_movement_at=row["first_movement_at"], now=now),
    )


_DEMAND_FIELDS = (*(f"units_{window}d" for window in forecast.WINDOWS), "first_movement_at")


def demand_by_level(
    *, now: dt.datetime, sku_ids: Collection[int] | None = None, warehouse_ids: Collection[int] | None = None
) -> dict[tuple[int, int], forecast.Demand]:
    """Demand per (sku id, warehouse id) up to ``now`` for the stock levels asked for: one query."""
    levels = StockLevel.objects.order_by()
    if sku_ids is not None:
        levels = levels.filter(sku_id__in=sku_ids)
    if warehouse_ids is not None:
        levels = levels.filter(warehouse_id__in=warehouse_ids)
    return {
        (row["sku_id"], row["warehouse_id"]): _demand(row, now=now)
        for row in with_demand(levels, now=now).values("sku_id", "warehouse_id", *_DEMAND_FIELDS)
    }


def _level_cover(
    *, available: int, demand: forecast.Demand | None, lead_time_days: int | None, today: dt.date
) -> forecast.Cover:
    return forecast.cover(
        available=available,
        demand=demand or forecast.Demand(),
        today=today,
        lead_time_days=settings.STOCK_LEAD_TIME_DAYS if lead_time_days is None else lead_time_days,
        target_cover_days=settings.STOCK_TARGET_COVER_DAYS,
        # No purchase orders are modelled: nothing is on order (inventory.forecast).
        on_order=0,
    )


@dataclass(frozen=True)
class CoverRow:
    sku: str
    warehouse: str
    cover: forecast.Cover


def _cover_sort_key(row: tuple[forecast.Cover, tuple]) -> tuple:
    cover, order = row
    # Least cover first, no demand (no cover figure) last, then the stock list's order.
    return (cover.days_of_cover is None, cover.days_of_cover or 0.0, order)


# Every level with its demand for the cover list: one statement. The ledger rows of the longest
# window are summed per SKU x warehouse in one pass (GROUP BY, a FILTER per window) instead of four
# correlated subqueries per level: for every level at once that is one scan of the window's rows
# where the subqueries visited each row's heap page again per window (bench/README.md: 2 s ->
# 0.4 s for 6,000 levels over 1,000,000 rows). The first movement stays a correlated lookup (the
# first entry of the pair in the (sku, warehouse, created_at) index), so history older than the
# window is never scanned. The same rules as ``with_demand`` (the windows of forecast.WINDOWS: 7, 28
# and 90 days); tests hold the two to each other.
_COVER_SQL = """
SELECT w.code, p.code, z.sort_order, s.code, l.on_hand, l.reserved, s.lead_time_days,
       COALESCE(d.units_7d, 0), COALESCE(d.units_28d, 0), COALESCE(d.units_90d, 0),
       (SELECT MIN(f.created_at) FROM inventory_stockmovement f
         WHERE f.sku_id = l.sku_id AND f.warehouse_id = l.warehouse_id AND f.created_at <= %(now)s)
FROM inventory_stocklevel l
JOIN inventory_sku s ON s.id = l.sku_id
JOIN inventory_product p ON p.id = s.product_id
JOIN inventory_size z ON z.id = s.size_id
JOIN inventory_warehouse w ON w.id = l.warehouse_id
LEFT JOIN (
    SELECT m.sku_id, m.warehouse_id,
           SUM(m.quantity) FILTER (WHERE m.created_at >= %(since_7)s) AS units_7d,
           SUM(m.quantity) FILTER (WHERE m.created_at >= %(since_28)s) AS units_28d,
           SUM(m.quantity) AS units_90d
    FROM inventory_stockmovement m
    WHERE m.kind IN (%(reservation)s, %(release)s) AND m.created_at >= %(since_90)s AND m.created_at <= %(now)s
      {movement_filter}
    GROUP BY m.sku_id, m.warehouse_id
) d ON d.sku_id = l.sku_id AND d.warehouse_id = l.warehouse_id
WHERE TRUE {level_filter}
"""
_COVER_WAREHOUSE = "w.code = %(warehouse)s"
_COVER_PRODUCT = "p.code = %(product)s"
_MOVEMENT_WAREHOUSE = "m.warehouse_id IN (SELECT id FROM inventory_warehouse WHERE code = %(warehouse)s)"
_MOVEMENT_PRODUCT = (
    "m.sku_id IN (SELECT id FROM inventory_sku WHERE product_id IN"
    " (SELECT id FROM inventory_product WHERE code = %(product)s))"
)


def raw_datetime(value) -> dt.datetime | None:
    """A datetime from a written-out statement, as the ORM would give it (SQLite returns text)."""
    if value is None or isinstance(value, dt.datetime):
        return value
    parsed = parse_datetime(value)
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, dt.UTC)


def _cover_rows(*, now: dt.datetime, warehouse: str | None, product: str | None) -> list[tuple]:
    adapt = connection.ops.adapt_datetimefield_value
    params = {
        "now": adapt(now),
        "reservation": MovementKind.RESERVATION.value,
        "release": MovementKind.RELEASE.value,
        **{f"since_{window}": adapt(now - dt.timedelta(days=window)) for window in forecast.WINDOWS},
    }
    levels, movements = [], []
    if warehouse is not None:
        levels.append(_COVER_WAREHOUSE)
        movements.append(_MOVEMENT_WAREHOUSE)
        params["warehouse"] = warehouse
    if product is not None:
        levels.append(_COVER_PRODUCT)
        movements.append(_MOVEMENT_PRODUCT)
        params["product"] = product
    sql = _COVER_SQL.format(
        movement_filter="".join(f" AND {clause}" for clause in movements),
        level_filter="".join(f" AND {clause}" for clause in levels),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def cover_list(
    *,
    warehouse: str | None = None,
    product: str | None = None,
    below_days: int | None = None,
    now: dt.datetime | None = None,
) -> list[CoverRow]:
    """Days of cover of every stock level (by warehouse and product code), least cover first.

    One statement whatever the number of levels (``_COVER_SQL``). Sorting and ``below_days`` (days
    of cover strictly below it; no demand is never below) work on values computed in Python, so
    they run over every matching level, and a page is cut from the result.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    rows = []
    for wh, product_code, size_order, sku, on_hand, reserved, lead, u7, u28, u90, first in _cover_rows(
        now=now, warehouse=warehouse, product=product
    ):
        demand = forecast.Demand(
            units_7d=max(0, u7),
            units_28d=max(0, u28),
            units_90d=max(0, u90),
            history_days=forecast.history_days(first_movement_at=raw_datetime(first), now=now),
        )
        cover = _level_cover(available=on_hand - reserved, demand=demand, lead_time_days=lead, today=today)
        if below_days is not None and (cover.days_of_cover is None or cover.days_of_cover >= below_days):
            continue
        rows.append((cover, (wh, product_code, size_order, sku)))
    rows.sort(key=_cover_sort_key)
    # The order key is (warehouse code, product code, size order, sku code), as STOCK_ORDER.
    return [CoverRow(sku=order[3], warehouse=order[0], cover=cover) for cover, order in rows]


@dataclass(frozen=True)
class GridCell:
    sku: str
    size: str
    warehouse: str
    on_hand: int
    reserved: int
    available: int
    backordered: int
    # inventory.forecast: available / weighted daily demand; None without demand.
    days_of_cover: float | None = None
    size_system: str = ""


@dataclass(frozen=True)
class StockGrid:
    product: Product
    sizes: list[str]
    warehouses: list[str]
    cells: list[GridCell]
    # The system of each size in ``sizes`` (EU, UK, US-M, US-W), for labels such as "EU 40".
    size_systems: list[str] = field(default_factory=list)


def stock_grid(*, product: Product, now: dt.datetime | None = None) -> StockGrid:
    """One product's stock by size x warehouse: a cell for every SKU x active warehouse (zeros where no level).

    Sizes in natural order (``Size.sort_order``), warehouses by code; cells warehouse by warehouse,
    each in size order, with the days of cover the cover endpoint gives. Three queries whatever the
    size of the grid (the levels carry their demand), plus one per backorder source.
    """
    now = now or timezone.now()
    skus = list(product.skus.select_related("size").order_by("size__sort_order", "size__system", "code"))
    warehouses = list(Warehouse.objects.filter(is_active=True).order_by("code"))
    sku_ids, warehouse_ids = [sku.pk for sku in skus], [wh.pk for wh in warehouses]
    levels = {
        (row["sku_id"], row["warehouse_id"]): row
        for row in with_demand(
            StockLevel.objects.filter(sku_id__in=sku_ids, warehouse_id__in=warehouse_ids), now=now
        ).values("sku_id", "warehouse_id", "on_hand", "reserved", *_DEMAND_FIELDS)
    }
    waiting = backordered_units(sku_ids=sku_ids, warehouse_ids=warehouse_ids)
    today = timezone.localdate(now)
    cells = []
    for warehouse in warehouses:
        for sku in skus:
            level = levels.get((sku.pk, warehouse.pk))
            on_hand, reserved = (level["on_hand"], level["reserved"]) if level else (0, 0)
            cover = _level_cover(
                available=on_hand - reserved,
                demand=_demand(level, now=now) if level else None,
                lead_time_days=sku.lead_time_days,
                today=today,
            )
            cells.append(
                GridCell(
                    sku=sku.code,
                    size=sku.size.label,
                    warehouse=warehouse.code,
                    on_hand=on_hand,
                    reserved=reserved,
                    available=on_hand - reserved,
                    backordered=waiting.get((sku.pk, warehouse.pk), 0),
                    days_of_cover=cover.days_of_cover,
                    size_system=sku.size.system,
                )
            )
    return StockGrid(
        product=product,
        sizes=[sku.size.label for sku in skus],
        warehouses=[warehouse.code for warehouse in warehouses],
        cells=cells,
        size_systems=[sku.size.system for sku in skus],
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


def alert_list() -> QuerySet[StockAlert]:
    """Stock alerts, newest first (the id breaks ties between alerts opened in the same check)."""
    return StockAlert.objects.select_related("sku__product", "sku__size", "warehouse").order_by("-opened_at", "-pk")
