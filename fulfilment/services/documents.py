"""The floor's documents: what the pick list and the packing slip print, read from the database.

Each builder reads with a fixed number of queries (however many orders and lines) and hands a
frozen dataclass to the pure renderers in ``labels/``. The ordering rules live here as pure
functions: the pick list walks bins in ``walk_sequence`` order (never by code), then product,
then size in natural order; the packing slip prints sizes in the customer's size system.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Prefetch
from django.utils import timezone

from config.exceptions import NotFound
from fulfilment.errors import NotAllocated, WaveNotOpen
from fulfilment.models import Order, OrderLine, OrderStatus, PickWave, PickWaveOrder
from fulfilment.services.waves import warehouse_check_access
from inventory.models import Size, SizeSystem, StockLevel, Warehouse
from inventory.selectors import staff_warehouse_ids
from labels.packing_slip import PackingSlipData, SlipLine
from labels.picklist import PickLine, PickListData, Tote, ToteItem
from labels.shipping import Address

S = OrderStatus

# --- Pick list ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PickRow:
    """One order line to pick, with where its SKU lives: the input of ``pick_lines``."""

    tote: int
    sku: str
    barcode: str
    product: str
    product_name: str
    size_system: str
    size_label: str
    size_order: int
    quantity: int
    bin: str  # "" when the SKU has no bin in the warehouse
    walk_sequence: int | None


def walk_key(row: PickRow) -> tuple:
    """Bins in walk order (SKUs without a bin last), then product, then natural size order
    (``Size.sort_order``: EU 36 < EU 40 < EU 100), then SKU. Pure."""
    return (
        not row.bin,
        row.walk_sequence or 0,
        row.bin,
        row.product,
        row.size_system,
        row.size_order,
        row.size_label,
        row.sku,
    )


def pick_lines(rows: Iterable[PickRow]) -> tuple[PickLine, ...]:
    """One line per bin and SKU in walk order, with the total and each tote's share. Pure."""
    grouped: dict[tuple, list[PickRow]] = defaultdict(list)
    for row in rows:
        grouped[(row.bin, row.sku)].append(row)
    lines = []
    for group in sorted(grouped.values(), key=lambda g: walk_key(g[0])):
        first = group[0]
        per_tote: dict[int, int] = defaultdict(int)
        for row in group:
            per_tote[row.tote] += row.quantity
        lines.append(
            PickLine(
                bin=first.bin,
                product=first.product,
                product_name=first.product_name,
                size=f"{first.size_system} {first.size_label}",
                sku=first.sku,
                barcode=first.barcode,
                quantity=sum(per_tote.values()),
                totes=tuple(sorted(per_tote.items())),
            )
        )
    return tuple(lines)


def _customer(order: Order) -> str:
    return order.customer_name or (order.shipping_address or {}).get("name", "")


