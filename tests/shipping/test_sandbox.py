"""The courier sandbox over real sockets: each courier's shape spoken with ``requests``, the
fault modes, the control API, and the DHL Express and Australia Post adapters end to end."""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from shipping.couriers import base
from shipping.couriers.auspost import AusPost, label_body, shipment_body
from shipping.couriers.base import CourierConfig, PermanentError, RetryableError
from shipping.couriers.dhl_express import DhlExpress, booking_body
from shipping.sandbox import SandboxServer
from shipping.sandbox.ups import check_digit

from .conftest import SANDBOX_KEY, SANDBOX_SECRET, au_receiver, booking_request, us_receiver

AUTH = (SANDBOX_KEY, SANDBOX_SECRET)
AP_HEADERS = {"Account-Number": "0007654321"}
LOOKUP = {"offset": 0, "number_of_shipments": 20, "sender_reference": "SHP-A1"}
UPS_TRACK_HEADERS = {"transId": "t-1", "transactionSrc": "tests"}
ROOT = Path(__file__).resolve().parents[2]


def control(sandbox, method, path, **kwargs):
    response = requests.request(method, f"{sandbox.url}/_sandbox{path}", timeout=5, **kwargs)
    assert response.status_code < 300, response.text
    return response.json()


def fault(sandbox, **spec):
    return control(sandbox, "POST", "/faults", json=spec)["fault"]


def advance(sandbox, steps=1, **spec):
    return control(sandbox, "POST", "/advance", json={"steps": steps, **spec})["advanced"]


def shipments(sandbox, courier=""):
    return control(sandbox, "GET", "/shipments", params={"courier": courier} if courier else {})["shipments"]


# --- request bodies in each courier's shape ---------------------------------------------------
def fedex_body(reference="SHP-F1", postcode="98101", packages=1, image="PDF"):
    return {
        "labelResponseOptions": "LABEL",
        "accountNumber": {"value": "740561073"},
        "requestedShipment": {
            "shipper": {
                "contact": {"personName": "Sender", "phoneNumber": "9015551234", "companyName": "Stride"},
                "address": {
                    "streetLines": ["10 FedEx Parkway"],
                    "city": "Memphis",
                    "stateOrProvinceCode": "TN",
                    "postalCode": "38117",
                    "countryCode": "US",
                },
            },
            "recipients": [
                {
                    "contact": {"personName": "Recipient", "phoneNumber": "2065551234"},
                    "address": {
                        "streetLines": ["1043 North Easy Street"],
                        "city": "Seattle",
                        "stateOrProvinceCode": "WA",
                        "postalCode": postcode,
                        "countryCode": "US",
                    },
                }
            ],
            "serviceType": "FEDEX_GROUND",
            "packagingType": "YOUR_PACKAGING",
            "pickupType": "DROPOFF_AT_FEDEX_LOCATION",
            "shippingChargesPayment": {"paymentType": "SENDER"},
            "labelSpecification": {"imageType": image, "labelStockType": "PAPER_4X6"},
            "requestedPackageLineItems": [
                {
                    "sequenceNumber": n + 1,
                    "weight": {"units": "KG", "value": 0.5},
                    "customerReferences": [{"customerReferenceType": "CUSTOMER_REFERENCE", "value": reference}],
                }
                for n in range(packages)
            ],
        },
    }


def ups_body(reference="SHP-U1", packages=1, postcode="21030", where="Shipment"):
    package = {
        "Packaging": {"Code": "02"},
        "PackageWeight": {"UnitOfMeasurement": {"Code": "KGS"}, "Weight": "0.5"},
    }
    if where == "Package":
        package["ReferenceNumber"] = [{"Value": reference}]
    shipment = {
        "Description": "Insoles",
        "Shipper": {
            "Name": "Stride",
            "ShipperNumber": "A12B34",
            "Address": {
                "AddressLine": ["2311 York Rd"],
                "City": "Timonium",
                "PostalCode": "21093",
                "CountryCode": "US",
            },
        },
        "ShipTo": {
            "Name": "Happy Dog",
            "Address": {
                "AddressLine": ["123 Main St"],
                "City": "Timonium",
                "PostalCode": postcode,
                "CountryCode": "US",
            },
        },
        "PaymentInformation": {"ShipmentCharge": {"Type": "01", "BillShipper": {"AccountNumber": "A12B34"}}},
        "Service": {"Code": "03"},
        "Package": [dict(package) for _ in range(packages)] if packages > 1 else package,
    }
    if where == "Shipment":
        shipment["ReferenceNumber"] = {"Value": reference}
    return {
        "ShipmentRequest": {
            "Request": {"RequestOption": "nonvalidate", "TransactionReference": {"CustomerContext": reference}},
            "Shipment": shipment,
            "LabelSpecification": {"LabelImageFormat": {"Code": "ZPL"}},
        }
    }


