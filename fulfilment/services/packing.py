"""The pack bench: scan-verified packing and short picks.

Packing compares what was scanned into the parcel (GTIN barcodes or SKU codes) with what the
order holds; any difference is refused (409 ``pack_mismatch`` listing ``missing`` and
``unexpected``) and nothing changes. A match moves the order to ``packed`` with the packer, the
parcel's weight and dimensions.

A short pick (the bin did not hold the units) is reported, not hidden: the missing units are
written off (ledger ``release`` + ``adjustment`` with reason ``short_pick``), the line is
backordered and the order leaves its wave; like any backorder it is filled first paid first
when stock arrives.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace

from django.db import transaction
from django.db.models.functions import Upper
from django.utils import timezone

from fulfilment import locks
from fulfilment.errors import IllegalTransition, NotInOrder, PackMismatch
from fulfilment.models import Order, OrderLine, OrderStatus, PickWave, PickWaveOrder
from fulfilment.services.orders import status_set, timeline_add
from fulfilment.services.waves import warehouse_check_access
from inventory import services as inventory
from inventory.errors import InvalidQuantity
from inventory.models import Sku, StockLevel

S = OrderStatus


@dataclass(frozen=True)
class Scan:
    """One scanned or keyed item: a barcode (GTIN) or a SKU code, and how many."""

    barcode: str = ""
    sku: str = ""
    quantity: int = 1


def _must_be_picking(order: Order, target: str) -> None:
    if order.status != S.PICKING:
        raise IllegalTransition(
            f"Only an order being picked can be {'packed' if target == S.PACKED else 'short-picked'}; "
            f"this one is {order.status}.",
            order=order.pk,
            current=order.status,
            target=target,
        )


def expected_contents(lines: Iterable[OrderLine], sku_codes: dict[int, str]) -> Counter[str]:
    """What the parcel must hold: the reserved units of every line that ships, by SKU code. Pure."""
    expected: Counter[str] = Counter()
    for line in lines:
        if line.requires_shipping and line.sku_id and line.quantity_reserved:
            expected[sku_codes[line.sku_id]] += line.quantity_reserved
    return expected


_GTIN_LENGTHS = (8, 12, 13, 14)


def gtin_key(code: str) -> str:
    """One spelling per GTIN: a UPC-A (12 digits), the EAN-13 it is inside ("0" + UPC) and the
    GTIN-14 ("00" + UPC) a scanner may send are the same article. Other codes stay as they are. Pure."""
    code = code.strip()
    return code.zfill(14) if code.isdigit() and len(code) in _GTIN_LENGTHS else code


def gtin_spellings(code: str) -> set[str]:
    """Every way the catalogue may have stored the GTIN ``code`` (8, 12, 13 or 14 digits). Pure."""
    key = gtin_key(code)
    if not (key.isdigit() and len(key) == 14):
        return {key}
    return {key[14 - n :] for n in _GTIN_LENGTHS if set(key[: 14 - n]) <= {"0"}}


def scanned_contents(scans: Iterable[Scan], barcodes: dict[str, str]) -> Counter[str]:
    """What was scanned, by SKU code (``barcodes``: GTIN key -> SKU code); a barcode no SKU carries
    counts under the barcode as scanned. Pure."""
    scanned: Counter[str] = Counter()
    for scan in scans:
        key = scan.sku.strip() if scan.sku else barcodes.get(gtin_key(scan.barcode), scan.barcode.strip())
        scanned[key] += scan.quantity
    return scanned


def pack_difference(expected: Counter[str], scanned: Counter[str]) -> tuple[dict[str, int], dict[str, int]]:
    """(missing, unexpected) units by SKU code, sorted by code; both empty when the parcel matches. Pure."""
    missing = expected - scanned
    unexpected = scanned - expected
    return dict(sorted(missing.items())), dict(sorted(unexpected.items()))


def skus_by_keyed_code(codes: Iterable[str]) -> dict[str, Sku]:
    """The SKU each keyed code names (keyed as given, spaces stripped): exactly, else ignoring case
    (keyboards and scanners differ). Codes that name no SKU are left out."""
    keyed = {code.strip() for code in codes if code.strip()}
    if not keyed:
        return {}
    found = {sku.code: sku for sku in Sku.objects.filter(code__in=keyed)}
    unknown = {code.upper(): code for code in keyed - set(found)}
    if unknown:
        for sku in Sku.objects.annotate(upper=Upper("code")).filter(upper__in=unknown):
            found[unknown[sku.upper]] = sku
    return found


def _line_skus(lines: Iterable[OrderLine]) -> dict[int, Sku]:
    """The SKUs of an order's lines by id, with their codes and unit weights (one query)."""
    sku_ids = {line.sku_id for line in lines if line.sku_id}
    return {sku.pk: sku for sku in Sku.objects.filter(pk__in=sku_ids).only("code", "weight_g")}


