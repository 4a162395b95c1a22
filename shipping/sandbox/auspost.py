"""Australia Post, Shipping and Tracking API v1 shape: HTTP Basic plus ``Account-Number``.

Shipments, labels (``wait_for_label_url`` answers AVAILABLE at once, otherwise PENDING until
the first ``GET /shipping/v1/labels/{request_id}``; the label URL is a plain GET under
``/auspost/_labels/``), tracking by article or consignment id (newest event first, a failure
per id inside the 200), delete before the order, orders (the end-of-day manifest) and the
order summary PDF. Errors are ``{"errors": [{"code", "name", "message", "field"}]}``; the
gateway's authentication and rate-limit errors use ``error_code`` / ``error_name``.
"""

from __future__ import annotations

import re
import time
from typing import Any

from .common import (
    AEST,
    BadRequest,
    CourierApi,
    Request,
    Response,
    at,
    json_response,
    new_id,
    pdf_label,
    positive_number,
    refused,
    zpl_label,
)
from .state import Shipment

MAX_TRACK = 10
# Step -> (event description, at the receiver's end?, article status)
EVENTS: dict[int, tuple[str, bool | None, str]] = {
    0: ("Shipping information received by Australia Post", None, "Initiated"),
    1: ("Received by Australia Post", False, "In transit"),
    2: ("Item processed at facility", False, "In transit"),
    3: ("Onboard for delivery", True, "In transit"),
    4: ("Delivered - Left in a safe place", True, "Delivered"),
}
PRODUCT_TYPES = {"E34": "Express Post", "T28": "Parcel Post", "ECM8": "International Express", "PTI8": "International"}