def fedex_token(sandbox):
    answer = requests.post(
        sandbox.base_url("fedex") + "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": SANDBOX_KEY, "client_secret": SANDBOX_SECRET},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def ups_token(sandbox):
    answer = requests.post(
        sandbox.base_url("ups") + "/security/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=AUTH,
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def dhl_book(sandbox, request=None, reference="SHP-D1", timeout=5):
    body = booking_body(request or booking_request(), reference, account="123456789")
    return requests.post(sandbox.base_url("dhl_express") + "/shipments", json=body, auth=AUTH, timeout=timeout)


# --- DHL Express ------------------------------------------------------------------------------
def test_dhl_refuses_wrong_credentials(courier_sandbox):
    answer = requests.get(
        courier_sandbox.base_url("dhl_express") + "/tracking",
        params={"shipmentTrackingNumber": "1"},
        auth=("sandbox", "wrong"),
        timeout=5,
    )
    assert answer.status_code == 401
    assert answer.json()["status"] == "401" and answer.json()["title"] == "Unauthorized"


def test_dhl_books_tracks_advancing_and_finds_by_reference(courier_sandbox):
    url = courier_sandbox.base_url("dhl_express")
    answer = dhl_book(courier_sandbox, booking_request(receiver=us_receiver(), parcels=2))
    assert answer.status_code == 201, answer.text
    data = answer.json()
    number = data["shipmentTrackingNumber"]
    assert re.fullmatch(r"\d{10}", number)
    assert [re.fullmatch(r"JD\d{18}", p["trackingNumber"]) is not None for p in data["packages"]] == [True, True]
    label = data["documents"][0]
    assert label["typeCode"] == "label" and label["imageFormat"] == "PDF"
    assert base64.b64decode(label["content"]).startswith(b"%PDF")

    def track():
        params = [("shipmentTrackingNumber", number), ("shipmentTrackingNumber", "0000000000")]
        return requests.get(url + "/tracking", params=params, auth=AUTH, timeout=5).json()["shipments"]

    assert [s["shipmentTrackingNumber"] for s in track()] == [number]
    assert track()[0]["events"] == []
    advance(courier_sandbox, courier="dhl_express", tracking_number=number, steps=2)
    assert [e["typeCode"] for e in track()[0]["events"]] == ["PU", "DF"]

    found = requests.get(
        url + "/tracking",
        params={"shipmentReference": "SHP-D1", "shipperAccountNumber": "123456789", "levelOfDetail": "piece"},
        auth=AUTH,
        timeout=5,
    ).json()["shipments"]
    assert found[0]["shipmentTrackingNumber"] == number
    assert [p["trackingNumber"] for p in found[0]["pieces"]] == [p["trackingNumber"] for p in data["packages"]]
    missing = requests.get(
        url + "/tracking",
        params={"shipmentReference": "NOPE", "shipperAccountNumber": "123456789"},
        auth=AUTH,
        timeout=5,
    )
    assert missing.status_code == 404
    assert missing.json()["detail"] == "No Shipments Found for ReferenceID | NOPE"
    no_account = requests.get(url + "/tracking", params={"shipmentReference": "SHP-D1"}, auth=AUTH, timeout=5)
    assert no_account.status_code == 400
    assert "shipperAccountNumber" in no_account.json()["detail"]


def test_dhl_refuses_an_address_and_missing_fields(courier_sandbox):
    refused = dhl_book(courier_sandbox, booking_request(receiver=au_receiver(postcode="00000")))
    assert refused.status_code == 400
    assert refused.json()["detail"].startswith("420505:")
    body = booking_body(booking_request(), "SHP-1", account="123456789")
    del body["customerDetails"]["receiverDetails"]["postalAddress"]["postalCode"]
    missing = requests.post(courier_sandbox.base_url("dhl_express") + "/shipments", json=body, auth=AUTH, timeout=5)
    assert missing.status_code == 422
    assert (
        missing.json()["detail"]
        == "#/customerDetails/receiverDetails/postalAddress: required key [postalCode] not found"
    )
    body = booking_body(booking_request(), "SHP-1", account="123456789")
    body["content"]["packages"][0]["weight"] = 0
    assert (
        requests.post(
            courier_sandbox.base_url("dhl_express") + "/shipments", json=body, auth=AUTH, timeout=5
        ).status_code
        == 422
    )
    assert shipments(courier_sandbox) == []


# --- Australia Post ---------------------------------------------------------------------------
def test_auspost_needs_basic_and_an_account_number(courier_sandbox):
    url = courier_sandbox.base_url("auspost") + "/shipping/v1/track"
    no_account = requests.get(url, params={"tracking_ids": "A"}, auth=AUTH, timeout=5)
    wrong = requests.get(url, params={"tracking_ids": "A"}, auth=("x", "y"), headers=AP_HEADERS, timeout=5)
    for answer in (no_account, wrong):
        assert answer.status_code == 401
        assert answer.json()["errors"][0]["error_code"] == "API_001"


def test_auspost_books_labels_tracks_finds_and_deletes(courier_sandbox):
    url = courier_sandbox.base_url("auspost")
    request = booking_request()
    created = requests.post(
        url + "/shipping/v1/shipments", json=shipment_body(request, "SHP-A1"), auth=AUTH, headers=AP_HEADERS, timeout=5
    )
    assert created.status_code == 201, created.text
    shipment = created.json()["shipments"][0]
    article = shipment["items"][0]["tracking_details"]["article_id"]
    assert len(shipment["shipment_id"]) == 24 and len(article) == 21

    labels = requests.post(
        url + "/shipping/v1/labels",
        json=label_body(shipment["shipment_id"], request),
        auth=AUTH,
        headers=AP_HEADERS,
        timeout=5,
    ).json()["labels"][0]
    assert labels["status"] == "AVAILABLE"
    assert requests.get(labels["url"], timeout=5).content.startswith(b"%PDF")

    def track():
        answer = requests.get(
            url + "/shipping/v1/track",
            params={"tracking_ids": f"{article},NOPE"},
            auth=AUTH,
            headers=AP_HEADERS,
            timeout=5,
        )
        return answer.json()["tracking_results"]

    found, unknown = track()
    assert unknown["errors"][0]["code"] == "ESB-10001"
    assert [e["description"] for e in found["trackable_items"][0]["events"]] == [
        "Shipping information received by Australia Post"
    ]
    advance(courier_sandbox, courier="auspost", steps=4)
    events = track()[0]["trackable_items"][0]["events"]
    assert events[0]["description"] == "Delivered - Left in a safe place"  # newest first
    assert track()[0]["status"] == "Delivered"

    unpaged = requests.get(
        url + "/shipping/v1/shipments", params={"sender_reference": "SHP-A1"}, auth=AUTH, headers=AP_HEADERS, timeout=5
    )
    assert unpaged.status_code == 400  # as Australia Post: shipment_ids, or offset with number_of_shipments
    search = requests.get(
        url + "/shipping/v1/shipments", params=LOOKUP, auth=AUTH, headers=AP_HEADERS, timeout=5
    ).json()
    assert [s["shipment_id"] for s in search["shipments"]] == [shipment["shipment_id"]]
    deleted = requests.delete(
        url + f"/shipping/v1/shipments/{shipment['shipment_id']}", auth=AUTH, headers=AP_HEADERS, timeout=5
    )
    assert deleted.status_code == 200
    assert shipments(courier_sandbox, "auspost")[0]["voided"] is True
    search = requests.get(
        url + "/shipping/v1/shipments", params=LOOKUP, auth=AUTH, headers=AP_HEADERS, timeout=5
    ).json()
    assert search["shipments"] == []
    again = requests.delete(
        url + f"/shipping/v1/shipments/{shipment['shipment_id']}", auth=AUTH, headers=AP_HEADERS, timeout=5
    )
    assert again.status_code == 404 and again.json()["errors"][0]["code"] == "44013"


def test_auspost_refuses_a_rejected_address_line(courier_sandbox):
    body = shipment_body(booking_request(receiver=au_receiver(lines=("1 REJECT Street",))), "SHP-1")
    answer = requests.post(
        courier_sandbox.base_url("auspost") + "/shipping/v1/shipments",
        json=body,
        auth=AUTH,
        headers=AP_HEADERS,
        timeout=5,
    )
    assert answer.status_code == 400
    error = answer.json()["errors"][0]
    assert error["code"] == "42000" and error["field"] == "shipments[0].to" and "REJECT" in error["message"]


def test_auspost_more_than_ten_tracking_ids_is_refused(courier_sandbox):
    answer = requests.get(
        courier_sandbox.base_url("auspost") + "/shipping/v1/track",
        params={"tracking_ids": ",".join(f"A{n}" for n in range(11))},
        auth=AUTH,
        headers=AP_HEADERS,
        timeout=5,
    )
    assert answer.status_code == 400 and answer.json()["errors"][0]["code"] == "51101"


# --- FedEx ------------------------------------------------------------------------------------
def test_fedex_token_and_bearer_are_checked(courier_sandbox):
    url = courier_sandbox.base_url("fedex")
    bad = requests.post(
        url + "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": SANDBOX_KEY, "client_secret": "nope"},
        timeout=5,
    )
    assert bad.status_code == 401 and bad.json()["errors"][0]["code"] == "NOT.AUTHORIZED.ERROR"
    good = requests.post(
        url + "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": SANDBOX_KEY, "client_secret": SANDBOX_SECRET},
        timeout=5,
    ).json()
    assert good["token_type"] == "bearer" and good["expires_in"] == 3600
    anonymous = requests.post(url + "/ship/v1/shipments", json=fedex_body(), timeout=5)
    assert anonymous.status_code == 401 and anonymous.json()["errors"][0]["code"] == "NOT.AUTHORIZED.ERROR"
    headers = {"Authorization": f"Bearer {good['access_token']}"}
    control(courier_sandbox, "POST", "/tokens/expire", params={"courier": "fedex"})
    expired = requests.post(url + "/ship/v1/shipments", json=fedex_body(), headers=headers, timeout=5)
    assert expired.status_code == 401