def pick_list_data(*, wave_id: int, user, now=None) -> PickListData:
    """The pick list of an open wave: its orders still being picked, in four queries.

    A wave in a warehouse the user does not work in is not found for them (as in the wave list);
    a closed or cancelled wave has nothing left to pick (409 ``wave_not_open``).
    """
    waves = PickWave.objects.select_related("warehouse", "picker").filter(pk=wave_id)
    assigned = staff_warehouse_ids(user)
    if assigned:
        waves = waves.filter(warehouse__in=assigned)
    wave = waves.first()
    if wave is None:
        raise NotFound("No such pick wave.", wave=wave_id)
    if wave.status != PickWave.Status.OPEN:
        raise WaveNotOpen(wave=wave.pk, current=wave.status)
    entries = list(
        PickWaveOrder.objects.filter(wave=wave, active=True, order__status=S.PICKING)
        .select_related("order")
        .only(
            "position",
            "late",
            "order_id",
            "order__number",
            "order__external_id",
            "order__customer_name",
            "order__shipping_address",
            "order__ship_country",
            "order__service_level",
        )
        .order_by("position")
    )
    tote_of = {entry.order_id: entry.position for entry in entries}
    lines = list(
        OrderLine.objects.filter(
            order_id__in=list(tote_of), requires_shipping=True, quantity_reserved__gt=0, sku__isnull=False
        )
        .order_by("order_id", "pk")
        .values_list(
            "order_id",
            "quantity_reserved",
            "sku_id",
            "sku__code",
            "sku__barcode",
            "sku__product__code",
            "sku__product__name",
            "sku__size__system",
            "sku__size__label",
            "sku__size__sort_order",
        )
    )
    places = {
        sku_id: (code or "", walk)
        for sku_id, code, walk in StockLevel.objects.filter(
            warehouse=wave.warehouse_id, sku_id__in={line[2] for line in lines}
        ).values_list("sku_id", "bin__code", "bin__walk_sequence")
    }
    rows = []
    for order_id, quantity, sku_id, sku, barcode, product, name, system, label, order in lines:
        bin_code, walk = places.get(sku_id, ("", None))
        rows.append(
            PickRow(
                tote_of[order_id], sku, barcode or "", product, name, system, label, order, quantity, bin_code, walk
            )
        )
    items: dict[int, list[PickRow]] = defaultdict(list)
    for row in sorted(rows, key=walk_key):
        items[row.tote].append(row)
    totes = tuple(
        Tote(
            number=entry.position,
            order_id=entry.order_id,
            order_reference=entry.order.number or entry.order.external_id,
            customer=_customer(entry.order),
            destination=entry.order.ship_country,
            service_level=entry.order.service_level,
            late=entry.late,
            items=tuple(
                ToteItem(
                    sku=r.sku,
                    product_name=r.product_name,
                    size=f"{r.size_system} {r.size_label}",
                    quantity=r.quantity,
                    bin=r.bin,
                )
                for r in items[entry.position]
            ),
        )
        for entry in entries
    )
    picker = wave.picker
    return PickListData(
        wave_id=wave.pk,
        warehouse=wave.warehouse.code,
        warehouse_name=wave.warehouse.name,
        timezone=wave.warehouse.timezone,
        created_at=wave.created_at,
        printed_at=now or timezone.now(),
        picker=(picker.get_full_name() or picker.get_username()) if picker else "",
        service_level=wave.service_level,
        lines=pick_lines(rows),
        totes=totes,
    )


# --- Packing slip ------------------------------------------------------------------------

# Where a customer's country reckons shoe sizes in UK or US sizes; everywhere else uses EU sizes.
_US_SIZED = frozenset({"US", "CA", "PR", "MX"})
_UK_SIZED = frozenset({"GB", "IE", "IN", "ZA", "NZ", "AU"})
_SIZE_IN_TITLE = re.compile(r"\b(EU|UK|US)(?:[ -]?(M|W|Men|Women|Mens|Womens|Men's|Women's)\b)?[ .:]*\d", re.IGNORECASE)


def customer_size_system(*, title: str, country: str) -> str:
    """The size system the customer thinks in: the one named in the storefront's line title
    ("Gel insoles - UK 8"), else the usual one of their country. ``EU``, ``UK``, ``US``, ``US-M``
    or ``US-W`` (``US`` means either, as the title or country did not say). Pure."""
    match = _SIZE_IN_TITLE.search(title or "")
    if match:
        system, gender = match.group(1).upper(), (match.group(2) or "")[:1].upper()
        return f"US-{gender}" if system == "US" and gender else system
    if country in _US_SIZED:
        return "US"
    return "UK" if country in _UK_SIZED else "EU"


def _size_text(system: str, label: str) -> str:
    return {"US-M": f"US M {label}", "US-W": f"US W {label}"}.get(system, f"{system} {label}")


