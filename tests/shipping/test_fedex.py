"""FedEx adapter against a real local HTTP server shaped like FedEx's REST APIs."""

from __future__ import annotations

import base64
import datetime as dt
import time
from urllib.parse import parse_qs

import pytest
from werkzeug import Response

from shipping.couriers import fedex as fedex_module
from shipping.couriers.base import (
    EVENT_STATUSES,
    AuthError,
    Booking,
    MemoryTokenStore,
    PermanentError,
    RateLimited,
    RetryableError,
)
from shipping.couriers.fedex import FedEx
from shipping.couriers.ratelimit import MemoryRateLimiter
from tests.shipping.courier_fixtures import (
    body_of,
    build,
    domestic,
    international,
    json_response,
    redis_token_store,
    requests_to,
)

TOKEN = {"access_token": "fedex-token-1", "token_type": "bearer", "expires_in": 3599, "scope": "CXS"}
PDF = b"%PDF-1.4 fake label"


@pytest.fixture
def shared_redis_store():
    store, cleanup = redis_token_store()
    yield store
    cleanup()


def ship_answer(numbers=("794953535000", "794953535011")):
    return {
        "transactionId": "624deea6",
        "output": {
            "transactionShipments": [
                {
                    "masterTrackingNumber": numbers[0],
                    "serviceType": "FEDEX_INTERNATIONAL_PRIORITY",
                    "pieceResponses": [
                        {
                            "masterTrackingNumber": numbers[0],
                            "trackingNumber": number,
                            "packageSequenceNumber": index,
                            "packageDocuments": [
                                {
                                    "contentType": "LABEL",
                                    "docType": "PDF",
                                    "encodedLabel": base64.b64encode(PDF + number.encode()).decode(),
                                }
                            ],
                        }
                        for index, number in reversed(list(enumerate(numbers, start=1)))
                    ],
                }
            ]
        },
    }


def token_endpoint(httpserver, answer=None):
    httpserver.expect_request("/oauth/token", method="POST").respond_with_json(answer or TOKEN)


# --- auth -----------------------------------------------------------------------------------
def test_token_request_is_form_encoded_client_credentials_and_api_calls_carry_the_bearer(httpserver):
    token_endpoint(httpserver)
    httpserver.expect_request("/ship/v1/shipments", method="POST").respond_with_json(ship_answer())
    build(FedEx, httpserver).book(international(), "SHP-1001")

    (token_request,) = requests_to(httpserver, "/oauth/token")
    assert token_request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(token_request.get_data(as_text=True)) == {
        "grant_type": ["client_credentials"],
        "client_id": ["client-id-1"],
        "client_secret": ["client-secret-1"],
    }
    assert "Authorization" not in token_request.headers
    (ship,) = requests_to(httpserver, "/ship/v1/shipments")
    assert ship.headers["Authorization"] == "Bearer fedex-token-1"
    assert ship.headers["Content-Type"] == "application/json"


@pytest.mark.redis
def test_two_workers_with_their_own_sessions_share_one_token_through_redis(httpserver, shared_redis_store):
    token_endpoint(httpserver)
    httpserver.expect_request("/track/v1/trackingnumbers", method="POST").respond_with_json(
        {"output": {"completeTrackResults": []}}
    )
    first, second = (
        build(FedEx, httpserver, tokens=shared_redis_store),
        build(FedEx, httpserver, tokens=shared_redis_store),
    )
    assert first.session is not second.session
    first.track(["794953535000"])
    second.track(["794953535000"])
    first.track(["794953535000"])
    assert len(requests_to(httpserver, "/oauth/token")) == 1
    assert [r.headers["Authorization"] for r in requests_to(httpserver, "/track/v1/trackingnumbers")] == [
        "Bearer fedex-token-1"
    ] * 3