def test_fedex_ships_tracks_finds_by_reference_and_cancels(courier_sandbox):
    url = courier_sandbox.base_url("fedex")
    headers = fedex_token(courier_sandbox)
    answer = requests.post(url + "/ship/v1/shipments", json=fedex_body(packages=2), headers=headers, timeout=5)
    assert answer.status_code == 200, answer.text
    shipment = answer.json()["output"]["transactionShipments"][0]
    master = shipment["masterTrackingNumber"]
    pieces = [p["trackingNumber"] for p in shipment["pieceResponses"]]
    assert re.fullmatch(r"\d{12}", master) and pieces[0] == master and len(set(pieces)) == 2
    label = shipment["pieceResponses"][0]["packageDocuments"][0]
    assert base64.b64decode(label["encodedLabel"]).startswith(b"%PDF")

    def track(*numbers):
        body = {
            "includeDetailedScans": True,
            "trackingInfo": [{"trackingNumberInfo": {"trackingNumber": n}} for n in numbers],
        }
        return requests.post(url + "/track/v1/trackingnumbers", json=body, headers=headers, timeout=5).json()["output"][
            "completeTrackResults"
        ]

    found, unknown = track(master, "000000000000")
    assert unknown["trackResults"][0]["error"]["code"] == "TRACKING.TRACKINGNUMBER.NOTFOUND"
    assert [s["eventType"] for s in found["trackResults"][0]["scanEvents"]] == ["OC"]
    advance(courier_sandbox, courier="fedex", steps=1)
    assert [s["eventType"] for s in track(master)[0]["trackResults"][0]["scanEvents"]] == ["PU", "OC"]

    by_reference = requests.post(
        url + "/track/v1/referencenumbers",
        json={"referencesInformation": {"type": "CUSTOMER_REFERENCE", "value": "SHP-F1", "accountNumber": "740561073"}},
        headers=headers,
        timeout=5,
    ).json()["output"]["completeTrackResults"]
    assert [r["trackingNumber"] for r in by_reference] == pieces

    refused = requests.put(
        url + "/ship/v1/shipments/cancel",
        json={"accountNumber": {"value": "740561073"}, "trackingNumber": master},
        headers=headers,
        timeout=5,
    )
    assert refused.status_code == 400  # picked up already
    fresh = requests.post(url + "/ship/v1/shipments", json=fedex_body("SHP-F2"), headers=headers, timeout=5).json()
    number = fresh["output"]["transactionShipments"][0]["masterTrackingNumber"]
    cancelled = requests.put(
        url + "/ship/v1/shipments/cancel",
        json={
            "accountNumber": {"value": "740561073"},
            "trackingNumber": number,
            "deletionControl": "DELETE_ALL_PACKAGES",
        },
        headers=headers,
        timeout=5,
    ).json()
    assert cancelled["output"]["cancelledShipment"] is True
    gone = requests.post(
        url + "/track/v1/referencenumbers",
        json={"referencesInformation": {"type": "CUSTOMER_REFERENCE", "value": "SHP-F2"}},
        headers=headers,
        timeout=5,
    ).json()["output"]["completeTrackResults"]
    assert gone[0]["trackResults"][0]["error"]["code"] == "TRACKING.REFERENCENUMBER.NOTFOUND"
    assert track(number)[0]["trackResults"][0]["latestStatusDetail"]["code"] == "CA"