def customer_size(*, system: str, label: str, equivalents: Iterable[tuple[str, str]], wanted: str) -> tuple[str, str]:
    """(size in the customer's system, the stock's own size or "" if the same). Pure.

    ``US`` prints both US systems the size has ("US M 9 / W 10.5"); a system the size has no
    equivalent in falls back to the stock's own size.
    """
    own = _size_text(system, label)
    if wanted == system or (wanted == "US" and system in (SizeSystem.US_M, SizeSystem.US_W)):
        return own, ""
    found = dict(equivalents)
    if wanted == "US":
        men, women = found.get(SizeSystem.US_M), found.get(SizeSystem.US_W)
        if men and women:
            return f"US M {men} / W {women}", own
        if men or women:
            return _size_text(SizeSystem.US_M if men else SizeSystem.US_W, men or women), own
        return own, ""
    if wanted in found:
        return _size_text(wanted, found[wanted]), own
    return own, ""


def order_address(order: Order) -> Address:
    """The order's shipping address as the renderers take it (province after the city)."""
    raw = order.shipping_address or {}
    city = raw.get("city", "")
    province = raw.get("province_code") or raw.get("province", "")
    if province and province not in city:
        city = f"{city} {province}".strip()
    return Address(
        name=raw.get("name") or order.customer_name,
        company=raw.get("company", ""),
        lines=tuple(part for part in (raw.get("address1", ""), raw.get("address2", "")) if part),
        city=city,
        postcode=raw.get("postcode", ""),
        country=raw.get("country_code") or order.ship_country or "ZZ",
        phone=raw.get("phone", ""),
    )


def warehouse_address(warehouse: Warehouse, *, name: str) -> Address:
    return Address(
        name=name,
        company=warehouse.name,
        lines=tuple(part for part in (warehouse.address_line1, warehouse.address_line2) if part),
        city=warehouse.city,
        postcode=warehouse.postcode,
        country=warehouse.country,
    )


def packing_slip_data(*, order_id: int, user) -> PackingSlipData:
    """The customer-facing slip of an order allocated to a warehouse: its reserved units (three queries,
    four with a staff user); 409 ``not_allocated`` when nothing is reserved (held, backordered whole,
    cancelled)."""
    order = (
        Order.objects.select_related("warehouse")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=OrderLine.objects.filter(requires_shipping=True, sku__isnull=False)
                .select_related("sku__product", "sku__size")
                .order_by("pk"),
            ),
            Prefetch("lines__sku__size__equivalents", queryset=Size.objects.order_by("system", "sort_order")),
        )
        .filter(pk=order_id)
        .first()
    )
    if order is None:
        raise NotFound("No such order.", order=order_id)
    if order.warehouse is None:
        raise NotAllocated(order=order.pk, current=order.status)
    warehouse_check_access(user=user, warehouse=order.warehouse)
    recipient = order_address(order)
    lines = []
    # What is in the parcel: the reserved units (a backordered remainder follows in another parcel).
    for line in (line for line in order.lines.all() if line.quantity_reserved):
        size = line.sku.size
        wanted = customer_size_system(title=line.title, country=recipient.country)
        equivalents = [(e.system, e.label) for e in size.equivalents.all()]
        shown, stock = customer_size(system=size.system, label=size.label, equivalents=equivalents, wanted=wanted)
        lines.append(
            SlipLine(
                description=line.sku.product.name or line.title,
                size=shown,
                stock_size=stock,
                sku=line.sku.code,
                quantity=line.quantity_reserved,
            )
        )
    if not lines:
        raise NotAllocated("The order has nothing to ship.", order=order.pk, current=order.status)
    brand = settings.BRAND_NAME
    return PackingSlipData(
        sender=warehouse_address(order.warehouse, name=brand),
        recipient=recipient,
        order_reference=order.number or order.external_id,
        order_date=(order.paid_at or order.created_at).astimezone(ZoneInfo(order.warehouse.timezone)).date(),
        lines=tuple(lines),
        return_address=warehouse_address(order.warehouse, name=f"{brand} Returns"),
        return_days=settings.RETURNS_DAYS,
        returns_url=settings.RETURNS_URL,
        service=order.get_service_level_display(),
        page_size=settings.PACKING_SLIP_PAGE_SIZE,
    )