@pytest.mark.redis
def test_workers_whose_token_expired_at_once_fetch_one_token(httpserver, shared_redis_store):
    def slow_token(request):
        time.sleep(0.3)
        return json_response(TOKEN)

    httpserver.expect_request("/oauth/token", method="POST").respond_with_handler(slow_token)
    workers = [build(FedEx, httpserver, tokens=shared_redis_store) for _ in range(4)]
    import threading

    tokens = []
    threads = [threading.Thread(target=lambda w=w: tokens.append(w.access_token())) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert tokens == ["fedex-token-1"] * 4
    assert len(requests_to(httpserver, "/oauth/token")) == 1


def test_a_token_is_kept_until_60_seconds_before_it_expires(httpserver):
    tokens = MemoryTokenStore()
    token_endpoint(httpserver, {**TOKEN, "expires_in": 3599})
    adapter = build(FedEx, httpserver, tokens=tokens)
    adapter.access_token()
    assert tokens._values[adapter.token_key][1] - time.monotonic() == pytest.approx(3599 - 60, abs=2)


def test_an_expired_token_is_refreshed(httpserver):
    answers = iter([{**TOKEN, "access_token": "short", "expires_in": 0.4}, {**TOKEN, "access_token": "fresh"}])
    httpserver.expect_request("/oauth/token", method="POST").respond_with_handler(
        lambda request: json_response(next(answers))
    )
    httpserver.expect_request("/track/v1/trackingnumbers", method="POST").respond_with_json(
        {"output": {"completeTrackResults": []}}
    )
    adapter = build(FedEx, httpserver)
    adapter.track(["1"])
    time.sleep(0.3)  # the short token lives expires_in / 2 (0.2 s): it has expired now
    adapter.track(["1"])
    assert [r.headers["Authorization"] for r in requests_to(httpserver, "/track/v1/trackingnumbers")] == [
        "Bearer short",
        "Bearer fresh",
    ]


def test_a_401_refreshes_the_token_once_and_retries_once(httpserver):
    answers = iter([{**TOKEN, "access_token": "revoked"}, {**TOKEN, "access_token": "fresh"}])
    httpserver.expect_request("/oauth/token", method="POST").respond_with_handler(
        lambda request: json_response(next(answers))
    )

    def track(request):
        if request.headers["Authorization"] == "Bearer revoked":
            return json_response(
                {"errors": [{"code": "NOT.AUTHORIZED.ERROR", "message": "Access token expired."}]}, 401
            )
        return json_response({"output": {"completeTrackResults": []}})

    httpserver.expect_request("/track/v1/trackingnumbers", method="POST").respond_with_handler(track)
    assert build(FedEx, httpserver).track(["794953535000"])[0].found is False
    assert len(requests_to(httpserver, "/oauth/token")) == 2
    assert len(requests_to(httpserver, "/track/v1/trackingnumbers")) == 2


def test_a_second_401_is_an_auth_error(httpserver):
    token_endpoint(httpserver)
    httpserver.expect_request("/track/v1/trackingnumbers", method="POST").respond_with_json(
        {"errors": [{"code": "NOT.AUTHORIZED.ERROR", "message": "Access token expired."}]}, status=401
    )
    with pytest.raises(AuthError) as caught:
        build(FedEx, httpserver).track(["794953535000"])
    assert (caught.value.code, caught.value.message) == ("NOT.AUTHORIZED.ERROR", "Access token expired.")
    assert len(requests_to(httpserver, "/oauth/token")) == 2
    assert len(requests_to(httpserver, "/track/v1/trackingnumbers")) == 2


def test_refused_credentials_are_an_auth_error_with_fedex_code(httpserver):
    httpserver.expect_request("/oauth/token", method="POST").respond_with_json(
        {"errors": [{"code": "NOT.AUTHORIZED.ERROR", "message": "The given client credentials were not valid."}]},
        status=401,
    )
    with pytest.raises(AuthError) as caught:
        build(FedEx, httpserver).book(international(), "SHP-1")
    assert caught.value.code == "NOT.AUTHORIZED.ERROR"
    assert requests_to(httpserver, "/ship/v1/shipments") == []


# --- book -----------------------------------------------------------------------------------
def test_international_booking_request_and_answer(httpserver):
    token_endpoint(httpserver)
    httpserver.expect_request("/ship/v1/shipments", method="POST").respond_with_json(ship_answer())
    booking = build(FedEx, httpserver).book(international(), "SHP-1001")

    body = body_of(requests_to(httpserver, "/ship/v1/shipments")[0])
    assert body["labelResponseOptions"] == "LABEL"
    assert body["accountNumber"] == {"value": "740561073"}
    shipment = body["requestedShipment"]
    assert shipment["serviceType"] == "FEDEX_INTERNATIONAL_PRIORITY"
    assert shipment["packagingType"] == "YOUR_PACKAGING"
    assert shipment["pickupType"] == "USE_SCHEDULED_PICKUP"
    assert shipment["shipDatestamp"] == "2026-07-01"
    assert shipment["shippingChargesPayment"]["paymentType"] == "SENDER"
    assert shipment["labelSpecification"] == {
        "imageType": "PDF",
        "labelStockType": "PAPER_4X6",
        "labelFormatType": "COMMON2D",
    }
    assert shipment["shipper"]["address"] == {
        "streetLines": ["12 Bourke Rd"],
        "city": "Alexandria",
        "postalCode": "2015",
        "countryCode": "AU",
        "stateOrProvinceCode": "NSW",
    }
    assert shipment["shipper"]["contact"]["companyName"] == "Insole Co"
    (recipient,) = shipment["recipients"]
    assert recipient["address"]["streetLines"] == ["1043 North Easy Street", "Apt 4"]
    assert recipient["address"]["residential"] is True
    assert recipient["contact"] == {
        "personName": "Jane Runner",
        "phoneNumber": "2065551234",
        "emailAddress": "jane@example.com",
    }
    first, second = shipment["requestedPackageLineItems"]
    assert first == {
        "sequenceNumber": 1,
        "weight": {"units": "KG", "value": 0.42},
        "dimensions": {"length": 12, "width": 30, "height": 4, "units": "CM"},
        "customerReferences": [{"customerReferenceType": "CUSTOMER_REFERENCE", "value": "SHP-1001"}],
    }
    assert second["weight"] == {"units": "KG", "value": 0.38} and "dimensions" not in second
    assert second["customerReferences"] == first["customerReferences"]
    customs = shipment["customsClearanceDetail"]
    assert customs["dutiesPayment"] == {"paymentType": "RECIPIENT"}  # DAP
    assert customs["commercialInvoice"]["termsOfSale"] == "DAP"
    assert customs["totalCustomsValue"] == {"amount": 119.9, "currency": "AUD"}
    (commodity,) = customs["commodities"]
    assert commodity == {
        "description": "Running insoles",
        "countryOfManufacture": "AU",
        "harmonizedCode": "640610",
        "quantity": 2,
        "quantityUnits": "PCS",
        "numberOfPieces": 2,
        "unitPrice": {"amount": 59.95, "currency": "AUD"},
        "customsValue": {"amount": 119.9, "currency": "AUD"},
        "weight": {"units": "KG", "value": 0.36},
        "partNumber": "RUN-EU42",
    }

    assert booking.tracking_number == booking.courier_id == "794953535000"
    assert booking.parcels == ("794953535000", "794953535011")  # in package order
    assert booking.product_code == "FEDEX_INTERNATIONAL_PRIORITY"
    assert booking.label_format == "pdf"
    assert booking.label_document == PDF + b"794953535000"


def test_total_weight_is_in_pounds_as_fedex_reads_it(httpserver):
    token_endpoint(httpserver)
    httpserver.expect_request("/ship/v1/shipments", method="POST").respond_with_json(ship_answer())
    build(FedEx, httpserver).book(international(), "SHP-1002")
    shipment = body_of(requests_to(httpserver, "/ship/v1/shipments")[0])["requestedShipment"]
    assert shipment["totalWeight"] == 1.8  # 420 g + 380 g = 0.8 kg = 1.76 lb, to one decimal


def test_an_answer_without_a_master_number_takes_the_first_piece_and_one_without_any_is_ambiguous(httpserver):
    token_endpoint(httpserver)
    answer = ship_answer()
    shipment = answer["output"]["transactionShipments"][0]
    del shipment["masterTrackingNumber"]
    for piece in shipment["pieceResponses"]:
        del piece["masterTrackingNumber"]
    httpserver.expect_oneshot_request("/ship/v1/shipments", method="POST").respond_with_json(answer)
    booking = build(FedEx, httpserver).book(international(), "SHP-1003")
    assert booking.tracking_number == booking.courier_id == "794953535000"  # the first package's
    assert booking.parcels == ("794953535000", "794953535011")

    httpserver.expect_oneshot_request("/ship/v1/shipments", method="POST").respond_with_json(
        {"transactionId": "t", "output": {"transactionShipments": [{"pieceResponses": []}]}}
    )
    with pytest.raises(RetryableError) as caught:
        build(FedEx, httpserver).book(international(), "SHP-1004")
    assert caught.value.ambiguous is True  # FedEx may hold it: the retry looks it up by reference first


def test_domestic_zpl_booking_has_no_customs_and_concatenates_labels(httpserver):
    token_endpoint(httpserver)
    answer = ship_answer()
    for piece in answer["output"]["transactionShipments"][0]["pieceResponses"]:
        piece["packageDocuments"][0]["encodedLabel"] = base64.b64encode(
            f"^XA{piece['trackingNumber']}^XZ".encode()
        ).decode()
    httpserver.expect_request("/ship/v1/shipments", method="POST").respond_with_json(answer)
    booking = build(FedEx, httpserver).book(domestic(label_format="zpl"), "SHP-7")
    shipment = body_of(requests_to(httpserver, "/ship/v1/shipments")[0])["requestedShipment"]
    assert shipment["serviceType"] == "PRIORITY_OVERNIGHT"
    assert "customsClearanceDetail" not in shipment
    assert shipment["labelSpecification"]["imageType"] == "ZPLII"
    assert booking.label_format == "zpl"
    assert booking.label_document == b"^XA794953535000^XZ^XA794953535011^XZ"


def test_the_courier_product_code_wins(httpserver):
    token_endpoint(httpserver)
    httpserver.expect_request("/ship/v1/shipments", method="POST").respond_with_json(ship_answer())
    build(FedEx, httpserver).book(international(product_code="INTERNATIONAL_PRIORITY"), "SHP-8")
    assert body_of(requests_to(httpserver, "/ship/v1/shipments")[0])["requestedShipment"]["serviceType"] == (
        "INTERNATIONAL_PRIORITY"
    )


def test_a_4xx_is_a_permanent_error_with_fedex_code_and_message(httpserver):
    token_endpoint(httpserver)
    httpserver.expect_request("/ship/v1/shipments", method="POST").respond_with_json(
        {
            "transactionId": "x",
            "errors": [{"code": "ACCOUNTNUMBER.REGISTRATION.REQUIRED", "message": "Please enter a valid account."}],
        },
        status=400,
    )
    with pytest.raises(PermanentError) as caught:
        build(FedEx, httpserver).book(international(), "SHP-1")
    assert not isinstance(caught.value, RetryableError)
    assert (caught.value.code, caught.value.message, caught.value.http_status) == (
        "ACCOUNTNUMBER.REGISTRATION.REQUIRED",
        "Please enter a valid account.",
        400,
    )


def test_a_5xx_on_book_is_retryable_and_ambiguous(httpserver):
    token_endpoint(httpserver)
    httpserver.expect_request("/ship/v1/shipments", method="POST").respond_with_json(
        {"errors": [{"code": "INTERNAL.SERVER.ERROR", "message": "We encountered an unexpected error"}]}, status=500
    )
    with pytest.raises(RetryableError) as caught:
        build(FedEx, httpserver).book(international(), "SHP-1")
    assert caught.value.ambiguous is True and caught.value.http_status == 500


def test_a_5xx_on_track_is_retryable_not_ambiguous(httpserver):
    token_endpoint(httpserver)
    httpserver.expect_request("/track/v1/trackingnumbers", method="POST").respond_with_data("", status=503)
    with pytest.raises(RetryableError) as caught:
        build(FedEx, httpserver).track(["1"])
    assert caught.value.ambiguous is False


def test_a_read_timeout_on_book_is_retryable_and_ambiguous(httpserver):
    token_endpoint(httpserver)

    def hang(request):
        time.sleep(1.0)
        return json_response(ship_answer())

    httpserver.expect_request("/ship/v1/shipments", method="POST").respond_with_handler(hang)
    with pytest.raises(RetryableError) as caught:
        build(FedEx, httpserver, read_timeout=0.3).book(international(), "SHP-1")
    assert caught.value.ambiguous is True and caught.value.code == "read_timeout"


def test_a_429_is_rate_limited_with_retry_after_and_blocks_other_workers(httpserver):
    token_endpoint(httpserver)
    httpserver.expect_request("/track/v1/trackingnumbers", method="POST").respond_with_response(
        Response('{"errors":[{"code":"TOO.MANY.REQUESTS","message":"Too many requests"}]}', 429, {"Retry-After": "1"})
    )
    limiter = MemoryRateLimiter(rate_per_second=100, burst=100)
    first, second = build(FedEx, httpserver, rate_limiter=limiter), build(FedEx, httpserver, rate_limiter=limiter)
    first.access_token()
    with pytest.raises(RateLimited) as caught:
        first.track(["1"])
    assert caught.value.retry_after == 1.0
    started = time.monotonic()
    limiter.acquire("fedex")  # what the other worker's next call waits for
    assert 0.85 <= time.monotonic() - started <= 1.5
    assert second.rate_limiter is limiter


# --- track ----------------------------------------------------------------------------------
TRACK_ANSWER = {
    "transactionId": "t-1",
    "output": {
        "completeTrackResults": [
            {
                "trackingNumber": "794953535000",
                "trackResults": [
                    {
                        "trackingNumberInfo": {"trackingNumber": "794953535000", "carrierCode": "FDXE"},
                        "dateAndTimes": [{"type": "ESTIMATED_DELIVERY", "dateTime": "2026-07-03T17:00:00-07:00"}],
                        "scanEvents": [
                            {
                                "date": "2026-07-03T12:01:00-07:00",
                                "eventType": "DL",
                                "eventDescription": "Delivered",
                                "scanLocation": {"city": "SEATTLE", "stateOrProvinceCode": "WA", "countryCode": "US"},
                            },
                            {
                                "date": "2026-07-03T07:50:00-07:00",
                                "eventType": "DE",
                                "eventDescription": "Delivery exception",
                                "exceptionDescription": "Customer not available or business closed",
                                "scanLocation": {"city": "SEATTLE", "countryCode": "US"},
                            },
                            {
                                "date": "2026-07-01T16:20:00-05:00",
                                "eventType": "PU",
                                "eventDescription": "Picked up",
                                "scanLocation": {"city": "MEMPHIS", "countryCode": "US"},
                            },
                            {
                                "date": "2026-07-01T09:00:00-05:00",
                                "eventType": "OC",
                                "eventDescription": "Shipment information sent to FedEx",
                                "scanLocation": {},
                            },
                        ],
                    }
                ],
            },
            {
                "trackingNumber": "000000000000",
                "trackResults": [
                    {
                        "trackingNumberInfo": {"trackingNumber": "000000000000"},
                        "error": {
                            "code": "TRACKING.TRACKINGNUMBER.NOTFOUND",
                            "message": "Tracking number cannot be found.",
                        },
                    }
                ],
            },
        ]
    },
}


def test_track_request_events_and_unknown_numbers(httpserver):
    token_endpoint(httpserver)
    httpserver.expect_request("/track/v1/trackingnumbers", method="POST").respond_with_json(TRACK_ANSWER)
    known, unknown, absent = build(FedEx, httpserver).track(["794953535000", "000000000000", "111111111111"])

    body = body_of(requests_to(httpserver, "/track/v1/trackingnumbers")[0])
    assert body == {
        "includeDetailedScans": True,
        "trackingInfo": [
            {"trackingNumberInfo": {"trackingNumber": "794953535000"}},
            {"trackingNumberInfo": {"trackingNumber": "000000000000"}},
            {"trackingNumberInfo": {"trackingNumber": "111111111111"}},
        ],
    }
    assert known.found is True
    assert [(e.code, e.status) for e in known.events] == [
        ("OC", "label_created"),
        ("PU", "picked_up"),
        ("DE", "attempt_failed"),
        ("DL", "delivered"),
    ]
    delivered = known.events[-1]
    assert delivered.occurred_at == dt.datetime(2026, 7, 3, 19, 1, tzinfo=dt.UTC)
    assert delivered.location == "SEATTLE, WA, US" and delivered.description == "Delivered"
    assert known.events[2].reason == "Customer not available or business closed"
    assert known.estimated_delivery == dt.datetime(2026, 7, 4, 0, 0, tzinfo=dt.UTC)
    assert (unknown.tracking_number, unknown.found, unknown.events) == ("000000000000", False, ())
    assert (absent.tracking_number, absent.found) == ("111111111111", False)


def test_a_reused_number_tracks_the_result_with_the_latest_scan(httpserver):
    token_endpoint(httpserver)
    old = {
        "trackingNumberInfo": {"trackingNumber": "794953535000"},
        "scanEvents": [{"date": "2024-01-05T10:00:00-05:00", "eventType": "DL", "eventDescription": "Delivered"}],
    }
    live = {
        "trackingNumberInfo": {"trackingNumber": "794953535000"},
        "scanEvents": [{"date": "2026-07-01T16:20:00-05:00", "eventType": "PU", "eventDescription": "Picked up"}],
    }
    answer = {"output": {"completeTrackResults": [{"trackingNumber": "794953535000", "trackResults": [old, live]}]}}
    httpserver.expect_request("/track/v1/trackingnumbers", method="POST").respond_with_json(answer)
    (snapshot,) = build(FedEx, httpserver).track(["794953535000"])
    assert [(e.code, e.status) for e in snapshot.events] == [("PU", "picked_up")]


def test_an_event_type_not_in_the_table_falls_back_to_fedexs_derived_status(httpserver):
    token_endpoint(httpserver)
    scans = [
        {"date": "2026-07-03T12:01:00-07:00", "eventType": "ZZ", "derivedStatusCode": "DL", "eventDescription": "?"},
        {"date": "2026-07-02T12:01:00-07:00", "eventType": "YY", "eventDescription": "no derived status"},
    ]
    answer = {
        "output": {
            "completeTrackResults": [
                {"trackingNumber": "794953535000", "trackResults": [{"scanEvents": scans}]},
            ]
        }
    }
    httpserver.expect_request("/track/v1/trackingnumbers", method="POST").respond_with_json(answer)
    (snapshot,) = build(FedEx, httpserver).track(["794953535000"])
    assert [(e.code, e.status) for e in snapshot.events] == [("YY", "in_transit"), ("ZZ", "delivered")]


def test_track_takes_at_most_30_numbers(httpserver):
    adapter = build(FedEx, httpserver)
    with pytest.raises(ValueError):
        adapter.track([str(n) for n in range(31)])
    assert httpserver.log == []
    assert adapter.track([]) == []


def test_30_numbers_go_in_one_call(httpserver):
    token_endpoint(httpserver)
    httpserver.expect_request("/track/v1/trackingnumbers", method="POST").respond_with_json(
        {"output": {"completeTrackResults": []}}
    )
    assert len(build(FedEx, httpserver).track([str(n) for n in range(30)])) == 30
    (request,) = requests_to(httpserver, "/track/v1/trackingnumbers")
    assert len(body_of(request)["trackingInfo"]) == 30


# --- reference lookup and void --------------------------------------------------------------
def test_find_by_reference_request_and_adoption(httpserver):
    token_endpoint(httpserver)
    results = [
        {
            "trackingNumber": number,
            "trackResults": [
                {
                    "trackingNumberInfo": {"trackingNumber": number},
                    "packageDetails": {"sequenceNumber": sequence},
                    "serviceDetail": {"type": "FEDEX_INTERNATIONAL_PRIORITY"},
                    "latestStatusDetail": {"code": "OC"},
                }
            ],
        }
        for number, sequence in (("794953535011", "2"), ("794953535000", "1"))
    ]
    httpserver.expect_request("/track/v1/referencenumbers", method="POST").respond_with_json(
        {"output": {"completeTrackResults": results}}
    )
    booking = build(FedEx, httpserver).find_by_reference("SHP-1001")
    body = body_of(requests_to(httpserver, "/track/v1/referencenumbers")[0])
    information = body["referencesInformation"]
    assert information["type"] == "CUSTOMER_REFERENCE"
    assert information["value"] == "SHP-1001"
    assert information["accountNumber"] == "740561073"
    assert information["shipDateBegin"] < information["shipDateEnd"] == information["shipDateEndDate"]
    assert booking == Booking(
        courier="fedex",
        reference="SHP-1001",
        tracking_number="794953535000",
        parcels=("794953535000", "794953535011"),
        product_code="FEDEX_INTERNATIONAL_PRIORITY",
        courier_id="794953535000",
    )


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (
            200,
            {
                "output": {
                    "completeTrackResults": [
                        {
                            "trackingNumber": "",
                            "trackResults": [{"error": {"code": "TRACKING.REFERENCENUMBER.NOTFOUND"}}],
                        }
                    ]
                }
            },
        ),
        (404, {"errors": [{"code": "NOT.FOUND.ERROR", "message": "not found"}]}),
        (
            400,
            {"errors": [{"code": "TRACKING.REFERENCENUMBER.NOTFOUND", "message": "Reference number cannot be found."}]},
        ),
        (
            200,
            {
                "output": {
                    "completeTrackResults": [
                        {
                            "trackingNumber": "7",
                            "trackResults": [
                                {"trackingNumberInfo": {"trackingNumber": "7"}, "latestStatusDetail": {"code": "CA"}}
                            ],
                        }
                    ]
                }
            },
        ),
    ],
)
def test_find_by_reference_finds_nothing(httpserver, status, answer):
    token_endpoint(httpserver)
    httpserver.expect_request("/track/v1/referencenumbers", method="POST").respond_with_json(answer, status=status)
    assert build(FedEx, httpserver).find_by_reference("SHP-404") is None


