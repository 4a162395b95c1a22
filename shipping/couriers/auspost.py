"""Australia Post through the Shipping and Tracking API v1 (eParcel): HTTP Basic with the API
key and password, plus the charge account in an ``Account-Number`` header on every call.

The courier's rules, as this adapter follows them:

- ``POST /shipping/v1/shipments`` creates one shipment (one item per parcel) and answers 201
  with ``shipments[0].shipment_id`` (what void and the order need) and each item's
  ``tracking_details.article_id`` (the number the customer tracks is the first item's). Our
  reference is the ``shipment_reference`` and the only entry of ``sender_references``, which
  ``GET /shipping/v1/shipments?offset=0&number_of_shipments=..&sender_reference=`` searches.
- Product ids: Express Post ``E34`` and Parcel Post ``T28`` at home; International Express
  ``ECM8`` (merchandise) and International Standard ``PTI8`` abroad, unless the request names
  its own. International items carry ``item_contents`` (description, quantity, value, HS
  ``tariff_code``, ``country_of_origin``, weight), ``classification_type`` SALE_OF_GOODS and
  ``commercial_value``.
- The label is a second step: ``POST /shipping/v1/labels`` (``wait_for_label_url``) answers a
  request whose ``status`` is AVAILABLE with a ``url`` (a plain GET), or PENDING, then polled
  with ``GET /shipping/v1/labels/{request_id}``. The label is optional: when it cannot be had
  the booking still stands and ``label_document`` is None (we print our own label).
- ``GET /shipping/v1/track?tracking_ids=A,B`` takes up to 10 ids; a failure for one id is an
  ``errors`` list inside the 200. Events are newest first and have no code: an event's
  ``description`` is its code. They sit in ``trackable_items[].events``, in
  ``trackable_items[].items[].events`` for a consignment, or in ``consignment.events``.
- ``DELETE /shipping/v1/shipments/{shipment_id}`` voids a shipment until it is in an order;
  ``PUT /shipping/v1/orders`` (Create Order From Shipments) with the day's shipment ids is the
  end-of-day manifest, and
  ``GET /shipping/v1/accounts/{account}/orders/{order_id}/summary`` its PDF.
- Errors are ``{"errors": [{"code", "name", "message", "field"}]}``; the gateway's own
  (authentication, rate limit) use ``error_code`` / ``error_name``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import urllib.parse
import zoneinfo
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
    CourierError,
    Manifest,
    Party,
    PermanentError,
    RetryableError,
    TrackingEvent,
    TrackingSnapshot,
    logger,
)

# Every status and event description in the reference (article and shipment statuses,
# StarTrack consignment statuses, and the event texts seen in tracking answers) -> ours.
STATUS_CODES: dict[str, str] = {
    # Article / shipment statuses (developers.auspost.com.au "Statuses")
    "Created": base.LABEL_CREATED,
    "Sealed": base.LABEL_CREATED,
    "Initiated": base.LABEL_CREATED,
    "In transit": base.IN_TRANSIT,
    "Delivered": base.DELIVERED,
    "Awaiting collection": base.AVAILABLE_FOR_PICKUP,
    "Possible delay": base.EXCEPTION,
    "Unsuccessful pickup": base.EXCEPTION,
    "Article damaged": base.EXCEPTION,
    "Cancelled": base.CANCELLED,
    "Held by courier": base.EXCEPTION,
    "Cannot be delivered": base.RETURNING_TO_SENDER,
    "Track items for detailed delivery information": base.IN_TRANSIT,
    "Unknown": base.IN_TRANSIT,
    # StarTrack consignment statuses
    "Booked In": base.LABEL_CREATED,
    "At Delivery Depot": base.IN_TRANSIT,
    "On Board for Delivery": base.OUT_FOR_DELIVERY,
    "Delivered in Full": base.DELIVERED,
    "To be Re-Delivered": base.ATTEMPT_FAILED,
    "Unsuccessful Delivery": base.ATTEMPT_FAILED,
    "Ready for Pickup": base.AVAILABLE_FOR_PICKUP,
    # Event descriptions
    "Shipping information received by Australia Post": base.LABEL_CREATED,
    "Shipping information approved by Australia Post": base.LABEL_CREATED,
    "Shipment information received": base.LABEL_CREATED,
    "Received by Australia Post": base.PICKED_UP,
    "Received item from Sender (Outbound)": base.PICKED_UP,
    "Item processed at facility": base.IN_TRANSIT,
    "Processed through Australia Post facility": base.IN_TRANSIT,
    "Arrived at facility": base.IN_TRANSIT,
    "Processed by air carrier": base.IN_TRANSIT,
    "Cleared and awaiting international departure": base.IN_TRANSIT,
    "Processed at Export Facility": base.IN_TRANSIT,
    "Despatch Parcels from Export Facility": base.IN_TRANSIT,
    "Item is in Customs": base.IN_TRANSIT,
    "Item cleared by Customs": base.IN_TRANSIT,
    "Arrived awaiting clearance (Inbound)": base.IN_TRANSIT,
    "Leave in a safe place requested by Receiver": base.IN_TRANSIT,
    "With Australia Post for delivery today": base.OUT_FOR_DELIVERY,
    "Onboard for delivery": base.OUT_FOR_DELIVERY,
    "Delivered - Left in a safe place": base.DELIVERED,
}

# Event texts that carry a place or a detail after a fixed opening ("In transit to next
# facility in SUNSHINE WEST VIC"): matched on the opening, first match wins.
PREFIX_RULES: tuple[tuple[str, str], ...] = (
    ("delivered", base.DELIVERED),
    ("in transit to next facility", base.IN_TRANSIT),
    ("arrived in ", base.IN_TRANSIT),
    ("awaiting collection", base.AVAILABLE_FOR_PICKUP),
    ("ready for collection", base.AVAILABLE_FOR_PICKUP),
    ("attempted delivery", base.ATTEMPT_FAILED),
    ("card left", base.ATTEMPT_FAILED),
    ("return to sender", base.RETURNING_TO_SENDER),
    ("returned to sender", base.RETURNING_TO_SENDER),
    ("being returned to sender", base.RETURNING_TO_SENDER),
    ("onboard for delivery", base.OUT_FOR_DELIVERY),
    ("with australia post for delivery", base.OUT_FOR_DELIVERY),
)

TRACK_BATCH = 10
NOT_FOUND_CODES = {"51104", "ESB-10001", "ESB-10002"}
LOOKUP_PAGE = 20  # shipments per reference lookup: ours is one, a retry or two at most
PRODUCTS = {
    ("express", False): "E34",  # Express Post
    ("standard", False): "T28",  # Parcel Post
    ("express", True): "ECM8",  # International Express (merchandise)
    ("standard", True): "PTI8",  # International Standard (Pack & Track)
}
LABEL_POLLS = 3
LABEL_POLL_SECONDS = 0.5
SYDNEY = zoneinfo.ZoneInfo("Australia/Sydney")
_LOWER_CODES = {key.lower(): value for key, value in STATUS_CODES.items()}


class AusPost(Courier):
    code = "auspost"
    name = "Australia Post"
    capabilities = Capabilities(track_batch=TRACK_BATCH, void=True, manifest=True, push=False, label_document=True)
    status_codes = STATUS_CODES

    # --- calls -------------------------------------------------------------------------
    def book(self, request: BookingRequest, reference: str) -> Booking:
        body = shipment_body(request, reference)
        response = self._call(
            "POST", "/shipping/v1/shipments", json=body, ambiguous_on_timeout=True, expected=(200, 201)
        )
        shipments = self.json_answer(response, ambiguous=True).get("shipments") or []
        if not shipments or not shipments[0].get("shipment_id"):
            raise RetryableError(self.code, "booking answer has no shipment_id", code="bad_response", ambiguous=True)
        booking = self._booking(shipments[0], reference=reference)
        label = self._label(booking.courier_id, request)
        if label is None:
            return booking
        return dataclasses.replace(booking, label_document=label, label_format=request.label_format)

    def find_by_reference(self, reference: str) -> Booking | None:
        # Get Shipments pages with offset + number_of_shipments (required together) and filters by
        # ``sender_reference``; ``sender_references`` (DESIGN.md's spelling) is sent too and ignored
        # where unknown. What comes back is checked for our reference all the same.
        params = {
            "offset": 0,
            "number_of_shipments": LOOKUP_PAGE,
            "sender_reference": reference,
            "sender_references": reference,
        }
        response = self._call("GET", "/shipping/v1/shipments", params=params, expected=(200, 404))
        if response.status_code == 404:
            return None
        found = self.json_answer(response).get("shipments") or []
        matches = [s for s in found if s.get("shipment_id") and _carries(s, reference)]
        if not matches:
            return None
        latest = max(matches, key=lambda s: str(s.get("shipment_creation_date") or ""))
        return self._booking(latest, reference=reference)

    def track(self, numbers: Sequence[str]) -> list[TrackingSnapshot]:
        numbers = list(numbers)
        if len(numbers) > TRACK_BATCH:
            raise ValueError(f"Australia Post: at most {TRACK_BATCH} ids per tracking call")
        if not numbers:
            return []
        # The ids go comma-separated as Australia Post documents them, commas unescaped.
        query = "tracking_ids=" + ",".join(urllib.parse.quote(n, safe="") for n in numbers)
        response = self._call("GET", f"/shipping/v1/track?{query}", expected=(200, 400, 404))
        if response.status_code != 200:
            # A whole-request "no such id" (51104, ESB-10001/2) says the numbers are unknown.
            codes = {str(e.get("code") or e.get("error_code") or "") for e in _errors(response)}
            if codes and codes <= NOT_FOUND_CODES:
                return [TrackingSnapshot(tracking_number=n, events=(), found=False) for n in numbers]
            raise self.permanent_error(response)
        results: dict[str, dict] = {}
        for result in self.json_answer(response).get("tracking_results") or []:
            results.setdefault(str(result.get("tracking_id") or ""), result)
        return [self._snapshot(n, results.get(n)) for n in numbers]

    def void(self, booking: Booking) -> bool:
        if not booking.courier_id:
            raise PermanentError(self.code, "no shipment_id to void", code="missing_shipment_id")
        path = f"/shipping/v1/shipments/{urllib.parse.quote(booking.courier_id, safe='')}"
        response = self._call("DELETE", path, expected=(200, 202, 204, 404))
        if response.status_code == 404:
            # Already gone at Australia Post: nothing live is left to void.
            logger.info("auspost: shipment %s not found on void, taken as voided", booking.courier_id)
        return True

    def manifest(self, bookings: Sequence[Booking]) -> Manifest:
        bookings = [b for b in bookings if b.courier_id]
        if not bookings:
            return super().manifest(bookings)
        order_reference = f"EOD-{dt.datetime.now(SYDNEY):%Y%m%d-%H%M%S}-{bookings[0].reference}"[:50]
        body = {
            "order_reference": order_reference,
            "payment_method": "CHARGE_TO_ACCOUNT",
            "shipments": [{"shipment_id": b.courier_id} for b in bookings],
        }
        # "Create Order From Shipments" is PUT; POST on the same path is "Create Order Including
        # Shipments", which wants every shipment's full details.
        response = self._call("PUT", "/shipping/v1/orders", json=body, ambiguous_on_timeout=True, expected=(200, 201))
        order = self.json_answer(response, ambiguous=True).get("order") or {}
        order_id = str(order.get("order_id") or "")
        return Manifest(
            courier=self.code,
            reference=order_id or order_reference,
            tracking_numbers=tuple(b.tracking_number for b in bookings),
            document=self._order_summary(order_id) if order_id else None,
        )

    def tracking_url(self, number: str) -> str:
        return f"https://auspost.com.au/mypost/track/details/{number}"

    def status_for(self, code: str) -> str:
        status = STATUS_CODES.get(code) or _LOWER_CODES.get(code.strip().lower())
        if status:
            return status
        lowered = code.strip().lower()
        for opening, rule_status in PREFIX_RULES:
            if lowered.startswith(opening):
                return rule_status
        return super().status_for(code)

    def permanent_error(self, response: requests.Response) -> PermanentError:
        errors = _errors(response)
        cls = AuthError if response.status_code in (401, 403) else PermanentError
        if not errors:
            return cls(
                self.code,
                response.text[:500] or f"HTTP {response.status_code}",
                code=str(response.status_code),
                http_status=response.status_code,
            )
        first = errors[0]
        code = str(first.get("code") or first.get("error_code") or response.status_code)
        message = "; ".join(_error_text(e) for e in errors)
        return cls(self.code, message, code=code, http_status=response.status_code)

    # --- helpers -----------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {"Account-Number": self.config.account, "Accept": "application/json"}

    def _call(self, method: str, path: str, *, expected: Sequence[int], **kwargs) -> requests.Response:
        response = self.http(
            method,
            path,
            auth=(self.config.key, self.config.secret),
            headers=self._headers(),
            expected=expected,
            **kwargs,
        )
        if response.status_code not in expected:
            raise self.permanent_error(response)
        return response

    def _booking(self, shipment: dict[str, Any], *, reference: str) -> Booking:
        items = shipment.get("items") or []
        articles = tuple(
            str(item["tracking_details"]["article_id"])
            for item in items
            if (item.get("tracking_details") or {}).get("article_id")
        )
        consignment = next(
            (
                str(item["tracking_details"]["consignment_id"])
                for item in items
                if (item.get("tracking_details") or {}).get("consignment_id")
            ),
            "",
        )
        return Booking(
            courier=self.code,
            reference=reference,
            tracking_number=articles[0] if articles else consignment,
            parcels=articles,
            product_code=str(items[0].get("product_id") or "") if items else "",
            courier_id=str(shipment["shipment_id"]),
            routing_code=consignment,
            raw=shipment,
        )

    def _label(self, shipment_id: str, request: BookingRequest) -> bytes | None:
        """The courier's label, or None: a failure here never undoes the booking."""
        body = label_body(shipment_id, request)
        try:
            response = self._call("POST", "/shipping/v1/labels", json=body, expected=(200, 201))
            label = (self.json_answer(response).get("labels") or [{}])[0]
            for _ in range(LABEL_POLLS):
                if label.get("status") != "PENDING" or not label.get("request_id"):
                    break
                time.sleep(LABEL_POLL_SECONDS)
                request_id = urllib.parse.quote(str(label["request_id"]), safe="")
                response = self._call("GET", f"/shipping/v1/labels/{request_id}", expected=(200,))
                label = (self.json_answer(response).get("labels") or [{}])[0]
            if label.get("status") != "AVAILABLE" or not label.get("url"):
                logger.info("auspost: no label url for %s (status %s)", shipment_id, label.get("status"))
                return None
            return self._download(str(label["url"]))
        except CourierError as exc:
            logger.warning("auspost: label for %s not fetched: %s", shipment_id, exc)
            return None

    def _order_summary(self, order_id: str) -> bytes | None:
        account = urllib.parse.quote(self.config.account, safe="")
        path = f"/shipping/v1/accounts/{account}/orders/{urllib.parse.quote(order_id, safe='')}/summary"
        try:
            response = self._call("GET", path, expected=(200,))
        except CourierError as exc:
            logger.warning("auspost: order summary %s not fetched: %s", order_id, exc)
            return None
        return response.content or None

    def _download(self, url: str) -> bytes | None:
        """The label URL is a plain GET (pre-signed, no credentials) outside the API base."""
        try:
            response = self.session.get(url, timeout=(self.config.connect_timeout, self.config.read_timeout))
        except requests.exceptions.RequestException as exc:
            logger.warning("auspost: label download failed: %s", exc)
            return None
        if response.status_code != 200 or not response.content:
            logger.warning("auspost: label download answered %s", response.status_code)
            return None
        return response.content

    def _snapshot(self, number: str, result: dict | None) -> TrackingSnapshot:
        if result is None or result.get("errors") or not (result.get("trackable_items") or result.get("consignment")):
            return TrackingSnapshot(tracking_number=number, events=(), found=False)
        raw_events: list[dict] = []
        for item in result.get("trackable_items") or []:
            raw_events.extend(item.get("events") or [])
            for child in item.get("items") or []:
                raw_events.extend(child.get("events") or [])
        raw_events.extend((result.get("consignment") or {}).get("events") or [])
        events = {}
        for raw in raw_events:
            occurred = _parse_date(raw.get("date"))
            description = str(raw.get("description") or "")
            if occurred is None or not description:
                continue
            status = self.status_for(description)
            event = TrackingEvent(
                tracking_number=number,
                code=description,
                description=description,
                status=status,
                occurred_at=occurred,
                location=str(raw.get("location") or ""),
                reason=description if status in (base.EXCEPTION, base.ATTEMPT_FAILED) else "",
            )
            events[(event.code, event.occurred_at)] = event
        return TrackingSnapshot(
            tracking_number=number, events=tuple(sorted(events.values(), key=lambda e: e.occurred_at))
        )


