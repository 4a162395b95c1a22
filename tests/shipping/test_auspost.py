"""Australia Post adapter (Shipping and Tracking v1) against a local HTTP peer."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time

import pytest
from werkzeug import Response

from shipping.couriers import auspost as auspost_module
from shipping.couriers import base
from shipping.couriers.auspost import STATUS_CODES, AusPost
from shipping.couriers.base import AuthError, Booking, CourierConfig, PermanentError, RateLimited, RetryableError

from .conftest import booking_request, us_receiver

KEY, SECRET, ACCOUNT = "ap-key", "ap-password", "0007654321"
BASIC = "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
PDF = b"%PDF-1.4 auspost label"

# Every status / event description the reference lists.
REFERENCE_TEXTS = [
    "Created",
    "Sealed",
    "Initiated",
    "In transit",
    "Delivered",
    "Awaiting collection",
    "Possible delay",
    "Unsuccessful pickup",
    "Article damaged",
    "Cancelled",
    "Held by courier",
    "Cannot be delivered",
    "Track items for detailed delivery information",
    "Unknown",
    "At Delivery Depot",
    "Booked In",
    "Delivered in Full",
    "On Board for Delivery",
    "To be Re-Delivered",
    "Unsuccessful Delivery",
    "Ready for Pickup",
    "With Australia Post for delivery today",
    "Processed through Australia Post facility",
    "Shipping information approved by Australia Post",
]


@pytest.fixture
def ap(httpserver, monkeypatch):
    monkeypatch.setattr(auspost_module, "LABEL_POLL_SECONDS", 0.01)
    config = CourierConfig(base_url=httpserver.url_for("/"), key=KEY, secret=SECRET, account=ACCOUNT, read_timeout=1.0)
    return AusPost(config)


def created(reference="SHP-000042", articles=("2JD541813301000870900",)):
    return {
        "shipments": [
            {
                "shipment_id": "9lesEAOvOm4AAAFI3swaDRYB",
                "shipment_reference": reference,
                "shipment_creation_date": "2026-07-01T15:48:09+10:00",
                "sender_references": [reference],
                "items": [
                    {
                        "item_id": f"ITEM{i}",
                        "item_reference": f"{reference}-{i}",
                        "product_id": "E34",
                        "tracking_details": {"article_id": a, "consignment_id": "2JD5418133", "barcode_id": a},
                        "item_summary": {"total_cost": 5, "status": "Created"},
                    }
                    for i, a in enumerate(articles, start=1)
                ],
                "shipment_summary": {"status": "Created", "number_of_items": len(articles)},
            }
        ]
    }


def expect_shipment(httpserver, seen, answer=None):
    def handler(request):
        seen["auth"] = request.headers.get("Authorization")
        seen["account"] = request.headers.get("Account-Number")
        seen["body"] = json.loads(request.data)
        return Response(json.dumps(answer or created()), status=201, content_type="application/json")

    httpserver.expect_oneshot_request("/shipping/v1/shipments", method="POST").respond_with_handler(handler)


def label_answer(httpserver, status="AVAILABLE"):
    label = {"request_id": "c2991876", "status": status, "shipment_ids": ["9lesEAOvOm4AAAFI3swaDRYB"]}
    if status == "AVAILABLE":
        label["url"] = httpserver.url_for("/labels/c2991876.pdf")
    return {"labels": [label]}


def test_book_domestic_creates_the_shipment_then_fetches_the_label(ap, httpserver):
    seen = {}
    expect_shipment(httpserver, seen, created(articles=("2JD541813301000870900", "2JD541813302000870900")))
    labels = {}

    def labels_handler(request):
        labels["body"] = json.loads(request.data)
        labels["account"] = request.headers.get("Account-Number")
        return Response(json.dumps(label_answer(httpserver)), status=200, content_type="application/json")

    httpserver.expect_oneshot_request("/shipping/v1/labels", method="POST").respond_with_handler(labels_handler)
    httpserver.expect_oneshot_request("/labels/c2991876.pdf", method="GET").respond_with_data(
        PDF, content_type="application/pdf"
    )

    booking = ap.book(booking_request(parcels=2), "SHP-000042")

    assert seen["auth"] == BASIC
    assert seen["account"] == ACCOUNT
    shipment = seen["body"]["shipments"][0]
    assert shipment["shipment_reference"] == "SHP-000042"
    assert shipment["sender_references"] == ["SHP-000042"]
    assert shipment["from"] == {
        "name": "Dispatch Team",
        "lines": ["Unit 4", "12 Industrial Road"],
        "suburb": "Alexandria",
        "state": "NSW",
        "postcode": "2015",
        "business_name": "Stride Insoles Pty Ltd",
        "phone": "0291234567",
        "email": "dispatch@stride.example",
    }
    assert shipment["to"]["postcode"] == "3000" and shipment["to"]["suburb"] == "Melbourne"
    assert "country" not in shipment["to"]
    first, second = shipment["items"]
    assert first == {
        "item_reference": "SHP-000042-1",
        "product_id": "E34",
        "weight": 0.45,
        "authority_to_leave": False,
        "allow_partial_delivery": True,
        "length": 30,
        "width": 20,
        "height": 5,
    }
    assert second["weight"] == 0.55
    assert labels["account"] == ACCOUNT
    assert labels["body"]["shipments"] == [{"shipment_id": "9lesEAOvOm4AAAFI3swaDRYB"}]
    assert labels["body"]["wait_for_label_url"] is True
    assert labels["body"]["preferences"][0]["format"] == "PDF"
    # Domestic groups only, A6 (International labels are A4 only).
    assert [(g["group"], g["layout"]) for g in labels["body"]["preferences"][0]["groups"]] == [
        ("Parcel Post", "A6-1pp"),
        ("Express Post", "A6-1pp"),
    ]

    assert booking.courier_id == "9lesEAOvOm4AAAFI3swaDRYB"
    assert booking.tracking_number == "2JD541813301000870900"
    assert booking.parcels == ("2JD541813301000870900", "2JD541813302000870900")
    assert booking.product_code == "E34"
    assert booking.label_document == PDF
    assert booking.label_format == "pdf"


def test_book_international_declares_contents_with_hs_code(ap, httpserver):
    seen = {}
    expect_shipment(httpserver, seen)
    httpserver.expect_oneshot_request("/shipping/v1/labels", method="POST").respond_with_json(
        {"labels": [{"request_id": "x", "status": "ERROR"}]}
    )
    booking = ap.book(booking_request(receiver=us_receiver(), service="standard"), "SHP-9")
    shipment = seen["body"]["shipments"][0]
    assert shipment["to"]["country"] == "US"
    assert shipment["from"]["country"] == "AU"
    item = shipment["items"][0]
    assert item["product_id"] == "PTI8"
    assert item["classification_type"] == "SALE_OF_GOODS"
    assert item["commercial_value"] is True
    assert item["item_contents"] == [
        {
            "description": "Orthotic insoles, pair",
            "quantity": 2,
            "value": 59.95,
            "tariff_code": "6406",
            "country_of_origin": "AU",
            "weight": 0.4,
        }
    ]
    assert booking.label_document is None  # the label is optional: the booking stands


def test_an_international_label_asks_for_the_international_group_on_a4():
    body = auspost_module.label_body("S1", booking_request(receiver=us_receiver()))
    assert [(g["group"], g["layout"]) for g in body["preferences"][0]["groups"]] == [("International", "A4-1pp")]


def test_international_express_product(ap):
    assert auspost_module.product_for(booking_request(receiver=us_receiver(), service="express")) == "ECM8"
    assert auspost_module.product_for(booking_request(service="standard")) == "T28"
    assert auspost_module.product_for(booking_request(product_code="3J55")) == "3J55"


def test_pending_label_is_polled_until_available(ap, httpserver):
    expect_shipment(httpserver, {})
    httpserver.expect_oneshot_request("/shipping/v1/labels", method="POST").respond_with_json(
        label_answer(httpserver, "PENDING")
    )
    httpserver.expect_oneshot_request("/shipping/v1/labels/c2991876", method="GET").respond_with_json(
        label_answer(httpserver)
    )
    httpserver.expect_oneshot_request("/labels/c2991876.pdf").respond_with_data(PDF)
    assert ap.book(booking_request(), "SHP-1").label_document == PDF


def test_label_failure_never_undoes_the_booking(ap, httpserver):
    expect_shipment(httpserver, {})
    httpserver.expect_oneshot_request("/shipping/v1/labels", method="POST").respond_with_data("down", status=503)
    booking = ap.book(booking_request(), "SHP-1")
    assert booking.tracking_number == "2JD541813301000870900"
    assert booking.label_document is None


def test_booking_4xx_is_permanent_with_the_couriers_code(ap, httpserver):
    httpserver.expect_oneshot_request("/shipping/v1/shipments", method="POST").respond_with_json(
        {
            "errors": [
                {
                    "code": "44003",
                    "name": "DANGEROUS_GOODS_NOT_SUPPORTED_BY_PRODUCT_ERROR",
                    "field": "shipments[0].items[0]",
                    "message": "The product T28S specified in an item has indicated that dangerous goods will be included",
                }
            ]
        },
        status=400,
    )
    with pytest.raises(PermanentError) as caught:
        ap.book(booking_request(), "SHP-1")
    assert caught.value.code == "44003"
    assert "dangerous goods" in caught.value.message
    assert "shipments[0].items[0]" in caught.value.message


def test_gateway_401_is_an_auth_error(ap, httpserver):
    httpserver.expect_oneshot_request("/shipping/v1/track").respond_with_json(
        {"errors": [{"message": "Invalid credentials", "error_code": "API_001", "error_name": "Unauthorized"}]},
        status=401,
    )
    with pytest.raises(AuthError) as caught:
        ap.track(["2JD541813301000870900"])
    assert caught.value.code == "API_001"


def test_booking_5xx_is_ambiguous(ap, httpserver):
    httpserver.expect_oneshot_request("/shipping/v1/shipments", method="POST").respond_with_json(
        {"errors": [{"code": "ESB-20010", "name": "SYSTEM_ERROR"}]}, status=502
    )
    with pytest.raises(RetryableError) as caught:
        ap.book(booking_request(), "SHP-1")
    assert caught.value.ambiguous is True


def test_read_timeout_on_booking_is_ambiguous(ap, httpserver):
    def slow(request):
        time.sleep(1.6)
        return Response(json.dumps(created()), status=201, content_type="application/json")

    httpserver.expect_oneshot_request("/shipping/v1/shipments", method="POST").respond_with_handler(slow)
    with pytest.raises(RetryableError) as caught:
        ap.book(booking_request(), "SHP-1")
    assert caught.value.ambiguous is True and caught.value.code == "read_timeout"


def test_429_is_rate_limited_with_retry_after(ap, httpserver):
    httpserver.expect_oneshot_request("/shipping/v1/track").respond_with_json(
        {"errors": [{"message": "Too many requests", "error_code": "API_002", "error_name": "Too many requests"}]},
        status=429,
        headers={"Retry-After": "12"},
    )
    with pytest.raises(RateLimited) as caught:
        ap.track(["A1"])
    assert caught.value.retry_after == 12.0


def test_track_joins_ids_with_commas_and_reads_each_result(ap, httpserver):
    answer = {
        "tracking_results": [
            {"tracking_id": "7XX1000", "errors": [{"code": "ESB-10001", "name": "Invalid tracking ID"}]},
            {
                "tracking_id": "7XX1000634011427",
                "status": "Delivered",
                "trackable_items": [
                    {
                        "article_id": "7XX1000634011427",
                        "product_type": "eParcel",
                        "status": "Delivered",
                        "events": [
                            {
                                "location": "ALEXANDRIA NSW",
                                "description": "Delivered",
                                "date": "2014-05-30T14:43:09+10:00",
                            },
                            {
                                "location": "ALEXANDRIA NSW",
                                "description": "With Australia Post for delivery today",
                                "date": "2014-05-30T06:08:51+10:00",
                            },
                            {
                                "description": "In transit to next facility in CHULLORA NSW",
                                "date": "2014-05-29T19:40:19+10:00",
                            },
                            {
                                "description": "Shipping information approved by Australia Post",
                                "date": "2014-05-23T14:27:15+10:00",
                            },
                        ],
                    }
                ],
            },
            {
                "tracking_id": "ET123456789AU",
                "trackable_items": [
                    {
                        "consignment_id": "ET123456789AU",
                        "number_of_items": 1,
                        "items": [
                            {
                                "article_id": "ET123456789AU",
                                "events": [
                                    {"description": "Received by Australia Post", "date": "2021-01-27T11:06:59+11:00"}
                                ],
                                "status": "Unknown",
                            }
                        ],
                    }
                ],
            },
        ]
    }
    httpserver.expect_oneshot_request("/shipping/v1/track", method="GET").respond_with_json(answer)
    invalid, delivered, consignment = ap.track(["7XX1000", "7XX1000634011427", "ET123456789AU"])

    request = httpserver.log[0][0]
    assert request.query_string == b"tracking_ids=7XX1000,7XX1000634011427,ET123456789AU"
    assert request.headers["Account-Number"] == ACCOUNT
    assert request.headers["Authorization"] == BASIC
    assert invalid.found is False and invalid.events == ()
    assert [e.status for e in delivered.events] == [
        base.LABEL_CREATED,
        base.IN_TRANSIT,
        base.OUT_FOR_DELIVERY,
        base.DELIVERED,
    ]
    assert delivered.events[0].code == "Shipping information approved by Australia Post"
    assert delivered.events[-1].occurred_at == dt.datetime(2014, 5, 30, 4, 43, 9, tzinfo=dt.UTC)
    assert delivered.events[-1].location == "ALEXANDRIA NSW"
    assert [e.status for e in consignment.events] == [base.PICKED_UP]


def test_track_whole_request_invalid_id_means_not_found(ap, httpserver):
    httpserver.expect_oneshot_request("/shipping/v1/track").respond_with_json(
        {"errors": [{"code": "51104", "name": "INVALID_TRACKING_ID", "message": "invalid"}]}, status=400
    )
    assert [s.found for s in ap.track(["X1", "X2"])] == [False, False]


def test_track_other_4xx_is_permanent(ap, httpserver):
    httpserver.expect_oneshot_request("/shipping/v1/track").respond_with_json(
        {"errors": [{"code": "51101", "name": "TOO_MANY_AP_TRACKING_IDS", "message": "too many"}]}, status=400
    )
    with pytest.raises(PermanentError) as caught:
        ap.track(["X1"])
    assert caught.value.code == "51101"


def test_track_takes_ten_ids_at_most(ap):
    assert ap.capabilities.track_batch == 10
    with pytest.raises(ValueError):
        ap.track([f"A{n}" for n in range(11)])


def test_find_by_reference_pages_and_filters_by_sender_reference(ap, httpserver):
    answer = created("SHP-5") | {"pagination": {"total_number_of_records": 1}}
    httpserver.expect_oneshot_request(
        "/shipping/v1/shipments",
        method="GET",
        query_string={
            "offset": "0",
            "number_of_shipments": "20",
            "sender_reference": "SHP-5",
            "sender_references": "SHP-5",
        },
    ).respond_with_json(answer)
    booking = ap.find_by_reference("SHP-5")
    assert httpserver.log[0][0].headers["Account-Number"] == ACCOUNT
    assert booking.courier_id == "9lesEAOvOm4AAAFI3swaDRYB"
    assert booking.tracking_number == "2JD541813301000870900"
    assert booking.reference == "SHP-5"


def test_find_by_reference_none_when_nothing_matches(ap, httpserver):
    httpserver.expect_oneshot_request("/shipping/v1/shipments", method="GET").respond_with_json(
        {"shipments": [], "pagination": {"total_number_of_records": 0}}
    )
    assert ap.find_by_reference("SHP-6") is None


def test_find_by_reference_ignores_shipments_that_do_not_name_it(ap, httpserver):
    # A server that ignored the filter: another shipment, and one naming no reference at all.
    other = created("SHP-OTHER")["shipments"][0]
    bare = {
        k: v for k, v in created("X")["shipments"][0].items() if k not in ("shipment_reference", "sender_references")
    }
    httpserver.expect_oneshot_request("/shipping/v1/shipments", method="GET").respond_with_json(
        {"shipments": [other, bare]}
    )
    assert ap.find_by_reference("SHP-7") is None


def test_void_deletes_the_shipment(ap, httpserver):
    httpserver.expect_oneshot_request("/shipping/v1/shipments/SID-1", method="DELETE").respond_with_data("", status=200)
    booking = Booking(courier="auspost", reference="R", tracking_number="A", parcels=("A",), courier_id="SID-1")
    assert ap.void(booking) is True
    assert httpserver.log[0][0].headers["Account-Number"] == ACCOUNT


def test_void_of_a_shipment_in_an_order_is_refused(ap, httpserver):
    httpserver.expect_oneshot_request("/shipping/v1/shipments/SID-1", method="DELETE").respond_with_json(
        {"errors": [{"code": "44019", "name": "SHIPMENT_IN_ORDER_ERROR", "message": "in order"}]}, status=400
    )
    booking = Booking(courier="auspost", reference="R", tracking_number="A", parcels=("A",), courier_id="SID-1")
    with pytest.raises(PermanentError) as caught:
        ap.void(booking)
    assert caught.value.code == "44019"


def test_manifest_creates_an_order_and_keeps_its_summary(ap, httpserver):
    seen = {}

    def handler(request):
        seen["body"] = json.loads(request.data)
        order = {"order": {"order_id": "AP0000002422", "order_reference": seen["body"]["order_reference"]}}
        return Response(json.dumps(order), status=201, content_type="application/json")

    # Create Order From Shipments is PUT (POST is Create Order Including Shipments).
    httpserver.expect_oneshot_request("/shipping/v1/orders", method="PUT").respond_with_handler(handler)
    httpserver.expect_oneshot_request(
        f"/shipping/v1/accounts/{ACCOUNT}/orders/AP0000002422/summary", method="GET"
    ).respond_with_data(PDF, content_type="application/pdf")
    bookings = [
        Booking(courier="auspost", reference=f"R{n}", tracking_number=f"A{n}", parcels=(f"A{n}",), courier_id=f"S{n}")
        for n in (1, 2)
    ]
    manifest = ap.manifest(bookings)
    assert seen["body"]["payment_method"] == "CHARGE_TO_ACCOUNT"
    assert seen["body"]["shipments"] == [{"shipment_id": "S1"}, {"shipment_id": "S2"}]
    assert manifest.reference == "AP0000002422"
    assert manifest.tracking_numbers == ("A1", "A2")
    assert manifest.document == PDF


def test_every_reference_status_is_mapped_exactly_once():
    assert len(REFERENCE_TEXTS) == len(set(REFERENCE_TEXTS))
    assert set(REFERENCE_TEXTS) <= set(STATUS_CODES)
    lowered = [k.lower() for k in STATUS_CODES]
    assert len(lowered) == len(set(lowered))
    assert set(STATUS_CODES.values()) <= set(base.EVENT_STATUSES)


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("Delivered - Left in a safe place", base.DELIVERED),
        ("In transit to next facility in SUNSHINE WEST VIC", base.IN_TRANSIT),
        ("Awaiting collection at KEW Post Office", base.AVAILABLE_FOR_PICKUP),
        ("Attempted delivery - card left", base.ATTEMPT_FAILED),
        ("delivered", base.DELIVERED),
        ("Something new entirely", base.IN_TRANSIT),
    ],
)
def test_free_text_events_map_by_their_opening(text, status):
    ap = AusPost(CourierConfig(base_url="http://x", key="k", secret="s"))
    assert ap.status_for(text) == status


def test_tracking_url():
    ap = AusPost(CourierConfig(base_url="http://x", key="k", secret="s"))
    assert (
        ap.tracking_url("2JD541813301000870900") == "https://auspost.com.au/mypost/track/details/2JD541813301000870900"
    )