class AusPostApi(CourierApi):
    code = "auspost"

    def __init__(self, state, *, key, secret):
        super().__init__(state, key=key, secret=secret)
        self.route("POST", "/shipping/v1/shipments", self.create)
        self.route("GET", "/shipping/v1/shipments", self.search)
        self.route("GET", r"/shipping/v1/shipments/(?P<id>[^/]+)", self.get_one)
        self.route("DELETE", r"/shipping/v1/shipments/(?P<id>[^/]+)", self.delete)
        self.route("POST", "/shipping/v1/labels", self.labels)
        self.route("GET", r"/shipping/v1/labels/(?P<id>[^/]+)", self.label_status)
        self.route("GET", "/shipping/v1/track", self.track)
        self.route("POST", "/shipping/v1/orders", self.order)
        self.route("PUT", "/shipping/v1/orders", self.order)
        self.route("GET", r"/shipping/v1/accounts/(?P<account>[^/]+)/orders/(?P<id>[^/]+)/summary", self.summary)
        self.route("GET", r"/_labels/(?P<id>[^/.]+)(?:\.(?P<ext>\w+))?", self.label_file, auth=False)

    # --- auth and error shapes -----------------------------------------------------------
    @staticmethod
    def errors(status: int, *errors: dict[str, Any], **headers) -> Response:
        return json_response(status, {"errors": list(errors)}, **headers)

    def authenticate(self, request):
        if not self.basic_ok(request):
            return self.errors(
                401, {"message": "Invalid credentials", "error_code": "API_001", "error_name": "Unauthorized"}
            )
        if not request.header("Account-Number").strip():
            return self.errors(
                401,
                {
                    "message": "The Account-Number header is missing",
                    "error_code": "API_001",
                    "error_name": "Unauthorized",
                },
            )
        return None

    def bad_request(self, request, error):
        if error.code == "405":
            return self.errors(405, {"code": "405", "name": "METHOD_NOT_ALLOWED", "message": error.message})
        body = {"code": error.code or "40002", "name": "JSON_MANDATORY_FIELD_MISSING", "message": error.message}
        if error.code and error.code != "40002":
            body["name"] = _names.get(error.code, "VALIDATION_ERROR")
        if error.field:
            body["field"] = error.field
        return self.errors(400, body)

    def not_found(self, request):
        return self.errors(404, {"code": "404", "name": "RESOURCE_NOT_FOUND", "message": f"{request.path} not found"})

    def rate_limited(self, request, seconds):
        return self.errors(
            429, {"message": "Too many requests", "error_code": "API_002", "error_name": "Too many requests"}
        )

    def server_error(self, request, status):
        return self.errors(
            status, {"code": "ESB-20010", "name": "SYSTEM_ERROR", "message": f"The service is unavailable ({status})"}
        )

    # --- shipments -----------------------------------------------------------------------
    def create(self, request: Request, match) -> Response:
        data = request.json()
        shipments = data.get("shipments") if isinstance(data, dict) else None
        if not isinstance(shipments, list) or not shipments:
            raise BadRequest(_missing("shipments"), field="shipments")
        for index, shipment in enumerate(shipments):
            _validate(shipment, f"shipments[{index}]")
        created = [self._create_one(shipment, request) for shipment in shipments]
        return json_response(201, {"shipments": [self.view(s) for s in created]})

    def _create_one(self, data: dict, request: Request) -> Shipment:
        consignment = f"2SB{self.state.digits(7)}"
        items = []
        for index, item in enumerate(data["items"], start=1):
            article = f"{consignment}{index:02d}0{self.state.digits(8)}"
            items.append({"item_id": self.state.opaque_id(), "article_id": article, "product_id": item["product_id"]})
        references = [str(data.get("shipment_reference") or "")] + [str(r) for r in data.get("sender_references") or []]
        references += [str(data.get(k)) for k in ("customer_reference_1", "customer_reference_2") if data.get(k)]
        return self.state.add(
            Shipment(
                courier=self.code,
                courier_id=self.state.opaque_id(),
                tracking_number=items[0]["article_id"],
                pieces=[i["article_id"] for i in items],
                references=[r for r in dict.fromkeys(references) if r],
                account=request.header("Account-Number"),
                created_at=time.time(),
                request=data,
                extra={"consignment_id": consignment, "items": items},
            )
        )

    def view(self, shipment: Shipment) -> dict[str, Any]:
        data = shipment.request
        status = "Initiated" if shipment.order_id else "Created"
        items = []
        for raw, made in zip(data["items"], shipment.extra["items"], strict=True):
            cost = 39.95 if _international(data) else 12.95
            items.append(
                {
                    **{k: v for k, v in raw.items() if k != "item_contents"},
                    "item_id": made["item_id"],
                    "item_reference": raw.get("item_reference", ""),
                    "product_id": made["product_id"],
                    "tracking_details": {
                        "article_id": made["article_id"],
                        "consignment_id": shipment.extra["consignment_id"],
                        "barcode_id": f"019931265099999891{made['article_id']}",
                    },
                    "item_summary": _cost(cost) | {"status": status},
                }
            )
        total = sum(i["item_summary"]["total_cost"] for i in items)
        view = {
            "shipment_id": shipment.courier_id,
            "shipment_reference": data.get("shipment_reference", ""),
            "shipment_creation_date": at(shipment.created_at, AEST).isoformat(),
            "email_tracking_enabled": bool(data.get("email_tracking_enabled")),
            "items": items,
            "shipment_summary": _cost(total)
            | {"status": status, "number_of_items": len(items), "tracking_summary": {status: len(items)}},
            "movement_type": "DESPATCH",
            "charge_to_account": shipment.account,
            "shipment_modified_date": at(shipment.created_at, AEST).isoformat(),
        }
        for key in ("sender_references", "customer_reference_1", "customer_reference_2", "from", "to"):
            if key in data:
                view[key] = data[key]
        if shipment.order_id:
            view["order_id"] = shipment.order_id
        return view

    def search(self, request: Request, match) -> Response:
        query = request.query
        if not query.get("shipment_ids") and not (query.get("offset") and query.get("number_of_shipments")):
            raise BadRequest(
                "Either shipment_ids, or offset and number_of_shipments together, must be given.",
                field="offset",
            )
        wanted = [
            r
            for name in ("sender_reference", "sender_references")
            for value in query.get(name) or []
            for r in value.split(",")
            if r
        ]
        live = [s for s in self.state.all(self.code) if not s.voided]
        if wanted:
            live = [s for s in live if any(r in s.references for r in wanted)]
        views = [self.view(s) for s in live]
        pagination = {
            "total_number_of_records": len(views),
            "number_of_records_per_page": 1000,
            "current_page_number": 1,
        }
        return json_response(200, {"shipments": views, "pagination": pagination})

    def get_one(self, request: Request, match) -> Response:
        shipment = self._live(match["id"])
        if shipment is None:
            return self._shipment_not_found(match["id"])
        return json_response(200, {"shipments": [self.view(shipment)]})

    def delete(self, request: Request, match) -> Response:
        shipment = self._live(match["id"])
        if shipment is None:
            return self._shipment_not_found(match["id"])
        if shipment.order_id:
            return self.errors(
                400,
                {
                    "code": "44019",
                    "name": "SHIPMENT_IN_ORDER_ERROR",
                    "message": f"Shipment {shipment.courier_id} is in order {shipment.order_id}: not deletable",
                },
            )
        self.state.void(shipment)
        return Response(200)

    # --- labels --------------------------------------------------------------------------
    def labels(self, request: Request, match) -> Response:
        data = request.json()
        wanted = (data or {}).get("shipments") if isinstance(data, dict) else None
        if not isinstance(wanted, list) or not wanted:
            raise BadRequest(_missing("shipments"), field="shipments")
        preference = ((data.get("preferences") or [{}])[0]) or {}
        label_format = "zpl" if str(preference.get("format") or "PDF").upper() == "ZPL" else "pdf"
        found = []
        for index, entry in enumerate(wanted):
            shipment = self._live(str((entry or {}).get("shipment_id") or ""))
            if shipment is None:
                raise BadRequest(
                    f"The shipment {entry.get('shipment_id')!r} was not found.",
                    code="44013",
                    field=f"shipments[{index}].shipment_id",
                )
            found.append(shipment)
        request_id = new_id()
        text = " ".join(s.tracking_number for s in found)
        content = zpl_label(text) if label_format == "zpl" else pdf_label(f"AUSPOST {text}")
        for shipment in found:
            shipment.label, shipment.label_format = content, label_format
        now = time.time()
        label = {
            "request_id": request_id,
            "status": "AVAILABLE" if data.get("wait_for_label_url") else "PENDING",
            "request_date": at(now, AEST).strftime("%d-%m-%Y %H:%M:%S"),
            "shipments": [
                {
                    "shipment_id": s.courier_id,
                    "options": [],
                    "items": [{"item_id": i["item_id"]} for i in s.extra["items"]],
                }
                for s in found
            ],
            "shipment_ids": [s.courier_id for s in found],
        }
        with self.state.lock:
            self.state.labels[request_id] = {
                "label": label,
                "content": content,
                "format": label_format,
                "url": f"http://{request.host}/auspost/_labels/{request_id}.{label_format}",
            }
        return json_response(200, {"labels": [self._label_view(request_id)]})

    def _label_view(self, request_id: str) -> dict[str, Any]:
        with self.state.lock:
            entry = self.state.labels[request_id]
            label = dict(entry["label"])
        if label["status"] == "AVAILABLE":
            label["url"] = entry["url"]
            label["url_creation_date"] = label["request_date"]
        return label

    def label_status(self, request: Request, match) -> Response:
        with self.state.lock:
            entry = self.state.labels.get(match["id"])
            if entry is not None:
                entry["label"]["status"] = "AVAILABLE"  # rendered by the time anyone asks
        if entry is None:
            return self.errors(
                404,
                {
                    "code": "51020",
                    "name": "LABEL_REQUEST_NOT_FOUND_ERROR",
                    "message": f"The label request {match['id']} was not found.",
                },
            )
        return json_response(200, {"labels": [self._label_view(match["id"])]})

    def label_file(self, request: Request, match) -> Response:
        with self.state.lock:
            entry = self.state.labels.get(match["id"])
        if entry is None:
            return Response(404, b"Not Found", {"Content-Type": "text/plain"})
        content_type = "text/plain" if entry["format"] == "zpl" else "application/pdf"
        return Response(200, entry["content"], {"Content-Type": content_type})

    # --- tracking ------------------------------------------------------------------------
    def track(self, request: Request, match) -> Response:
        ids = [t.strip() for value in request.query.get("tracking_ids") or [] for t in value.split(",") if t.strip()]
        if not ids:
            raise BadRequest("The request must contain at least one tracking id.", code="51100", field="tracking_ids")
        if len(ids) > MAX_TRACK:
            raise BadRequest(
                "The request must contain 10 or less AP article ids, consignment ids, or barcode ids.", code="51101"
            )
        return json_response(200, {"tracking_results": [self._track_one(t) for t in ids]})

    def _track_one(self, tracking_id: str) -> dict[str, Any]:
        shipment = self._live(tracking_id) or next(
            (s for s in self.state.all(self.code) if not s.voided and s.extra.get("consignment_id") == tracking_id),
            None,
        )
        if shipment is None or tracking_id == shipment.courier_id:
            return {"tracking_id": tracking_id, "errors": [{"code": "ESB-10001", "name": "Invalid tracking ID"}]}
        status = EVENTS[shipment.step][2]
        events = [self._event(shipment, step, when) for step, when in reversed(shipment.events)]
        product = PRODUCT_TYPES.get(shipment.extra["items"][0]["product_id"], "eParcel")
        if tracking_id == shipment.extra.get("consignment_id"):
            items = [
                {"article_id": article, "product_type": product, "events": events, "status": status}
                for article in shipment.pieces
            ]
            trackable = [{"consignment_id": tracking_id, "number_of_items": len(items), "items": items}]
        else:
            trackable = [{"article_id": tracking_id, "product_type": product, "events": events, "status": status}]
        return {"tracking_id": tracking_id, "status": status, "trackable_items": trackable}

    def _event(self, shipment: Shipment, step: int, when: float) -> dict[str, Any]:
        description, at_receiver, _ = EVENTS[step]
        event: dict[str, Any] = {"description": description, "date": at(when, AEST).isoformat()}
        if at_receiver is not None:
            party = shipment.request["to" if at_receiver else "from"]
            event["location"] = f"{str(party.get('suburb', '')).upper()} {party.get('state', '')}".strip()
        return {k: event[k] for k in ("location", "description", "date") if k in event}

    # --- orders (the manifest) -----------------------------------------------------------
    def order(self, request: Request, match) -> Response:
        data = request.json()
        wanted = (data or {}).get("shipments") if isinstance(data, dict) else None
        if not isinstance(wanted, list) or not wanted:
            raise BadRequest(_missing("shipments"), field="shipments")
        if request.method == "POST":
            # POST is "Create Order Including Shipments": full shipments, not ids of created ones (that is PUT).
            for index, entry in enumerate(wanted):
                for name in ("from", "to", "items"):
                    if not isinstance(entry, dict) or not entry.get(name):
                        raise BadRequest(_missing(name), field=f"shipments[{index}].{name}")
            raise BadRequest(
                "Creating an order including new shipments is not supported by the sandbox; "
                "create the shipments, then PUT /shipping/v1/orders with their shipment_id.",
                field="shipments",
            )
        found = []
        for index, entry in enumerate(wanted):
            shipment = self._live(str((entry or {}).get("shipment_id") or ""))
            if shipment is None:
                raise BadRequest(
                    f"The shipment {entry.get('shipment_id')!r} was not found.",
                    code="44013",
                    field=f"shipments[{index}].shipment_id",
                )
            if shipment.order_id:
                raise BadRequest(
                    f"The shipment {shipment.courier_id} is already in order {shipment.order_id}.",
                    code="44019",
                    field=f"shipments[{index}].shipment_id",
                )
            found.append(shipment)
        order_id = f"AP{self.state.digits(10)}"
        with self.state.lock:
            for shipment in found:
                shipment.order_id = order_id
        views = [self.view(s) for s in found]
        items = sum(len(v["items"]) for v in views)
        order = {
            "order_id": order_id,
            "order_reference": str(data.get("order_reference") or ""),
            "order_creation_date": at(time.time(), AEST).isoformat(),
            "order_summary": _cost(sum(v["shipment_summary"]["total_cost"] for v in views))
            | {
                "status": "Initiated",
                "tracking_summary": {"Initiated": items},
                "number_of_shipments": len(views),
                "number_of_items": items,
                "dangerous_goods_included": False,
            },
            "shipments": views,
            "payment_method": str(data.get("payment_method") or "CHARGE_TO_ACCOUNT"),
        }
        with self.state.lock:
            self.state.orders[order_id] = order
        return json_response(201, {"order": order})

    def summary(self, request: Request, match) -> Response:
        with self.state.lock:
            order = self.state.orders.get(match["id"])
        if order is None:
            return self.errors(
                404, {"code": "44020", "name": "ORDER_NOT_FOUND_ERROR", "message": f"Order {match['id']} not found."}
            )
        return Response(200, pdf_label(f"ORDER SUMMARY {match['id']}"), {"Content-Type": "application/pdf"})

    # --- helpers -------------------------------------------------------------------------
    def _live(self, number: str) -> Shipment | None:
        return self.state.find(self.code, number, include_voided=False) if number else None

    def _shipment_not_found(self, shipment_id: str) -> Response:
        return self.errors(
            404,
            {
                "code": "44013",
                "name": "SHIPMENT_NOT_FOUND_ERROR",
                "message": f"The shipment with shipment id {shipment_id} cannot be found.",
            },
        )