# --- request bodies (pure) -----------------------------------------------------------------
def product_for(request: BookingRequest) -> str:
    if request.product_code:
        return request.product_code
    service = request.service if request.service in ("express", "standard") else "standard"
    return PRODUCTS[(service, request.international)]


def shipment_body(request: BookingRequest, reference: str) -> dict:
    """The ``POST /shipping/v1/shipments`` body: one shipment, one item per parcel."""
    international = request.international
    product = product_for(request)
    items = []
    for index, parcel in enumerate(request.parcels, start=1):
        item: dict[str, Any] = {
            "item_reference": f"{reference}-{index}"[:50],
            "product_id": product,
            "weight": round(parcel.weight_g / 1000, 3),
            "authority_to_leave": False,
            "allow_partial_delivery": True,
        }
        if parcel.dimensions_cm:
            item["length"], item["width"], item["height"] = parcel.dimensions_cm
        if international:
            item["classification_type"] = "SALE_OF_GOODS"
            item["commercial_value"] = True
            # The declaration lines describe the whole shipment; they ride on the first item.
            if index == 1:
                item["item_contents"] = [
                    {
                        "description": line.description[:40],
                        "quantity": line.quantity,
                        "value": float(Decimal(line.unit_value).quantize(Decimal("0.01"))),
                        "tariff_code": line.hs_code,
                        "country_of_origin": line.origin_country,
                        "weight": round(line.weight_g / 1000, 3),
                    }
                    for line in request.customs
                ]
        items.append(item)
    shipment: dict[str, Any] = {
        "shipment_reference": reference[:50],
        "sender_references": [reference[:50]],
        "customer_reference_1": reference[:50],
        "email_tracking_enabled": bool(request.receiver.email),
        "from": _address(request.shipper, with_country=international),
        "to": _address(request.receiver, with_country=international),
        "items": items,
    }
    return {"shipments": [shipment]}


