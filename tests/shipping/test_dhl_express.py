"""DHL Express adapter (MyDHL API) against a local HTTP peer: exact requests, answers, errors."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import time

import pytest
from werkzeug import Response

from shipping.couriers import base
from shipping.couriers.base import AuthError, CourierConfig, PermanentError, RateLimited, RetryableError
from shipping.couriers.dhl_express import STATUS_CODES, DhlExpress, booking_body, format_planned

from .conftest import booking_request, us_receiver

KEY, SECRET, ACCOUNT = "dhl-user", "dhl-pass", "123456789"
BASIC = "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
PDF = b"%PDF-1.4 dhl label"

# DHL Express checkpoint codes, every one in the reference's list.
REFERENCE_CODES = [
    "PU",
    "SA",
    "PL",
    "AF",
    "DF",
    "AR",
    "FD",
    "WC",
    "TR",
    "TP",
    "SM",
    "SC",
    "AD",
    "RR",
    "IC",
    "CR",
    "BR",
    "BN",
    "CD",
    "UD",
    "OK",
    "DD",
    "PD",
    "RT",
    "CC",
    "NH",
    "BA",
    "CA",
    "CM",
    "RD",
    "ND",
    "MD",
    "MS",
    "MC",
    "OH",
    "HP",
    "SS",
    "DS",
    "CS",
    "PY",
]


@pytest.fixture
def dhl(httpserver):
    config = CourierConfig(
        base_url=httpserver.url_for("/mydhlapi"), key=KEY, secret=SECRET, account=ACCOUNT, read_timeout=1.0
    )
    return DhlExpress(config)


def created(number="1103733901", pieces=("JD014600004617230770",)):
    return {
        "shipmentTrackingNumber": number,
        "trackingUrl": f"https://express.api.dhl.com/mydhlapi/shipments/{number}/tracking",
        "packages": [{"referenceNumber": i, "trackingNumber": p} for i, p in enumerate(pieces, start=1)],
        "documents": [{"imageFormat": "PDF", "content": base64.b64encode(PDF).decode(), "typeCode": "label"}],
        "shipmentDetails": [
            {"originServiceArea": {"serviceAreaCode": "SYD"}, "destinationServiceArea": {"serviceAreaCode": "DFW"}}
        ],
    }


def problem(status, detail, title="Bad request"):
    return {
        "instance": "/expressapi/shipments",
        "detail": detail,
        "title": title,
        "message": title,
        "status": str(status),
    }


def test_book_international_sends_the_mydhl_body_and_reads_waybill_pieces_and_label(dhl, httpserver):
    seen = {}

    def handler(request):
        seen["auth"] = request.headers.get("Authorization")
        seen["body"] = json.loads(request.data)
        return Response(json.dumps(created()), status=201, content_type="application/json")

    httpserver.expect_oneshot_request("/mydhlapi/shipments", method="POST").respond_with_handler(handler)
    request = booking_request(receiver=us_receiver())
    booking = dhl.book(request, "SHP-000042")

    assert seen["auth"] == BASIC
    body = seen["body"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2} GMT[+-]\d{2}:\d{2}", body["plannedShippingDateAndTime"])
    assert body["pickup"] == {"isRequested": False}
    assert body["productCode"] == "P"
    assert body["accounts"] == [{"typeCode": "shipper", "number": ACCOUNT}]
    assert body["customerReferences"] == [{"value": "SHP-000042", "typeCode": "CU"}]
    assert body["outputImageProperties"]["encodingFormat"] == "pdf"
    assert body["outputImageProperties"]["imageOptions"][0]["typeCode"] == "label"
    shipper = body["customerDetails"]["shipperDetails"]
    receiver = body["customerDetails"]["receiverDetails"]
    assert shipper["postalAddress"] == {
        "postalCode": "2015",
        "cityName": "Alexandria",
        "countryCode": "AU",
        "addressLine1": "Unit 4",
        "addressLine2": "12 Industrial Road",
        "provinceCode": "NSW",
    }
    assert shipper["contactInformation"]["companyName"] == "Stride Insoles Pty Ltd"
    assert shipper["contactInformation"]["fullName"] == "Dispatch Team"
    assert receiver["postalAddress"]["postalCode"] == "76449"
    assert receiver["contactInformation"] == {
        "phone": "9402825665",
        "companyName": "Baylee Marshall",
        "fullName": "Baylee Marshall",
        "email": "baylee@example.com",
    }
    content = body["content"]
    assert content["packages"] == [{"weight": 0.45, "dimensions": {"length": 30, "width": 20, "height": 5}}]
    assert content["isCustomsDeclarable"] is True
    assert content["declaredValue"] == 119.9
    assert content["declaredValueCurrency"] == "AUD"
    assert content["incoterm"] == "DAP"
    assert content["unitOfMeasurement"] == "metric"
    assert content["description"] == "Insoles"
    line = content["exportDeclaration"]["lineItems"][0]
    assert line["commodityCodes"] == [{"typeCode": "outbound", "value": "6406"}]
    assert line["manufacturerCountry"] == "AU"
    assert line["price"] == 59.95
    assert line["quantity"] == {"value": 2, "unitOfMeasurement": "PCS"}
    assert line["weight"] == {"netValue": 0.4, "grossValue": 0.4}
    assert line["number"] == 1

    assert booking.tracking_number == "1103733901"
    assert booking.courier_id == "1103733901"
    assert booking.parcels == ("JD014600004617230770",)
    assert booking.label_document == PDF
    assert booking.label_format == "pdf"
    assert (booking.origin, booking.destination) == ("SYD", "DFW")
    assert booking.reference == "SHP-000042"


def test_book_domestic_uses_domestic_express_without_customs(dhl, httpserver):
    httpserver.expect_oneshot_request("/mydhlapi/shipments", method="POST").respond_with_json(created(), status=201)
    dhl.book(booking_request(label_format="zpl"), "SHP-1")
    body = json.loads(httpserver.log[0][0].data)
    assert body["productCode"] == "N"
    assert body["content"]["isCustomsDeclarable"] is False
    assert "exportDeclaration" not in body["content"]
    assert body["outputImageProperties"]["encodingFormat"] == "zpl"


def test_planned_time_is_spelled_with_gmt_offset_and_never_in_the_past():
    sydney = dt.timezone(dt.timedelta(hours=10))
    assert format_planned(dt.datetime(2026, 7, 1, 14, 0, tzinfo=sydney)) == "2026-07-01T14:00:00 GMT+10:00"
    assert format_planned(dt.datetime(2026, 7, 1, 9, 30, tzinfo=dt.timezone(-dt.timedelta(hours=3, minutes=30)))) == (
        "2026-07-01T09:30:00 GMT-03:30"
    )
    now = dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC)
    stale = booking_request(ship_at=dt.datetime(2026, 6, 1, 9, 0, tzinfo=sydney))
    body = booking_body(stale, "SHP-1", account=ACCOUNT, now=now)
    assert body["plannedShippingDateAndTime"] == "2026-07-01T22:05:00 GMT+10:00"


def test_booking_4xx_is_permanent_with_dhls_own_code_and_detail(dhl, httpserver):
    detail = "420505: The postal code 00000 is not valid for country US"
    httpserver.expect_oneshot_request("/mydhlapi/shipments", method="POST").respond_with_json(
        problem(400, detail), status=400, content_type="application/problem+json"
    )
    with pytest.raises(PermanentError) as caught:
        dhl.book(booking_request(receiver=us_receiver(postcode="00000")), "SHP-1")
    assert caught.value.code == "420505"  # DHL's own code, not the HTTP status in "status"
    assert caught.value.message == detail
    assert caught.value.http_status == 400
    assert not isinstance(caught.value, RetryableError)


def test_error_code_is_the_leading_number_of_detail_with_the_additional_details(dhl, httpserver):
    body = {
        "instance": "/expressapi/shipments",
        "detail": "998: ShipTimeStamp is not well formatted.",
        "title": "Bad",
        "status": "400",
        "additionalDetails": ["plannedShippingDateAndTime: expected 'YYYY-MM-DDTHH:MM:SS GMT+HH:MM'"],
    }
    httpserver.expect_oneshot_request("/mydhlapi/shipments", method="POST").respond_with_json(body, status=400)
    with pytest.raises(PermanentError) as caught:
        dhl.book(booking_request(), "SHP-1")
    assert caught.value.code == "998"
    assert caught.value.message == (
        "998: ShipTimeStamp is not well formatted. "
        "(plannedShippingDateAndTime: expected 'YYYY-MM-DDTHH:MM:SS GMT+HH:MM')"
    )


def test_unauthorized_is_an_auth_error(dhl, httpserver):
    httpserver.expect_oneshot_request("/mydhlapi/tracking").respond_with_json(
        {"title": "Unauthorized", "status": "401", "detail": "Invalid Credentials"}, status=401
    )
    with pytest.raises(AuthError) as caught:
        dhl.track(["1234567890"])
    assert caught.value.message == "Invalid Credentials"


def test_booking_5xx_is_retryable_and_ambiguous(dhl, httpserver):
    httpserver.expect_oneshot_request("/mydhlapi/shipments", method="POST").respond_with_json(
        {
            "instance": "/expressapi/shipments",
            "detail": "Internal error",
            "title": "Internal Server Error",
            "code": "500",
        },
        status=500,
    )
    with pytest.raises(RetryableError) as caught:
        dhl.book(booking_request(), "SHP-1")
    assert caught.value.ambiguous is True
    assert caught.value.http_status == 500


def test_tracking_5xx_is_retryable_not_ambiguous(dhl, httpserver):
    httpserver.expect_oneshot_request("/mydhlapi/tracking").respond_with_data("down", status=503)
    with pytest.raises(RetryableError) as caught:
        dhl.track(["1234567890"])
    assert caught.value.ambiguous is False


def test_read_timeout_on_booking_is_ambiguous(dhl, httpserver):
    def slow(request):
        time.sleep(1.6)
        return Response(json.dumps(created()), status=201, content_type="application/json")

    httpserver.expect_oneshot_request("/mydhlapi/shipments", method="POST").respond_with_handler(slow)
    with pytest.raises(RetryableError) as caught:
        dhl.book(booking_request(), "SHP-1")
    assert caught.value.code == "read_timeout"
    assert caught.value.ambiguous is True


def test_429_with_retry_after_is_rate_limited(dhl, httpserver):
    httpserver.expect_oneshot_request("/mydhlapi/tracking").respond_with_json(
        {"title": "Too Many Requests", "status": "429", "detail": "Too many requests"},
        status=429,
        headers={"Retry-After": "7"},
    )
    with pytest.raises(RateLimited) as caught:
        dhl.track(["1234567890"])
    assert caught.value.retry_after == 7.0


def test_track_repeats_the_parameter_and_reads_events_oldest_first(dhl, httpserver):
    answer = {
        "shipments": [
            {
                "shipmentTrackingNumber": "1234567890",
                "status": "Success",
                "estimatedDeliveryDate": "2023-08-11T23:59:00",
                "events": [
                    {
                        "date": "2023-08-09",
                        "time": "13:56:21",
                        "GMTOffset": "+10:00",
                        "typeCode": "PU",
                        "description": "Shipment picked up",
                        "serviceArea": [{"code": "SYD", "description": "SYDNEY-AU"}],
                    },
                    {
                        "date": "2023-08-10",
                        "time": "10:50:14",
                        "GMTOffset": "+12:00",
                        "typeCode": "WC",
                        "description": "Shipment is out with courier for delivery",
                        "serviceArea": [{"code": "AKL", "description": "AUCKLAND-NZ"}],
                    },
                    {
                        "date": "2023-08-10",
                        "time": "11:20:00",
                        "GMTOffset": "+12:00",
                        "typeCode": "NH",
                        "description": "Not home",
                        "serviceArea": [{"code": "AKL", "description": "AUCKLAND-NZ"}],
                    },
                ],
            }
        ]
    }
    httpserver.expect_oneshot_request("/mydhlapi/tracking", method="GET").respond_with_json(answer)
    snapshots = dhl.track(["1234567890", "9999999999"])

    request = httpserver.log[0][0]
    assert request.headers["Authorization"] == BASIC
    assert request.args.getlist("shipmentTrackingNumber") == ["1234567890", "9999999999"]
    assert request.args["requestGMTOffsetPerEvent"] == "true"
    known, unknown = snapshots
    assert known.found and known.tracking_number == "1234567890"
    assert [e.code for e in known.events] == ["PU", "WC", "NH"]
    assert [e.status for e in known.events] == [base.PICKED_UP, base.OUT_FOR_DELIVERY, base.ATTEMPT_FAILED]
    first = known.events[0]
    assert first.occurred_at == dt.datetime(2023, 8, 9, 3, 56, 21, tzinfo=dt.UTC)
    assert first.location == "SYDNEY-AU"
    assert known.events[2].reason == "Not home"
    assert known.estimated_delivery == dt.datetime(2023, 8, 11, 23, 59, tzinfo=dt.UTC)
    assert unknown.found is False and unknown.events == ()


def test_track_404_means_no_number_is_known(dhl, httpserver):
    httpserver.expect_oneshot_request("/mydhlapi/tracking").respond_with_json(
        {"title": "Not data found", "status": "404", "detail": "No Shipments Found"}, status=404
    )
    snapshots = dhl.track(["1111111111", "2222222222"])
    assert [(s.tracking_number, s.found) for s in snapshots] == [("1111111111", False), ("2222222222", False)]


def test_track_batch_is_below_dhls_200(dhl):
    assert dhl.capabilities.track_batch == 50
    with pytest.raises(ValueError):
        dhl.track([str(n) for n in range(51)])


def test_find_by_reference_asks_by_shipment_reference_and_account(dhl, httpserver):
    answer = {
        "shipments": [
            {
                "shipmentTrackingNumber": "1103733901",
                "shipmentTimestamp": "2026-07-01T10:00:00",
                "productCode": "P",
                "shipperReferences": [{"value": "SHP-7", "typeCode": "CU"}],
                "pieces": [{"number": 1, "trackingNumber": "JD014600004617230770"}],
            }
        ]
    }
    httpserver.expect_oneshot_request("/mydhlapi/tracking").respond_with_json(answer)
    booking = dhl.find_by_reference("SHP-7")
    args = httpserver.log[0][0].args
    assert args["shipmentReference"] == "SHP-7"
    assert args["shipperAccountNumber"] == ACCOUNT
    assert args["dateRangeFrom"] < args["dateRangeTo"]
    assert booking.tracking_number == "1103733901"
    assert booking.parcels == ("JD014600004617230770",)
    assert booking.reference == "SHP-7"


def test_find_by_reference_not_found_is_none(dhl, httpserver):
    httpserver.expect_oneshot_request("/mydhlapi/tracking").respond_with_json(
        {
            "instance": "/expressapi/tracking",
            "detail": "No Shipments Found for ReferenceID | SHP-8",
            "title": "Not data found",
            "message": "Not data found",
            "status": "404",
        },
        status=404,
    )
    assert dhl.find_by_reference("SHP-8") is None


def test_void_is_recorded_on_our_side_only(dhl, httpserver):
    booking = base.Booking(courier="dhl_express", reference="R", tracking_number="1", parcels=())
    assert dhl.void(booking) is False
    assert httpserver.log == []
    assert dhl.capabilities.void is False


def test_every_reference_code_is_mapped_exactly_once_to_a_known_status():
    assert len(REFERENCE_CODES) == len(set(REFERENCE_CODES)) == 40
    assert set(STATUS_CODES) == set(REFERENCE_CODES)
    assert set(STATUS_CODES.values()) <= set(base.EVENT_STATUSES)
    assert STATUS_CODES["OK"] == base.DELIVERED
    assert STATUS_CODES["WC"] == base.OUT_FOR_DELIVERY
    assert STATUS_CODES["RT"] == base.RETURNING_TO_SENDER
    assert STATUS_CODES["CC"] == base.AVAILABLE_FOR_PICKUP


def test_unknown_code_is_in_transit():
    dhl = DhlExpress(CourierConfig(base_url="http://x", key="k", secret="s"))
    assert dhl.status_for("ZZ") == base.IN_TRANSIT


def test_tracking_url():
    dhl = DhlExpress(CourierConfig(base_url="http://x", key="k", secret="s"))
    assert dhl.tracking_url("1103733901") == (
        "https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id=1103733901"
    )