def test_fedex_refuses_missing_weight_in_its_error_shape(courier_sandbox):
    body = fedex_body()
    del body["requestedShipment"]["requestedPackageLineItems"][0]["weight"]["value"]
    answer = requests.post(
        courier_sandbox.base_url("fedex") + "/ship/v1/shipments",
        json=body,
        headers=fedex_token(courier_sandbox),
        timeout=5,
    )
    assert answer.status_code == 400
    error = answer.json()["errors"][0]
    assert "weight" in error["message"] and error["code"] == "INVALID.INPUT.EXCEPTION"


# --- UPS --------------------------------------------------------------------------------------
def test_ups_token_and_tracking_headers_are_checked(courier_sandbox):
    url = courier_sandbox.base_url("ups")
    bad = requests.post(
        url + "/security/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=("x", "y"), timeout=5
    )
    assert bad.status_code == 401 and "errors" in bad.json()["response"]
    headers = ups_token(courier_sandbox)
    no_headers = requests.get(url + "/api/track/v1/details/1ZA12B340300001234", headers=headers, timeout=5)
    assert no_headers.status_code == 400
    unknown = requests.get(
        url + "/api/track/v1/details/1ZA12B340300001234", headers={**headers, **UPS_TRACK_HEADERS}, timeout=5
    ).json()
    assert unknown["trackResponse"]["shipment"][0]["warnings"][0]["code"] == "TW0001"
    no_bearer = requests.post(url + "/api/shipments/v2409/ship", json=ups_body(), timeout=5)
    assert no_bearer.status_code == 401 and no_bearer.json()["response"]["errors"][0]["code"] == "250002"


