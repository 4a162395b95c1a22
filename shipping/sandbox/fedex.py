"""FedEx REST shape: OAuth client credentials at ``POST /oauth/token`` (form body), then Bearer.

Ship (``POST /ship/v1/shipments``; our reference rides in
``requestedPackageLineItems[].customerReferences[]`` as CUSTOMER_REFERENCE), cancel (``PUT
/ship/v1/shipments/cancel``, until the pickup scan), track by numbers (up to 30; an unknown
number is an ``error`` inside the 200) and by reference (``POST
/track/v1/referencenumbers``). Scan events newest first: OC, PU, AR, OD, DL (CA once
cancelled). Errors are ``{"transactionId", "errors": [{"code", "message"}]}``.

Push (``POST /_sandbox/push``): the tracking result of the number (all its scans) as
``{"output": {"completeTrackResults": [...]}}``, signed ``fdx-signature`` = base64(HMAC-SHA256(token, body)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from .common import (
    PNG_1PX,
    BadRequest,
    CourierApi,
    Request,
    Response,
    at,
    b64,
    bearer_token,
    json_response,
    new_id,
    pdf_label,
    positive_number,
    refused,
    require,
    zpl_label,
)
from .state import Shipment

MAX_TRACK = 30
# Step -> (eventType, description, derivedStatusCode, derivedStatus, at the receiver's end?)
EVENTS: dict[int, tuple[str, str, str, str, bool]] = {
    0: ("OC", "Shipment information sent to FedEx", "IN", "Initiated", False),
    1: ("PU", "Picked up", "PU", "Picked up", False),
    2: ("AR", "Arrived at FedEx location", "IT", "In transit", False),
    3: ("OD", "On FedEx vehicle for delivery", "IT", "In transit", True),
    4: ("DL", "Delivered", "DL", "Delivered", True),
}
CANCELLED = ("CA", "Shipment cancelled by sender", "CA", "Cancelled", False)
NOT_FOUND_MESSAGE = "Tracking number cannot be found. Please correct the tracking number and try again."


class FedExApi(CourierApi):
    code = "fedex"

    def __init__(self, state, *, key, secret):
        super().__init__(state, key=key, secret=secret)
        self.route("POST", "/oauth/token", self.token, auth=False)
        self.route("POST", "/ship/v1/shipments", self.ship)
        self.route("PUT", "/ship/v1/shipments/cancel", self.cancel)
        self.route("POST", "/track/v1/trackingnumbers", self.track_numbers)
        self.route("POST", "/track/v1/referencenumbers", self.track_references)
        self.route("GET", r"/_labels/(?P<number>\d+)", self.label_file, auth=False)

    # --- auth and error shapes -----------------------------------------------------------
    @staticmethod
    def errors(status: int, code: str, message: str, request: Request | None = None, *, field: str = "") -> Response:
        error: dict[str, Any] = {"code": code, "message": message}
        if field:
            error["parameterList"] = [{"key": "FIELD", "value": field}]
        body: dict[str, Any] = {"transactionId": new_id(), "errors": [error]}
        if request is not None and request.header("x-customer-transaction-id"):
            body["customerTransactionId"] = request.header("x-customer-transaction-id")
        return json_response(status, body)

    def token(self, request: Request, match) -> Response:
        form = request.form()
        if form.get("grant_type") != "client_credentials":
            return self.errors(400, "BAD.REQUEST.ERROR", "The grant_type must be client_credentials.", request)
        if (form.get("client_id"), form.get("client_secret")) != (self.key, self.secret):
            return self.errors(
                401,
                "NOT.AUTHORIZED.ERROR",
                "The given client credentials were not valid. Please modify your request and try again.",
                request,
            )
        token, ttl = self.state.issue_token(self.code)
        return json_response(
            200, {"access_token": token, "token_type": "bearer", "expires_in": int(ttl), "scope": "CXS"}
        )

    def authenticate(self, request):
        if self.state.token_valid(self.code, bearer_token(request.header("Authorization"))):
            return None
        return self.errors(
            401, "NOT.AUTHORIZED.ERROR", "Access token expired. Please modify your request and try again.", request
        )

    def bad_request(self, request, error):
        if error.code == "405":
            return self.errors(405, "METHOD.NOT.ALLOWED.ERROR", error.message, request)
        return self.errors(400, error.code or "INVALID.INPUT.EXCEPTION", error.message, request, field=error.field)

    def not_found(self, request):
        return self.errors(
            404,
            "NOT.FOUND.ERROR",
            "The resource you requested is no longer available. Please modify your request and try again.",
            request,
        )

    def rate_limited(self, request, seconds):
        return self.errors(
            429,
            "TOO.MANY.REQUESTS.ERROR",
            "We have received too many requests in a short duration. Please wait a while to try again.",
            request,
        )

    def server_error(self, request, status):
        if status == 503:
            return self.errors(
                503,
                "SERVICE.UNAVAILABLE.ERROR",
                "The service is currently unavailable and we are working to resolve the issue. "
                "We apologize for any inconvenience. Please check back at a later time.",
                request,
            )
        return self.errors(
            status,
            "INTERNAL.SERVER.ERROR",
            "We encountered an unexpected error and are working to resolve the issue. "
            "We apologize for any inconvenience. Please check back at a later time.",
            request,
        )

    # --- ship ----------------------------------------------------------------------------
    def ship(self, request: Request, match) -> Response:
        data = request.json()
        for path in (
            "labelResponseOptions",
            "accountNumber.value",
            "requestedShipment.shipper.address.streetLines",
            "requestedShipment.shipper.address.city",
            "requestedShipment.shipper.address.countryCode",
            "requestedShipment.shipper.contact.phoneNumber",
            "requestedShipment.recipients.0.address.streetLines",
            "requestedShipment.recipients.0.address.city",
            "requestedShipment.recipients.0.address.postalCode",
            "requestedShipment.recipients.0.address.countryCode",
            "requestedShipment.recipients.0.contact.phoneNumber",
            "requestedShipment.pickupType",
            "requestedShipment.serviceType",
            "requestedShipment.packagingType",
            "requestedShipment.shippingChargesPayment.paymentType",
            "requestedShipment.labelSpecification.imageType",
            "requestedShipment.labelSpecification.labelStockType",
            "requestedShipment.requestedPackageLineItems",
        ):
            require(data, path)
        shipment_data = data["requestedShipment"]
        packages = shipment_data["requestedPackageLineItems"]
        for index, _package in enumerate(packages):
            weight_path = f"requestedShipment.requestedPackageLineItems.{index}.weight.value"
            positive_number(require(data, weight_path), weight_path)
            require(data, f"requestedShipment.requestedPackageLineItems.{index}.weight.units")
        shipper = shipment_data["shipper"]["address"]
        recipient = shipment_data["recipients"][0]["address"]
        if shipper["countryCode"] != recipient["countryCode"]:
            require(data, "requestedShipment.customsClearanceDetail.commodities")
        why = refused(recipient.get("postalCode"), recipient.get("streetLines"))
        if why:
            raise BadRequest(f"Recipient address is invalid: {why}.", code="RECIPIENT.ADDRESS.INVALID")

        master = f"79{self.state.digits(10)}"
        pieces = [master] + [f"79{self.state.digits(10)}" for _ in packages[1:]]
        typed = [
            (str(ref.get("customerReferenceType") or ""), str(ref.get("value") or ""))
            for package in packages
            for ref in package.get("customerReferences") or []
            if ref.get("value")
        ]
        image = str(shipment_data["labelSpecification"]["imageType"]).upper()
        label = {"ZPLII": zpl_label, "EPL2": zpl_label}.get(image, lambda n: pdf_label(f"FEDEX {n}"))(master)
        if image == "PNG":
            label = PNG_1PX
        shipment = self.state.add(
            Shipment(
                courier=self.code,
                courier_id=master,
                tracking_number=master,
                pieces=pieces,
                references=[value for _, value in dict.fromkeys(typed)],
                account=str(data["accountNumber"]["value"]),
                created_at=time.time(),
                request=data,
                label=label,
                label_format=image.lower(),
                extra={"typed_references": typed, "serviceType": shipment_data["serviceType"]},
            )
        )
        url_only = data["labelResponseOptions"] == "URL_ONLY"
        responses = []
        for index, piece in enumerate(pieces, start=1):
            document: dict[str, Any] = {
                "contentType": "LABEL",
                "copiesToPrint": 1,
                "docType": image,
                "trackingNumber": piece,
            }
            if url_only:
                document["url"] = f"http://{request.host}/fedex/_labels/{piece}"
            else:
                document["encodedLabel"] = b64(label)
            responses.append(
                {
                    "masterTrackingNumber": master,
                    "trackingNumber": piece,
                    "packageSequenceNumber": index,
                    "netChargeAmount": 21.45,
                    "trackingIdType": "FEDEX",
                    "customerReferences": packages[index - 1].get("customerReferences") or [],
                    "packageDocuments": [document],
                }
            )
        output = {
            "transactionShipments": [
                {
                    "masterTrackingNumber": master,
                    "serviceType": shipment_data["serviceType"],
                    "shipDatestamp": shipment_data.get("shipDatestamp") or at(shipment.created_at).date().isoformat(),
                    "serviceName": str(shipment_data["serviceType"]).replace("_", " ").title(),
                    "pieceResponses": responses,
                    "shipmentDocuments": [],
                    "completedShipmentDetail": {
                        "masterTrackingId": {"trackingIdType": "FEDEX", "trackingNumber": master},
                        "operationalDetail": {"ursaPrefixCode": "XH", "ursaSuffixCode": "SBXA", "airportId": "SBX"},
                    },
                    "alerts": [],
                }
            ]
        }
        body = {"transactionId": new_id(), "output": output}
        if request.header("x-customer-transaction-id"):
            body["customerTransactionId"] = request.header("x-customer-transaction-id")
        return json_response(200, body)

    def label_file(self, request: Request, match) -> Response:
        shipment = self.state.find(self.code, match["number"])
        if shipment is None:
            return self.not_found(request)
        content_type = "application/pdf" if shipment.label_format == "pdf" else "text/plain"
        return Response(200, shipment.label, {"Content-Type": content_type})

    # --- cancel --------------------------------------------------------------------------
    def cancel(self, request: Request, match) -> Response:
        data = request.json()
        require(data, "accountNumber.value")
        number = str(require(data, "trackingNumber"))
        shipment = self.state.find(self.code, number)
        if shipment is None:
            return self.errors(400, "TRACKINGNUMBER.NOT.FOUND", f"Tracking number {number} was not found.", request)
        if shipment.account != str(data["accountNumber"]["value"]):
            return self.errors(
                400, "SHIPMENT.USER.UNAUTHORIZED", "Requested user is not authorized to perform the operation.", request
            )
        if not shipment.voided and shipment.step >= 1:
            return self.errors(
                400,
                "SHIPMENT.CANCEL.NOTALLOWED",
                "The shipment has been tendered to FedEx and can no longer be cancelled.",
                request,
            )
        already = shipment.voided
        self.state.void(shipment)
        output = {
            "cancelledShipment": True,
            "cancelledHistory": True,
            "message": "Shipment is already cancelled" if already else "Shipment is successfully cancelled",
        }
        return json_response(200, {"transactionId": new_id(), "output": output})

    # --- track ---------------------------------------------------------------------------
    def track_numbers(self, request: Request, match) -> Response:
        data = request.json()
        infos = data.get("trackingInfo") if isinstance(data, dict) else None
        if not isinstance(infos, list) or not infos:
            raise BadRequest("Please provide tracking number.", code="TRACKING.TRACKINGNUMBER.EMPTY")
        if len(infos) > MAX_TRACK:
            raise BadRequest(
                f"Maximum of {MAX_TRACK} tracking numbers are allowed.", code="TRACKING.TRACKINGNUMBER.LIMITEXCEEDED"
            )
        detailed = data.get("includeDetailedScans", True) is not False
        results = []
        for info in infos:
            number = str(((info or {}).get("trackingNumberInfo") or {}).get("trackingNumber") or "")
            if not number:
                raise BadRequest("Please provide tracking number.", code="TRACKING.TRACKINGNUMBER.EMPTY")
            shipment = self.state.find(self.code, number)
            if shipment is None:
                results.append(_not_found(number, "TRACKING.TRACKINGNUMBER.NOTFOUND", NOT_FOUND_MESSAGE))
            else:
                results.append({"trackingNumber": number, "trackResults": [self.result(shipment, number, detailed)]})
        return json_response(200, {"transactionId": new_id(), "output": {"completeTrackResults": results}})

    def track_references(self, request: Request, match) -> Response:
        data = request.json()
        info = data.get("referencesInformation") if isinstance(data, dict) else None
        if not isinstance(info, dict) or not info.get("value"):
            raise BadRequest("Please provide reference value.", code="TRACKING.REFERENCENUMBER.EMPTY")
        value = str(info["value"])
        kind = str(info.get("type") or "CUSTOMER_REFERENCE").strip().upper()
        account = str(info.get("accountNumber") or "")
        found = [
            s
            for s in self.state.by_reference(self.code, value)
            if (not account or s.account == account)
            and any(t.upper() == kind and v == value for t, v in s.extra.get("typed_references", []))
        ]
        detailed = data.get("includeDetailedScans", True) is not False
        results = [
            {"trackingNumber": piece, "trackResults": [self.result(s, piece, detailed)]}
            for s in found
            for piece in s.pieces
        ]
        if not results:
            results = [
                _not_found(
                    value,
                    "TRACKING.REFERENCENUMBER.NOTFOUND",
                    "Reference number cannot be found. Please correct the reference number and try again.",
                )
            ]
        return json_response(200, {"transactionId": new_id(), "output": {"completeTrackResults": results}})

    # --- push (webhooks) -----------------------------------------------------------------
    def push_bodies(self, shipment: Shipment, number: str, every: bool) -> list[bytes]:
        result = {"trackingNumber": number, "trackResults": [self.result(shipment, number, True)]}
        return [json.dumps({"output": {"completeTrackResults": [result]}}).encode()]

    def push_headers(self, body: bytes, secret: str) -> dict[str, str]:
        signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
        return {"Content-Type": "application/json", "fdx-signature": signature}

    def result(self, shipment: Shipment, number: str, detailed: bool) -> dict[str, Any]:
        data = shipment.request["requestedShipment"]
        steps = [(EVENTS[step], when) for step, when in shipment.events]
        if shipment.voided:
            steps.append((CANCELLED, shipment.voided_at or time.time()))
        scans = [self.scan(shipment, event, when) for event, when in reversed(steps)]
        latest_event, latest_when = steps[-1]
        latest = scans[0]
        dates = [{"type": "SHIP", "dateTime": at(shipment.created_at).isoformat()}]
        if shipment.step == 4 and not shipment.voided:
            dates.insert(0, {"type": "ACTUAL_DELIVERY", "dateTime": at(latest_when).isoformat()})
        else:
            dates.append({"type": "ESTIMATED_DELIVERY", "dateTime": at(shipment.created_at + 3 * 86400).isoformat()})
        references = [
            {"type": kind or "CUSTOMER_REFERENCE", "value": [value], "trackingNumberUniqueId": ""}
            for kind, value in shipment.extra.get("typed_references", [])
        ]
        if len(shipment.pieces) > 1:
            references.append(
                {"type": "STANDARD_MPS", "value": [shipment.tracking_number], "trackingNumberUniqueId": ""}
            )
        return {
            "trackingNumberInfo": {
                "trackingNumber": number,
                "carrierCode": "FDXE",
                "trackingNumberUniqueId": f"12024~{number}~FDEG",
            },
            "additionalTrackingInfo": {
                "hasAssociatedShipments": len(shipment.pieces) > 1,
                "nickname": "",
                "packageIdentifiers": references,
                "shipmentNotes": "",
            },
            "latestStatusDetail": {
                "code": latest_event[0],
                "derivedCode": latest_event[2],
                "statusByLocale": latest_event[3],
                "description": latest_event[1],
                "scanLocation": latest["scanLocation"],
            },
            "dateAndTimes": dates,
            "packageDetails": {
                "count": str(len(shipment.pieces)),
                "sequenceNumber": str(shipment.pieces.index(number) + 1 if number in shipment.pieces else 1),
            },
            "serviceDetail": {"type": data.get("serviceType", ""), "description": data.get("serviceType", "")},
            "scanEvents": scans if detailed else scans[:1],
        }

    def scan(self, shipment: Shipment, event: tuple, when: float) -> dict[str, Any]:
        code, description, derived, derived_text, at_receiver = event
        data = shipment.request["requestedShipment"]
        address = (data["recipients"][0] if at_receiver else data["shipper"])["address"]
        location = {
            "city": str(address.get("city", "")).upper(),
            "stateOrProvinceCode": address.get("stateOrProvinceCode", ""),
            "postalCode": address.get("postalCode", ""),
            "countryCode": address.get("countryCode", ""),
        }
        return {
            "date": at(when).isoformat(),
            "eventType": code,
            "eventDescription": description,
            "derivedStatusCode": derived,
            "derivedStatus": derived_text,
            "exceptionCode": "",
            "exceptionDescription": "",
            "scanLocation": {} if code == "OC" else location,
            "locationType": "DELIVERY_LOCATION" if code == "DL" else "FEDEX_FACILITY",
        }


def _not_found(number: str, code: str, message: str) -> dict[str, Any]:
    return {
        "trackingNumber": number,
        "trackResults": [
            {
                "trackingNumberInfo": {"trackingNumber": number, "trackingNumberUniqueId": "", "carrierCode": ""},
                "error": {"code": code, "message": message},
            }
        ],
    }