def test_void_request(httpserver):
    token_endpoint(httpserver)
    httpserver.expect_request("/ship/v1/shipments/cancel", method="PUT").respond_with_json(
        {"output": {"cancelledShipment": True, "message": "Shipment is successfully cancelled"}}
    )
    booking = Booking(
        courier="fedex", reference="SHP-1", tracking_number="794953535000", parcels=(), courier_id="794953535000"
    )
    assert build(FedEx, httpserver).void(booking) is True
    assert body_of(requests_to(httpserver, "/ship/v1/shipments/cancel")[0]) == {
        "accountNumber": {"value": "740561073"},
        "trackingNumber": "794953535000",
        "deletionControl": "DELETE_ALL_PACKAGES",
        "emailShipment": False,
    }


def test_void_refused_is_a_permanent_error(httpserver):
    token_endpoint(httpserver)
    httpserver.expect_request("/ship/v1/shipments/cancel", method="PUT").respond_with_json(
        {"errors": [{"code": "SHIPMENT.CANCEL.NOTALLOWED", "message": "Shipment already picked up"}]}, status=400
    )
    booking = Booking(courier="fedex", reference="SHP-1", tracking_number="7", parcels=())
    with pytest.raises(PermanentError) as caught:
        build(FedEx, httpserver).void(booking)
    assert caught.value.code == "SHIPMENT.CANCEL.NOTALLOWED"