def test_ups_ships_one_package_as_an_object_and_several_as_a_list(courier_sandbox):
    url = courier_sandbox.base_url("ups") + "/api/shipments/v2409/ship"
    headers = ups_token(courier_sandbox)
    one = requests.post(url, json=ups_body(), headers=headers, timeout=5).json()["ShipmentResponse"]["ShipmentResults"]
    assert isinstance(one["PackageResults"], dict)
    number = one["ShipmentIdentificationNumber"]
    assert number == one["PackageResults"]["TrackingNumber"]
    assert re.fullmatch(r"1ZA12B3403\d{7}\d", number)
    assert number[-1] == check_digit(number[2:-1])
    several = requests.post(url, json=ups_body(packages=3), headers=headers, timeout=5).json()
    results = several["ShipmentResponse"]["ShipmentResults"]["PackageResults"]
    assert isinstance(results, list) and len(results) == 3
    assert check_digit("999AA1012345678") == "4"  # UPS's published sample 1Z999AA10123456784


@pytest.mark.parametrize("where", ["Shipment", "Package"])
def test_ups_tracks_finds_by_reference_and_voids(courier_sandbox, where):
    url = courier_sandbox.base_url("ups")
    headers = ups_token(courier_sandbox)
    answer = requests.post(
        url + "/api/shipments/v2409/ship", json=ups_body("SHP-U7", where=where), headers=headers, timeout=5
    ).json()
    number = answer["ShipmentResponse"]["ShipmentResults"]["ShipmentIdentificationNumber"]
    track_headers = {**headers, **UPS_TRACK_HEADERS}
    tracked = requests.get(url + f"/api/track/v1/details/{number}", headers=track_headers, timeout=5).json()
    activity = tracked["trackResponse"]["shipment"][0]["package"][0]["activity"]
    assert [(a["status"]["type"], a["status"]["code"]) for a in activity] == [("M", "MP")]
    found = requests.get(url + "/api/track/v1/reference/details/SHP-U7", headers=track_headers, timeout=5).json()
    assert found["trackResponse"]["shipment"][0]["package"][0]["trackingNumber"] == number
    voided = requests.delete(url + f"/api/shipments/v2409/void/cancel/{number}", headers=headers, timeout=5)
    assert voided.status_code == 200
    assert voided.json()["VoidShipmentResponse"]["SummaryResult"]["Status"]["Description"] == "Voided"
    gone = requests.get(url + "/api/track/v1/reference/details/SHP-U7", headers=track_headers, timeout=5).json()
    assert gone["trackResponse"]["shipment"][0]["warnings"][0]["code"] == "TW0001"
    unknown = requests.delete(url + "/api/shipments/v2409/void/cancel/1Z0000000000000000", headers=headers, timeout=5)
    assert unknown.status_code == 400 and unknown.json()["response"]["errors"][0]["code"] == "190101"


