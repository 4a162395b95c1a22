"""DHL Express through the MyDHL API (REST, JSON, HTTP Basic with the API key and secret).

The courier's rules, as this adapter follows them:

- ``POST /shipments`` books one shipment (one waybill, one piece id per parcel) and answers
  201 with ``shipmentTrackingNumber``, ``packages[].trackingNumber`` and ``documents[]`` (the
  label, base64). Our reference travels as a shipment-level ``customerReferences`` entry of
  type ``CU`` (consignor reference), which is what the reference lookup searches.
- ``plannedShippingDateAndTime`` is ``YYYY-MM-DDTHH:MM:SS GMT+HH:MM`` and may not be in the
  past: a retry of an old booking request is sent with "now" instead of the stale time.
- Product codes: ``P`` (Express Worldwide, non-documents) across borders, ``N`` (Domestic
  Express) inside one country, unless the request names its own.
- International bookings are customs declarable: ``declaredValue`` and its currency, the
  incoterm and ``exportDeclaration.lineItems`` (HS code as an outbound commodity code, the
  manufacturer country, unit price, quantity in pieces, net and gross weight in kg).
- ``GET /tracking?shipmentTrackingNumber=A&shipmentTrackingNumber=B`` repeats the parameter
  (the API takes up to 200; we send 50 at a time). Events come oldest first, each with
  ``date``, ``time``, ``GMTOffset`` (asked for with ``requestGMTOffsetPerEvent``), ``typeCode``,
  ``description`` and ``serviceArea[0].description`` (the location). A number DHL does not
  know is simply absent from the answer; when none is known the answer is a 404.
- ``GET /tracking?shipmentReference=R&shipperAccountNumber=A`` finds a booking by our
  reference (DHL wants the search bounded by ``dateRangeFrom``/``dateRangeTo``); a 404
  "No Shipments Found" means there is none.
- DHL Express has no void call: an unused waybill is never scanned and never billed, so
  ``void`` answers False and the shipment is recorded void on our side only.
- Errors are problem documents ``{instance, detail, title, message, status}``; the code is
  ``status`` (a string), else the leading number of ``detail``; the message is ``detail``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import requests

from . import base
from .base import (
    AuthError,
    Booking,
    BookingRequest,
    Capabilities,
    Courier,
    Party,
    PermanentError,
    RetryableError,
    TrackingEvent,
    TrackingSnapshot,
)

# Every DHL Express checkpoint code (DHL's tracking status list, service "express") -> ours.
STATUS_CODES: dict[str, str] = {
    # Picked up / accepted by DHL
    "PU": base.PICKED_UP,  # Shipment pick up
    "SA": base.PICKED_UP,  # Shipment acceptance (dropped off at a DHL point)
    # Moving through the network, customs included
    "PL": base.IN_TRANSIT,  # Processed at location
    "AF": base.IN_TRANSIT,  # Arrived facility
    "DF": base.IN_TRANSIT,  # Depart facility
    "AR": base.IN_TRANSIT,  # Arrival in delivery facility
    "FD": base.IN_TRANSIT,  # Forward destination
    "TR": base.IN_TRANSIT,  # Record of transfer
    "TP": base.IN_TRANSIT,  # Forwarded to a third party
    "SM": base.IN_TRANSIT,  # Scheduled for movement
    "SC": base.IN_TRANSIT,  # Service changed
    "AD": base.IN_TRANSIT,  # Agreed delivery (a new delivery date agreed)
    "RR": base.IN_TRANSIT,  # Response received (customs status updated)
    "IC": base.IN_TRANSIT,  # In clearance processing
    "CR": base.IN_TRANSIT,  # Clearance release
    "BR": base.IN_TRANSIT,  # Broker release
    "BN": base.IN_TRANSIT,  # Customer broker notified
    "PY": base.IN_TRANSIT,  # Payment (duties paid)
    # Last mile
    "WC": base.OUT_FOR_DELIVERY,  # With delivering courier
    "CC": base.AVAILABLE_FOR_PICKUP,  # Awaiting consignee collection
    "OK": base.DELIVERED,  # Delivery
    "DD": base.DELIVERED,  # Delivered damaged: delivered, the damage is in the description
    # A delivery attempt that did not work; DHL tries again
    "NH": base.ATTEMPT_FAILED,  # Not home
    "CA": base.ATTEMPT_FAILED,  # Closed on arrival
    "ND": base.ATTEMPT_FAILED,  # Not delivered
    "RD": base.ATTEMPT_FAILED,  # Refused delivery
    # Something needs looking at
    "PD": base.EXCEPTION,  # Partial delivery: some pieces are still out
    "BA": base.EXCEPTION,  # Bad address
    "CM": base.EXCEPTION,  # Customer moved
    "MD": base.EXCEPTION,  # Missed delivery cycle
    "MS": base.EXCEPTION,  # Mis-sort
    "MC": base.EXCEPTION,  # Miscode
    "OH": base.EXCEPTION,  # On hold
    "HP": base.EXCEPTION,  # Held for payment
    "SS": base.EXCEPTION,  # Shipment stopped
    "CD": base.EXCEPTION,  # Controllable clearance delay
    "UD": base.EXCEPTION,  # Uncontrollable clearance delay
    "DS": base.EXCEPTION,  # Destroyed / disposal
    "RT": base.RETURNING_TO_SENDER,  # Returned to consignor
    "CS": base.CANCELLED,  # Closed shipment: DHL closed the waybill without delivery
}

TRACK_BATCH = 50
PRODUCT_INTERNATIONAL = "P"  # EXPRESS WORLDWIDE (non-documents)
PRODUCT_DOMESTIC = "N"  # DOMESTIC EXPRESS
LABEL_TEMPLATE = "ECOM26_84_001"
REFERENCE_SEARCH_DAYS = 30
_LEADING_NUMBER = re.compile(r"^\s*(\d+)\s*:")


class DhlExpress(Courier):
    code = "dhl_express"
    name = "DHL Express"
    capabilities = Capabilities(track_batch=TRACK_BATCH, void=False, manifest=False, push=False, label_document=True)
    status_codes = STATUS_CODES

    # --- calls -------------------------------------------------------------------------
    def book(self, request: BookingRequest, reference: str) -> Booking:
        body = booking_body(request, reference, account=self.config.account)
        response = self._call("POST", "/shipments", json=body, ambiguous_on_timeout=True, expected=(200, 201))
        data = self.json_answer(response, ambiguous=True)
        return self._booking(data, reference=reference, product_code=body["productCode"])

    def find_by_reference(self, reference: str) -> Booking | None:
        today = dt.datetime.now(dt.UTC).date()
        params = [
            ("shipmentReference", reference),
            ("shipmentReferenceType", "CU"),
            ("shipperAccountNumber", self.config.account),
            ("dateRangeFrom", (today - dt.timedelta(days=REFERENCE_SEARCH_DAYS)).isoformat()),
            ("dateRangeTo", (today + dt.timedelta(days=1)).isoformat()),
            ("levelOfDetail", "piece"),
        ]
        response = self._call("GET", "/tracking", params=params, expected=(200, 404))
        if response.status_code == 404:
            return None
        shipments = [s for s in self.json_answer(response).get("shipments") or [] if s.get("shipmentTrackingNumber")]
        if not shipments:
            return None
        # Several bookings with one reference (an earlier rebook): the latest one is the live one.
        found = max(shipments, key=lambda s: str(s.get("shipmentTimestamp") or ""))
        number = str(found["shipmentTrackingNumber"])
        pieces = tuple(str(p["trackingNumber"]) for p in found.get("pieces") or [] if p.get("trackingNumber"))
        return Booking(
            courier=self.code,
            reference=reference,
            tracking_number=number,
            parcels=pieces,
            product_code=str(found.get("productCode") or ""),
            courier_id=number,
            raw=found,
        )

    def track(self, numbers: Sequence[str]) -> list[TrackingSnapshot]:
        numbers = list(numbers)
        if len(numbers) > TRACK_BATCH:
            raise ValueError(f"DHL Express: at most {TRACK_BATCH} numbers per tracking call")
        if not numbers:
            return []
        params = [("shipmentTrackingNumber", n) for n in numbers] + [
            ("trackingView", "all-checkpoints"),
            ("levelOfDetail", "shipment"),
            ("requestGMTOffsetPerEvent", "true"),
        ]
        response = self._call("GET", "/tracking", params=params, expected=(200, 404))
        known: dict[str, dict] = {}
        if response.status_code == 200:
            for shipment in self.json_answer(response).get("shipments") or []:
                if shipment.get("shipmentTrackingNumber"):
                    known[str(shipment["shipmentTrackingNumber"])] = shipment
        return [self._snapshot(n, known.get(n)) for n in numbers]

    def void(self, booking: Booking) -> bool:
        # No void call at DHL Express: an unscanned waybill is not billed.
        return False

    def tracking_url(self, number: str) -> str:
        return f"https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id={number}"

    def permanent_error(self, response: requests.Response) -> PermanentError:
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return _error_class(response)(
                self.code,
                response.text[:500] or f"HTTP {response.status_code}",
                code=str(response.status_code),
                http_status=response.status_code,
            )
        detail = str(data.get("detail") or data.get("message") or data.get("title") or f"HTTP {response.status_code}")
        more = [str(d) for d in data.get("additionalDetails") or [] if d]
        if more:
            detail = f"{detail} ({'; '.join(more)})"
        # DHL's own code leads the detail ("420505: The postal code ..."); ``status`` is only the HTTP status.
        leading = _LEADING_NUMBER.match(detail)
        code = str((leading.group(1) if leading else "") or data.get("status") or data.get("code") or "")
        return _error_class(response)(
            self.code, detail, code=code or str(response.status_code), http_status=response.status_code
        )

    # --- helpers -----------------------------------------------------------------------
    def _call(self, method: str, path: str, *, expected: Sequence[int], **kwargs) -> requests.Response:
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        response = self.http(
            method, path, auth=(self.config.key, self.config.secret), headers=headers, expected=expected, **kwargs
        )
        if response.status_code not in expected:
            raise self.permanent_error(response)
        return response

    def _booking(self, data: dict[str, Any], *, reference: str, product_code: str) -> Booking:
        number = str(data.get("shipmentTrackingNumber") or "")
        if not number:
            # Answered 2xx without a waybill: the booking may exist, so look it up before rebooking.
            raise RetryableError(
                self.code, "booking answer has no shipmentTrackingNumber", code="bad_response", ambiguous=True
            )
        pieces = tuple(str(p["trackingNumber"]) for p in data.get("packages") or [] if p.get("trackingNumber"))
        label, label_format = None, ""
        for document in data.get("documents") or []:
            if str(document.get("typeCode", "")).lower() == "label" and document.get("content"):
                try:
                    label = base64.b64decode(document["content"], validate=False)
                except (binascii.Error, ValueError):
                    label = None
                label_format = str(document.get("imageFormat") or "").lower() if label else ""
                break
        details = (data.get("shipmentDetails") or [{}])[0] or {}
        return Booking(
            courier=self.code,
            reference=reference,
            tracking_number=number,
            parcels=pieces,
            product_code=product_code,
            courier_id=number,
            origin=_service_area(details.get("originServiceArea")),
            destination=_service_area(details.get("destinationServiceArea")),
            label_document=label,
            label_format=label_format,
            raw={k: v for k, v in data.items() if k != "documents"},
        )

    def _snapshot(self, number: str, shipment: dict | None) -> TrackingSnapshot:
        if shipment is None:
            return TrackingSnapshot(tracking_number=number, events=(), found=False)
        events = []
        for raw in shipment.get("events") or []:
            occurred = _event_time(raw)
            if occurred is None:
                continue
            code = str(raw.get("typeCode") or "")
            status = self.status_for(code)
            description = str(raw.get("description") or "")
            areas = raw.get("serviceArea") or []
            location = str(areas[0].get("description") or areas[0].get("code") or "") if areas else ""
            events.append(
                TrackingEvent(
                    tracking_number=number,
                    code=code,
                    description=description,
                    status=status,
                    occurred_at=occurred,
                    location=location,
                    reason=description if status in (base.EXCEPTION, base.ATTEMPT_FAILED) else "",
                )
            )
        events.sort(key=lambda e: e.occurred_at)
        return TrackingSnapshot(
            tracking_number=number,
            events=tuple(events),
            estimated_delivery=_parse_datetime(shipment.get("estimatedDeliveryDate")),
        )


# --- the booking body (pure) ---------------------------------------------------------------
def booking_body(request: BookingRequest, reference: str, *, account: str, now: dt.datetime | None = None) -> dict:
    """The MyDHL ``POST /shipments`` body for one booking carrying our reference."""
    international = request.international
    product = request.product_code or (PRODUCT_INTERNATIONAL if international else PRODUCT_DOMESTIC)
    packages = []
    for parcel in request.parcels:
        package: dict[str, Any] = {"weight": _kg(parcel.weight_g)}
        if parcel.dimensions_cm:
            length, width, height = parcel.dimensions_cm
            package["dimensions"] = {"length": length, "width": width, "height": height}
        packages.append(package)
    declared = request.declared_value or sum(
        (line.unit_value * line.quantity for line in request.customs), Decimal("0")
    )
    content: dict[str, Any] = {
        "packages": packages,
        "isCustomsDeclarable": international,
        "description": request.description[:70],
        "incoterm": request.incoterm,
        "unitOfMeasurement": "metric",
    }
    if declared or international:
        content["declaredValue"] = _money(declared)
        content["declaredValueCurrency"] = request.currency
    ship_at = _planned_time(request.ship_at, now=now)
    if international:
        content["exportDeclaration"] = {
            "lineItems": [
                {
                    "number": index,
                    "description": line.description[:512],
                    "price": _money(line.unit_value),
                    "quantity": {"value": line.quantity, "unitOfMeasurement": "PCS"},
                    "commodityCodes": [{"typeCode": "outbound", "value": line.hs_code}],
                    "exportReasonType": "permanent",
                    "manufacturerCountry": line.origin_country,
                    "weight": {"netValue": _kg(line.weight_g), "grossValue": _kg(line.weight_g)},
                }
                for index, line in enumerate(request.customs, start=1)
            ],
            "invoice": {"number": reference[:35], "date": ship_at.date().isoformat()},
        }
    label_format = "zpl" if request.label_format == "zpl" else "pdf"
    return {
        "plannedShippingDateAndTime": format_planned(ship_at),
        "pickup": {"isRequested": False},
        "productCode": product,
        "accounts": [{"typeCode": "shipper", "number": account}],
        "customerReferences": [{"value": reference[:35], "typeCode": "CU"}],
        "outputImageProperties": {
            "encodingFormat": label_format,
            "imageOptions": [{"typeCode": "label", "templateName": LABEL_TEMPLATE}],
        },
        "customerDetails": {
            "shipperDetails": _details(request.shipper),
            "receiverDetails": _details(request.receiver, fallback_phone=request.shipper.phone),
        },
        "content": content,
    }


def format_planned(when: dt.datetime) -> str:
    """``2026-07-01T14:00:00 GMT+01:00``: the only spelling MyDHL accepts."""
    offset = when.utcoffset() or dt.timedelta(0)
    sign = "-" if offset < dt.timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{when.strftime('%Y-%m-%dT%H:%M:%S')} GMT{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _planned_time(ship_at: dt.datetime, *, now: dt.datetime | None) -> dt.datetime:
    # DHL refuses a planned time in the past (a retried booking keeps its old ship_at).
    now = now or dt.datetime.now(dt.UTC)
    if ship_at.tzinfo is None:
        ship_at = ship_at.replace(tzinfo=dt.UTC)
    if ship_at < now:
        ship_at = (now + dt.timedelta(minutes=5)).astimezone(ship_at.tzinfo)
    return ship_at.replace(microsecond=0)


def _details(party: Party, *, fallback_phone: str = "") -> dict:
    address: dict[str, Any] = {
        "postalCode": party.postcode,
        "cityName": party.city,
        "countryCode": party.country,
        "addressLine1": party.lines[0] if party.lines else "",
    }
    for index, line in enumerate(party.lines[1:3], start=2):
        address[f"addressLine{index}"] = line
    if party.state:
        address["provinceCode"] = party.state
    contact: dict[str, Any] = {
        "phone": party.phone or fallback_phone or "0000000000",
        "companyName": party.company or party.name,
        "fullName": party.name or party.company,
    }
    if party.email:
        contact["email"] = party.email
    details: dict[str, Any] = {
        "postalAddress": address,
        "contactInformation": contact,
        "typeCode": "business" if party.company else "private",
    }
    if party.tax_id:
        details["registrationNumbers"] = [
            {"typeCode": "VAT", "number": party.tax_id, "issuerCountryCode": party.country}
        ]
    return details


def _kg(grams: int) -> float:
    return round(grams / 1000, 3)


def _money(value: Decimal) -> float:
    return float(Decimal(value).quantize(Decimal("0.01")))


def _service_area(area: Any) -> str:
    if isinstance(area, dict):
        return str(area.get("serviceAreaCode") or area.get("facilityCode") or "")
    return ""


def _event_time(raw: dict) -> dt.datetime | None:
    date, time = raw.get("date"), raw.get("time") or "00:00:00"
    if not date:
        return None
    offset = str(raw.get("GMTOffset") or "+00:00")
    return _parse_datetime(f"{date}T{time}{offset}")


def _parse_datetime(value: Any) -> dt.datetime | None:
    """ISO 8601 from DHL; without an offset the time is taken as UTC."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _error_class(response: requests.Response) -> type[PermanentError]:
    return AuthError if response.status_code in (401, 403) else PermanentError