def test_tracking_url():
    assert FedEx.tracking_url(None, "794953535000") == "https://www.fedex.com/fedextrack/?trknbr=794953535000"


# --- the status table -----------------------------------------------------------------------
# The eventType codes of FedEx "Tracking Status Codes" (courier-apis.md section 3), as listed.
REFERENCE_CODES = [
    "AA",
    "AC",
    "AD",
    "AF",
    "AO",
    "AP",
    "AR",
    "AX",
    "CA",
    "CH",
    "DD",
    "DE",
    "DL",
    "DP",
    "DR",
    "DS",
    "DY",
    "EA",
    "ED",
    "EO",
    "EP",
    "FD",
    "HL",
    "HP",
    "IT",
    "IX",
    "LO",
    "OC",
    "OD",
    "OF",
    "Ow",
    "OX",
    "PD",
    "PF",
    "PL",
    "PM",
    "PU",
    "PX",
    "RR",
    "RM",
    "RC",
    "RS",
    "RP",
    "LP",
    "RG",
    "RD",
    "SE",
    "SF",
    "SP",
    "TR",
    "CC",
    "CD",
    "CP",
    "EA",
    "SP",
    "CA",
    "RC",
    "SH",
    "CU",
    "BR",
    "TP",
    "SP",
    "AE",
]


def test_every_reference_code_is_in_the_table_once_and_every_status_is_valid():
    assert set(REFERENCE_CODES) <= set(FedEx.status_codes)
    assert set(FedEx.status_codes.values()) <= set(EVENT_STATUSES)
    # A dict holds each code once; the source table lists none that the module does not know.
    assert set(FedEx.status_codes) - set(REFERENCE_CODES) == {"OW"}


def test_module_table_is_the_adapters():
    assert FedEx.status_codes is fedex_module.STATUS_CODES


def test_odd_shapes_in_a_track_answer_are_skipped_not_a_crash(httpserver):
    token_endpoint(httpserver)
    results = [
        {"error": "not an object"},
        "not a result",
        {"scanEvents": ["not a scan", {"date": "2026-07-01T16:20:00-05:00", "eventType": "PU"}]},
    ]
    answer = {"output": {"completeTrackResults": [{"trackingNumber": "794953535000", "trackResults": results}]}}
    httpserver.expect_request("/track/v1/trackingnumbers", method="POST").respond_with_json(answer)
    (snapshot,) = build(FedEx, httpserver).track(["794953535000"])
    assert [(e.code, e.status) for e in snapshot.events] == [("PU", "picked_up")]
