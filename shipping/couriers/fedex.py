"""FedEx REST APIs (Ship, Track) behind ``base.Courier``.

Rules of this courier, from FedEx's published OpenAPI files (ship-api.json, track.json) and
its "Tracking Status Codes" table (see /work/shared/reference/courier-apis.md, section 3):

- Auth: ``POST /oauth/token`` with the form ``grant_type=client_credentials``, ``client_id``
  (API key) and ``client_secret``; ``expires_in`` is about an hour. The token is shared by
  every worker (``tokens.OAuthCourier``); a 401 refreshes it once and retries once.
- Book: ``POST /ship/v1/shipments`` with ``labelResponseOptions: LABEL``, ``accountNumber``
  ``{"value": ...}`` and ``requestedShipment``; weights in KG, dimensions in CM. Our
  reference rides on every package as ``customerReferences`` ``CUSTOMER_REFERENCE`` (max 30
  characters), which is what track-by-reference searches. The customer tracks the
  ``masterTrackingNumber``; each piece has its own ``trackingNumber``.
- Track: ``POST /track/v1/trackingnumbers``, at most 30 numbers, ``includeDetailedScans``.
  An unknown number is not an HTTP error: its ``trackResults[]`` carries ``error``
  (``TRACKING.TRACKINGNUMBER.NOTFOUND``). Scan events come newest first; we return them
  oldest first.
- Reference lookup: ``POST /track/v1/referencenumbers`` with ``referencesInformation``
  (``type`` CUSTOMER_REFERENCE, ``value``, ``accountNumber`` and the ship-date window).
- Void: ``PUT /ship/v1/shipments/cancel`` with ``deletionControl: DELETE_ALL_PACKAGES``.
- Errors: ``{"transactionId", "errors": [{"code", "message"}]}``.
- Push (FedEx webhooks, "Advanced Integrated Visibility"): FedEx signs every notification with
  ``fdx-signature`` = base64(HMAC-SHA256(security token, raw body)), the token being the one set on
  the webhook project (settings ``COURIER_FEDEX_WEBHOOK_SECRET``; FedEx's "validation process"
  page). The payload follows the Track API's results; we take ``output.completeTrackResults``,
  ``completeTrackResults``, one ``{"trackingNumber", "trackResults"}`` or a list of those (the
  exact envelope is not in FedEx's public OpenAPI files), and read the scans as tracking does.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from .base import (
    ATTEMPT_FAILED,
    AVAILABLE_FOR_PICKUP,
    CANCELLED,
    DELIVERED,
    EXCEPTION,
    IN_TRANSIT,
    LABEL_CREATED,
    OUT_FOR_DELIVERY,
    PICKED_UP,
    RETURNING_TO_SENDER,
    AuthError,
    Booking,
    BookingRequest,
    Capabilities,
    Party,
    PermanentError,
    RetryableError,
    TrackingEvent,
    TrackingSnapshot,
)
from .tokens import OAuthCourier

logger = logging.getLogger("shipping.couriers")

# FedEx's own summary of a scan (``derivedStatusCode``), for an ``eventType`` the table below lacks.
DERIVED_STATUS = {"IN": LABEL_CREATED, "PU": PICKED_UP, "IT": IN_TRANSIT, "DL": DELIVERED, "DE": EXCEPTION}

# FedEx "Tracking Status Codes" (movement, regulatory, possession), each eventType once.
# Codes that appear in two tables (CA, EA, RC, SP) keep the movement meaning: that is the
# one FedEx sends as a scan's eventType. Delays are exceptions (a side state: the shipment
# keeps its rank); return-label-link notices and the shipper's possession say nothing about
# the parcel's movement and sit at the lowest rank, so they never move a status.
STATUS_CODES = {
    # Before pickup
    "OC": LABEL_CREATED,  # Order Created (shipment information sent to FedEx)
    "AP": LABEL_CREATED,  # At Pickup
    "EP": LABEL_CREATED,  # Enroute to Pickup
    "DS": LABEL_CREATED,  # Vehicle Dispatched (for the pickup)
    "DR": LABEL_CREATED,  # Vehicle furnished but not used
    "SH": LABEL_CREATED,  # possession: Shipper
    "RP": LABEL_CREATED,  # Return label link emailed to return sender
    "LP": LABEL_CREATED,  # Return label link cancelled by shipment originator
    "RG": LABEL_CREATED,  # Return label link expiring soon
    "RD": LABEL_CREATED,  # Return label link expired
    # Picked up
    "PU": PICKED_UP,  # Picked Up
    "PX": PICKED_UP,  # Picked up (see Details)
    # In transit
    "AA": IN_TRANSIT,  # At Airport
    "AC": IN_TRANSIT,  # At Canada Post facility
    "AE": IN_TRANSIT,  # seen as an eventType in karrio's fixtures (not in the table)
    "AF": IN_TRANSIT,  # At local FedEx Facility
    "AO": IN_TRANSIT,  # Shipment arriving On-time
    "AR": IN_TRANSIT,  # Arrived at FedEx location
    "AX": IN_TRANSIT,  # At USPS facility
    "CH": IN_TRANSIT,  # Location Changed
    "DP": IN_TRANSIT,  # Departed
    "EA": IN_TRANSIT,  # Enroute to Airport (regulatory: Export Approved)
    "EO": IN_TRANSIT,  # Enroute to Origin Airport
    "FD": IN_TRANSIT,  # At FedEx Destination
    "IT": IN_TRANSIT,  # In Transit
    "IX": IN_TRANSIT,  # In transit (see Details)
    "LO": IN_TRANSIT,  # Left Origin
    "OF": IN_TRANSIT,  # At FedEx origin facility
    "OW": IN_TRANSIT,  # On the way (as FedEx sends it)
    "Ow": IN_TRANSIT,  # On the way (as the published table spells it)
    "OX": IN_TRANSIT,  # Shipment information sent to USPS
    "PF": IN_TRANSIT,  # Plane in Flight
    "PL": IN_TRANSIT,  # Plane Landed
    "PM": IN_TRANSIT,  # In Progress
    "SF": IN_TRANSIT,  # At Sort Facility
    "SP": IN_TRANSIT,  # Split Status
    "TR": IN_TRANSIT,  # Transfer
    "RR": IN_TRANSIT,  # CDO requested (a custom delivery option)
    "RM": IN_TRANSIT,  # CDO Modified
    "RC": IN_TRANSIT,  # CDO Cancelled (possession: Recipient)
    "CC": IN_TRANSIT,  # regulatory: Cleared Customs
    "CP": IN_TRANSIT,  # regulatory: Clearance in Progress
    "CU": IN_TRANSIT,  # possession: Customs
    "BR": IN_TRANSIT,  # possession: Broker
    "TP": IN_TRANSIT,  # possession: Transfer Partner
    # Out for delivery
    "OD": OUT_FOR_DELIVERY,  # Out for Delivery
    "ED": OUT_FOR_DELIVERY,  # Enroute to Delivery
    "AD": OUT_FOR_DELIVERY,  # At Delivery
    # Waiting for the recipient
    "HL": AVAILABLE_FOR_PICKUP,  # Hold at Location
    "HP": AVAILABLE_FOR_PICKUP,  # Ready for Recipient Pickup
    # Delivered
    "DL": DELIVERED,  # Delivered
    # Side states
    "DE": ATTEMPT_FAILED,  # Delivery Exception (recipient absent, business closed, refused ...)
    "SE": EXCEPTION,  # Shipment Exception
    "DY": EXCEPTION,  # Delay
    "DD": EXCEPTION,  # Delivery Delay
    "PD": EXCEPTION,  # Pickup Delay
    "CD": EXCEPTION,  # regulatory: Clearance Delay
    "RS": RETURNING_TO_SENDER,  # Return to Shipper
    "CA": CANCELLED,  # Shipment Cancelled (possession: Carrier)
}

# Per-result track errors that mean "FedEx does not know this number".
NOT_FOUND_CODES = ("TRACKING.TRACKINGNUMBER.NOTFOUND", "TRACKING.TRACKINGNUMBER.INVALID")

SERVICE_TYPES = {
    # (international, our service level) -> FedEx serviceType
    (True, "express"): "FEDEX_INTERNATIONAL_PRIORITY",
    (True, "standard"): "INTERNATIONAL_ECONOMY",
    (False, "express"): "PRIORITY_OVERNIGHT",
    (False, "standard"): "STANDARD_OVERNIGHT",
}
REFERENCE_MAX = 30
# FedEx searches references by ship date; our lookup runs minutes after the booking.
REFERENCE_WINDOW_DAYS = 30


class FedEx(OAuthCourier):
    code = "fedex"
    name = "FedEx"
    capabilities = Capabilities(track_batch=30, void=True, manifest=False, push=True, label_document=True)
    status_codes = STATUS_CODES

    # --- auth ----------------------------------------------------------------------------
    def fetch_token(self) -> tuple[str, float]:
        response = self.http(
            "POST",
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.config.key,
                "client_secret": self.config.secret,
            },
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        )
        if response.status_code != 200:
            error = self.permanent_error(response)
            raise AuthError(self.code, error.message, code=error.code, http_status=response.status_code)
        body = _json(response)
        token = body.get("access_token")
        if not token:
            raise AuthError(self.code, "token answer without access_token", code="no_access_token")
        return token, body.get("expires_in", 3600)

    def call_headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", "X-locale": "en_US"}

    # --- book ----------------------------------------------------------------------------
    def service_type(self, request: BookingRequest) -> str:
        return request.product_code or SERVICE_TYPES[(request.international, request.service)]

    def shipment_body(self, request: BookingRequest, reference: str) -> dict[str, Any]:
        zpl = request.label_format == "zpl"
        references = [{"customerReferenceType": "CUSTOMER_REFERENCE", "value": reference[:REFERENCE_MAX]}]
        packages = []
        for number, parcel in enumerate(request.parcels, start=1):
            package: dict[str, Any] = {
                "sequenceNumber": number,
                "weight": {"units": "KG", "value": _kg(parcel.weight_g)},
                "customerReferences": references,
            }
            if parcel.dimensions_cm:
                length, width, height = parcel.dimensions_cm
                package["dimensions"] = {"length": length, "width": width, "height": height, "units": "CM"}
            packages.append(package)
        shipment: dict[str, Any] = {
            "shipDatestamp": request.ship_at.date().isoformat(),
            "pickupType": "USE_SCHEDULED_PICKUP",
            "serviceType": self.service_type(request),
            "packagingType": "YOUR_PACKAGING",
            # FedEx's schema: "the shipment total weight in pounds" (whatever the packages' unit);
            # it reads it for international multi-piece shipments.
            "totalWeight": _lb(sum(p.weight_g for p in request.parcels)),
            "shipper": _party(request.shipper),
            "recipients": [_party(request.receiver)],
            "shippingChargesPayment": {
                "paymentType": "SENDER",
                "payor": {"responsibleParty": {"accountNumber": {"value": self.config.account}}},
            },
            "labelSpecification": {
                "imageType": "ZPLII" if zpl else "PDF",
                "labelStockType": "STOCK_4X6" if zpl else "PAPER_4X6",
                "labelFormatType": "COMMON2D",
            },
            "totalPackageCount": len(packages),
            "requestedPackageLineItems": packages,
        }
        if request.international:
            shipment["customsClearanceDetail"] = self.customs_body(request, reference)
        return {
            "labelResponseOptions": "LABEL",
            "accountNumber": {"value": self.config.account},
            "requestedShipment": shipment,
        }

    def customs_body(self, request: BookingRequest, reference: str) -> dict[str, Any]:
        currency = request.currency
        commodities = [
            {
                "description": line.description[:450],
                "countryOfManufacture": line.origin_country,
                "harmonizedCode": line.hs_code,
                "quantity": line.quantity,
                "quantityUnits": "PCS",
                "numberOfPieces": line.quantity,
                "unitPrice": {"amount": _money(line.unit_value), "currency": currency},
                "customsValue": {"amount": _money(line.unit_value * line.quantity), "currency": currency},
                "weight": {"units": "KG", "value": _kg(line.weight_g)},
                **({"partNumber": line.sku} if line.sku else {}),
            }
            for line in request.customs
        ]
        total = request.declared_value or sum((line.unit_value * line.quantity for line in request.customs), Decimal(0))
        return {
            # DDP: we pay duties and taxes; otherwise (DAP ...) the recipient does.
            "dutiesPayment": {"paymentType": "SENDER" if request.incoterm == "DDP" else "RECIPIENT"},
            "isDocumentOnly": False,
            "commercialInvoice": {
                "shipmentPurpose": "SOLD",
                "termsOfSale": request.incoterm,
                "customerReferences": [{"customerReferenceType": "INVOICE_NUMBER", "value": reference[:REFERENCE_MAX]}],
            },
            "totalCustomsValue": {"amount": _money(total), "currency": currency},
            "commodities": commodities,
        }

    def book(self, request: BookingRequest, reference: str) -> Booking:
        response = self.api(
            "POST", "/ship/v1/shipments", json=self.shipment_body(request, reference), ambiguous_on_timeout=True
        )
        if response.status_code != 200:
            raise self.permanent_error(response)
        body = _json(response)
        shipments = (body.get("output") or {}).get("transactionShipments") or []
        shipment = shipments[0] if shipments else {}
        pieces = sorted(shipment.get("pieceResponses") or [], key=lambda p: p.get("packageSequenceNumber") or 0)
        master = shipment.get("masterTrackingNumber") or next(
            (p.get("masterTrackingNumber") or p.get("trackingNumber") for p in pieces if p.get("trackingNumber")), ""
        )
        if not master:
            # A 200 without a number: the shipment may exist, so the retry looks it up by reference first.
            raise RetryableError(
                self.code, "booking answer without a tracking number", code="bad_answer", ambiguous=True
            )
        labels = [
            document["encodedLabel"]
            for piece in pieces
            for document in piece.get("packageDocuments") or []
            if document.get("encodedLabel") and document.get("contentType", "LABEL") == "LABEL"
        ]
        label_format = "zpl" if request.label_format == "zpl" else "pdf"
        return Booking(
            courier=self.code,
            reference=reference,
            tracking_number=master,
            parcels=tuple(p["trackingNumber"] for p in pieces if p.get("trackingNumber")) or (master,),
            product_code=shipment.get("serviceType") or self.service_type(request),
            courier_id=master,
            label_document=_label(labels, label_format),
            label_format=label_format if labels else "",
            raw=body,
        )

    # --- reference lookup ----------------------------------------------------------------
    def find_by_reference(self, reference: str) -> Booking | None:
        today = dt.datetime.now(dt.UTC).date()
        begin = (today - dt.timedelta(days=REFERENCE_WINDOW_DAYS)).isoformat()
        end = (today + dt.timedelta(days=1)).isoformat()
        body = {
            "referencesInformation": {
                "type": "CUSTOMER_REFERENCE",
                "value": reference[:REFERENCE_MAX],
                "accountNumber": self.config.account,
                "shipDateBegin": begin,
                # The spec's example says shipDateEnd, its schema requires shipDateEndDate: send both.
                "shipDateEnd": end,
                "shipDateEndDate": end,
            },
            "includeDetailedScans": False,
        }
        response = self.api("POST", "/track/v1/referencenumbers", json=body)
        if response.status_code != 200:
            error = self.permanent_error(response)
            if response.status_code == 404 or "NOTFOUND" in error.code:
                return None
            raise error
        pieces = []
        for complete in (_json(response).get("output") or {}).get("completeTrackResults") or []:
            for result in complete.get("trackResults") or []:
                number = (result.get("trackingNumberInfo") or {}).get("trackingNumber") or complete.get(
                    "trackingNumber"
                )
                if result.get("error") or not number:
                    continue
                if (result.get("latestStatusDetail") or {}).get("code") == "CA":
                    continue  # a cancelled booking is not one to adopt
                sequence = _int((result.get("packageDetails") or {}).get("sequenceNumber"))
                service = (result.get("serviceDetail") or {}).get("type") or ""
                pieces.append((sequence, number, service))
        if not pieces:
            return None
        pieces.sort(key=lambda piece: piece[0])
        numbers = tuple(dict.fromkeys(number for _, number, _ in pieces))
        # The master tracking number of a FedEx shipment is its first piece's number.
        return Booking(
            courier=self.code,
            reference=reference,
            tracking_number=numbers[0],
            parcels=numbers,
            product_code=pieces[0][2],
            courier_id=numbers[0],
        )

    # --- track ---------------------------------------------------------------------------
    def track(self, numbers: Sequence[str]) -> list[TrackingSnapshot]:
        numbers = list(numbers)
        if len(numbers) > self.capabilities.track_batch:
            raise ValueError(f"FedEx tracks at most {self.capabilities.track_batch} numbers per call")
        if not numbers:
            return []
        body = {
            "includeDetailedScans": True,
            "trackingInfo": [{"trackingNumberInfo": {"trackingNumber": number}} for number in numbers],
        }
        response = self.api("POST", "/track/v1/trackingnumbers", json=body)
        if response.status_code != 200:
            error = self.permanent_error(response)
            if error.code in NOT_FOUND_CODES:
                return [TrackingSnapshot(tracking_number=n, events=(), found=False) for n in numbers]
            raise error
        results: dict[str, list[dict]] = {}
        for complete in (_json(response).get("output") or {}).get("completeTrackResults") or []:
            if not isinstance(complete, dict):
                continue
            for result in complete.get("trackResults") or []:
                if not isinstance(result, dict):
                    continue
                info = result.get("trackingNumberInfo")
                number = complete.get("trackingNumber") or (
                    info.get("trackingNumber") if isinstance(info, dict) else None
                )
                results.setdefault(number, []).append(result)
        return [self.snapshot(number, results.get(number, [])) for number in numbers]

    def snapshot(self, number: str, results: list[dict]) -> TrackingSnapshot:
        results = [r for r in results if isinstance(r, dict)]
        known = [r for r in results if not r.get("error")]
        for result in results:
            error = result.get("error")
            code = error.get("code") if isinstance(error, dict) else None
            if error and code not in NOT_FOUND_CODES:
                logger.warning("fedex: tracking %s: %s", number, error)
        if not known:
            return TrackingSnapshot(tracking_number=number, events=(), found=False)
        # A reused number can have several results: the one with the latest scan is the live shipment.
        result = max(known, key=_latest_scan)
        events = []
        for scan in result.get("scanEvents") or []:
            if not isinstance(scan, dict):
                continue
            occurred = _datetime(scan.get("date"))
            code = scan.get("eventType") or ""
            if occurred is None or not code:
                continue
            events.append(
                TrackingEvent(
                    tracking_number=number,
                    code=code,
                    description=scan.get("eventDescription") or "",
                    status=self.status_codes.get(code)
                    or DERIVED_STATUS.get(scan.get("derivedStatusCode") or "")
                    or self.status_for(code),
                    occurred_at=occurred,
                    location=_location(scan.get("scanLocation")),
                    reason=scan.get("exceptionDescription") or "",
                )
            )
        events.sort(key=lambda event: event.occurred_at)
        estimated = next(
            (
                _datetime(item.get("dateTime"))
                for item in result.get("dateAndTimes") or []
                if item.get("type") == "ESTIMATED_DELIVERY"
            ),
            None,
        )
        return TrackingSnapshot(tracking_number=number, events=tuple(events), estimated_delivery=estimated)

    # --- push (webhooks) -----------------------------------------------------------------
    def parse_push(self, headers, body: bytes) -> list[TrackingEvent]:
        """The scans of a FedEx webhook notification, after checking its ``fdx-signature``."""
        given = str(headers.get("fdx-signature") or "").strip()
        secrets = [t.strip() for t in str(self.config.options.get("WEBHOOK_SECRET") or "").split(",") if t.strip()]
        expected = [base64.b64encode(hmac.new(t.encode(), body, hashlib.sha256).digest()).decode() for t in secrets]
        if not given or not any(hmac.compare_digest(given.encode(), e.encode()) for e in expected):
            raise AuthError(self.code, "fdx-signature missing or wrong", code="push_unverified")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PermanentError(self.code, f"not JSON: {exc}", code="push_malformed") from exc
        if isinstance(data, dict):
            output = data.get("output") if isinstance(data.get("output"), dict) else data
            completes = output.get("completeTrackResults", [data] if "trackResults" in data else None)
        else:
            completes = data
        if not isinstance(completes, list) or not all(isinstance(c, dict) for c in completes):
            raise PermanentError(self.code, "no completeTrackResults / trackResults in the body", code="push_malformed")
        events: list[TrackingEvent] = []
        for complete in completes:
            results = complete.get("trackResults")
            if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
                raise PermanentError(self.code, "trackResults must be a list of objects", code="push_malformed")
            for result in results:
                number = complete.get("trackingNumber") or (result.get("trackingNumberInfo") or {}).get(
                    "trackingNumber"
                )
                if not number:
                    raise PermanentError(self.code, "a result without its tracking number", code="push_malformed")
                events.extend(self.snapshot(str(number), [result]).events)
        return events

    # --- void ----------------------------------------------------------------------------
    def void(self, booking: Booking) -> bool:
        body = {
            "accountNumber": {"value": self.config.account},
            "trackingNumber": booking.courier_id or booking.tracking_number,
            "deletionControl": "DELETE_ALL_PACKAGES",
            "emailShipment": False,
        }
        response = self.api("PUT", "/ship/v1/shipments/cancel", json=body)
        if response.status_code != 200:
            raise self.permanent_error(response)
        output = _json(response).get("output") or {}
        if output.get("cancelledShipment") is False:
            raise PermanentError(self.code, output.get("message") or "FedEx did not cancel it", code="not_cancelled")
        return True

    def tracking_url(self, number: str) -> str:
        return f"https://www.fedex.com/fedextrack/?trknbr={number}"

    def permanent_error(self, response) -> PermanentError:
        errors = _json(response).get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            return PermanentError(
                self.code,
                first.get("message") or f"HTTP {response.status_code}",
                code=first.get("code") or str(response.status_code),
                http_status=response.status_code,
            )
        return super().permanent_error(response)


# --- helpers ------------------------------------------------------------------------------
def _json(response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _party(party: Party) -> dict[str, Any]:
    contact = {"personName": party.name[:70], "phoneNumber": party.phone or "0000000000"}
    if party.company:
        contact["companyName"] = party.company[:35]
    if party.email:
        contact["emailAddress"] = party.email
    address: dict[str, Any] = {
        "streetLines": [line[:35] for line in party.lines if line][:3],
        "city": party.city[:35],
        "postalCode": party.postcode,
        "countryCode": party.country,
    }
    if party.state:
        address["stateOrProvinceCode"] = party.state
    if not party.company:
        address["residential"] = True
    result: dict[str, Any] = {"contact": contact, "address": address}
    if party.tax_id:
        kind = "BUSINESS_NATIONAL" if party.company else "PERSONAL_NATIONAL"
        result["tins"] = [{"number": party.tax_id, "tinType": kind}]
    return result


def _lb(grams: int) -> float:
    return max(0.1, round(grams / 453.59237, 1))


def _latest_scan(result: dict) -> dt.datetime:
    stamps = [_datetime(scan.get("date")) for scan in result.get("scanEvents") or [] if isinstance(scan, dict)]
    return max((s for s in stamps if s is not None), default=dt.datetime.min.replace(tzinfo=dt.UTC))


def _kg(grams: int) -> float:
    return max(0.01, round(grams / 1000, 2))


def _money(value: Decimal) -> float:
    return float(Decimal(value).quantize(Decimal("0.01")))


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _datetime(value) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _location(location) -> str:
    if not isinstance(location, dict):
        return ""
    parts = (location.get("city"), location.get("stateOrProvinceCode"), location.get("countryCode"))
    return ", ".join(part for part in parts if part)


def _label(encoded: list[str], label_format: str) -> bytes | None:
    """The courier's label: every piece's ZPL in one document; for PDF the first piece's."""
    documents = []
    for value in encoded:
        try:
            documents.append(base64.b64decode(value))
        except (binascii.Error, ValueError):
            logger.warning("fedex: a label that is not base64 was ignored")
    if not documents:
        return None
    return b"".join(documents) if label_format == "zpl" else documents[0]
