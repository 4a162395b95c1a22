"""Tracking pushed to POST /webhooks/couriers/{courier}: UPS Track Alert (the subscription's credential header) and
FedEx webhooks (fdx-signature), verified, refused, for unknown numbers, malformed; and the sandbox pushing to a live
server, deduped against polling."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
import requests

from fulfilment.models import Order
from shipping.models import Shipment, TrackingEvent, UnmatchedTrackingPush
from shipping.services import tracking_poll
from tests.shipping.helpers import NAMES, point_couriers_at
from tests.shipping.tracking_helpers import booked, forget_courier_state, sandbox_numbers

UPS_CREDENTIAL = "ups-track-alert-credential-7f3a"
FEDEX_TOKEN = "fedex-webhook-security-token-91c2"

# UPSTrackAlert.yaml, webhooks.TrackingEvent, example 7 ("Delivery message").
UPS_DELIVERED = {
    "trackingNumber": "1Z204W4R0308071865",
    "localActivityDate": "20240423",
    "localActivityTime": "095004",
    "activityLocation": {"city": "CHARLOTTE", "stateProvince": "NC", "postalCode": "28209", "country": "US"},
    "activityStatus": {"type": "D", "code": "FS", "description": "Delivered", "descriptionCode": "011"},
    "scheduledDeliveryDate": "",
    "actualDeliveryDate": "20240423",
    "actualDeliveryTime": "095004",
    "gmtActivityDate": "20240423",
    "gmtActivityTime": "135004",
    "deliveryStartTime": "",
    "deliveryEndTime": "",
    "deliveryTimeDescription": "",
}


@pytest.fixture
def configured(settings):
    couriers = {name: dict(values) for name, values in settings.COURIERS.items()}
    couriers["UPS"]["WEBHOOK_CREDENTIAL"] = f"old-credential,{UPS_CREDENTIAL}"
    couriers["FEDEX"]["WEBHOOK_SECRET"] = FEDEX_TOKEN
    settings.COURIERS = couriers
    return settings


def _post(client, courier, body, headers=None, slash=""):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        f"/webhooks/couriers/{courier}{slash}", data=data, content_type="application/json", headers=headers or {}
    )


def _fedex_body(number: str) -> bytes:
    result = {
        "trackingNumberInfo": {"trackingNumber": number, "carrierCode": "FDXE"},
        "latestStatusDetail": {"code": "OD", "derivedCode": "OD", "description": "On FedEx vehicle for delivery"},
        "scanEvents": [
            {
                "date": "2026-07-03T07:50:00-07:00",
                "eventType": "OD",
                "eventDescription": "On FedEx vehicle for delivery",
                "scanLocation": {"city": "SEATTLE", "stateOrProvinceCode": "WA", "countryCode": "US"},
            },
            {"date": "2026-07-01T16:20:00-05:00", "eventType": "PU", "eventDescription": "Picked up"},
        ],
    }
    return json.dumps(
        {"output": {"completeTrackResults": [{"trackingNumber": number, "trackResults": [result]}]}}
    ).encode()


def _fedex_signature(body: bytes, token: str = FEDEX_TOKEN) -> str:
    return base64.b64encode(hmac.new(token.encode(), body, hashlib.sha256).digest()).decode()


@pytest.mark.django_db
def test_a_ups_track_alert_with_our_credential_is_recorded_and_a_replay_changes_nothing(configured, client):
    shipment = booked(courier="ups", number=UPS_DELIVERED["trackingNumber"])
    answer = _post(
        client, "ups", UPS_DELIVERED, {"credential": UPS_CREDENTIAL, "User-Agent": "UPSPubSubTrackingService"}
    )
    assert answer.status_code == 200, answer.content
    assert answer.json() == {
        "courier": "ups",
        "events": 1,
        "new": 1,
        "matched": [shipment.tracking_number],
        "unmatched": [],
    }
    shipment.refresh_from_db()
    assert shipment.status == "delivered"
    assert shipment.delivered_at.isoformat() == "2024-04-23T13:50:04+00:00"  # the GMT time
    assert Order.objects.get(pk=shipment.order_id).status == "delivered"
    event = TrackingEvent.objects.get(shipment=shipment)
    assert (event.code, event.location, event.description) == ("D/FS", "CHARLOTTE, NC, US", "Delivered")
    again = _post(client, "ups", UPS_DELIVERED, {"credential": UPS_CREDENTIAL}, slash="/")
    assert again.status_code == 200 and again.json()["new"] == 0
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 1


@pytest.mark.django_db
def test_a_push_without_the_right_credential_or_signature_is_refused_and_nothing_is_stored(configured, client):
    booked(courier="ups", number=UPS_DELIVERED["trackingNumber"])
    for headers in ({}, {"credential": "guess"}, {"credential": UPS_CREDENTIAL + "x"}):
        answer = _post(client, "ups", UPS_DELIVERED, headers)
        assert answer.status_code == 401 and answer.json()["code"] == "push_unverified", headers
    body = _fedex_body("794953535000")
    for signature in ("", _fedex_signature(body, "another-token"), _fedex_signature(body + b" ")):
        answer = _post(client, "fedex", body, {"fdx-signature": signature})
        assert answer.status_code == 401 and answer.json()["code"] == "push_unverified"
    assert TrackingEvent.objects.count() == 0 and UnmatchedTrackingPush.objects.count() == 0


@pytest.mark.django_db
def test_without_a_configured_credential_every_push_is_refused(settings, client):
    answer = _post(client, "ups", UPS_DELIVERED, {"credential": ""})
    assert answer.status_code == 401


@pytest.mark.django_db
def test_a_signed_fedex_webhook_is_recorded_like_a_poll(configured, client):
    shipment = booked(courier="fedex", number="794953535000")
    body = _fedex_body(shipment.tracking_number)
    answer = _post(client, "fedex", body, {"fdx-signature": _fedex_signature(body)})
    assert answer.status_code == 200, answer.content
    assert answer.json()["new"] == 2
    shipment.refresh_from_db()
    assert shipment.status == "out_for_delivery"
    assert sorted(TrackingEvent.objects.filter(shipment=shipment).values_list("code", flat=True)) == ["OD", "PU"]


@pytest.mark.django_db
def test_events_for_numbers_we_do_not_know_are_kept_and_answered_200(configured, client):
    unknown = {**UPS_DELIVERED, "trackingNumber": " 1ZABCXYZ0112346789"}  # Track Alert's leading space, as documented
    for _ in range(2):
        answer = _post(client, "ups", unknown, {"credential": UPS_CREDENTIAL})
        assert answer.status_code == 200
        assert answer.json()["unmatched"] == ["1ZABCXYZ0112346789"]
    kept = UnmatchedTrackingPush.objects.get()
    assert (kept.courier, kept.tracking_number, kept.code, kept.status) == (
        "ups",
        "1ZABCXYZ0112346789",
        "D/FS",
        "delivered",
    )


@pytest.mark.django_db
def test_a_piece_number_finds_its_shipment(configured, client):
    shipment = booked(courier="ups")
    piece = shipment.parcels.get().tracking_number
    answer = _post(client, "ups", {**UPS_DELIVERED, "trackingNumber": piece}, {"credential": UPS_CREDENTIAL})
    assert answer.json()["matched"] == [piece]
    assert Shipment.objects.get(pk=shipment.pk).status == "delivered"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({"trackingNumber": "1Z1"}).encode(),
        json.dumps({**UPS_DELIVERED, "gmtActivityDate": "x", "localActivityDate": ""}).encode(),
    ],
)
def test_a_verified_but_malformed_push_is_a_400(configured, client, body):
    answer = _post(client, "ups", body, {"credential": UPS_CREDENTIAL})
    assert answer.status_code == 400 and answer.json()["code"] == "push_malformed"


@pytest.mark.django_db
def test_a_malformed_fedex_body_is_a_400(configured, client):
    for body in (b"{}", json.dumps({"output": {"completeTrackResults": [{"trackResults": "x"}]}}).encode()):
        answer = _post(client, "fedex", body, {"fdx-signature": _fedex_signature(body)})
        assert answer.status_code == 400 and answer.json()["code"] == "push_malformed"


@pytest.mark.django_db
@pytest.mark.parametrize("courier", ["dhl_express", "auspost", "nope"])
def test_couriers_that_do_not_push_get_a_404(configured, client, courier):
    answer = _post(client, courier, UPS_DELIVERED, {"credential": UPS_CREDENTIAL})
    assert answer.status_code == 404 and answer.json()["code"] == "push_unsupported"


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("courier", ["ups", "fedex"])
def test_the_sandbox_pushes_signed_to_a_live_server_and_push_and_poll_dedupe(
    courier_sandbox, configured, live_server, courier
):
    point_couriers_at(courier_sandbox, configured)
    configured.COURIERS["UPS"]["WEBHOOK_CREDENTIAL"] = UPS_CREDENTIAL
    configured.COURIERS["FEDEX"]["WEBHOOK_SECRET"] = FEDEX_TOKEN
    for name in NAMES.values():
        configured.COURIERS[name].update(RATE_PER_SECOND=1000.0, BURST=1000)
    forget_courier_state()
    (number,) = sandbox_numbers(courier_sandbox, courier, 1)
    shipment = booked(courier=courier, number=number)
    control = courier_sandbox.url + "/_sandbox"
    requests.post(f"{control}/advance", json={"steps": 2}, timeout=5).raise_for_status()
    secret = UPS_CREDENTIAL if courier == "ups" else FEDEX_TOKEN
    url = f"{live_server.url}/webhooks/couriers/{courier}"
    pushed = requests.post(
        f"{control}/push",
        json={"courier": courier, "tracking_number": number, "url": url, "secret": secret, "all": True},
        timeout=10,
    ).json()["pushed"]
    assert [p["status"] for p in pushed] == ([200, 200, 200] if courier == "ups" else [200])
    assert sum(p["body"]["new"] for p in pushed) == 3
    assert Shipment.objects.get(pk=shipment.pk).status == "in_transit"
    # A wrong secret is refused.
    refused = requests.post(
        f"{control}/push",
        json={"courier": courier, "tracking_number": number, "url": url, "secret": "wrong"},
        timeout=10,
    ).json()["pushed"]
    assert refused[0]["status"] == 401 and refused[0]["body"]["code"] == "push_unverified"
    # Polling the same scans stores nothing new: a pushed scan and a polled one are one event.
    stats = tracking_poll(courier=courier)
    assert (stats.calls, stats.events, stats.changed) == (1, 0, 0)
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 3
    forget_courier_state()