def label_body(shipment_id: str, request: BookingRequest) -> dict:
    layout = "A4-1pp" if request.international else "A6-1pp"
    return {
        "wait_for_label_url": True,
        "preferences": [
            {
                "type": "PRINT",
                "format": "ZPL" if request.label_format == "zpl" else "PDF",
                "groups": [
                    {"group": group, "layout": layout, "branded": True, "left_offset": 0, "top_offset": 0}
                    for group in (("International",) if request.international else ("Parcel Post", "Express Post"))
                ],
            }
        ],
        "shipments": [{"shipment_id": shipment_id}],
    }


def _address(party: Party, *, with_country: bool) -> dict:
    address: dict[str, Any] = {
        "name": (party.name or party.company)[:40],
        "lines": list(party.lines[:3]),
        "suburb": party.city,
        "state": party.state,
        "postcode": party.postcode,
    }
    if party.company and party.company != party.name:
        address["business_name"] = party.company[:40]
    if party.phone:
        address["phone"] = party.phone
    if party.email:
        address["email"] = party.email
    if with_country:
        address["country"] = party.country
    return address


def _parse_date(value: Any) -> dt.datetime | None:
    """Australia Post dates carry their offset; one without is Sydney time."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=SYDNEY)


def _carries(shipment: dict, reference: str) -> bool:
    """Ours only if it names our reference (a server that ignored the filter lists others too)."""
    references = {str(r) for r in shipment.get("sender_references") or []}
    if shipment.get("shipment_reference"):
        references.add(str(shipment["shipment_reference"]))
    return reference in references


def _errors(response: requests.Response) -> list[dict]:
    try:
        data = response.json()
    except ValueError:
        return []
    errors = data.get("errors") if isinstance(data, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _error_text(error: dict) -> str:
    text = str(error.get("message") or error.get("name") or error.get("error_name") or "")
    field = error.get("field")
    return f"{text} ({field})" if field else text
