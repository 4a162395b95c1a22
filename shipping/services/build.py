"""What a shipment looks like to a courier, to the label renderer and on the commercial invoice.

Reads only: every function here takes rows already loaded (``shipment_for_documents``) and
returns frozen dataclasses, so a batch of labels costs a fixed number of queries.
"""

from __future__ import annotations

import re
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from fulfilment.models import OrderLine, ServiceLevel
from fulfilment.services.documents import order_address, warehouse_address
from labels.invoice import InvoiceData, InvoiceLine
from labels.shipping import LabelData
from shipping.couriers.base import BookingRequest, CustomsLine, Parcel, Party
from shipping.models import Shipment

COURIER_NAMES = {"dhl_express": "DHL Express", "auspost": "Australia Post", "fedex": "FedEx", "ups": "UPS"}
DEFAULT_HS_CODE = "6406"  # parts of footwear, removable insoles (6406.90)


def shipments_for_documents() -> QuerySet[Shipment]:
    """Shipments with everything their booking, labels and invoice print (a fixed number of queries)."""
    lines = (
        OrderLine.objects.filter(requires_shipping=True, sku__isnull=False, quantity_reserved__gt=0)
        .select_related("sku__product", "sku__size")
        .order_by("pk")
    )
    return Shipment.objects.select_related("order", "warehouse", "warehouse__shipper_details").prefetch_related(
        "parcels", Prefetch("order__lines", queryset=lines, to_attr="shipping_lines")
    )


# Australia Post's postcode ranges -> state: couriers that need a state (Australia Post, FedEx,
# UPS) get one for an Australian address that came without it.
_AU_POSTCODE_STATES = (
    ((200, 299), "ACT"),
    ((800, 999), "NT"),
    ((1000, 2599), "NSW"),
    ((2600, 2618), "ACT"),
    ((2619, 2899), "NSW"),
    ((2900, 2920), "ACT"),
    ((2921, 2999), "NSW"),
    ((3000, 3999), "VIC"),
    ((4000, 4999), "QLD"),
    ((5000, 5999), "SA"),
    ((6000, 6999), "WA"),
    ((7000, 7999), "TAS"),
    ((8000, 8999), "VIC"),
    ((9000, 9999), "QLD"),
)


def au_state(postcode: str) -> str:
    """The state of an Australian postcode, "" when it is not one."""
    digits = postcode.strip()
    if not (digits.isdigit() and len(digits) == 4):
        return ""
    number = int(digits)
    return next((state for (low, high), state in _AU_POSTCODE_STATES if low <= number <= high), "")


def _state(country: str, state: str, postcode: str) -> str:
    if state:
        return state
    return au_state(postcode) if country == "AU" else ""


def shipper_party(shipment: Shipment) -> Party:
    w = shipment.warehouse
    details = getattr(w, "shipper_details", None) if hasattr(w, "shipper_details") else None
    return Party(
        name=(details.contact_name if details and details.contact_name else settings.BRAND_NAME)[:60],
        company=f"{settings.BRAND_NAME} {w.name}".strip()[:60],
        lines=tuple(part for part in (w.address_line1, w.address_line2) if part) or (w.name,),
        city=w.city,
        postcode=w.postcode,
        country=w.country,
        state=_state(w.country, details.state if details else "", w.postcode),
        phone=(details.phone if details and details.phone else settings.SHIPPER_PHONE),
        email=(details.email if details and details.email else settings.SHIPPER_EMAIL),
    )


def receiver_party(shipment: Shipment) -> Party:
    order = shipment.order
    raw = order.shipping_address or {}
    return Party(
        name=(raw.get("name") or order.customer_name or "Customer")[:60],
        company=raw.get("company", "") or "",
        lines=tuple(part for part in (raw.get("address1", ""), raw.get("address2", "")) if part),
        city=raw.get("city", "") or "",
        state=_state(
            (raw.get("country_code") or order.ship_country or "").upper(),
            raw.get("province_code", "") or "",
            raw.get("postcode", "") or "",
        ),
        postcode=raw.get("postcode", "") or "",
        country=(raw.get("country_code") or order.ship_country or "").upper(),
        phone=raw.get("phone", "") or "",
        email=order.email or "",
    )