_names = {
    "42000": "RECEIVER_ADDRESS_INVALID_ERROR",
    "44013": "SHIPMENT_NOT_FOUND_ERROR",
    "44019": "SHIPMENT_IN_ORDER_ERROR",
    "51100": "TRACKING_IDS_MISSING",
    "51101": "TOO_MANY_AP_TRACKING_IDS",
    "40001": "JSON_FIELD_INVALID",
}


def _missing(name: str) -> str:
    return f"The input request is missing the mandatory field with the name '{name}'."


def _international(shipment: dict) -> bool:
    return str((shipment.get("to") or {}).get("country") or "AU").upper() != "AU"


def _validate(shipment: Any, where: str) -> None:
    if not isinstance(shipment, dict):
        raise BadRequest(_missing("shipments"), field=where)
    international = _international(shipment)
    for side in ("from", "to"):
        party = shipment.get(side)
        if not isinstance(party, dict):
            raise BadRequest(_missing(side), field=f"{where}.{side}")
        needed = ["name", "lines", "suburb", "postcode"] + ([] if side == "to" and international else ["state"])
        for key in needed:
            if party.get(key) in (None, "", []):
                raise BadRequest(_missing(key), field=f"{where}.{side}.{key}")
    items = shipment.get("items")
    if not isinstance(items, list) or not items:
        raise BadRequest(_missing("items"), field=f"{where}.items")
    if not international and len(items) > 20:
        raise BadRequest("A domestic shipment takes at most 20 items.", code="40001", field=f"{where}.items")
    for index, item in enumerate(items):
        at_item = f"{where}.items[{index}]"
        if not isinstance(item, dict):
            raise BadRequest(_missing("items"), field=at_item)
        for key in ("product_id", "weight"):
            if item.get(key) in (None, ""):
                raise BadRequest(_missing(key), field=f"{at_item}.{key}")
        try:
            positive_number(item["weight"], f"{at_item}.weight")
        except BadRequest as error:
            raise BadRequest(error.message, code="40001", field=error.field) from None
        if international and index == 0:
            contents = item.get("item_contents")
            if not isinstance(contents, list) or not contents:
                raise BadRequest(_missing("item_contents"), field=f"{at_item}.item_contents")
            for n, content in enumerate(contents):
                for key in ("description", "quantity", "value"):
                    if (content or {}).get(key) in (None, ""):
                        raise BadRequest(_missing(key), field=f"{at_item}.item_contents[{n}].{key}")
    to = shipment["to"]
    why = refused(to.get("postcode"), to.get("lines"))
    if why:
        raise BadRequest(f"The delivery address cannot be serviced: {why}.", code="42000", field=f"{where}.to")
    if not international and not re.fullmatch(r"\d{4}", str(to.get("postcode"))):
        raise BadRequest(
            f"The postcode {to.get('postcode')!r} is not a valid Australian postcode.",
            code="42000",
            field=f"{where}.to.postcode",
        )


def _cost(total: float) -> dict[str, float]:
    total = round(total, 2)
    gst = round(total / 11, 2)
    return {"total_cost": total, "total_cost_ex_gst": round(total - gst, 2), "total_gst": gst}