def test_ups_refuses_postcode_00000(courier_sandbox):
    answer = requests.post(
        courier_sandbox.base_url("ups") + "/api/shipments/v2409/ship",
        json=ups_body(postcode="00000"),
        headers=ups_token(courier_sandbox),
        timeout=5,
    )
    assert answer.status_code == 400 and answer.json()["response"]["errors"][0]["code"] == "120802"


# --- faults -----------------------------------------------------------------------------------
def test_latency_delays_then_answers(courier_sandbox):
    fault(courier_sandbox, courier="dhl_express", mode="latency", seconds=0.6)
    started = time.monotonic()
    answer = dhl_book(courier_sandbox)
    assert answer.status_code == 201
    assert time.monotonic() - started >= 0.6


def test_rate_limit_answers_429_with_retry_after_in_the_couriers_shape(courier_sandbox):
    fault(courier_sandbox, courier="fedex", path="/track", mode="rate_limit", seconds=2)
    headers = fedex_token(courier_sandbox)  # other paths are untouched
    answer = requests.post(
        courier_sandbox.base_url("fedex") + "/track/v1/trackingnumbers",
        json={"trackingInfo": [{"trackingNumberInfo": {"trackingNumber": "1"}}]},
        headers=headers,
        timeout=5,
    )
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "2"
    assert answer.json()["errors"][0]["code"] == "TOO.MANY.REQUESTS.ERROR"


def test_error_answers_the_5xx_and_count_zero_lasts_until_cleared(courier_sandbox):
    fault(courier_sandbox, courier="auspost", mode="error", status=502, count=0)
    url = courier_sandbox.base_url("auspost") + "/shipping/v1/track"
    for _ in range(3):
        answer = requests.get(url, params={"tracking_ids": "A"}, auth=AUTH, headers=AP_HEADERS, timeout=5)
        assert answer.status_code == 502 and answer.json()["errors"][0]["code"] == "ESB-20010"
    assert control(courier_sandbox, "DELETE", "/faults")["cleared"] == 1
    assert requests.get(url, params={"tracking_ids": "A"}, auth=AUTH, headers=AP_HEADERS, timeout=5).status_code == 200


