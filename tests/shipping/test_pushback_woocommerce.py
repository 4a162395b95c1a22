"""Push-back to WooCommerce (REST v3): a tracking note for the customer, then ``completed``, once.

A WooCommerce order comes in through the signed webhook, is packed and shipped through the API
against the courier sandbox; a fake WooCommerce on a real socket keeps notes and the order's status.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import threading

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from pytest_httpserver import HTTPServer, URIPattern
from werkzeug import Request, Response

from fulfilment.models import OrderEvent
from outbox import services as outbox
from outbox.models import Message
from shipping.models import Shipment, StorefrontFulfillment
from shipping.services import pushback_status_changed
from tests.fulfilment.helpers import post_woo
from tests.fulfilment.payloads import woo_line, woo_order
from tests.shipping.helpers import point_couriers_at, world

pytestmark = pytest.mark.django_db(transaction=True)

KEY, SECRET = "ck_test_push_0123456789", "cs_test_push_9876543210"


class FakeWooCommerce:
    def __init__(self):
        self.lock = threading.Lock()
        self.orders: dict[str, dict] = {}
        self.calls: list[dict] = []
        self.faults: list[dict] = []
        self.ids = itertools.count(281)

    def handle(self, request: Request) -> Response:
        body = json.loads(request.get_data() or b"null")
        with self.lock:
            self.calls.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "body": body,
                    "auth": request.headers.get("Authorization"),
                }
            )
            fault = next((f for f in self.faults if f["method"] == request.method and f["times"] > 0), None)
            if fault is not None:
                fault["times"] -= 1
                return Response("Service Unavailable", status=fault["status"])
        if request.headers.get("Authorization") != "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode():
            return _json({"code": "woocommerce_rest_authentication_error", "message": "Consumer key is invalid."}, 401)
        parts = request.path.removeprefix("/wp-json/wc/v3/orders/").split("/")
        order = self.orders.get(parts[0])
        if order is None:
            return _json({"code": "woocommerce_rest_order_invalid_id", "message": "Invalid order ID."}, 404)
        with self.lock:
            if parts[1:] == ["notes"] and request.method == "POST":
                note = {
                    "id": next(self.ids),
                    "author": "system",
                    "note": body["note"],
                    "customer_note": body["customer_note"],
                }
                order["notes"].append(note)
                return _json(note, 201)
            if parts[1:] == ["notes"]:
                return _json(order["notes"])
            if request.method == "PUT":
                order["status"] = body["status"]
            return _json({"id": int(parts[0]), "status": order["status"]})


class OrdersPath(URIPattern):
    def match(self, uri: str) -> bool:
        return uri.startswith("/wp-json/wc/v3/orders/")


def _json(doc, status=200) -> Response:
    return Response(json.dumps(doc), status=status, content_type="application/json")


@pytest.fixture
def woo(settings):
    fake = FakeWooCommerce()
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    server.expect_request(OrdersPath()).respond_with_handler(fake.handle)
    settings.WOOCOMMERCE_CONSUMER_KEY, settings.WOOCOMMERCE_CONSUMER_SECRET = KEY, SECRET
    # The shop's URL is also the webhooks' X-WC-Webhook-Source: the orders must stay this shop's.
    settings.WOOCOMMERCE_URL = server.url_for("/")
    fake.url = server.url_for("/")
    yield fake
    server.clear()
    server.stop()


@pytest.fixture
def shipped(courier_sandbox, settings, client, client_for, woo):
    settings.HTTP_READ_TIMEOUT = 2.0
    point_couriers_at(courier_sandbox, settings)
    world()
    call_command("seed_courier_rules", verbosity=0)
    packer = client_for("warehouse", "packer-1")

    def ship(order_id: int = 727) -> Shipment:
        woo.orders[str(order_id)] = {"status": "processing", "notes": []}
        payload = woo_order(
            id=order_id, number=str(order_id), line_items=[woo_line(id=311, sku="ARCH-EU42", quantity=2)]
        )
        answer = post_woo(client, payload, source=woo.url).json()
        order = answer["order"]
        assert order["status"] == "reserved", answer
        assert packer.post("/api/pick-waves/", {"warehouse": order["warehouse"]}, format="json").status_code == 201
        packed = packer.post(
            f"/api/orders/{order['id']}/pack",
            {"items": [{"sku": "ARCH-EU42", "quantity": 2}], "weight_g": 420, "dimensions_cm": [30, 12, 4]},
            format="json",
        )
        assert packed.status_code == 200, packed.content
        shipment = packer.post(f"/api/orders/{order['id']}/ship", {"courier": "dhl_express"}, format="json").json()
        assert shipment["tracking_number"], shipment
        return Shipment.objects.select_related("order").get(pk=shipment["id"])

    return ship


def deliver_due() -> None:
    for _ in range(10):
        Message.objects.filter(status="pending").update(next_attempt_at=timezone.now())
        if not outbox.outbox_drain_due():
            return


def test_a_shipped_order_gets_one_customer_note_with_tracking_then_completed(shipped, woo):
    shipment = shipped()
    number = shipment.tracking_number
    url = f"https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id={number}"
    auth = "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    assert [(c["method"], c["path"], c["body"], c["auth"]) for c in woo.calls] == [
        (
            "POST",
            "/wp-json/wc/v3/orders/727/notes",
            {
                "note": f"Your order has shipped with DHL Express. Tracking number {number}: {url}",
                "customer_note": True,
            },
            auth,
        ),
        ("PUT", "/wp-json/wc/v3/orders/727", {"status": "completed"}, auth),
    ]
    assert woo.orders["727"]["status"] == "completed"
    record = StorefrontFulfillment.objects.get(shipment=shipment)
    assert (record.channel, record.outcome) == ("woocommerce", "completed")
    message = Message.objects.get(kind="woocommerce_complete")
    assert (message.status, message.attempts, message.key) == ("sent", 1, f"shipment:{shipment.pk}:complete:{number}")
    # Tracking statuses are not pushed to WooCommerce (one note, at shipping).
    with transaction.atomic():
        for status in ("in_transit", "delivered"):
            pushback_status_changed(shipment=shipment, status=status, happened_at=dt.datetime.now(dt.UTC))
    deliver_due()
    assert (
        len(woo.calls) == 2
        and Message.objects.count()
        == Message.objects.filter(kind__in=["shipment_book", "woocommerce_complete"]).count()
    )


def test_a_retry_after_the_note_reads_notes_and_status_and_does_neither_twice(shipped, woo):
    woo.faults.append({"method": "PUT", "status": 503, "times": 1})
    shipment = shipped()
    message = Message.objects.get(kind="woocommerce_complete")
    assert (message.status, message.attempts) == ("pending", 1) and "503" in message.last_error
    deliver_due()
    assert [(c["method"], c["path"]) for c in woo.calls] == [
        ("POST", "/wp-json/wc/v3/orders/727/notes"),
        ("PUT", "/wp-json/wc/v3/orders/727"),  # 503
        ("GET", "/wp-json/wc/v3/orders/727/notes"),  # ours is there: not written again
        ("GET", "/wp-json/wc/v3/orders/727"),
        ("PUT", "/wp-json/wc/v3/orders/727"),
    ]
    assert len(woo.orders["727"]["notes"]) == 1 and woo.orders["727"]["status"] == "completed"
    assert Message.objects.get(pk=message.pk).status == "sent"
    assert StorefrontFulfillment.objects.get(shipment=shipment).outcome == "completed"


def test_without_a_woocommerce_key_nothing_is_queued_and_the_timeline_says_so(shipped, woo, settings):
    settings.WOOCOMMERCE_CONSUMER_KEY = ""
    shipment = shipped()
    assert woo.calls == []
    assert not Message.objects.filter(kind="woocommerce_complete").exists()
    assert "WOOCOMMERCE_CONSUMER_KEY" in OrderEvent.objects.get(order=shipment.order, kind="pushback_skipped").message
