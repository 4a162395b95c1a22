"""Labels (PDF, ZPL), label batches in pick order with reprints recorded, and commercial invoices."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from django.db import transaction

from fulfilment.models import PickWave, PickWaveOrder
from fulfilment.services.waves import warehouse_check_access
from labels.invoice import render_invoice_pdf
from labels.shipping import render_label_pdf, render_label_zpl
from shipping.errors import InvalidParcels, NotBooked, NotInternational, ShipmentNotFound
from shipping.models import LabelPrint, Shipment, ShipmentStatus
from shipping.services import build

FORMATS = ("pdf", "zpl")
BATCH_MAX = 500


def _render(labels, fmt: str) -> bytes:
    return render_label_pdf(labels) if fmt == "pdf" else render_label_zpl(labels)


def _printable(shipments: Sequence[Shipment]) -> None:
    unbooked = [s.pk for s in shipments if not s.is_booked or s.status == ShipmentStatus.CANCELLED]
    if unbooked:
        raise NotBooked(
            "No label yet for shipments that are not booked (or are cancelled): " + ", ".join(map(str, unbooked)),
            shipments=unbooked,
        )


def _record_prints(shipments: Sequence[Shipment], fmt: str, actor, batch: str = "") -> dict[int, bool]:
    """Record one print per shipment; returns shipment id -> whether this print is a reprint."""
    ids = [s.pk for s in shipments]
    with transaction.atomic():
        # Two printers at once still make one first print: the shipments are locked while counted.
        list(Shipment.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))
        printed = set(LabelPrint.objects.filter(shipment_id__in=ids).values_list("shipment_id", flat=True))
        user = actor if getattr(actor, "pk", None) else None
        LabelPrint.objects.bulk_create(
            [
                LabelPrint(shipment_id=sid, format=fmt, reprint=sid in printed, batch=batch, printed_by=user)
                for sid in ids
            ]
        )
    return {sid: sid in printed for sid in ids}


def _shipment(shipment_id: int, user) -> Shipment:
    shipment = build.shipments_for_documents().filter(pk=shipment_id).first()
    if shipment is None:
        raise ShipmentNotFound(shipment=shipment_id)
    warehouse_check_access(user=user, warehouse=shipment.warehouse)
    return shipment


def shipment_label(*, shipment_id: int, fmt: str, actor) -> bytes:
    """The shipment's label, one page (PDF) or format (ZPL) per parcel; every print after the first
    is recorded as a reprint and marked REPRINT."""
    shipment = _shipment(shipment_id, actor)
    _printable([shipment])
    reprint = _record_prints([shipment], fmt, actor)[shipment.pk]
    return _render(build.label_data(shipment, reprint=reprint), fmt)


def labels_batch(*, actor, fmt: str, wave_id: int | None = None, shipment_ids: Sequence[int] | None = None) -> bytes:
    """One document with the labels of a wave's shipments (or the given ones) in pick order."""
    if fmt not in FORMATS:
        raise InvalidParcels(f"format must be one of: {', '.join(FORMATS)}.", format=fmt)
    if (wave_id is None) == (not shipment_ids):
        raise InvalidParcels("Name either a wave or a list of shipments.")
    rows = build.shipments_for_documents()
    if wave_id is not None:
        wave = PickWave.objects.select_related("warehouse").filter(pk=wave_id).first()
        if wave is None:
            raise ShipmentNotFound("No such pick wave.", wave=wave_id)
        warehouse_check_access(user=actor, warehouse=wave.warehouse)
        positions = dict(
            PickWaveOrder.objects.filter(wave=wave, left_at__isnull=True).values_list("order_id", "position")
        )
        shipments = list(rows.filter(order_id__in=positions).exclude(status=ShipmentStatus.CANCELLED))
        if not shipments:
            raise NotBooked("No booked shipment in this wave yet.", wave=wave_id, shipments=[])
    else:
        if len(shipment_ids) > BATCH_MAX:
            raise InvalidParcels(f"At most {BATCH_MAX} shipments per batch.", count=len(shipment_ids))
        shipments = list(rows.filter(pk__in=shipment_ids))
        missing = sorted(set(shipment_ids) - {s.pk for s in shipments})
        if missing:
            raise ShipmentNotFound("No such shipments: " + ", ".join(map(str, missing)), shipments=missing)
        for warehouse in {s.warehouse for s in shipments}:
            warehouse_check_access(user=actor, warehouse=warehouse)
        # Pick order: the order's place in its latest wave, then the order asked.
        latest = {}
        for order_id, position, wave in PickWaveOrder.objects.filter(
            order_id__in=[s.order_id for s in shipments]
        ).values_list("order_id", "position", "wave_id"):
            if order_id not in latest or wave > latest[order_id][0]:
                latest[order_id] = (wave, position)
        asked = {sid: index for index, sid in enumerate(dict.fromkeys(shipment_ids))}
        positions = {}
        for s in shipments:
            wave, position = latest.get(s.order_id, (0, 0))
            positions[s.order_id] = (wave, position, asked[s.pk])
    _printable(shipments)
    shipments.sort(key=lambda s: (positions[s.order_id], s.pk))
    reprints = _record_prints(shipments, fmt, actor, batch=uuid.uuid4().hex)
    labels = [label for s in shipments for label in build.label_data(s, reprint=reprints[s.pk])]
    return _render(labels, fmt)


def shipment_invoice(*, shipment_id: int, actor) -> bytes:
    """The commercial invoice of an international shipment (HS codes, origin, values); 404
    ``not_international`` for a domestic one."""
    shipment = _shipment(shipment_id, actor)
    if not build.is_international(shipment):
        raise NotInternational(shipment=shipment.pk)
    if not shipment.order.shipping_lines:
        raise NotBooked("Nothing is held for this order to declare.", shipment=shipment.pk)
    return render_invoice_pdf(build.invoice_data(shipment))