def order_pack(
    *,
    order_id: int,
    scans: list[Scan],
    actor,
    weight_g: int | None = None,
    dimensions_cm: tuple[int, int, int] | None = None,
) -> Order:
    """Pack a picked order after checking the scans against it; 409 ``pack_mismatch`` changes nothing.

    Without ``weight_g`` the parcel weighs what its units weigh (``Sku.weight_g``).
    """
    keyed = skus_by_keyed_code(scan.sku for scan in scans if scan.sku)
    scans = [replace(scan, sku=keyed[scan.sku.strip()].code) if scan.sku.strip() in keyed else scan for scan in scans]
    spellings = {spelling for scan in scans if scan.barcode for spelling in gtin_spellings(scan.barcode)}
    barcodes = {
        gtin_key(barcode): code
        for barcode, code in Sku.objects.filter(barcode__in=spellings).values_list("barcode", "code")
    }
    with transaction.atomic():
        order = locks.order_lock(order_id)
        if order.warehouse_id is not None:
            warehouse_check_access(user=actor, warehouse=order.warehouse)
        _must_be_picking(order, S.PACKED)
        lines = locks.lines_lock(order)
        skus = _line_skus(lines)
        expected = expected_contents(lines, {pk: sku.code for pk, sku in skus.items()})
        missing, unexpected = pack_difference(expected, scanned_contents(scans, barcodes))
        if missing or unexpected:
            raise PackMismatch(order=order.pk, missing=missing, unexpected=unexpected)
        if weight_g is None:
            unit_weights = {sku.code: sku.weight_g for sku in skus.values()}
            weight_g = sum(unit_weights[code] * units for code, units in expected.items())
        status_set(order, S.PACKED)
        order.packed_at = timezone.now()
        order.packed_by = actor if actor is not None and actor.is_authenticated else None
        order.parcel_weight_g = weight_g
        order.parcel_dimensions_cm = list(dimensions_cm) if dimensions_cm else None
        order.save(
            update_fields=[
                "status",
                "packed_at",
                "packed_by",
                "parcel_weight_g",
                "parcel_dimensions_cm",
                "updated_at",
            ]
        )
        size = " x ".join(str(d) for d in dimensions_cm) + " cm" if dimensions_cm else "no dimensions"
        units = sum(expected.values())
        timeline_add(
            order,
            "packed",
            f"Packed {units} units, {weight_g} g, {size}",
            actor=actor,
            units=units,
            weight_g=weight_g,
            dimensions_cm=order.parcel_dimensions_cm,
        )
    return order


def _short_pick_allowed(order: Order, latest: PickWaveOrder | None) -> bool:
    """Being picked, or just taken out of a still-open wave (its latest) by an earlier short pick of
    the same tote (several SKUs of one order can be short)."""
    if order.status == S.PICKING:
        return True
    return (
        order.status == S.BACKORDERED
        and latest is not None
        and latest.left_at is not None
        and latest.wave.status == PickWave.Status.OPEN
    )


def order_short_pick(*, order_id: int, sku_code: str, quantity: int, actor) -> Order:
    """Report units of a SKU the picker could not find: written off (reason ``short_pick``), the line
    backordered, the order out of its wave and ``backordered`` until stock arrives. Further SKUs of
    the same tote can be reported short while its wave is open."""
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise InvalidQuantity(field="quantity", value=str(quantity))
    sku = skus_by_keyed_code([sku_code]).get(sku_code.strip())
    with transaction.atomic():
        order = locks.order_lock(order_id)
        if order.warehouse_id is not None:
            warehouse_check_access(user=actor, warehouse=order.warehouse)
        latest = PickWaveOrder.objects.filter(order=order).select_related("wave").order_by("-pk").first()
        if not _short_pick_allowed(order, latest):
            _must_be_picking(order, S.BACKORDERED)
        lines = locks.lines_lock(order)
        matching = [line for line in lines if sku is not None and line.sku_id == sku.pk and line.quantity_reserved]
        held = sum(line.quantity_reserved for line in matching)
        if not matching:
            skus = sorted({sku.code for sku in _line_skus(lines).values()})
            raise NotInOrder(order=order.pk, sku=sku_code, skus=skus)
        if quantity > held:
            raise InvalidQuantity(
                f"The order holds {held} units of {sku.code} to pick; cannot report {quantity} short.",
                field="quantity",
                value=str(quantity),
                held=held,
            )
        left = quantity
        for line in matching:
            take = min(line.quantity_reserved, left)
            line.quantity_reserved -= take
            line.quantity_backordered += take
            left -= take
        OrderLine.objects.bulk_update(matching, ["quantity_reserved", "quantity_backordered"])
        entry = latest.wave_id if latest is not None else None
        bins = StockLevel.objects.filter(sku=sku, warehouse=order.warehouse_id).values_list("bin__code", flat=True)
        bin_code = next(iter(bins), None)
        where = f"in bin {bin_code}" if bin_code else "(the SKU has no bin)"
        wave = f", wave {entry}" if entry else ""
        status_set(order, S.BACKORDERED)
        order.save(update_fields=["status", "hold_reason", "hold_detail", "updated_at"])
        PickWaveOrder.objects.filter(order=order, active=True).update(active=False, left_at=timezone.now())
        timeline_add(
            order,
            "short_pick",
            f"Short pick: {quantity} x {sku.code} not found {where}{wave}; written off and backordered "
            "until stock arrives. Put its tote aside.",
            actor=actor,
            sku=sku.code,
            quantity=quantity,
            bin=bin_code,
            wave=entry,
        )
        # Stock last (fulfilment/locks.py): the write-off's UPDATEs are the transaction's last statements.
        inventory.reservation_write_off(
            reference=order.reservation_reference,
            sku=sku,
            warehouse=order.warehouse,
            quantity=quantity,
            actor=actor,
            reason="short_pick",
            note=f"not found {where}{wave}",
        )
    return order
