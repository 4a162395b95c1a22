"""UPS REST APIs (OAuth, Shipping, Tracking) behind ``base.Courier``.

Rules of this courier, from UPS's own OpenAPI files (OAuthClientCredentials.yaml,
Shipping.yaml, Tracking.yaml) and its "API Codes" tables (see
/work/shared/reference/courier-apis.md, section 4):

- Auth: ``POST /security/v1/oauth/token``, HTTP Basic client id:secret, the form
  ``grant_type=client_credentials`` and ``x-merchant-id`` (the account). ``expires_in`` is
  a string (about four hours). The token is shared by every worker; a 401 refreshes it once.
- Every API call carries ``transId`` (unique per call, at most 32 characters) and
  ``transactionSrc``; the version in the shipping paths comes from settings (``v2409``).
- Book: ``POST /api/shipments/{version}/ship`` with ``ShipmentRequest``; numbers are strings,
  weights KGS, dimensions CM (length the longest). Our reference is a ``ReferenceNumber``
  where UPS allows it: per package for US/US and PR/PR shipments, on the shipment
  otherwise (Shipping.yaml). The customer tracks ``ShipmentIdentificationNumber`` (the
  first package's 1Z number); ``PackageResults`` is a list, or one object in older versions.
  UPS has no PDF label: ``pdf`` asks for GIF (``label_format`` "gif"), ``zpl`` for ZPL.
- Track: ``GET /api/track/v1/details/{number}``, one number per call. An unknown number is a
  200 with ``warnings`` (TW0001) or a 404. Activities come newest first; we return them
  oldest first. An event's code is ``status.type + "/" + status.code``.
- Reference lookup: ``GET /api/track/v1/reference/details/{reference}`` (shipperNum, SmallPackage).
- Void: ``DELETE /api/shipments/{version}/void/cancel/{ShipmentIdentificationNumber}``.
- Errors: ``{"response": {"errors": [{"code", "message"}]}}``.
- Push (UPS Track Alert, UPSTrackAlert.yaml ``webhooks.TrackingEvent``): one POST per event, the
  JSON ``trackingNumber`` (sometimes with a leading space), ``localActivityDate``/``Time``,
  ``gmtActivityDate``/``Time``, ``activityLocation`` {city, stateProvince, postalCode, country},
  ``activityStatus`` {type, code, description, descriptionCode}. It is authenticated by the
  ``credential`` header: the opaque string we gave in the subscription's ``destination``
  (settings ``COURIER_UPS_WEBHOOK_CREDENTIAL``); ``User-Agent: UPSPubSubTrackingService``. The
  event's time is the GMT one (the same instant the tracking API's date, time and gmtOffset
  give), so a pushed and a polled scan dedupe.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import json
import logging
import math
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

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
    TrackingEvent,
    TrackingSnapshot,
)
from .tokens import OAuthCourier

logger = logging.getLogger("shipping.couriers")
TRACK_QUERY = urlencode(
    {"locale": "en_US", "returnSignature": "false", "returnMilestones": "false", "returnPOD": "false"}
)

# How an event's status is found, most specific first (``Ups.status_for``):
#   1. "TYPE/CODE"  the activity's status.type and status.code together (I/OT)
#   2. "*/CODE"     a code that decides whatever the type it comes with (*/PU)
#   3. "NNN"        the 3-digit status.statusCode (022 First Attempt Made)
#   4. "TYPE"       the activity type alone (X: an exception)
# Informational codes (a delivery date moved, a photo taken, "not available") sit at the
# lowest rank so they never move a shipment's status.
STATUS_CODES = {
    # Activity types (Tracking-package-activity-types; P, RS and O from older docs and clients).
    "M": LABEL_CREATED,  # Billing Information Received
    "MV": CANCELLED,  # Billing Information Voided
    "P": PICKED_UP,  # Pickup
    "I": IN_TRANSIT,  # In Transit (out for delivery comes from its code)
    "O": OUT_FOR_DELIVERY,  # Out for delivery
    "D": DELIVERED,  # Delivered
    "X": EXCEPTION,  # Exception
    "RS": RETURNING_TO_SENDER,  # Returned to shipper
    "DO": IN_TRANSIT,  # Delivered Origin CFS (freight: a freight station, not the receiver)
    "DD": IN_TRANSIT,  # Delivered Destination CFS (freight: a freight station, not the receiver)
    "W": IN_TRANSIT,  # Warehousing (freight)
    "NA": LABEL_CREATED,  # Not Available
    "U": LABEL_CREATED,  # Updates (Track Alert)
    # Manifest codes (type M, voided MV) and their movement/update/delivery codes.
    "M/MP": LABEL_CREATED,  # Shipment ready for UPS, billing information received
    "M/DP": LABEL_CREATED,  # Shipment ready for UPS, manifest processed
    "M/RD": LABEL_CREATED,  # Shipper created a label, Roadie has not received the package yet
    "MV/VP": CANCELLED,  # Manifest cancelled and shipment voided
    "I/DP": IN_TRANSIT,  # Departure scan (same code as the manifest's DP)
    "I/OR": IN_TRANSIT,  # Origin scan
    "D/FS": DELIVERED,  # Delivered
    "D/KB": DELIVERED,  # Delivered (to a receiver's business / dock)
    "D/KM": DELIVERED,  # Delivered (met customer)
    "U/UP": LABEL_CREATED,  # Updated delivery date
    "U/UT": LABEL_CREATED,  # Updated delivery time
    "U/PX": LABEL_CREATED,  # Delivery photo
    # Codes that decide alone.
    "*/PU": PICKED_UP,  # Pickup scan
    "*/XD": PICKED_UP,  # Drop-off: UPS has the package
    "*/AR": IN_TRANSIT,  # Arrival scan
    "*/DS": IN_TRANSIT,  # Destination scan
    "*/YP": IN_TRANSIT,  # Preparing for delivery
    "*/OD": OUT_FOR_DELIVERY,  # Loaded on delivery vehicle
    "*/OF": OUT_FOR_DELIVERY,  # Out for delivery
    "*/OT": OUT_FOR_DELIVERY,  # Out for delivery today (a Track Alert "D" event carries it too)
    # Status/description codes (3 digits).
    "003": LABEL_CREATED,  # Shipment Ready for UPS
    "005": IN_TRANSIT,  # On the Way
    "006": OUT_FOR_DELIVERY,  # Out for Delivery
    "007": CANCELLED,  # Shipment Information Voided
    "011": DELIVERED,  # Delivered
    "012": IN_TRANSIT,  # Clearance in Progress
    "013": EXCEPTION,  # Exception
    "014": IN_TRANSIT,  # Clearance Completed
    "017": AVAILABLE_FOR_PICKUP,  # Held for Customer Pickup
    "021": OUT_FOR_DELIVERY,  # Out for Delivery
    "022": ATTEMPT_FAILED,  # First Attempt Made
    "023": ATTEMPT_FAILED,  # Second Delivery Attempted
    "024": ATTEMPT_FAILED,  # Final Attempt Made
    "034": RETURNING_TO_SENDER,  # Returned to Sender
    "035": RETURNING_TO_SENDER,  # Returning to Sender
    "038": PICKED_UP,  # Picked Up by UPS
    "040": AVAILABLE_FOR_PICKUP,  # Ready for Customer Pickup
    "046": EXCEPTION,  # Delay
    "048": EXCEPTION,  # Delay
    "064": EXCEPTION,  # Delivery Refused
    "069": EXCEPTION,  # Unable to Deliver
    "072": OUT_FOR_DELIVERY,  # Loaded on Delivery Vehicle
    "160": PICKED_UP,  # We Have Your Package
    "161": AVAILABLE_FOR_PICKUP,  # Delivered to UPS Access Point
}

NOT_FOUND_WARNINGS = ("TW0001",)
# A 400 whose errors are all these says the number is not one UPS knows (not a bad request of ours).
NOT_FOUND_ERRORS = frozenset({"TV1002"})
SERVICE_CODES = {
    # (domestic US/PR, international, our level) -> UPS Service.Code
    ("us", "express"): ("01", "Next Day Air"),
    ("us", "standard"): ("03", "Ground"),
    ("domestic", "express"): ("07", "Express"),
    ("domestic", "standard"): ("11", "UPS Standard"),
    ("international", "express"): ("07", "Worldwide Express"),
    ("international", "standard"): ("08", "Worldwide Expedited"),
}
REFERENCE_MAX = 35
TRANSACTION_SOURCE = "insole-fulfilment"


class Ups(OAuthCourier):
    code = "ups"
    name = "UPS"
    capabilities = Capabilities(track_batch=1, void=True, manifest=False, push=True, label_document=True)
    status_codes = STATUS_CODES

    @property
    def version(self) -> str:
        return self.config.options.get("VERSION") or "v2409"

    # --- auth ----------------------------------------------------------------------------
    def fetch_token(self) -> tuple[str, float]:
        response = self.http(
            "POST",
            "/security/v1/oauth/token",
            auth=(self.config.key, self.config.secret),
            data={"grant_type": "client_credentials"},
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
                "x-merchant-id": self.config.account,
            },
        )
        if response.status_code != 200:
            error = self.permanent_error(response)
            raise AuthError(self.code, error.message, code=error.code, http_status=response.status_code)
        body = _json(response)
        token = body.get("access_token")
        if not token:
            raise AuthError(self.code, "token answer without access_token", code="no_access_token")
        return token, body.get("expires_in", 14399)

    def call_headers(self) -> dict[str, str]:
        return {"transId": uuid.uuid4().hex, "transactionSrc": TRANSACTION_SOURCE, "Accept": "application/json"}

    # --- status --------------------------------------------------------------------------
    def status_for(self, code: str, status_code: str = "") -> str:
        """The status of a "TYPE/CODE" event (see STATUS_CODES for the order of lookups)."""
        kind, _, scan = code.partition("/")
        candidates = [code, f"*/{scan}"] if scan else []
        if status_code.strip().isdigit():
            candidates.append(status_code.strip().zfill(3))
        candidates.append(kind)
        for candidate in candidates:
            status = self.status_codes.get(candidate)
            if status is not None:
                return status
        logger.warning("ups: unknown event code %r (statusCode %r), taken as in_transit", code, status_code)
        return IN_TRANSIT

    # --- book ----------------------------------------------------------------------------
    def service(self, request: BookingRequest) -> tuple[str, str]:
        if request.product_code:
            return request.product_code, ""
        if request.international:
            area = "international"
        else:
            area = "us" if request.shipper.country in ("US", "PR") else "domestic"
        return SERVICE_CODES[(area, request.service)]

    def shipment_body(self, request: BookingRequest, reference: str) -> dict[str, Any]:
        account = self.config.account
        references = [{"Value": reference[:REFERENCE_MAX]}]
        # UPS: package-level references for US/US and PR/PR, shipment-level ones otherwise.
        pair = f"{request.shipper.country}/{request.receiver.country}"
        on_packages = pair in ("US/US", "PR/PR")
        packages = []
        for parcel in request.parcels:
            package: dict[str, Any] = {
                "Packaging": {"Code": "02", "Description": "Customer Supplied Package"},
                "PackageWeight": {"UnitOfMeasurement": {"Code": "KGS"}, "Weight": _kg(parcel.weight_g)},
            }
            if parcel.dimensions_cm:
                length, width, height = sorted(parcel.dimensions_cm, reverse=True)
                package["Dimensions"] = {
                    "UnitOfMeasurement": {"Code": "CM"},
                    "Length": str(length),
                    "Width": str(width),
                    "Height": str(height),
                }
            if on_packages:
                package["ReferenceNumber"] = references
            packages.append(package)
        code, description = self.service(request)
        charges = [{"Type": "01", "BillShipper": {"AccountNumber": account}}]
        if request.international and request.incoterm == "DDP":
            charges.append({"Type": "02", "BillShipper": {"AccountNumber": account}})
        shipper = {**_party(request.shipper, international=request.international), "ShipperNumber": account}
        shipment: dict[str, Any] = {
            "Description": request.description[:50],
            "Shipper": shipper,
            "ShipTo": _party(request.receiver, ship_to=True, international=request.international),
            "ShipFrom": _party(request.shipper, ship_from=True),
            "PaymentInformation": {"ShipmentCharge": charges},
            "Service": {"Code": code, **({"Description": description} if description else {})},
            "ShipmentDate": request.ship_at.strftime("%Y%m%d"),
            "Package": packages,
        }
        if not on_packages:
            shipment["ReferenceNumber"] = references
        if request.international:
            shipment["ShipmentServiceOptions"] = {"InternationalForms": self.international_forms(request, reference)}
            shipment["InvoiceLineTotal"] = {"CurrencyCode": request.currency, "MonetaryValue": _money(_total(request))}
        zpl = request.label_format == "zpl"
        label: dict[str, Any] = {
            "LabelImageFormat": {"Code": "ZPL" if zpl else "GIF"},
            "LabelStockSize": {"Height": "6", "Width": "4"},
        }
        if not zpl:
            label["HTTPUserAgent"] = "Mozilla/4.5"
        return {
            "ShipmentRequest": {
                "Request": {"RequestOption": "nonvalidate", "TransactionReference": {"CustomerContext": reference}},
                "Shipment": shipment,
                "LabelSpecification": label,
            }
        }

    def international_forms(self, request: BookingRequest, reference: str) -> dict[str, Any]:
        products = []
        for line in request.customs:
            product: dict[str, Any] = {
                "Description": [line.description[:35]],
                "Unit": {
                    "Number": str(line.quantity),
                    "Value": _money(line.unit_value),
                    "UnitOfMeasurement": {"Code": "PCS"},
                },
                "CommodityCode": line.hs_code,
                "OriginCountryCode": line.origin_country,
                "ProductWeight": {"UnitOfMeasurement": {"Code": "KGS"}, "Weight": _kg(line.weight_g)},
            }
            if line.sku:
                product["PartNumber"] = line.sku[:10]
            products.append(product)
        return {
            "FormType": ["01"],  # commercial invoice
            "InvoiceNumber": reference[:35],
            "InvoiceDate": request.ship_at.strftime("%Y%m%d"),
            "ReasonForExport": "SALE",
            "TermsOfShipment": request.incoterm,
            "CurrencyCode": request.currency,
            "Contacts": {"SoldTo": _party(request.receiver)},
            "Product": products,
        }

    def book(self, request: BookingRequest, reference: str) -> Booking:
        response = self.api(
            "POST",
            f"/api/shipments/{self.version}/ship",
            json=self.shipment_body(request, reference),
            headers={"Content-Type": "application/json"},
            ambiguous_on_timeout=True,
        )
        if response.status_code != 200:
            raise self.permanent_error(response)
        body = _json(response)
        results = (body.get("ShipmentResponse") or {}).get("ShipmentResults") or {}
        shipment_id = results.get("ShipmentIdentificationNumber")
        if not shipment_id:
            raise PermanentError(self.code, "booking answer without ShipmentIdentificationNumber", code="bad_answer")
        packages = _as_list(results.get("PackageResults"))
        labels = [
            (package.get("ShippingLabel") or {}).get("GraphicImage")
            for package in packages
            if (package.get("ShippingLabel") or {}).get("GraphicImage")
        ]
        label_format = "zpl" if request.label_format == "zpl" else "gif"
        return Booking(
            courier=self.code,
            reference=reference,
            tracking_number=shipment_id,
            parcels=tuple(p["TrackingNumber"] for p in packages if p.get("TrackingNumber")) or (shipment_id,),
            product_code=self.service(request)[0],
            courier_id=shipment_id,
            label_document=_label(labels, label_format),
            label_format=label_format if labels else "",
            raw=body,
        )

    # --- reference lookup ----------------------------------------------------------------
    def find_by_reference(self, reference: str) -> Booking | None:
        response = self.api(
            "GET",
            f"/api/track/v1/reference/details/{quote(reference[:REFERENCE_MAX], safe='')}",
            params={"locale": "en_US", "shipperNum": self.config.account, "refNumType": "SmallPackage"},
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self.permanent_error(response)
        numbers: list[str] = []
        service = ""
        for shipment in ((_json(response).get("trackResponse") or {}).get("shipment")) or []:
            for package in shipment.get("package") or []:
                number = package.get("trackingNumber")
                if not number or _voided(package) or not _carries(package, reference):
                    continue
                numbers.append(number)
                service = service or (package.get("service") or {}).get("code") or ""
        if not numbers:
            return None
        numbers = list(dict.fromkeys(numbers))
        # The shipment identification number is the first package's 1Z number.
        return Booking(
            courier=self.code,
            reference=reference,
            tracking_number=numbers[0],
            parcels=tuple(numbers),
            product_code=service,
            courier_id=numbers[0],
        )

    # --- track ---------------------------------------------------------------------------
    def track(self, numbers: Sequence[str]) -> list[TrackingSnapshot]:
        numbers = list(numbers)
        if len(numbers) > self.capabilities.track_batch:
            raise ValueError("UPS tracks one number per call")
        return [self.track_one(number) for number in numbers]

    def track_one(self, number: str) -> TrackingSnapshot:
        # The query string is the same for every number: encoded once (a poll makes one call per number).
        response = self.api("GET", f"/api/track/v1/details/{quote(number, safe='')}?{TRACK_QUERY}")
        if response.status_code == 404 or (response.status_code == 400 and _only_errors(response, NOT_FOUND_ERRORS)):
            return TrackingSnapshot(tracking_number=number, events=(), found=False)
        if response.status_code != 200:
            raise self.permanent_error(response)
        shipments = ((_json(response).get("trackResponse") or {}).get("shipment")) or []
        packages = [package for shipment in shipments for package in shipment.get("package") or []]
        if not packages:
            warnings = [w for shipment in shipments for w in shipment.get("warnings") or []]
            if warnings and not any(w.get("code") in NOT_FOUND_WARNINGS for w in warnings):
                logger.warning("ups: tracking %s: %s", number, warnings)
            return TrackingSnapshot(tracking_number=number, events=(), found=False)
        mine = [package for package in packages if package.get("trackingNumber") == number] or packages
        events = []
        for package in mine:
            for activity in package.get("activity") or []:
                event = self.event(number, activity)
                if event is not None:
                    events.append(event)
        events.sort(key=lambda event: event.occurred_at)
        return TrackingSnapshot(tracking_number=number, events=tuple(events), estimated_delivery=_estimate(mine[0]))

    def event(self, number: str, activity: dict) -> TrackingEvent | None:
        status = activity.get("status") or {}
        kind, scan = (status.get("type") or "").strip(), (status.get("code") or "").strip()
        occurred = _activity_time(activity)
        if not kind or occurred is None:
            return None
        code = f"{kind}/{scan}" if scan else kind
        normalized = self.status_for(code, status.get("statusCode") or "")
        description = (status.get("description") or status.get("simplifiedTextDescription") or "").strip()
        return TrackingEvent(
            tracking_number=number,
            code=code,
            description=description,
            status=normalized,
            occurred_at=occurred,
            location=_location(activity.get("location")),
            reason=description if normalized in (EXCEPTION, ATTEMPT_FAILED) else "",
        )

    # --- push (Track Alert) --------------------------------------------------------------
    def parse_push(self, headers, body: bytes) -> list[TrackingEvent]:
        """One Track Alert event, after checking its ``credential`` header against our subscription's."""
        configured = [c.strip() for c in str(self.config.options.get("WEBHOOK_CREDENTIAL") or "").split(",")]
        given = str(headers.get("credential") or "")
        if not given or not any(c and hmac.compare_digest(given.encode(), c.encode()) for c in configured):
            raise AuthError(self.code, "Track Alert credential missing or wrong", code="push_unverified")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PermanentError(self.code, f"not JSON: {exc}", code="push_malformed") from exc
        if not isinstance(data, dict):
            raise PermanentError(self.code, "the body must be one tracking event object", code="push_malformed")
        number = str(data.get("trackingNumber") or "").strip()
        status = data.get("activityStatus")
        if not number or not isinstance(status, dict) or not str(status.get("type") or "").strip():
            raise PermanentError(
                self.code, "trackingNumber and activityStatus.type are required", code="push_malformed"
            )
        occurred = _push_time(data)
        if occurred is None:
            raise PermanentError(self.code, "no readable activity date and time", code="push_malformed")
        location = data.get("activityLocation") if isinstance(data.get("activityLocation"), dict) else {}
        activity = {
            "date": occurred.strftime("%Y%m%d"),
            "time": occurred.strftime("%H%M%S"),
            "gmtOffset": "+00:00",
            "location": {"address": {**location, "countryCode": location.get("country", "")}},
            "status": {**status, "statusCode": status.get("descriptionCode") or ""},
        }
        event = self.event(number, activity)
        return [event] if event is not None else []

    # --- void ----------------------------------------------------------------------------
    def void(self, booking: Booking) -> bool:
        shipment_id = booking.courier_id or booking.tracking_number
        response = self.api("DELETE", f"/api/shipments/{self.version}/void/cancel/{quote(shipment_id, safe='')}")
        if response.status_code != 200:
            raise self.permanent_error(response)
        status = ((_json(response).get("VoidShipmentResponse") or {}).get("SummaryResult") or {}).get("Status") or {}
        if status.get("Code") not in (None, "1"):
            raise PermanentError(self.code, status.get("Description") or "UPS did not void it", code="not_voided")
        return True

    def tracking_url(self, number: str) -> str:
        return f"https://www.ups.com/track?tracknum={number}"

    def permanent_error(self, response) -> PermanentError:
        errors = (_json(response).get("response") or {}).get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            return PermanentError(
                self.code,
                first.get("message") or f"HTTP {response.status_code}",
                code=str(first.get("code") or response.status_code),
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


def _only_errors(response, codes: frozenset[str]) -> bool:
    errors = (_json(response).get("response") or {}).get("errors")
    found = {str(e.get("code")) for e in errors if isinstance(e, dict)} if isinstance(errors, list) else set()
    return bool(found) and found <= codes


def _as_list(value) -> list[dict]:
    """UPS sends one element as an object and several as a list (before v2403, and in places after)."""
    if isinstance(value, dict):
        return [value]
    return [item for item in value or [] if isinstance(item, dict)]


def _party(
    party: Party, *, ship_to: bool = False, ship_from: bool = False, international: bool = False
) -> dict[str, Any]:
    """A UPS party. ``ShipFrom`` has no e-mail field. Shipper and ShipTo need a phone when the
    shipment crosses a border; a party without one gets zeros, as UPS's own tools fill in."""
    address: dict[str, Any] = {
        "AddressLine": [line[:35] for line in party.lines if line][:3],
        "City": party.city[:30],
        "PostalCode": party.postcode,
        "CountryCode": party.country,
    }
    if party.state:
        address["StateProvinceCode"] = party.state
    if ship_to and not party.company:
        address["ResidentialAddressIndicator"] = ""
    result: dict[str, Any] = {
        "Name": (party.company or party.name)[:35],
        "AttentionName": party.name[:35],
        "Address": address,
    }
    if party.phone:
        result["Phone"] = {"Number": party.phone[:15]}
    elif international and not ship_from:
        result["Phone"] = {"Number": "0000000000"}
    if party.email and not ship_from:
        result["EMailAddress"] = party.email[:50]
    if party.tax_id:
        result["TaxIdentificationNumber"] = party.tax_id
    return result


def _kg(grams: int) -> str:
    # UPS bills whole tenths of a kilogram, rounded up.
    return f"{max(1, math.ceil(grams / 100)) / 10:.1f}"


def _money(value: Decimal) -> str:
    return str(Decimal(value).quantize(Decimal("0.01")))


def _total(request: BookingRequest) -> Decimal:
    return request.declared_value or sum((line.unit_value * line.quantity for line in request.customs), Decimal(0))


def _voided(package: dict) -> bool:
    current = package.get("currentStatus") or {}
    return current.get("type") == "MV" or str(current.get("statusCode") or current.get("code") or "") == "007"


def _carries(package: dict, reference: str) -> bool:
    """True unless the package lists its reference numbers and ours is not among them."""
    listed = [item.get("number") for item in package.get("referenceNumber") or [] if isinstance(item, dict)]
    return not listed or reference[:REFERENCE_MAX] in listed


def _stamp(date: str, time_of_day: str) -> dt.datetime | None:
    """UPS's ``YYYYMMDD`` and ``HHMMSS`` (or ``HH:MM:SS``; blank: midnight) as a naive datetime."""
    try:
        return dt.datetime.strptime(date + (time_of_day.replace(":", "") or "000000").zfill(6), "%Y%m%d%H%M%S")  # noqa: DTZ007
    except ValueError:
        return None


def _activity_time(activity: dict) -> dt.datetime | None:
    local = _stamp((activity.get("date") or "").strip(), (activity.get("time") or "").strip())
    if local is None:
        return None
    offset = (activity.get("gmtOffset") or "").strip()
    if offset:
        try:
            sign = -1 if offset.startswith("-") else 1
            digits = offset.lstrip("+-")  # "-04:00", "-0400" or "-4"
            if ":" in digits:
                hours, minutes = digits.split(":", 1)
            elif len(digits) > 2:
                hours, minutes = digits[:-2], digits[-2:]
            else:
                hours, minutes = digits, "0"
            delta = dt.timedelta(hours=int(hours), minutes=int(minutes or 0))
            return local.replace(tzinfo=dt.timezone(sign * delta))
        except ValueError:
            pass
    # No usable offset: UPS's GMT date and time when it gives both, else the local time taken as UTC.
    gmt_date, gmt_time = (activity.get("gmtDate") or "").strip(), (activity.get("gmtTime") or "").strip()
    gmt = _stamp(gmt_date, gmt_time) if gmt_date and gmt_time else None
    return (gmt or local).replace(tzinfo=dt.UTC)


def _push_time(data: dict) -> dt.datetime | None:
    """A Track Alert event's time: GMT date and time; the local ones (taken as UTC) if either is blank."""
    for date_key, time_key in (("gmtActivityDate", "gmtActivityTime"), ("localActivityDate", "localActivityTime")):
        date = str(data.get(date_key) or "").strip()
        time_of_day = str(data.get(time_key) or "").strip()
        if not date or (date_key == "gmtActivityDate" and not time_of_day):
            continue  # a GMT date without its time would read as midnight: the local pair is better
        moment = _stamp(date, time_of_day)
        if moment is not None:
            return moment.replace(tzinfo=dt.UTC)
    return None


def _estimate(package: dict) -> dt.datetime | None:
    for item in package.get("deliveryDate") or []:
        if item.get("type") in ("SDD", "RDD", "EDD") and item.get("date"):
            try:
                day = dt.datetime.strptime(item["date"], "%Y%m%d")  # noqa: DTZ007
            except ValueError:
                continue
            end = ((package.get("deliveryTime") or {}).get("endTime") or "235959").zfill(6)
            try:
                return day.replace(hour=int(end[:2]), minute=int(end[2:4]), second=int(end[4:6]), tzinfo=dt.UTC)
            except ValueError:
                return day.replace(tzinfo=dt.UTC)
    return None


def _location(location) -> str:
    address = (location or {}).get("address") if isinstance(location, dict) else None
    if not isinstance(address, dict):
        return ""
    parts = (address.get("city"), address.get("stateProvince"), address.get("countryCode") or address.get("country"))
    return ", ".join(part for part in parts if part)


def _label(encoded: list[str], label_format: str) -> bytes | None:
    """The courier's label: every package's ZPL in one document; for GIF the first package's."""
    documents = []
    for value in encoded:
        try:
            documents.append(base64.b64decode(value))
        except (binascii.Error, ValueError):
            logger.warning("ups: a label that is not base64 was ignored")
    if not documents:
        return None
    return b"".join(documents) if label_format == "zpl" else documents[0]
