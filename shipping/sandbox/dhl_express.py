"""DHL Express, MyDHL API shape: ``POST /shipments`` and ``GET /tracking`` with HTTP Basic.

Errors are problem documents ``{instance, detail, title, message, status}`` (``status`` a
string) served as ``application/problem+json``. Tracking steps in DHL's checkpoint codes: a
fresh waybill has no checkpoint yet, then PU, DF, WC, OK.
"""

from __future__ import annotations

import re
import time
from typing import Any

from .common import (
    BadRequest,
    CourierApi,
    Request,
    Response,
    at,
    b64,
    json_response,
    pdf_label,
    positive_number,
    refused,
    require,
    zpl_label,
)
from .state import Shipment

PLANNED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2} GMT[+-]\d{2}:\d{2}$")
MAX_TRACK = 200
# Step -> (typeCode, description, at the receiver's end?); step 0 has no checkpoint.
EVENTS: dict[int, tuple[str, str, bool]] = {
    1: ("PU", "Shipment picked up", False),
    2: ("DF", "Shipment has departed from a DHL facility", False),
    3: ("WC", "Shipment is out with courier for delivery", True),
    4: ("OK", "Delivered", True),
}


class DhlExpressApi(CourierApi):
    code = "dhl_express"

    def __init__(self, state, *, key, secret):
        super().__init__(state, key=key, secret=secret)
        self.route("POST", "/shipments", self.create)
        self.route("GET", "/tracking", self.tracking)
        self.route("GET", r"/shipments/(?P<number>[^/]+)/tracking", self.tracking_one)

    # --- auth and error shapes -----------------------------------------------------------
    def problem(self, request: Request, status: int, title: str, detail: str, message: str = "", **headers) -> Response:
        instance = "/expressapi" + request.path + (f"?{request.raw_query}" if request.raw_query else "")
        body = {
            "instance": instance,
            "detail": detail,
            "title": title,
            "message": message or title,
            "status": str(status),
        }
        return json_response(status, body, content_type="application/problem+json", **headers)

    def authenticate(self, request):
        if self.basic_ok(request):
            return None
        return self.problem(
            request, 401, "Unauthorized", "Invalid Credentials", **{"WWW-Authenticate": 'Basic realm="MyDHL API"'}
        )

    def bad_request(self, request, error):
        if error.code == "422":
            return self.problem(request, 422, "Validation error", error.message, "Unprocessable Entity")
        if error.code == "405":
            return self.problem(request, 405, "Method Not Allowed", error.message)
        return self.problem(request, 400, error.field or "Bad request", error.message, "Bad request")

    def not_found(self, request):
        return self.problem(request, 404, "Not Found", f"Resource {request.path} not found")

    def rate_limited(self, request, seconds):
        return self.problem(
            request,
            429,
            "Too Many Requests",
            f"Too many requests, retry after {seconds:g} seconds",
            "Too Many Requests",
        )

    def server_error(self, request, status):
        title = {503: "Service Unavailable", 502: "Bad Gateway", 504: "Gateway Timeout"}.get(
            status, "Internal Server Error"
        )
        return self.problem(request, status, title, f"{status}: {title} (sandbox fault)")

    # --- POST /shipments -----------------------------------------------------------------
    def create(self, request: Request, match) -> Response:
        data = request.json()
        if not isinstance(data, dict):
            raise BadRequest("#: expected type: JSONObject", code="422")
        planned = str(data.get("plannedShippingDateAndTime") or "")
        if not PLANNED.match(planned):
            raise BadRequest(
                "998: ShipTimeStamp is not well formatted.(Expected Sample Format : '2010-02-11T17:10:09 GMT+01:00')"
            )
        for path in ("productCode", "accounts.0.number"):
            _required(data, path)
        for side in ("shipperDetails", "receiverDetails"):
            for path in (
                "postalAddress.postalCode",
                "postalAddress.cityName",
                "postalAddress.countryCode",
                "postalAddress.addressLine1",
                "contactInformation.phone",
                "contactInformation.companyName",
                "contactInformation.fullName",
            ):
                _required(data, f"customerDetails.{side}.{path}")
        content = _required(data, "content")
        packages = _required(data, "content.packages")
        for path in ("description", "incoterm", "unitOfMeasurement"):
            _required(data, f"content.{path}")
        if not isinstance(content.get("isCustomsDeclarable"), bool):
            raise BadRequest("#/content: required key [isCustomsDeclarable] not found", code="422")
        for index, package in enumerate(packages):
            if not isinstance(package, dict) or "weight" not in package:
                raise BadRequest(f"#/content/packages/{index}: required key [weight] not found", code="422")
            try:
                positive_number(package["weight"], f"content.packages.{index}.weight")
            except BadRequest as error:
                raise BadRequest(f"#/content/packages/{index}/weight: {error.message}", code="422") from None
        if content["isCustomsDeclarable"]:
            _required(data, "content.exportDeclaration.lineItems")
            _required(data, "content.declaredValue")
            _required(data, "content.declaredValueCurrency")
        receiver = data["customerDetails"]["receiverDetails"]["postalAddress"]
        lines = [receiver.get(f"addressLine{n}") for n in (1, 2, 3)]
        why = refused(receiver.get("postalCode"), lines)
        if why:
            raise BadRequest(f"420505: The receiver address is invalid: {why}.")

        number = str(self.state.random.randint(1, 9)) + self.state.digits(9)
        pieces = [f"JD01{self.state.digits(16)}" for _ in packages]
        references = [str(r.get("value")) for r in data.get("customerReferences") or [] if r.get("value")]
        for package in packages:
            references += [str(r.get("value")) for r in package.get("customerReferences") or [] if r.get("value")]
        image = data.get("outputImageProperties") or {}
        label_format = "zpl" if str(image.get("encodingFormat") or "pdf").lower() == "zpl" else "pdf"
        label = zpl_label(number) if label_format == "zpl" else pdf_label(f"DHL EXPRESS {number}")
        shipment = self.state.add(
            Shipment(
                courier=self.code,
                courier_id=number,
                tracking_number=number,
                pieces=pieces,
                references=references,
                account=str(data["accounts"][0]["number"]),
                created_at=time.time(),
                request=data,
                label=label,
                label_format=label_format,
                extra={"productCode": str(data["productCode"])},
            )
        )
        base = f"http://{request.host}/dhl_express"
        shipper = data["customerDetails"]["shipperDetails"]["postalAddress"]
        body = {
            "shipmentTrackingNumber": number,
            "trackingUrl": f"{base}/shipments/{number}/tracking",
            "packages": [
                {
                    "referenceNumber": index,
                    "trackingNumber": piece,
                    "trackingUrl": f"{base}/shipments/{number}/tracking?pieceTrackingNumber={piece}",
                }
                for index, piece in enumerate(shipment.pieces, start=1)
            ],
            "documents": [{"imageFormat": label_format.upper(), "content": b64(label), "typeCode": "label"}],
            "shipmentDetails": [
                {
                    "serviceHandlingFeatureCodes": [],
                    "volumetricWeight": 0,
                    "billingCode": "IMP",
                    "serviceContentCode": "WPX",
                    "originServiceArea": {"facilityCode": _area(shipper)[0], "serviceAreaCode": _area(shipper)[0]},
                    "destinationServiceArea": {
                        "facilityCode": _area(receiver)[0],
                        "serviceAreaCode": _area(receiver)[0],
                    },
                }
            ],
            "estimatedDeliveryDate": {
                "estimatedDeliveryDate": at(shipment.created_at + 3 * 86400).strftime("%Y-%m-%dT23:59:00Z"),
                "estimatedDeliveryType": "QDDC",
            },
        }
        return json_response(201, body, Location=f"/shipments/{number}")

    # --- GET /tracking -------------------------------------------------------------------
    def tracking(self, request: Request, match) -> Response:
        reference = request.param("shipmentReference")
        if reference:
            account = request.param("shipperAccountNumber")
            if not account:
                raise BadRequest("Missing mandatory parameters: shipperAccountNumber", field="Missing parameters")
            found = [
                s for s in self.state.by_reference(self.code, reference, include_voided=True) if s.account == account
            ]
            if not found:
                return self.problem(
                    request,
                    404,
                    "Not data found",
                    f"No Shipments Found for ReferenceID | {reference}",
                    "Not data found",
                )
            return json_response(200, {"shipments": [self.view(s, request) for s in found]})
        numbers = request.query.get("shipmentTrackingNumber") or []
        pieces = request.query.get("pieceTrackingNumber") or []
        if not numbers and not pieces:
            raise BadRequest("Missing mandatory parameters: shipmentTrackingNumber", field="Missing parameters")
        if len(numbers) > MAX_TRACK or len(pieces) > MAX_TRACK:
            raise BadRequest(f"1001: At most {MAX_TRACK} tracking numbers per request")
        found, seen = [], set()
        for number in [*numbers, *pieces]:
            shipment = self.state.find(self.code, number)
            if shipment is not None and id(shipment) not in seen:
                seen.add(id(shipment))
                found.append(shipment)
        if not found:
            wanted = ",".join([*numbers, *pieces])
            return self.problem(request, 404, "Not data found", f"No Shipments Found for {wanted}", "Not data found")
        return json_response(200, {"shipments": [self.view(s, request) for s in found]})

    def tracking_one(self, request: Request, match) -> Response:
        shipment = self.state.find(self.code, match["number"])
        if shipment is None:
            return self.problem(request, 404, "Not data found", f"No Shipments Found for {match['number']}")
        return json_response(200, {"shipments": [self.view(shipment, request)]})

    def view(self, shipment: Shipment, request: Request) -> dict[str, Any]:
        data = shipment.request
        shipper = data["customerDetails"]["shipperDetails"]
        receiver = data["customerDetails"]["receiverDetails"]
        with_offset = request.param("requestGMTOffsetPerEvent").lower() == "true"
        view_kind = request.param("trackingView") or "all-checkpoints"
        detail = request.param("levelOfDetail") or "shipment"
        events = [self.event(shipment, step, when, with_offset) for step, when in shipment.events if step in EVENTS]
        if view_kind == "last-checkpoint":
            events = events[-1:]
        elif view_kind == "shipment-details-only":
            events = []
        packages = data["content"]["packages"]
        body: dict[str, Any] = {
            "shipmentTrackingNumber": shipment.tracking_number,
            "status": "Success",
            "shipmentTimestamp": at(shipment.created_at).strftime("%Y-%m-%dT%H:%M:%S"),
            "productCode": shipment.extra.get("productCode", ""),
            "description": data["content"].get("description", ""),
            "shipperDetails": _party(shipper),
            "receiverDetails": _party(receiver),
            "totalWeight": round(sum(float(p.get("weight") or 0) for p in packages), 3),
            "unitOfMeasurements": "metric",
            "shipperReferences": [{"value": r, "typeCode": "CU"} for r in shipment.references],
            "events": events,
            "numberOfPieces": len(shipment.pieces),
            "estimatedDeliveryDate": at(shipment.created_at + 3 * 86400).strftime("%Y-%m-%dT23:59:00"),
        }
        if detail in ("piece", "all"):
            body["pieces"] = [
                {
                    "number": index,
                    "typeCode": "PACKAGE",
                    "shipmentTrackingNumber": shipment.tracking_number,
                    "trackingNumber": piece,
                    "weight": float(packages[index - 1].get("weight") or 0) if index <= len(packages) else 0,
                    "events": events if detail == "all" else [],
                }
                for index, piece in enumerate(shipment.pieces, start=1)
            ]
        return body

    def event(self, shipment: Shipment, step: int, when: float, with_offset: bool) -> dict[str, Any]:
        code, description, at_receiver = EVENTS[step]
        details = shipment.request["customerDetails"]["receiverDetails" if at_receiver else "shipperDetails"]
        area_code, area_name = _area(details["postalAddress"])
        moment = at(when)
        event = {
            "date": moment.strftime("%Y-%m-%d"),
            "time": moment.strftime("%H:%M:%S"),
            "typeCode": code,
            "description": description if step != 2 else f"{description}- {area_name}",
            "serviceArea": [{"code": area_code, "description": area_name}],
        }
        if with_offset:
            event["GMTOffset"] = "+00:00"
        if code == "OK":
            event["signedBy"] = ""
        return event


def _required(data: Any, path: str) -> Any:
    try:
        return require(data, path)
    except BadRequest:
        parent, _, key = path.rpartition(".")
        pointer = "#/" + parent.replace(".", "/") if parent else "#"
        raise BadRequest(f"{pointer}: required key [{key}] not found", code="422", field=path) from None


def _area(address: dict) -> tuple[str, str]:
    city = str(address.get("cityName") or "XXX").upper()
    letters = re.sub(r"[^A-Z]", "", city) or "XXX"
    return letters[:3].ljust(3, "X"), f"{city}-{address.get('countryCode', '')}"


def _party(details: dict) -> dict[str, Any]:
    address = details.get("postalAddress") or {}
    code, name = _area(address)
    return {
        "name": (details.get("contactInformation") or {}).get("companyName", ""),
        "postalAddress": {
            "cityName": address.get("cityName", ""),
            "postalCode": address.get("postalCode", ""),
            "countryCode": address.get("countryCode", ""),
        },
        "serviceArea": [{"code": code, "description": name}],
    }