def customs_lines(shipment: Shipment) -> tuple[CustomsLine, ...]:
    origin = settings.CUSTOMS_ORIGIN_COUNTRY
    result = []
    for line in shipment.order.shipping_lines:
        sku = line.sku
        size = f"{sku.size.system} {sku.size.label}" if sku.size_id else ""
        result.append(
            CustomsLine(
                description=f"{sku.product.name}, size {size}"[:70] if size else sku.product.name[:70],
                quantity=line.quantity_reserved,
                unit_value=line.unit_price,
                hs_code=re.sub(r"\D", "", sku.hs_code) or DEFAULT_HS_CODE,  # "6406.90" -> "640690"
                origin_country=origin,
                weight_g=sku.weight_g * line.quantity_reserved,
                sku=sku.code,
            )
        )
    return tuple(result)


def is_international(shipment: Shipment) -> bool:
    return receiver_party(shipment).country != shipment.warehouse.country


def booking_request(shipment: Shipment) -> BookingRequest:
    order = shipment.order
    lines = customs_lines(shipment)
    declared = sum((line.unit_value * line.quantity for line in lines), Decimal("0"))
    zone = ZoneInfo(shipment.warehouse.timezone or "UTC")
    return BookingRequest(
        shipper=shipper_party(shipment),
        receiver=receiver_party(shipment),
        parcels=tuple(Parcel(weight_g=p.weight_g, dimensions_cm=p.dimensions_cm) for p in shipment.parcels.all()),
        service=shipment.service,
        ship_at=timezone.now().astimezone(zone).replace(microsecond=0),
        product_code=shipment.product_code,
        currency=(order.currency or settings.SHIPPING_DEFAULT_CURRENCY).upper(),
        declared_value=declared,
        customs=lines if is_international(shipment) else (),
        incoterm=settings.SHIPPING_INCOTERM,
        description="Insoles",
    )


def order_reference(order) -> str:
    number = order.number or str(order.pk)
    return number if number.startswith("#") else f"#{number}"


def label_data(shipment: Shipment, *, reprint: bool = False) -> list[LabelData]:
    """One label per parcel, all carrying the shipment's one tracking number.

    The routing box shows the courier's sort code when it gives a short one (DHL's service
    areas), else the destination postcode, which is what the depots sort by.
    """
    parcels = list(shipment.parcels.all())
    sender = warehouse_address(shipment.warehouse, name=settings.BRAND_NAME)
    recipient = order_address(shipment.order)
    routing = shipment.routing_code if 0 < len(shipment.routing_code) <= 12 else recipient.postcode
    origin = shipment.origin_code or f"{sender.country} {sender.postcode}".strip()
    destination = shipment.destination_code or f"{recipient.country} {recipient.postcode}".strip()
    ship_date = (shipment.booked_at or timezone.now()).astimezone(ZoneInfo(shipment.warehouse.timezone or "UTC")).date()
    return [
        LabelData(
            sender=sender,
            recipient=recipient,
            courier=COURIER_NAMES[shipment.courier],
            service="Express" if shipment.service == ServiceLevel.EXPRESS else "Standard",
            product_code=shipment.product_code,
            tracking_number=shipment.tracking_number,
            ship_date=ship_date,
            order_reference=order_reference(shipment.order),
            weight_g=parcel.weight_g,
            dimensions_cm=parcel.dimensions_cm,
            express=shipment.service == ServiceLevel.EXPRESS,
            routing_code=routing,
            origin=origin,
            destination=destination,
            piece=index,
            pieces=len(parcels),
            reprint=reprint,
        )
        for index, parcel in enumerate(parcels, start=1)
    ]


def invoice_data(shipment: Shipment) -> InvoiceData:
    order = shipment.order
    lines = customs_lines(shipment)
    return InvoiceData(
        exporter=warehouse_address(shipment.warehouse, name=settings.BRAND_NAME),
        importer=order_address(order),
        invoice_number=f"INV-{order_reference(order).lstrip('#')}-{shipment.pk}",
        invoice_date=(shipment.booked_at or timezone.now()).date(),
        currency=(order.currency or settings.SHIPPING_DEFAULT_CURRENCY).upper(),
        lines=tuple(
            InvoiceLine(
                description=line.description,
                quantity=line.quantity,
                unit_value=line.unit_value,
                country_of_origin=line.origin_country,
                hs_code=line.hs_code,
                sku=line.sku,
            )
            for line in lines
        ),
        total_weight_g=sum(p.weight_g for p in shipment.parcels.all()),
        incoterm=settings.SHIPPING_INCOTERM,
        order_reference=order_reference(order),
        tracking_number=shipment.tracking_number,
    )