def test_hang_times_the_client_out_and_does_nothing(courier_sandbox):
    fault(courier_sandbox, courier="dhl_express", mode="hang", seconds=1.5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        dhl_book(courier_sandbox, timeout=(2, 0.5))
    assert shipments(courier_sandbox) == []
    assert dhl_book(courier_sandbox).status_code == 201  # count 1: used up


def test_drop_books_but_the_answer_is_lost(courier_sandbox):
    fault(courier_sandbox, courier="dhl_express", path="/shipments", mode="drop", seconds=1.5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        dhl_book(courier_sandbox, reference="SHP-DROP", timeout=(2, 0.5))
    booked = shipments(courier_sandbox, "dhl_express")
    assert len(booked) == 1 and booked[0]["references"] == ["SHP-DROP"]


def test_bad_fault_is_refused(courier_sandbox):
    answer = requests.post(courier_sandbox.url + "/_sandbox/faults", json={"mode": "explode"}, timeout=5)
    assert answer.status_code == 400
    answer = requests.post(courier_sandbox.url + "/_sandbox/faults", json={"mode": "error", "status": 404}, timeout=5)
    assert answer.status_code == 400


# --- control API ------------------------------------------------------------------------------
def test_calls_are_logged_per_courier_with_times(courier_sandbox):
    for _ in range(3):
        dhl_book(courier_sandbox)
    fedex_token(courier_sandbox)
    calls = control(courier_sandbox, "GET", "/calls", params={"courier": "dhl_express"})["calls"]
    assert [(c["method"], c["path"], c["status"]) for c in calls] == [("POST", "/shipments", 201)] * 3
    times = [c["time"] for c in calls]
    assert times == sorted(times) and time.time() - times[0] < 30
    assert len(control(courier_sandbox, "GET", "/calls")["calls"]) == 4
    control(courier_sandbox, "POST", "/reset")
    assert control(courier_sandbox, "GET", "/calls")["calls"] == []


def test_the_clock_advances_tracking_by_itself():
    with SandboxServer(advance_every=0.3) as sandbox:
        assert dhl_book(sandbox).status_code == 201
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and shipments(sandbox)[0]["status"] != "in_transit":
            time.sleep(0.1)
        assert shipments(sandbox)[0]["status"] in ("in_transit", "out_for_delivery", "delivered")


def test_management_command_serves_until_sigterm():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "courier_sandbox", "--port", "0", "--advance-every", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert match, line + process.stdout.read() if process.poll() is not None else line
        info = requests.get(f"http://127.0.0.1:{match[1]}/_sandbox/", timeout=5).json()
        assert set(info["couriers"]) == {"dhl_express", "auspost", "fedex", "ups"}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# --- the adapters end to end ------------------------------------------------------------------
def dhl_adapter(sandbox, read_timeout=5.0):
    return DhlExpress(
        CourierConfig(
            base_url=sandbox.base_url("dhl_express"),
            key=SANDBOX_KEY,
            secret=SANDBOX_SECRET,
            account="123456789",
            read_timeout=read_timeout,
        )
    )


def auspost_adapter(sandbox, read_timeout=5.0):
    return AusPost(
        CourierConfig(
            base_url=sandbox.base_url("auspost"),
            key=SANDBOX_KEY,
            secret=SANDBOX_SECRET,
            account="0007654321",
            read_timeout=read_timeout,
        )
    )


def test_dhl_adapter_end_to_end(courier_sandbox):
    dhl = dhl_adapter(courier_sandbox)
    booking = dhl.book(booking_request(receiver=us_receiver()), "SHP-E2E")
    assert booking.label_document.startswith(b"%PDF") and len(booking.parcels) == 1
    snapshot = dhl.track([booking.tracking_number])[0]
    assert snapshot.found and snapshot.events == ()
    advance(courier_sandbox, courier="dhl_express", steps=4)
    snapshot, unknown = dhl.track([booking.tracking_number, "0000000000"])
    assert [e.status for e in snapshot.events] == [
        base.PICKED_UP,
        base.IN_TRANSIT,
        base.OUT_FOR_DELIVERY,
        base.DELIVERED,
    ]
    assert unknown.found is False
    found = dhl.find_by_reference("SHP-E2E")
    assert (found.tracking_number, found.parcels) == (booking.tracking_number, booking.parcels)
    assert dhl.find_by_reference("SHP-OTHER") is None
    assert dhl.void(booking) is False
    with pytest.raises(PermanentError) as caught:
        dhl.book(booking_request(receiver=us_receiver(postcode="00000")), "SHP-BAD")
    assert caught.value.code == "420505" and caught.value.message.startswith("420505")


def test_dhl_adapter_after_a_dropped_booking_finds_it_by_reference(courier_sandbox):
    fault(courier_sandbox, courier="dhl_express", path="/shipments", mode="drop", seconds=1.5)
    dhl = dhl_adapter(courier_sandbox, read_timeout=0.5)
    with pytest.raises(RetryableError) as caught:
        dhl.book(booking_request(), "SHP-AMBIG")
    assert caught.value.ambiguous is True
    found = dhl.find_by_reference("SHP-AMBIG")
    assert found is not None and found.tracking_number == shipments(courier_sandbox)[0]["tracking_number"]


def test_dhl_adapter_sees_the_sandbox_429_and_5xx(courier_sandbox):
    dhl = dhl_adapter(courier_sandbox)
    fault(courier_sandbox, courier="dhl_express", mode="rate_limit", seconds=3)
    with pytest.raises(base.RateLimited) as limited:
        dhl.track(["1"])
    assert limited.value.retry_after == 3.0
    fault(courier_sandbox, courier="dhl_express", mode="error", status=503)
    with pytest.raises(RetryableError) as failed:
        dhl.book(booking_request(), "SHP-1")
    assert failed.value.ambiguous and failed.value.http_status == 503


def test_auspost_adapter_end_to_end(courier_sandbox):
    ap = auspost_adapter(courier_sandbox)
    booking = ap.book(booking_request(parcels=2), "SHP-AP1")
    assert booking.label_document.startswith(b"%PDF")
    assert len(booking.parcels) == 2 and booking.tracking_number == booking.parcels[0]
    snapshot = ap.track([booking.tracking_number])[0]
    assert [e.status for e in snapshot.events] == [base.LABEL_CREATED]
    advance(courier_sandbox, courier="auspost", steps=2)
    snapshot, unknown = ap.track([booking.tracking_number, "NOPE"])
    assert [e.status for e in snapshot.events] == [base.LABEL_CREATED, base.PICKED_UP, base.IN_TRANSIT]
    assert unknown.found is False
    found = ap.find_by_reference("SHP-AP1")
    assert (found.courier_id, found.parcels) == (booking.courier_id, booking.parcels)
    assert ap.void(booking) is True
    assert ap.find_by_reference("SHP-AP1") is None
    assert ap.track([booking.tracking_number])[0].found is False


def test_auspost_adapter_international_and_manifest(courier_sandbox):
    ap = auspost_adapter(courier_sandbox)
    abroad = ap.book(booking_request(receiver=us_receiver(), service="express", label_format="zpl"), "SHP-INT")
    assert abroad.product_code == "ECM8" and abroad.label_document.startswith(b"^XA")
    home = ap.book(booking_request(), "SHP-HOME")
    manifest = ap.manifest([abroad, home])
    assert manifest.reference.startswith("AP") and manifest.document.startswith(b"%PDF")
    assert manifest.tracking_numbers == (abroad.tracking_number, home.tracking_number)
    assert {s["order_id"] for s in shipments(courier_sandbox, "auspost")} == {manifest.reference}
    with pytest.raises(PermanentError) as caught:
        ap.void(home)
    assert caught.value.code == "44019"


def test_auspost_adapter_refused_address_is_permanent(courier_sandbox):
    ap = auspost_adapter(courier_sandbox)
    with pytest.raises(PermanentError) as caught:
        ap.book(booking_request(receiver=au_receiver(postcode="00000")), "SHP-BAD")
    assert caught.value.code == "42000"
    assert shipments(courier_sandbox) == []
