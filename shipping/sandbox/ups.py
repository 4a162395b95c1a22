"""UPS REST shape: OAuth client credentials at ``POST /security/v1/oauth/token`` (Basic
client id and secret, form ``grant_type``), then Bearer.

Ship (``POST /api/shipments/{version}/ship``; references from ``Shipment.ReferenceNumber`` or
``Package[].ReferenceNumber``, either an object or a list; ``PackageResults`` answered as an
object for one package and a list for several, as UPS does), void (``DELETE
/api/shipments/{version}/void/cancel/{id}``, until the pickup scan), track one number (``GET
/api/track/v1/details/{number}``, headers ``transId`` and ``transactionSrc`` required; an
unknown number is a 200 with warning TW0001) and by reference. Activities newest first:
M/MP, P/PU, I/AR, I/OT, D/FS (MV/VP once voided). Errors are
``{"response": {"errors": [{"code", "message"}]}}``.

Push (``POST /_sandbox/push``): Track Alert's shape, one POST per event, with the ``credential``
header and ``User-Agent: UPSPubSubTrackingService``; the times are the tracking answer's.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from .common import (
    GIF_1PX,
    PNG_1PX,
    BadRequest,
    CourierApi,
    Request,
    Response,
    at,
    b64,
    basic_credentials,
    bearer_token,
    json_response,
    new_id,
    positive_number,
    refused,
    require,
    zpl_label,
)
from .state import Shipment

# Step -> (type, code, description, simplifiedTextDescription, statusCode, at the receiver's end?)
EVENTS: dict[int, tuple[str, str, str, str, str, bool | None]] = {
    0: ("M", "MP", "Shipper created a label, UPS has not received the package yet.", "Label Created", "003", None),
    1: ("P", "PU", "Pickup Scan", "Picked Up", "038", False),
    2: ("I", "AR", "Arrival Scan", "On the Way", "005", False),
    3: ("I", "OT", "Out For Delivery Today", "Out for Delivery", "021", True),
    4: ("D", "FS", "DELIVERED", "Delivered", "011", True),
}
VOIDED = ("MV", "VP", "Shipment information voided", "Voided", "007", None)
MISSING_CODES = {
    "ShipmentRequest.Shipment.Shipper.ShipperNumber": ("120100", "Missing or invalid shipper number"),
    "ShipmentRequest.Shipment.ShipTo.Address.PostalCode": ("120208", "Missing or invalid ship to postal code"),
    "ShipmentRequest.Shipment.ShipTo.Address.CountryCode": ("120203", "Missing or invalid ship to country code"),
    "ShipmentRequest.Shipment.Service.Code": ("120801", "Missing or invalid service code"),
}


class UpsApi(CourierApi):
    code = "ups"

    def __init__(self, state, *, key, secret):
        super().__init__(state, key=key, secret=secret)
        self.route("POST", "/security/v1/oauth/token", self.token, auth=False)
        self.route("POST", r"/api/shipments/(?P<version>[^/]+)/ship", self.ship)
        self.route("DELETE", r"/api/shipments/(?P<version>[^/]+)/void/cancel/(?P<id>[^/]+)", self.void)
        self.route("GET", r"/api/track/v1/details/(?P<number>[^/]+)", self.track)
        self.route("GET", r"/api/track/v1/reference/details/(?P<reference>[^/]+)", self.track_reference)

    # --- auth and error shapes -----------------------------------------------------------
    @staticmethod
    def errors(status: int, code: str, message: str) -> Response:
        return json_response(status, {"response": {"errors": [{"code": code, "message": message}]}})

    def token(self, request: Request, match) -> Response:
        credentials = basic_credentials(request.header("Authorization"))
        if credentials is None or credentials[0] != self.key:
            return self.errors(401, "10401", "ClientId is Invalid")
        if credentials[1] != self.secret:
            return self.errors(401, "10401", "Invalid Client Secret")
        if request.form().get("grant_type") != "client_credentials":
            return self.errors(400, "10400", "Invalid/Missing grant_type")
        token, ttl = self.state.issue_token(self.code)
        return json_response(
            200,
            {
                "token_type": "Bearer",
                "issued_at": str(int(time.time() * 1000)),
                "client_id": self.key,
                "access_token": token,
                "scope": "",
                "expires_in": str(int(ttl)),
                "refresh_count": "0",
                "status": "approved",
            },
        )

    def authenticate(self, request):
        if self.state.token_valid(self.code, bearer_token(request.header("Authorization"))):
            return None
        return self.errors(401, "250002", "Invalid Authentication Information.")

    def bad_request(self, request, error):
        if error.code == "405":
            return self.errors(405, "10405", error.message)
        code, message = MISSING_CODES.get(error.field, (error.code or "120002", error.message))
        return self.errors(400, code, message)

    def not_found(self, request):
        return self.errors(404, "10404", f"Resource {request.path} not found")

    def rate_limited(self, request, seconds):
        return self.errors(429, "10429", "Too Many Requests")

    def server_error(self, request, status):
        return self.errors(status, f"10{status}", "The service is temporarily unavailable")

    # --- ship ----------------------------------------------------------------------------
    def ship(self, request: Request, match) -> Response:
        data = request.json()
        root = "ShipmentRequest.Shipment"
        for path in (
            "ShipmentRequest.Request.RequestOption",
            f"{root}.Shipper.Name",
            f"{root}.Shipper.ShipperNumber",
            f"{root}.Shipper.Address.AddressLine",
            f"{root}.Shipper.Address.City",
            f"{root}.Shipper.Address.CountryCode",
            f"{root}.ShipTo.Name",
            f"{root}.ShipTo.Address.AddressLine",
            f"{root}.ShipTo.Address.City",
            f"{root}.ShipTo.Address.PostalCode",
            f"{root}.ShipTo.Address.CountryCode",
            f"{root}.Service.Code",
            f"{root}.Package",
            f"{root}.PaymentInformation.ShipmentCharge",
            "ShipmentRequest.LabelSpecification.LabelImageFormat.Code",
        ):
            require(data, path)
        shipment_data = data["ShipmentRequest"]["Shipment"]
        packages = _as_list(shipment_data["Package"])
        for index, package in enumerate(packages):
            where = f"Package[{index}]"
            weight = (package or {}).get("PackageWeight") or {}
            if not (weight.get("UnitOfMeasurement") or {}).get("Code"):
                raise BadRequest(f"Missing or invalid package weight unit of measurement in {where}", code="120601")
            try:
                positive_number(weight.get("Weight"), f"{where}.PackageWeight.Weight")
            except BadRequest:
                raise BadRequest(f"Missing or invalid package weight in {where}", code="120602") from None
            if not ((package.get("Packaging") or package.get("PackagingType") or {}).get("Code")):
                raise BadRequest(f"Missing or invalid packaging type in {where}", code="120603")
        charge = _as_list(shipment_data["PaymentInformation"]["ShipmentCharge"])[0] or {}
        if not charge.get("Type"):
            raise BadRequest("Missing or invalid shipment charge type", code="120500")
        ship_to = shipment_data["ShipTo"]["Address"]
        shipper = shipment_data["Shipper"]["Address"]
        if ship_to["CountryCode"] != shipper["CountryCode"] and not shipment_data.get("Description"):
            raise BadRequest("Missing or invalid shipment description for an international shipment", code="120420")
        why = refused(ship_to.get("PostalCode"), _as_list(ship_to.get("AddressLine")))
        if why:
            raise BadRequest(f"Address Validation Error on ShipTo address: {why}", code="120802")

        account = str(shipment_data["Shipper"]["ShipperNumber"])
        service = str(shipment_data["Service"]["Code"])
        numbers = [self.number(account, service) for _ in packages]
        references = [str(r.get("Value")) for r in _as_list(shipment_data.get("ReferenceNumber")) if r.get("Value")]
        for package in packages:
            references += [str(r.get("Value")) for r in _as_list(package.get("ReferenceNumber")) if r.get("Value")]
        image = str(data["ShipmentRequest"]["LabelSpecification"]["LabelImageFormat"]["Code"]).upper()
        label = {"GIF": GIF_1PX, "PNG": PNG_1PX}.get(image) or zpl_label(numbers[0])
        shipment = self.state.add(
            Shipment(
                courier=self.code,
                courier_id=numbers[0],
                tracking_number=numbers[0],
                pieces=numbers,
                references=list(dict.fromkeys(references)),
                account=account,
                created_at=time.time(),
                request=data,
                label=label,
                label_format=image.lower(),
                extra={"service": service},
            )
        )
        results = [
            {
                "TrackingNumber": number,
                "ServiceOptionsCharges": {"CurrencyCode": "USD", "MonetaryValue": "0.00"},
                "ShippingLabel": {"ImageFormat": {"Code": image, "Description": image}, "GraphicImage": b64(label)},
            }
            for number in shipment.pieces
        ]
        context = (data["ShipmentRequest"]["Request"].get("TransactionReference") or {}).get("CustomerContext", "")
        total = f"{13.05 * len(packages):.2f}"
        body = {
            "ShipmentResponse": {
                "Response": {
                    "ResponseStatus": {"Code": "1", "Description": "Success"},
                    "TransactionReference": {"CustomerContext": context, "TransactionIdentifier": new_id()[:22]},
                },
                "ShipmentResults": {
                    "ShipmentCharges": {
                        "TransportationCharges": {"CurrencyCode": "USD", "MonetaryValue": total},
                        "ServiceOptionsCharges": {"CurrencyCode": "USD", "MonetaryValue": "0.00"},
                        "TotalCharges": {"CurrencyCode": "USD", "MonetaryValue": total},
                    },
                    "BillingWeight": {
                        "UnitOfMeasurement": {"Code": "KGS", "Description": "Kilograms"},
                        "Weight": f"{sum(float(p['PackageWeight']['Weight']) for p in packages):.1f}",
                    },
                    "ShipmentIdentificationNumber": shipment.tracking_number,
                    # UPS answers an object for one package and a list for several.
                    "PackageResults": results[0] if len(results) == 1 else results,
                },
            }
        }
        return json_response(200, body)

    def number(self, account: str, service: str) -> str:
        shipper = (re.sub(r"[^A-Z0-9]", "", account.upper()) + "XXXXXX")[:6]
        body = f"{shipper}{re.sub(r'[^0-9]', '', service).zfill(2)[-2:]}{self.state.digits(7)}"
        return f"1Z{body}{check_digit(body)}"

    # --- void ----------------------------------------------------------------------------
    def void(self, request: Request, match) -> Response:
        shipment = self.state.find(self.code, match["id"])
        if shipment is None:
            return self.errors(400, "190101", "No shipment found within the allowed void period")
        if not shipment.voided and shipment.step >= 1:
            return self.errors(400, "190117", "The void period for this shipment has expired: it was picked up")
        self.state.void(shipment)
        body = {
            "VoidShipmentResponse": {
                "Response": {
                    "ResponseStatus": {"Code": "1", "Description": "Success"},
                    "TransactionReference": {"CustomerContext": request.header("transId")},
                },
                "SummaryResult": {"Status": {"Code": "1", "Description": "Voided"}},
            }
        }
        return json_response(200, body)

    # --- track ---------------------------------------------------------------------------
    def _headers_missing(self, request: Request) -> Response | None:
        missing = [name for name in ("transId", "transactionSrc") if not request.header(name)]
        if missing:
            return self.errors(400, "TV1001", f"Missing required header: {', '.join(missing)}")
        return None

    def track(self, request: Request, match) -> Response:
        refused_headers = self._headers_missing(request)
        if refused_headers is not None:
            return refused_headers
        number = match["number"]
        if not 7 <= len(number) <= 34:
            return self.errors(400, "TV1002", "Invalid inquiry number")
        shipment = self.state.find(self.code, number)
        if shipment is None:
            return json_response(200, _not_found(number))
        pieces = [number] if number in shipment.pieces and number != shipment.tracking_number else shipment.pieces
        package_list = [self.package(shipment, p) for p in pieces]
        return json_response(200, {"trackResponse": {"shipment": [{"inquiryNumber": number, "package": package_list}]}})

    def track_reference(self, request: Request, match) -> Response:
        refused_headers = self._headers_missing(request)
        if refused_headers is not None:
            return refused_headers
        reference = match["reference"]
        account = request.param("shipperNum")
        found = [s for s in self.state.by_reference(self.code, reference) if not account or s.account == account]
        if not found:
            return json_response(200, _not_found(reference))
        shipments = [
            {"inquiryNumber": reference, "package": [self.package(s, piece) for piece in s.pieces]} for s in found
        ]
        return json_response(200, {"trackResponse": {"shipment": shipments}})

    def package(self, shipment: Shipment, number: str) -> dict[str, Any]:
        steps = [(EVENTS[step], when) for step, when in shipment.events]
        if shipment.voided:
            steps.append((VOIDED, shipment.voided_at or time.time()))
        activity = [self.activity(shipment, event, when) for event, when in reversed(steps)]
        current = activity[0]["status"]
        delivered = shipment.step == 4 and not shipment.voided
        last_when = steps[-1][1]
        package_data = _as_list(shipment.request["ShipmentRequest"]["Shipment"]["Package"])
        index = shipment.pieces.index(number) if number in shipment.pieces else 0
        weight = (package_data[index] if index < len(package_data) else package_data[0])["PackageWeight"]
        return {
            "trackingNumber": number,
            "deliveryDate": [
                {
                    "type": "DEL" if delivered else "SDD",
                    "date": at(last_when if delivered else shipment.created_at + 3 * 86400).strftime("%Y%m%d"),
                }
            ],
            "deliveryTime": {
                "type": "DEL" if delivered else "EOD",
                "endTime": at(last_when).strftime("%H%M%S") if delivered else "235900",
            },
            "currentStatus": dict(current),
            "activity": activity,
            "packageCount": len(shipment.pieces),
            "referenceNumber": [{"type": "SHIPMENT", "number": r} for r in shipment.references],
            "service": {"code": shipment.extra.get("service", ""), "description": "UPS"},
            "statusCode": current["statusCode"],
            "statusDescription": current["description"],
            "weight": {
                "unitOfMeasurement": str((weight.get("UnitOfMeasurement") or {}).get("Code", "KGS")),
                "weight": f"{float(weight.get('Weight') or 0):.2f}",
            },
        }

    def activity(self, shipment: Shipment, event: tuple, when: float) -> dict[str, Any]:
        kind, code, description, simple, status_code, at_receiver = event
        shipment_data = shipment.request["ShipmentRequest"]["Shipment"]
        address: dict[str, Any] = {}
        if at_receiver is not None:
            raw = (shipment_data["ShipTo"] if at_receiver else shipment_data["Shipper"])["Address"]
            address = {
                "city": raw.get("City", ""),
                "stateProvince": raw.get("StateProvinceCode", ""),
                "postalCode": raw.get("PostalCode", ""),
                "country": raw.get("CountryCode", ""),
                "countryCode": raw.get("CountryCode", ""),
            }
        else:
            address = {"countryCode": shipment_data["Shipper"]["Address"].get("CountryCode", "")}
        moment = at(when)
        return {
            "date": moment.strftime("%Y%m%d"),
            "time": moment.strftime("%H%M%S"),
            "gmtDate": moment.strftime("%Y%m%d"),
            "gmtOffset": "+00:00",
            "gmtTime": moment.strftime("%H:%M:%S"),
            "location": {"address": address},
            "status": {
                "type": kind,
                "code": code,
                "description": description,
                "simplifiedTextDescription": simple,
                "statusCode": status_code,
            },
        }

    # --- push (Track Alert) --------------------------------------------------------------
    def push_bodies(self, shipment: Shipment, number: str, every: bool) -> list[bytes]:
        steps = [(EVENTS[step], when) for step, when in shipment.events]
        if shipment.voided:
            steps.append((VOIDED, shipment.voided_at or time.time()))
        chosen = steps if every else steps[-1:]
        return [json.dumps(self.track_alert(shipment, number, event, when)).encode() for event, when in chosen]

    def push_headers(self, body: bytes, secret: str) -> dict[str, str]:
        return {"Content-Type": "application/json", "credential": secret, "User-Agent": "UPSPubSubTrackingService"}

    def track_alert(self, shipment: Shipment, number: str, event: tuple, when: float) -> dict[str, Any]:
        activity = self.activity(shipment, event, when)
        address, status = activity["location"]["address"], activity["status"]
        delivered = status["type"] == "D"
        return {
            "trackingNumber": number,
            "localActivityDate": activity["date"],
            "localActivityTime": activity["time"],
            "gmtActivityDate": activity["gmtDate"],
            "gmtActivityTime": activity["gmtTime"].replace(":", ""),
            "activityLocation": {
                "city": address.get("city", ""),
                "stateProvince": address.get("stateProvince", ""),
                "postalCode": address.get("postalCode", ""),
                "country": address.get("country") or address.get("countryCode", ""),
            },
            "activityStatus": {
                "type": status["type"],
                "code": status["code"],
                "description": status["description"],
                "descriptionCode": status["statusCode"],
            },
            "scheduledDeliveryDate": "" if delivered else at(shipment.created_at + 3 * 86400).strftime("%Y%m%d"),
            "actualDeliveryDate": activity["date"] if delivered else "",
            "actualDeliveryTime": activity["time"] if delivered else "",
            "deliveryStartTime": "",
            "deliveryEndTime": "",
            "deliveryTimeDescription": "" if delivered else "end of day",
            "deliveryPhoto": "",
        }


def check_digit(body: str) -> str:
    """The 1Z check digit over the 15 characters after ``1Z`` (letters count as digits)."""
    total = 0
    for position, char in enumerate(body, start=1):
        value = int(char) if char.isdigit() else (ord(char) - 63) % 10
        total += value * (2 if position % 2 == 0 else 1)
    return str((10 - total % 10) % 10)


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _not_found(number: str) -> dict[str, Any]:
    return {
        "trackResponse": {
            "shipment": [
                {"inquiryNumber": number, "warnings": [{"code": "TW0001", "message": "Tracking Information Not Found"}]}
            ]
        }
    }
