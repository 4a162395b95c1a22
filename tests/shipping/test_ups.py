"""UPS adapter against a real local HTTP server shaped like UPS's REST APIs."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import time
from urllib.parse import parse_qs

import pytest
from werkzeug import Response

from shipping.couriers.base import (
    EVENT_STATUSES,
    AuthError,
    Booking,
    PermanentError,
    RateLimited,
    RetryableError,
)
from shipping.couriers.ratelimit import MemoryRateLimiter
from shipping.couriers.ups import Ups
from tests.shipping.courier_fixtures import (
    body_of,
    build,
    domestic,
    international,
    json_response,
    redis_token_store,
    requests_to,
)

TOKEN = {
    "token_type": "Bearer",
    "issued_at": "1685542319575",
    "client_id": "client-id-1",
    "access_token": "ups-token-1",
    "scope": "",
    "expires_in": "14399",
    "refresh_count": "0",
    "status": "approved",
}
SHIP = "/api/shipments/v2409/ship"
GIF = b"GIF89a fake label"


@pytest.fixture
def shared_redis_store():
    store, cleanup = redis_token_store()
    yield store
    cleanup()


def ups(httpserver, **kwargs):
    kwargs.setdefault("account", "A12B34")
    return build(Ups, httpserver, **kwargs)


def token_endpoint(httpserver, answer=None):
    httpserver.expect_request("/security/v1/oauth/token", method="POST").respond_with_json(answer or TOKEN)


def package_result(number, image=GIF):
    return {
        "TrackingNumber": number,
        "ShippingLabel": {"ImageFormat": {"Code": "GIF"}, "GraphicImage": base64.b64encode(image).decode()},
    }


def ship_answer(packages):
    return {
        "ShipmentResponse": {
            "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
            "ShipmentResults": {
                "BillingWeight": {"UnitOfMeasurement": {"Code": "KGS"}, "Weight": "1.0"},
                "ShipmentIdentificationNumber": "1ZA12B340300001234",
                "PackageResults": packages,
            },
        }
    }


def ups_error(code, message):
    return {"response": {"errors": [{"code": code, "message": message}]}}


# --- auth -----------------------------------------------------------------------------------
def test_token_request_is_basic_auth_with_the_merchant_id(httpserver):
    token_endpoint(httpserver)
    httpserver.expect_request(SHIP, method="POST").respond_with_json(ship_answer(package_result("1ZA12B340300001234")))
    ups(httpserver).book(domestic(), "SHP-1")
    (request,) = requests_to(httpserver, "/security/v1/oauth/token")
    expected = base64.b64encode(b"client-id-1:client-secret-1").decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert request.headers["x-merchant-id"] == "A12B34"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.get_data(as_text=True)) == {"grant_type": ["client_credentials"]}
    (ship,) = requests_to(httpserver, SHIP)
    assert ship.headers["Authorization"] == "Bearer ups-token-1"


@pytest.mark.redis
def test_two_workers_share_one_token_through_redis(httpserver, shared_redis_store):
    token_endpoint(httpserver)
    httpserver.expect_request("/api/track/v1/details/1ZA12B340300001234", method="GET").respond_with_json(
        {"trackResponse": {"shipment": [{"inquiryNumber": "1ZA12B340300001234", "warnings": [{"code": "TW0001"}]}]}}
    )
    first, second = ups(httpserver, tokens=shared_redis_store), ups(httpserver, tokens=shared_redis_store)
    first.track(["1ZA12B340300001234"])
    second.track(["1ZA12B340300001234"])
    assert len(requests_to(httpserver, "/security/v1/oauth/token")) == 1
    stored_ttl = shared_redis_store.client.pttl(shared_redis_store.prefix + first.token_key) / 1000
    assert 14399 - 60 - 5 <= stored_ttl <= 14399 - 60


def test_a_401_refreshes_once_then_auth_error(httpserver):
    token_endpoint(httpserver)
    httpserver.expect_request("/api/track/v1/details/1Z1", method="GET").respond_with_json(
        ups_error("250002", "Invalid Authentication Information."), status=401
    )
    with pytest.raises(AuthError) as caught:
        ups(httpserver).track(["1Z1"])
    assert (caught.value.code, caught.value.message) == ("250002", "Invalid Authentication Information.")
    assert len(requests_to(httpserver, "/security/v1/oauth/token")) == 2
    calls = requests_to(httpserver, "/api/track/v1/details/1Z1")
    assert len(calls) == 2
    assert calls[0].headers["transId"] != calls[1].headers["transId"]


def test_a_401_then_success_with_a_fresh_token(httpserver):
    answers = iter([{**TOKEN, "access_token": "old"}, {**TOKEN, "access_token": "new"}])
    httpserver.expect_request("/security/v1/oauth/token", method="POST").respond_with_handler(
        lambda request: json_response(next(answers))
    )

    def details(request):
        if request.headers["Authorization"] == "Bearer old":
            return json_response(ups_error("250002", "Invalid Authentication Information."), 401)
        return json_response({"trackResponse": {"shipment": [{"warnings": [{"code": "TW0001"}]}]}})

    httpserver.expect_request("/api/track/v1/details/1Z1", method="GET").respond_with_handler(details)
    assert ups(httpserver).track(["1Z1"])[0].found is False
    assert len(requests_to(httpserver, "/api/track/v1/details/1Z1")) == 2


# --- book -----------------------------------------------------------------------------------
def test_international_booking_request_and_a_single_package_object(httpserver):
    token_endpoint(httpserver)
    # Several packages as a list; the shipment reference goes on the shipment (not US/US).
    httpserver.expect_request(SHIP, method="POST").respond_with_json(
        ship_answer([package_result("1ZA12B340300001234"), package_result("1ZA12B340300001243", b"GIF89a second")])
    )
    booking = ups(httpserver).book(international(), "SHP-1001")

    (request,) = requests_to(httpserver, SHIP)
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["transactionSrc"] == "insole-fulfilment"
    assert 0 < len(request.headers["transId"]) <= 32
    body = body_of(request)["ShipmentRequest"]
    assert body["Request"] == {"RequestOption": "nonvalidate", "TransactionReference": {"CustomerContext": "SHP-1001"}}
    shipment = body["Shipment"]
    assert shipment["Shipper"]["ShipperNumber"] == "A12B34"
    assert shipment["Shipper"]["Name"] == "Insole Co" and shipment["Shipper"]["AttentionName"] == "Dispatch Desk"
    assert shipment["Shipper"]["Address"] == {
        "AddressLine": ["12 Bourke Rd"],
        "City": "Alexandria",
        "PostalCode": "2015",
        "CountryCode": "AU",
        "StateProvinceCode": "NSW",
    }
    assert shipment["ShipFrom"]["Address"]["CountryCode"] == "AU"
    assert shipment["ShipTo"]["Address"]["ResidentialAddressIndicator"] == ""
    assert shipment["ShipTo"]["Phone"] == {"Number": "2065551234"}
    assert shipment["PaymentInformation"] == {
        "ShipmentCharge": [{"Type": "01", "BillShipper": {"AccountNumber": "A12B34"}}]
    }
    assert shipment["Service"] == {"Code": "07", "Description": "Worldwide Express"}
    assert shipment["ReferenceNumber"] == [{"Value": "SHP-1001"}]
    first, second = shipment["Package"]
    assert first == {
        "Packaging": {"Code": "02", "Description": "Customer Supplied Package"},
        "PackageWeight": {"UnitOfMeasurement": {"Code": "KGS"}, "Weight": "0.5"},
        "Dimensions": {"UnitOfMeasurement": {"Code": "CM"}, "Length": "30", "Width": "12", "Height": "4"},
    }
    assert second["PackageWeight"]["Weight"] == "0.4" and "ReferenceNumber" not in second
    forms = shipment["ShipmentServiceOptions"]["InternationalForms"]
    assert forms["FormType"] == ["01"]
    assert forms["InvoiceNumber"] == "SHP-1001" and forms["InvoiceDate"] == "20260701"
    assert (forms["ReasonForExport"], forms["TermsOfShipment"], forms["CurrencyCode"]) == ("SALE", "DAP", "AUD")
    assert forms["Product"] == [
        {
            "Description": ["Running insoles"],
            "Unit": {"Number": "2", "Value": "59.95", "UnitOfMeasurement": {"Code": "PCS"}},
            "CommodityCode": "640610",
            "OriginCountryCode": "AU",
            "ProductWeight": {"UnitOfMeasurement": {"Code": "KGS"}, "Weight": "0.4"},
            "PartNumber": "RUN-EU42",
        }
    ]
    assert shipment["InvoiceLineTotal"] == {"CurrencyCode": "AUD", "MonetaryValue": "119.90"}
    assert body["LabelSpecification"] == {
        "LabelImageFormat": {"Code": "GIF"},
        "LabelStockSize": {"Height": "6", "Width": "4"},
        "HTTPUserAgent": "Mozilla/4.5",
    }
    assert booking.tracking_number == booking.courier_id == "1ZA12B340300001234"
    assert booking.parcels == ("1ZA12B340300001234", "1ZA12B340300001243")
    assert (booking.product_code, booking.label_format, booking.label_document) == ("07", "gif", GIF)


def test_domestic_us_booking_puts_the_reference_on_each_package_and_reads_one_package_object(httpserver):
    token_endpoint(httpserver)
    httpserver.expect_request(SHIP, method="POST").respond_with_json(
        ship_answer(package_result("1ZA12B340300001234", b"^XA^FDlabel^XZ"))
    )
    booking = ups(httpserver).book(domestic(label_format="zpl"), "SHP-55")
    body = body_of(requests_to(httpserver, SHIP)[0])["ShipmentRequest"]
    shipment = body["Shipment"]
    assert "ReferenceNumber" not in shipment and "ShipmentServiceOptions" not in shipment
    assert shipment["Package"][0]["ReferenceNumber"] == [{"Value": "SHP-55"}]
    assert shipment["Service"] == {"Code": "01", "Description": "Next Day Air"}
    assert body["LabelSpecification"] == {
        "LabelImageFormat": {"Code": "ZPL"},
        "LabelStockSize": {"Height": "6", "Width": "4"},
    }
    assert booking.parcels == ("1ZA12B340300001234",)
    assert (booking.label_format, booking.label_document) == ("zpl", b"^XA^FDlabel^XZ")


def test_ddp_bills_duties_to_the_shipper_and_the_version_comes_from_options(httpserver):
    token_endpoint(httpserver)
    httpserver.expect_request("/api/shipments/v2501/ship", method="POST").respond_with_json(
        ship_answer([package_result("1Z9")])
    )
    ups(httpserver, options={"VERSION": "v2501"}).book(international(incoterm="DDP", service="standard"), "SHP-2")
    shipment = body_of(requests_to(httpserver, "/api/shipments/v2501/ship")[0])["ShipmentRequest"]["Shipment"]
    assert [charge["Type"] for charge in shipment["PaymentInformation"]["ShipmentCharge"]] == ["01", "02"]
    assert shipment["Service"]["Code"] == "08"


def test_a_4xx_is_a_permanent_error_with_ups_code(httpserver):
    token_endpoint(httpserver)
    httpserver.expect_request(SHIP, method="POST").respond_with_json(
        ups_error("120100", "Missing or invalid shipper number"), status=400
    )
    with pytest.raises(PermanentError) as caught:
        ups(httpserver).book(domestic(), "SHP-1")
    assert (caught.value.code, caught.value.message, caught.value.http_status) == (
        "120100",
        "Missing or invalid shipper number",
        400,
    )


def test_a_5xx_and_a_read_timeout_on_book_are_ambiguous(httpserver):
    token_endpoint(httpserver)
    httpserver.expect_request(SHIP, method="POST").respond_with_data("upstream down", status=502)
    with pytest.raises(RetryableError) as caught:
        ups(httpserver).book(domestic(), "SHP-1")
    assert caught.value.ambiguous is True

    httpserver.clear_all_handlers()
    token_endpoint(httpserver)

    def hang(request):
        time.sleep(1.0)
        return json_response(ship_answer([package_result("1Z1")]))

    httpserver.expect_request(SHIP, method="POST").respond_with_handler(hang)
    with pytest.raises(RetryableError) as caught:
        ups(httpserver, read_timeout=0.3).book(domestic(), "SHP-1")
    assert caught.value.ambiguous is True and caught.value.code == "read_timeout"


def test_a_429_raises_rate_limited_and_blocks_the_other_workers(httpserver):
    token_endpoint(httpserver)
    httpserver.expect_request("/api/track/v1/details/1Z1", method="GET").respond_with_response(
        Response('{"response":{"errors":[{"code":"10429","message":"Too Many Requests"}]}}', 429, {"Retry-After": "2"})
    )
    limiter = MemoryRateLimiter(rate_per_second=100, burst=100, max_wait_seconds=1)
    first = ups(httpserver, rate_limiter=limiter)
    first.access_token()
    with pytest.raises(RateLimited) as caught:
        first.track(["1Z1"])
    assert caught.value.retry_after == 2.0
    # Longer than the limiter's bound: the next worker does not wait, it is told to retry later.
    calls = len(httpserver.log)
    with pytest.raises(RateLimited) as caught:
        ups(httpserver, rate_limiter=limiter).track(["1Z1"])
    assert 1.0 < caught.value.retry_after <= 2.0
    assert len(httpserver.log) == calls


# --- track ----------------------------------------------------------------------------------
TRACK_ANSWER = {
    "trackResponse": {
        "shipment": [
            {
                "inquiryNumber": "1ZA12B340300001234",
                "package": [
                    {
                        "trackingNumber": "1ZA12B340300001234",
                        "deliveryDate": [{"type": "SDD", "date": "20260703"}],
                        "deliveryTime": {"type": "EOD", "endTime": "190000"},
                        "activity": [
                            {
                                "date": "20260703",
                                "time": "120100",
                                "gmtOffset": "-04:00",
                                "location": {
                                    "address": {"city": "Timonium", "stateProvince": "MD", "countryCode": "US"}
                                },
                                "status": {"type": "D", "code": "FS", "description": "DELIVERED ", "statusCode": "011"},
                            },
                            {
                                "date": "20260703",
                                "time": "081500",
                                "location": {"address": {"city": "Timonium", "stateProvince": "MD", "country": "US"}},
                                "status": {
                                    "type": "I",
                                    "code": "OT",
                                    "description": "Out For Delivery Today",
                                    "statusCode": "021",
                                },
                            },
                            {
                                "date": "20260702",
                                "time": "181500",
                                "status": {
                                    "type": "X",
                                    "code": "48",
                                    "description": "The receiver was not available",
                                    "statusCode": "022",
                                },
                            },
                            {
                                "date": "20260701",
                                "time": "090000",
                                "location": {"address": {"country": "US"}},
                                "status": {
                                    "type": "M",
                                    "code": "MP",
                                    "description": "Shipper created a label",
                                    "statusCode": "003",
                                },
                            },
                        ],
                    }
                ],
            }
        ]
    }
}


def test_track_request_headers_and_events(httpserver):
    token_endpoint(httpserver)
    httpserver.expect_request("/api/track/v1/details/1ZA12B340300001234", method="GET").respond_with_json(TRACK_ANSWER)
    (snapshot,) = ups(httpserver).track(["1ZA12B340300001234"])
    (request,) = requests_to(httpserver, "/api/track/v1/details/1ZA12B340300001234")
    assert request.headers["transactionSrc"] == "insole-fulfilment" and request.headers["transId"]
    assert request.args["locale"] == "en_US"
    assert [(e.code, e.status) for e in snapshot.events] == [
        ("M/MP", "label_created"),
        ("X/48", "attempt_failed"),
        ("I/OT", "out_for_delivery"),
        ("D/FS", "delivered"),
    ]
    delivered = snapshot.events[-1]
    assert delivered.occurred_at == dt.datetime(2026, 7, 3, 16, 1, tzinfo=dt.UTC)
    assert (delivered.description, delivered.location) == ("DELIVERED", "Timonium, MD, US")
    assert snapshot.events[1].reason == "The receiver was not available"
    assert snapshot.estimated_delivery == dt.datetime(2026, 7, 3, 19, 0, tzinfo=dt.UTC)


def test_track_calls_once_per_number_with_a_new_trans_id_each(httpserver):
    token_endpoint(httpserver)
    httpserver.expect_request("/api/track/v1/details/1Z1", method="GET").respond_with_json(TRACK_ANSWER)
    adapter = ups(httpserver)
    adapter.track(["1Z1"])
    adapter.track(["1Z1"])
    first, second = requests_to(httpserver, "/api/track/v1/details/1Z1")
    assert first.headers["transId"] != second.headers["transId"]
    with pytest.raises(ValueError):
        adapter.track(["1Z1", "1Z2"])


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (
            200,
            {
                "trackResponse": {
                    "shipment": [
                        {
                            "inquiryNumber": "1Z0",
                            "warnings": [{"code": "TW0001", "message": "Tracking Information Not Found"}],
                        }
                    ]
                }
            },
        ),
        (404, ups_error("TW0001", "Tracking Information Not Found")),
    ],
)
def test_an_unknown_number_is_not_found(httpserver, status, answer):
    token_endpoint(httpserver)
    httpserver.expect_request("/api/track/v1/details/1Z0", method="GET").respond_with_json(answer, status=status)
    (snapshot,) = ups(httpserver).track(["1Z0"])
    assert (snapshot.tracking_number, snapshot.found, snapshot.events) == ("1Z0", False, ())


def test_an_invalid_number_is_not_found_and_the_next_is_tracked(httpserver):
    token_endpoint(httpserver)
    httpserver.expect_request("/api/track/v1/details/XX", method="GET").respond_with_json(
        ups_error("TV1002", "Invalid inquiry number"), status=400
    )
    httpserver.expect_request("/api/track/v1/details/1ZA12B340300001234", method="GET").respond_with_json(TRACK_ANSWER)
    adapter = ups(httpserver)
    (invalid,) = adapter.track(["XX"])
    assert (invalid.found, invalid.events) == (False, ())
    (known,) = adapter.track(["1ZA12B340300001234"])  # the poll goes on to the next number
    assert known.found is True and known.events


def test_another_400_on_track_is_a_permanent_error(httpserver):
    token_endpoint(httpserver)
    httpserver.expect_request("/api/track/v1/details/XX", method="GET").respond_with_json(
        ups_error("TV1001", "Missing or invalid locale"), status=400
    )
    with pytest.raises(PermanentError) as caught:
        ups(httpserver).track(["XX"])
    assert caught.value.code == "TV1001"


def test_event_times_without_an_offset_use_the_gmt_date_and_time_and_offsets_without_a_colon_count(httpserver):
    token_endpoint(httpserver)
    activity = [
        {"date": "20260703", "time": "120100", "gmtOffset": "-0400", "status": {"type": "D", "code": "FS"}},
        {
            "date": "20260703",
            "time": "081500",
            "gmtDate": "20260703",
            "gmtTime": "12:15:00",
            "status": {"type": "I", "code": "OT"},
        },
    ]
    answer = {"trackResponse": {"shipment": [{"package": [{"trackingNumber": "1Z9", "activity": activity}]}]}}
    httpserver.expect_request("/api/track/v1/details/1Z9", method="GET").respond_with_json(answer)
    (snapshot,) = ups(httpserver).track(["1Z9"])
    assert [e.occurred_at for e in snapshot.events] == [
        dt.datetime(2026, 7, 3, 12, 15, tzinfo=dt.UTC),
        dt.datetime(2026, 7, 3, 16, 1, tzinfo=dt.UTC),
    ]


def test_an_international_party_without_a_phone_gets_zeros_and_ship_from_has_no_email(httpserver):
    token_endpoint(httpserver)
    httpserver.expect_request(SHIP, method="POST").respond_with_json(
        ship_answer([package_result("1ZA12B340300001234")])
    )
    request = international()
    request = dataclasses.replace(request, receiver=dataclasses.replace(request.receiver, phone=""))
    ups(httpserver).book(request, "SHP-1005")
    shipment = body_of(requests_to(httpserver, SHIP)[0])["ShipmentRequest"]["Shipment"]
    assert shipment["ShipTo"]["Phone"] == {"Number": "0000000000"}
    assert "EMailAddress" not in shipment["ShipFrom"]


# --- reference lookup and void --------------------------------------------------------------
def test_find_by_reference_request_and_adoption(httpserver):
    token_endpoint(httpserver)
    packages = [
        {
            "trackingNumber": "1ZA12B340300001234",
            "referenceNumber": [{"type": "SHIPMENT", "number": "SHP-1001"}],
            "service": {"code": "007"},
            "currentStatus": {"type": "M", "statusCode": "003"},
        },
        {
            "trackingNumber": "1ZA12B340300001243",
            "referenceNumber": [{"type": "SHIPMENT", "number": "SHP-1001"}],
            "currentStatus": {"type": "M", "statusCode": "003"},
        },
        {"trackingNumber": "1ZVOIDED", "currentStatus": {"type": "MV", "statusCode": "007"}},
        {"trackingNumber": "1ZOTHER", "referenceNumber": [{"type": "SHIPMENT", "number": "SHP-9"}]},
    ]
    httpserver.expect_request("/api/track/v1/reference/details/SHP-1001", method="GET").respond_with_json(
        {"trackResponse": {"shipment": [{"inquiryNumber": "SHP-1001", "package": packages}]}}
    )
    booking = ups(httpserver).find_by_reference("SHP-1001")
    (request,) = requests_to(httpserver, "/api/track/v1/reference/details/SHP-1001")
    assert dict(request.args) == {"locale": "en_US", "shipperNum": "A12B34", "refNumType": "SmallPackage"}
    assert request.headers["transId"] and request.headers["transactionSrc"] == "insole-fulfilment"
    assert booking == Booking(
        courier="ups",
        reference="SHP-1001",
        tracking_number="1ZA12B340300001234",
        parcels=("1ZA12B340300001234", "1ZA12B340300001243"),
        product_code="007",
        courier_id="1ZA12B340300001234",
    )


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (404, ups_error("TW0001", "Tracking Information Not Found")),
        (200, {"trackResponse": {"shipment": [{"inquiryNumber": "SHP-404", "warnings": [{"code": "TW0001"}]}]}}),
    ],
)
def test_find_by_reference_finds_nothing(httpserver, status, answer):
    token_endpoint(httpserver)
    httpserver.expect_request("/api/track/v1/reference/details/SHP-404", method="GET").respond_with_json(
        answer, status=status
    )
    assert ups(httpserver).find_by_reference("SHP-404") is None


def test_void_request(httpserver):
    token_endpoint(httpserver)
    httpserver.expect_request("/api/shipments/v2409/void/cancel/1ZA12B340300001234", method="DELETE").respond_with_json(
        {
            "VoidShipmentResponse": {
                "Response": {"ResponseStatus": {"Code": "1"}},
                "SummaryResult": {"Status": {"Code": "1", "Description": "Voided"}},
            }
        }
    )
    booking = Booking(
        courier="ups",
        reference="SHP-1",
        tracking_number="1ZA12B340300001234",
        parcels=(),
        courier_id="1ZA12B340300001234",
    )
    assert ups(httpserver).void(booking) is True
    (request,) = requests_to(httpserver, "/api/shipments/v2409/void/cancel/1ZA12B340300001234")
    assert request.headers["Authorization"] == "Bearer ups-token-1" and request.headers["transId"]


def test_void_refused_is_a_permanent_error(httpserver):
    token_endpoint(httpserver)
    httpserver.expect_request("/api/shipments/v2409/void/cancel/1Z1", method="DELETE").respond_with_json(
        ups_error("190117", "The shipment has already been voided or picked up"), status=400
    )
    with pytest.raises(PermanentError) as caught:
        ups(httpserver).void(Booking(courier="ups", reference="r", tracking_number="1Z1", parcels=()))
    assert caught.value.code == "190117"


def test_tracking_url():
    assert Ups.tracking_url(None, "1Z1") == "https://www.ups.com/track?tracknum=1Z1"


# --- the status table -----------------------------------------------------------------------
# courier-apis.md section 4: activity types, the 2-character codes, the 3-digit status codes.
REFERENCE_TYPES = ["D", "I", "M", "MV", "X", "DO", "DD", "W", "NA", "U", "P", "RS", "O"]
REFERENCE_SCANS = [
    "MP",
    "DP",
    "OR",
    "PU",
    "XD",
    "AR",
    "DS",
    "YP",
    "OD",
    "OT",
    "OF",
    "UP",
    "UT",
    "PX",
    "VP",
    "FS",
    "KB",
    "KM",
    "RD",
]
REFERENCE_STATUS_CODES = [
    "003", "005", "006", "007", "011", "012", "013", "014", "017", "021", "022", "023", "024",
    "034", "035", "038", "040", "046", "048", "064", "069", "072", "160", "161",
]  # fmt: skip


def test_every_reference_code_is_covered_once_and_every_status_is_valid():
    table = Ups.status_codes
    assert set(table.values()) <= set(EVENT_STATUSES)
    assert set(REFERENCE_TYPES) <= set(table)
    assert set(REFERENCE_STATUS_CODES) <= set(table)
    scans = [key.split("/", 1)[1] for key in table if "/" in key]
    for code in REFERENCE_SCANS:
        # Each scan code once, except DP: a manifest (M/DP) and a departure scan (I/DP).
        assert scans.count(code) == (2 if code == "DP" else 1), code
    # Every key is a type, a TYPE/CODE (or */CODE) pair or a 3-digit status code.
    for key in table:
        kind, _, scan = key.partition("/")
        assert (kind in REFERENCE_TYPES or kind == "*") if scan else (kind in REFERENCE_TYPES or kind.isdigit()), key


@pytest.mark.parametrize(
    ("code", "status_code", "expected"),
    [
        ("I/OT", "", "out_for_delivery"),  # */OT decides over the type
        ("D/OT", "", "out_for_delivery"),  # a Track Alert "D" (delivery-type) event that is not a delivery
        ("D/FS", "", "delivered"),  # the pair decides over the type
        ("M/DP", "", "label_created"),
        ("I/DP", "", "in_transit"),
        ("P/PU", "", "picked_up"),  # */PU: the code decides whatever the type
        ("I/PU", "", "picked_up"),
        ("X/99", "22", "attempt_failed"),  # no pair: the status code, zero-padded
        ("X/99", "", "exception"),  # then the type
        ("MV/ZZ", "", "cancelled"),
        ("Q/ZZ", "", "in_transit"),  # unknown: in transit, never an error
    ],
)
def test_status_lookup_order(code, status_code, expected):
    assert Ups.status_for(Ups.__new__(Ups), code, status_code) == expected


def test_a_push_with_a_gmt_date_but_no_gmt_time_takes_the_local_pair():
    from shipping.couriers.ups import _push_time

    both = {"gmtActivityDate": "20260703", "gmtActivityTime": "161500", "localActivityDate": "20260703"}
    assert _push_time(both) == dt.datetime(2026, 7, 3, 16, 15, tzinfo=dt.UTC)
    half = {"gmtActivityDate": "20260703", "gmtActivityTime": "", "localActivityDate": "20260703"}
    assert _push_time(half | {"localActivityTime": "121500"}) == dt.datetime(2026, 7, 3, 12, 15, tzinfo=dt.UTC)
