"""What the dashboard shows, read in a bounded number of queries whatever the size of the data.

Each panel is one or two aggregate or LIMITed queries; the stock chart sums the ledger per day
in the database (never a ledger row in Python), so a page costs the same with a million rows.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, IntegerField, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from fulfilment.models import Order, OrderStatus
from inventory import selectors as inventory_selectors
from inventory.models import ON_HAND_KINDS, RESERVED_KINDS, Product, Sku, StockAlert, StockLevel, StockMovement
from outbox.models import Message, MessageStatus

# Rows a list panel shows; the panels give the total next to it.
PANEL_ROWS = 15
CHART_DAYS = 90


def product_choices() -> list[dict]:
    """Active products by code, for the picker."""
    return list(Product.objects.filter(is_active=True).order_by("code").values("code", "name"))


@dataclass(frozen=True)
class HeatCell:
    sku: str
    size: str
    warehouse: str
    on_hand: int
    reserved: int
    available: int
    backordered: int
    days_of_cover: float | None
    band: str  # out, critical, low, ok, idle: the colour


@dataclass(frozen=True)
class Heatmap:
    product: Product
    sizes: list[str]  # "EU 40", in natural order
    rows: list[tuple[str, list[HeatCell]]]  # (warehouse code, cells in size order)


def cover_band(*, available: int, days_of_cover: float | None) -> str:
    """The colour of a cell: nothing available; cover shorter than the lead time; than the target; enough; no demand."""
    if available <= 0:
        return "out"
    if days_of_cover is None:
        return "idle"
    if days_of_cover < settings.STOCK_LEAD_TIME_DAYS:
        return "critical"
    if days_of_cover < settings.STOCK_TARGET_COVER_DAYS:
        return "low"
    return "ok"


def heatmap(*, product: Product) -> Heatmap:
    """The stock grid (``inventory.selectors.stock_grid``) as heatmap rows: warehouses down, sizes across."""
    grid = inventory_selectors.stock_grid(product=product)
    by_warehouse: dict[str, list[HeatCell]] = defaultdict(list)
    for cell in grid.cells:
        by_warehouse[cell.warehouse].append(
            HeatCell(
                sku=cell.sku,
                size=f"{cell.size_system} {cell.size}",
                warehouse=cell.warehouse,
                on_hand=cell.on_hand,
                reserved=cell.reserved,
                available=cell.available,
                backordered=cell.backordered,
                days_of_cover=cell.days_of_cover,
                band=cover_band(available=cell.available, days_of_cover=cell.days_of_cover),
            )
        )
    sizes = [f"{system} {label}" for system, label in zip(grid.size_systems, grid.sizes, strict=True)]
    return Heatmap(product=product, sizes=sizes, rows=[(code, by_warehouse[code]) for code in grid.warehouses])


def open_alerts() -> tuple[int, list[StockAlert]]:
    """How many alerts are open, and the newest of them."""
    alerts = StockAlert.objects.filter(closed_at__isnull=True)
    latest = list(alerts.select_related("sku__size", "warehouse").order_by("-opened_at", "-pk")[:PANEL_ROWS])
    return (len(latest) if len(latest) < PANEL_ROWS else alerts.count()), latest


def orders_by_status() -> list[tuple[str, int]]:
    """Orders per status, in the order of the state machine (statuses without orders left out)."""
    counts = dict(Order.objects.order_by().values_list("status").annotate(n=Count("pk")))
    return [(status, counts[status]) for status in OrderStatus.values if counts.get(status)]


def orders_on_hold() -> list[dict]:
    """The oldest orders on hold first (they have waited longest), with their reasons."""
    return list(
        Order.objects.filter(status=OrderStatus.ON_HOLD)
        .order_by("paid_at", "pk")
        .values("pk", "channel", "number", "external_id", "hold_reason", "hold_detail", "paid_at")[:PANEL_ROWS]
    )


def dead_letters() -> tuple[int, list[Message]]:
    """How many outbox messages are dead letters, and the latest."""
    dead = Message.objects.filter(status=MessageStatus.DEAD)
    latest = list(dead.order_by("-pk").only("pk", "kind", "key", "last_error", "dead_at")[:5])
    return (len(latest) if len(latest) < 5 else dead.count()), latest


def chart_sku(*, code: str | None, heat: Heatmap | None) -> Sku | None:
    """The SKU asked for, else the product's SKU with the least available somewhere (the one to watch)."""
    if code:
        return Sku.objects.filter(code=code).select_related("size").first()
    if heat is None or not heat.rows:
        return None
    cells = [cell for _, cells in heat.rows for cell in cells]
    if not cells:
        return None
    watched = min(cells, key=lambda cell: (cell.available, cell.sku))
    return Sku.objects.filter(code=watched.sku).select_related("size").first()


def stock_history(*, sku: Sku, days: int = CHART_DAYS, now: dt.datetime | None = None) -> dict:
    """Available units per warehouse at the end of each of the last ``days`` days, from the ledger.

    The ledger is summed per warehouse and day in the database (the (sku, warehouse, created_at)
    index); each day's level is today's level less what moved after that day, so rows older
    than the window are never read. Returns ``{"days": [...], "series": [{"warehouse", "values"}]}``.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    first = today - dt.timedelta(days=days - 1)
    start = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
    levels = list(
        StockLevel.objects.filter(sku=sku)
        .order_by("warehouse__code")
        .values_list("warehouse_id", "warehouse__code", "on_hand", "reserved")
    )
    zero = Value(0, output_field=IntegerField())
    moved = (
        StockMovement.objects.filter(sku=sku, created_at__gte=start)
        .annotate(day=TruncDate("created_at"))
        .order_by()
        .values("warehouse_id", "day")
        .annotate(
            on_hand=Coalesce(Sum("quantity", filter=Q(kind__in=ON_HAND_KINDS)), zero),
            reserved=Coalesce(Sum("quantity", filter=Q(kind__in=RESERVED_KINDS)), zero),
        )
    )
    change: dict[tuple[int, dt.date], int] = {
        (row["warehouse_id"], row["day"]): row["on_hand"] - row["reserved"] for row in moved
    }
    calendar = [first + dt.timedelta(days=n) for n in range(days)]
    series = []
    for warehouse_id, code, on_hand, reserved in levels:
        level, values = on_hand - reserved, []
        for day in reversed(calendar):  # end of today is now; each earlier day undoes the next day's moves
            values.append(level)
            level -= change.get((warehouse_id, day), 0)
        series.append({"warehouse": code, "values": list(reversed(values))})
    return {"days": [day.isoformat() for day in calendar], "series": series}


@dataclass(frozen=True)
class ShipmentsPanel:
    rows: list


def shipments_in_trouble() -> ShipmentsPanel | None:
    """Shipments in exception or stale, when shipping provides ``shipping.selectors.shipments_in_trouble``."""
    try:
        module = importlib.import_module("shipping.selectors")
    except ModuleNotFoundError as exc:
        if exc.name not in ("shipping", "shipping.selectors"):
            raise  # a module that exists and fails to import is a bug to see, not a missing panel
        return None
    finder = getattr(module, "shipments_in_trouble", None)
    if finder is None:
        return None
    return ShipmentsPanel(rows=list(finder(limit=PANEL_ROWS)))
