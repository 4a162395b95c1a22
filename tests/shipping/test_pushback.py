"""Push-back to Shopify through the outbox, against a fake GraphQL Admin API on a real socket.

Shipments are booked through the real API against the courier sandbox (embedded mode: the booking
and its push run in-process after commit); the fake keeps orders, fulfillment orders, fulfillments
and events like Shopify does, records every operation with its variables and headers, and can be
told to answer slowly, with userErrors, THROTTLED, 429 or 503.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import re
import signal
import threading
import time

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from fulfilment.models import OrderEvent
from outbox import services as outbox
from outbox.models import Message
from shipping.models import Shipment, StorefrontFulfillment
from shipping.services import pushback_status_changed
from tests.shipping.helpers import packed_order, point_couriers_at, world

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "shpat_test_0123456789abcdef"
PATH = "/admin/api/2025-10/graphql.json"
STATUSES_2025_10 = {
    "ATTEMPTED_DELIVERY",
    "CARRIER_PICKED_UP",
    "CONFIRMED",
    "DELAYED",
    "DELIVERED",
    "FAILURE",
    "IN_TRANSIT",
    "LABEL_PRINTED",
    "LABEL_PURCHASED",
    "OUT_FOR_DELIVERY",
    "READY_FOR_PICKUP",
}
COST = {
    "requestedQueryCost": 10,
    "actualQueryCost": 10,
    "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1990, "restoreRate": 100.0},
}


class FakeShopify:
    """Orders with fulfillment orders, fulfillments and events, over GraphQL as Shopify's Admin API answers."""

    def __init__(self, server: HTTPServer):
        self.server = server
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.orders: dict[str, dict] = {}
        self.fulfillments: dict[str, dict] = {}
        self.calls: list[dict] = []
        self.faults: list[dict] = []
        self.ids = itertools.count(9001)

    @property
    def admin_url(self) -> str:
        return self.server.url_for("/admin/api/2025-10")

    def add_order(self, order_id, lines, *, status="OPEN", location="gid://shopify/Location/101", remaining=None):
        """``lines``: (line item id, sku, quantity); one fulfillment order holding them all."""
        items = [
            {
                "id": f"gid://shopify/FulfillmentOrderLineItem/{next(self.ids)}",
                "totalQuantity": quantity,
                "remainingQuantity": quantity if remaining is None else remaining,
                "lineItem": {"id": f"gid://shopify/LineItem/{line_id}", "sku": sku},
            }
            for line_id, sku, quantity in lines
        ]
        fo = {
            "id": f"gid://shopify/FulfillmentOrder/{next(self.ids)}",
            "status": status,
            "requestStatus": "UNSUBMITTED",
            "assignedLocation": {"name": "Warehouse", "location": {"id": location}},
            "lineItems": {"nodes": items},
        }
        self.orders[str(order_id)] = {"id": f"gid://shopify/Order/{order_id}", "fos": [fo], "fulfillments": []}
        return fo

    def fault(self, operation: str, mode: str, times: int = 1, **options) -> None:
        self.faults.append({"operation": operation, "mode": mode, "times": times, **options})

    def ops(self, name: str | None = None) -> list[dict]:
        return [c for c in self.calls if name is None or c["operation"] == name]

    # --- The server side ---------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        body = json.loads(request.get_data())
        query, variables = body["query"], body.get("variables") or {}
        operation = re.match(r"\s*(?:query|mutation)\s+(\w+)", query).group(1)
        with self.lock:
            self.calls.append(
                {
                    "operation": operation,
                    "variables": variables,
                    "query": query,
                    "token": request.headers.get("X-Shopify-Access-Token"),
                    "content_type": request.headers.get("Content-Type"),
                    "keys": sorted(body),
                    "at": time.monotonic(),
                }
            )
            fault = next((f for f in self.faults if f["operation"] in (operation, "*") and f["times"] > 0), None)
            if fault is not None:
                fault["times"] -= 1
        if request.headers.get("X-Shopify-Access-Token") != TOKEN:
            return _json(
                {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}, 401
            )
        if fault is not None and fault["mode"] == "503":
            return Response("Service Unavailable", status=503)
        if fault is not None and fault["mode"] in ("throttled", "429"):
            cost = {
                "requestedQueryCost": fault.get("requested", 1000),
                "actualQueryCost": None,
                "throttleStatus": {
                    "maximumAvailable": 2000.0,
                    "currentlyAvailable": fault.get("available", 0),
                    "restoreRate": fault.get("restore", 100.0),
                },
            }
            throttled = {
                "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                "extensions": {"cost": cost},
            }
            headers = {"Retry-After": str(fault["retry_after"])} if "retry_after" in fault else {}
            return _json(throttled, 429 if fault["mode"] == "429" else 200, headers)
        if fault is not None and fault["mode"] == "user_errors":
            roots = {"fulfillmentCreate": "fulfillment", "fulfillmentEventCreate": "fulfillmentEvent"}
            root = roots.get(operation, "fulfillment")
            errors = [{"field": ["fulfillment", "lineItemsByFulfillmentOrder"], "message": fault["message"]}]
            return _json({"data": {operation: {root: None, "userErrors": errors}}, "extensions": {"cost": COST}})
        with self.lock:
            data = getattr(self, f"op_{operation}")(variables)
        if fault is not None and fault["mode"] == "slow":
            time.sleep(fault["seconds"])  # done, but the answer comes after the client gave up
        return _json({"data": data, "extensions": {"cost": COST}})

    def op_OrderFulfillmentOrders(self, variables):
        order = self._order(variables["id"])
        if order is None:
            return {"order": None}
        nodes = order["fos"]
        return {
            "order": {
                "id": order["id"],
                "name": "#1",
                "displayFulfillmentStatus": "X",
                "fulfillmentOrders": {"nodes": nodes},
            }
        }

    def op_OrderFulfillments(self, variables):
        order = self._order(variables["id"])
        if order is None:
            return {"order": None}
        shown = [{k: f[k] for k in ("id", "status", "trackingInfo")} for f in order["fulfillments"]]
        return {"order": {"id": order["id"], "fulfillments": shown}}

    def op_fulfillmentCreate(self, variables):
        given = variables["fulfillment"]
        fos = {fo["id"]: fo for order in self.orders.values() for fo in order["fos"]}
        errors, taken = [], []
        for i, group in enumerate(given["lineItemsByFulfillmentOrder"]):
            fo = fos.get(group["fulfillmentOrderId"])
            if fo is None or fo["status"] not in ("OPEN", "IN_PROGRESS"):
                errors.append({"field": ["fulfillment", "lineItemsByFulfillmentOrder", str(i)], "message": "Not open"})
                continue
            items = {item["id"]: item for item in fo["lineItems"]["nodes"]}
            for wanted in group.get("fulfillmentOrderLineItems") or []:
                item = items.get(wanted["id"])
                if item is None or wanted["quantity"] > item["remainingQuantity"]:
                    errors.append(
                        {"field": ["fulfillment"], "message": "Invalid fulfillment order line item quantity requested."}
                    )
                else:
                    taken.append((fo, item, wanted["quantity"]))
        if errors:
            return {"fulfillmentCreate": {"fulfillment": None, "userErrors": errors}}
        for fo, item, quantity in taken:
            item["remainingQuantity"] -= quantity
            if all(i["remainingQuantity"] == 0 for i in fo["lineItems"]["nodes"]):
                fo["status"] = "CLOSED"
        order = next(o for o in self.orders.values() if taken[0][0] in o["fos"])
        fulfillment = {
            "id": f"gid://shopify/Fulfillment/{next(self.ids)}",
            "status": "SUCCESS",
            "trackingInfo": [given["trackingInfo"]],
            "notifyCustomer": given.get("notifyCustomer", False),
            "events": [],
            "taken": [(fo, item, quantity) for fo, item, quantity in taken],
        }
        order["fulfillments"].append(fulfillment)
        self.fulfillments[fulfillment["id"]] = fulfillment
        shown = {k: fulfillment[k] for k in ("id", "status", "trackingInfo")}
        return {"fulfillmentCreate": {"fulfillment": shown, "userErrors": []}}

    def op_fulfillmentCancel(self, variables):
        """As Shopify does: the fulfillment CANCELLED, its units open again in a new fulfillment order."""
        found = self.fulfillments.get(variables["id"])
        if found is None:
            errors = [{"field": ["id"], "message": "Fulfillment does not exist."}]
            return {"fulfillmentCancel": {"fulfillment": None, "userErrors": errors}}
        if found["status"] == "CANCELLED":
            errors = [{"field": ["id"], "message": "Fulfillment has already been cancelled."}]
            return {"fulfillmentCancel": {"fulfillment": None, "userErrors": errors}}
        found["status"] = "CANCELLED"
        order = next(o for o in self.orders.values() if found in o["fulfillments"])
        first = found["taken"][0][0]
        items = [
            {
                "id": f"gid://shopify/FulfillmentOrderLineItem/{next(self.ids)}",
                "totalQuantity": quantity,
                "remainingQuantity": quantity,
                "lineItem": dict(item["lineItem"]),
            }
            for _, item, quantity in found["taken"]
        ]
        order["fos"].append(
            {
                "id": f"gid://shopify/FulfillmentOrder/{next(self.ids)}",
                "status": "OPEN",
                "requestStatus": "UNSUBMITTED",
                "assignedLocation": first["assignedLocation"],
                "lineItems": {"nodes": items},
            }
        )
        return {"fulfillmentCancel": {"fulfillment": {"id": found["id"], "status": "CANCELLED"}, "userErrors": []}}

    def op_FulfillmentEvents(self, variables):
        found = self.fulfillments.get(variables["id"])
        return {"fulfillment": None if found is None else {"id": found["id"], "events": {"nodes": found["events"]}}}

    def op_fulfillmentEventCreate(self, variables):
        given = variables["fulfillmentEvent"]
        assert given["status"] in STATUSES_2025_10, given
        found = self.fulfillments.get(given["fulfillmentId"])
        if found is None:
            errors = [{"field": ["fulfillmentEvent", "fulfillmentId"], "message": "Fulfillment does not exist."}]
            return {"fulfillmentEventCreate": {"fulfillmentEvent": None, "userErrors": errors}}
        event = {
            "id": f"gid://shopify/FulfillmentEvent/{next(self.ids)}",
            "status": given["status"],
            "happenedAt": given["happenedAt"],
        }
        found["events"].append(event)
        return {"fulfillmentEventCreate": {"fulfillmentEvent": event, "userErrors": []}}

    def _order(self, order_gid):
        return self.orders.get(order_gid.rsplit("/", 1)[-1])


def _json(doc, status=200, headers=None) -> Response:
    return Response(json.dumps(doc), status=status, headers=headers or {}, content_type="application/json")


@pytest.fixture(scope="module")
def _shopify_server():
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def shopify(_shopify_server, settings):
    fake = FakeShopify(_shopify_server)
    _shopify_server.clear()
    _shopify_server.expect_request(PATH, method="POST").respond_with_handler(fake.handle)
    settings.SHOPIFY_ADMIN_URL, settings.SHOPIFY_ACCESS_TOKEN = fake.admin_url, TOKEN
    yield fake
    _shopify_server.clear()


@pytest.fixture
def floor(courier_sandbox, settings, client, client_for):
    settings.HTTP_READ_TIMEOUT = 2.0
    point_couriers_at(courier_sandbox, settings)
    world()
    call_command("seed_courier_rules", verbosity=0)
    return client, client_for("warehouse", "packer-1")


def ship(floor, n: int, *, lines=(("ARCH-EU42", 2),)) -> Shipment:
    client, packer = floor
    order_id, _ = packed_order(client, packer, n, lines=lines)
    answer = packer.post(f"/api/orders/{order_id}/ship", {"courier": "dhl_express"}, format="json")
    assert answer.status_code == 202 and answer.json()["tracking_number"], answer.content
    return Shipment.objects.select_related("order").get(pk=answer.json()["id"])


def line_ids(n: int, count: int = 1) -> list[int]:
    return [1000 * n + i for i in range(count)]  # what packed_order gives the Shopify line items


def deliver_due() -> None:
    """As if every wait had passed: what is pending is sent now (in id order, groups in order)."""
    for _ in range(10):
        Message.objects.filter(status="pending").update(next_attempt_at=timezone.now())
        if not outbox.outbox_drain_due():
            return


def changed(shipment: Shipment, *events: tuple[str, dt.datetime]) -> None:
    """What tracking does: the status changes of one poll, in one transaction."""
    with transaction.atomic():
        for status, at in events:
            pushback_status_changed(shipment=shipment, status=status, happened_at=at)


AT = dt.datetime(2026, 12, 2, 8, 30, tzinfo=dt.UTC)


def test_a_booked_shipment_is_one_fulfillment_with_its_tracking_and_the_customer_notified(floor, shopify):
    shopify.add_order(1, [(line_ids(1)[0], "ARCH-EU42", 2), (99901, "GIFT-WRAP", 1)])  # we do not ship the wrap
    fo = shopify.orders["1"]["fos"][0]
    shipment = ship(floor, 1)
    number = shipment.tracking_number
    assert [c["operation"] for c in shopify.calls] == ["OrderFulfillmentOrders", "fulfillmentCreate"]
    assert all(c["token"] == TOKEN and c["content_type"] == "application/json" for c in shopify.calls)
    assert all(c["keys"] == ["query", "variables"] for c in shopify.calls)
    read, create = shopify.calls
    assert read["variables"] == {"id": "gid://shopify/Order/1"}
    assert "fulfillmentOrders(first:" in read["query"] and "remainingQuantity" in read["query"]
    assert create["variables"] == {
        "fulfillment": {
            "lineItemsByFulfillmentOrder": [
                {
                    "fulfillmentOrderId": fo["id"],
                    "fulfillmentOrderLineItems": [{"id": fo["lineItems"]["nodes"][0]["id"], "quantity": 2}],
                }
            ],
            "trackingInfo": {
                "number": number,
                "company": "DHL Express",
                "url": f"https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id={number}",
            },
            "notifyCustomer": True,
        }
    }
    assert "fulfillmentCreate(fulfillment: $fulfillment)" in create["query"] and "userErrors" in create["query"]
    [made] = shopify.orders["1"]["fulfillments"]
    record = StorefrontFulfillment.objects.get(shipment=shipment)
    assert (record.channel, record.outcome, record.external_fulfillment_id) == ("shopify", "created", made["id"])
    message = Message.objects.get(kind="shopify_fulfillment")
    assert (message.status, message.attempts, message.group) == ("sent", 1, f"order:{shipment.order_id}:push")
    assert message.key == f"shipment:{shipment.pk}:fulfillment:{number}"
    assert OrderEvent.objects.filter(order=shipment.order, kind="pushback_created").exists()


def test_an_answer_lost_to_the_read_timeout_is_adopted_on_the_retry_not_created_twice(floor, shopify, settings):
    shopify.add_order(1, [(line_ids(1)[0], "ARCH-EU42", 2)])
    settings.HTTP_READ_TIMEOUT = 0.5
    shopify.fault("fulfillmentCreate", "slow", seconds=1.5)  # Shopify creates it; we never hear back
    shipment = ship(floor, 1)
    message = Message.objects.get(kind="shopify_fulfillment")
    assert (message.status, message.attempts) == ("pending", 1) and "in time" in message.last_error
    assert len(shopify.orders["1"]["fulfillments"]) == 1
    time.sleep(1.2)  # the slow answer is over
    deliver_due()
    assert [c["operation"] for c in shopify.calls] == [
        "OrderFulfillmentOrders",
        "fulfillmentCreate",
        "OrderFulfillments",
    ]
    assert shopify.calls[2]["variables"] == {"id": "gid://shopify/Order/1"}
    [made] = shopify.orders["1"]["fulfillments"]
    record = StorefrontFulfillment.objects.get(shipment=shipment)
    assert (record.outcome, record.external_fulfillment_id) == ("adopted", made["id"])
    assert Message.objects.get(pk=message.pk).status == "sent"
    deliver_due()
    assert len(shopify.ops("fulfillmentCreate")) == 1


def test_each_status_is_one_fulfillment_event_in_order_and_a_repoll_is_a_no_op(floor, shopify):
    shopify.add_order(1, [(line_ids(1)[0], "ARCH-EU42", 2)])
    shipment = ship(floor, 1)
    fulfillment_id = StorefrontFulfillment.objects.get(shipment=shipment).external_fulfillment_id
    one_poll = [
        ("picked_up", AT),
        ("in_transit", AT + dt.timedelta(hours=3)),
        ("out_for_delivery", AT + dt.timedelta(days=1)),
        ("delivered", AT + dt.timedelta(days=1, hours=4)),
    ]
    changed(shipment, *one_poll)
    changed(shipment, ("in_transit", AT + dt.timedelta(hours=3)), ("delivered", AT + dt.timedelta(days=1, hours=4)))
    changed(shipment, ("returning_to_sender", AT), ("cancelled", AT), ("booking", AT))  # no Shopify value
    created = [c["variables"]["fulfillmentEvent"] for c in shopify.ops("fulfillmentEventCreate")]
    assert created == [
        {"fulfillmentId": fulfillment_id, "status": "CARRIER_PICKED_UP", "happenedAt": "2026-12-02T08:30:00Z"},
        {"fulfillmentId": fulfillment_id, "status": "IN_TRANSIT", "happenedAt": "2026-12-02T11:30:00Z"},
        {"fulfillmentId": fulfillment_id, "status": "OUT_FOR_DELIVERY", "happenedAt": "2026-12-03T08:30:00Z"},
        {"fulfillmentId": fulfillment_id, "status": "DELIVERED", "happenedAt": "2026-12-03T12:30:00Z"},
    ]
    events = Message.objects.filter(kind="shopify_fulfillment_event").order_by("pk")
    assert [(m.status, m.attempts) for m in events] == [("sent", 1)] * 4
    assert events[1].key == f"shipment:{shipment.pk}:event:in_transit:2026-12-02T11:30:00Z"
    assert {m.group for m in events} == {f"order:{shipment.order_id}:push"}
    assert (
        "fulfillmentEventCreate(fulfillmentEvent: $fulfillmentEvent)"
        in shopify.ops("fulfillmentEventCreate")[0]["query"]
    )


def test_an_event_whose_answer_was_lost_is_found_on_the_retry_not_sent_twice(floor, shopify, settings):
    shopify.add_order(1, [(line_ids(1)[0], "ARCH-EU42", 2)])
    shipment = ship(floor, 1)
    settings.HTTP_READ_TIMEOUT = 0.5
    shopify.fault("fulfillmentEventCreate", "slow", seconds=1.0)
    changed(shipment, ("in_transit", AT))
    assert Message.objects.get(kind="shopify_fulfillment_event").status == "pending"
    time.sleep(0.7)
    deliver_due()
    assert [c["operation"] for c in shopify.calls[2:]] == ["fulfillmentEventCreate", "FulfillmentEvents"]
    [fulfillment] = shopify.fulfillments.values()
    assert [e["status"] for e in fulfillment["events"]] == ["IN_TRANSIT"]
    assert Message.objects.get(kind="shopify_fulfillment_event").status == "sent"


def test_user_errors_are_a_dead_letter_at_once_visible_and_retryable_after_the_fix(floor, shopify, client_for):
    shopify.add_order(1, [(line_ids(1)[0], "ARCH-EU42", 2)])
    shopify.fault("fulfillmentCreate", "user_errors", message="Fulfillment order 6001 is not assigned to this app.")
    shipment = ship(floor, 1)
    changed(shipment, ("in_transit", AT))  # behind the dead fulfillment: it cannot be pushed either
    create = Message.objects.get(kind="shopify_fulfillment")
    event = Message.objects.get(kind="shopify_fulfillment_event")
    assert (create.status, create.attempts) == ("dead", 1)
    assert "userErrors" in create.last_error and "not assigned to this app" in create.last_error
    assert "lineItemsByFulfillmentOrder" in create.last_error
    assert event.status == "dead" and f"message {create.pk}" in event.last_error
    ops = client_for("operations", "ops-1")
    dead = ops.get("/api/outbox/?status=dead").json()
    assert [m["id"] for m in dead["results"]] == [event.pk, create.pk]
    assert "not assigned to this app" in dead["results"][1]["last_error"]
    assert not shopify.fulfillments

    # Fixed in Shopify (the fault is gone): operations retry the fulfillment, then the event.
    assert ops.post(f"/api/outbox/{create.pk}/retry").status_code == 200
    assert ops.post(f"/api/outbox/{event.pk}/retry").status_code == 200
    assert Message.objects.get(pk=create.pk).status == "sent"
    assert Message.objects.get(pk=event.pk).status == "sent"
    [fulfillment] = shopify.fulfillments.values()
    assert StorefrontFulfillment.objects.get(shipment=shipment).external_fulfillment_id == fulfillment["id"]
    assert [e["status"] for e in fulfillment["events"]] == ["IN_TRANSIT"]
    assert len(shopify.ops("fulfillmentCreate")) == 2 and "OrderFulfillments" in [c["operation"] for c in shopify.calls]


@pytest.mark.parametrize(
    ("fault", "wait"),
    [
        ({"mode": "throttled", "requested": 1000, "available": 0, "restore": 100.0}, 10.0),  # (1000 - 0) / 100
        ({"mode": "429", "requested": 500, "available": 100, "restore": 50.0}, 8.0),  # (500 - 100) / 50
        ({"mode": "429", "retry_after": 6}, 6.0),  # Retry-After wins when there is one
    ],
)
def test_throttled_and_429_are_retried_after_the_computed_wait(floor, shopify, fault, wait):
    shopify.add_order(1, [(line_ids(1)[0], "ARCH-EU42", 2)])
    shopify.fault("OrderFulfillmentOrders", **fault)
    before = timezone.now()
    shipment = ship(floor, 1)
    message = Message.objects.get(kind="shopify_fulfillment")
    assert (message.status, message.attempts) == ("pending", 1)
    waited = (message.next_attempt_at - before).total_seconds()
    assert wait - 0.1 <= waited <= wait + 5, waited
    assert not shopify.fulfillments
    deliver_due()
    assert Message.objects.get(pk=message.pk).status == "sent"
    assert StorefrontFulfillment.objects.get(shipment=shipment).outcome == "created"
    assert len(shopify.fulfillments) == 1


def test_a_storefront_down_for_a_while_gets_every_push_afterwards_in_order_per_shipment(floor, shopify):
    for n in (1, 2):
        shopify.add_order(n, [(line_ids(n)[0], "ARCH-EU42", 2)])
    shopify.fault("*", "503", times=10**6)
    shipments = [ship(floor, n) for n in (1, 2)]
    for shipment in shipments:
        changed(shipment, ("in_transit", AT), ("out_for_delivery", AT + dt.timedelta(hours=5)))
    changed(shipments[0], ("delivered", AT + dt.timedelta(hours=9)))
    deliver_due()
    assert Message.objects.filter(status="sent", kind__startswith="shopify").count() == 0
    assert Message.objects.filter(status="pending", kind__startswith="shopify").count() == 7
    assert len(shopify.calls) >= 2 and not shopify.fulfillments
    shopify.faults.clear()  # back up
    deliver_due()
    assert Message.objects.filter(kind__startswith="shopify").exclude(status="sent").count() == 0
    assert len(shopify.fulfillments) == 2
    for shipment, expected in zip(
        shipments, (["IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED"], ["IN_TRANSIT", "OUT_FOR_DELIVERY"]), strict=True
    ):
        record = StorefrontFulfillment.objects.get(shipment=shipment)
        assert [e["status"] for e in shopify.fulfillments[record.external_fulfillment_id]["events"]] == expected
    # Per shipment, Shopify heard of the fulfillment before its events (the events' order is above).
    for shipment in shipments:
        record = StorefrontFulfillment.objects.get(shipment=shipment)
        calls = list(enumerate(shopify.calls))
        created = [
            i
            for i, c in calls
            if c["operation"] == "fulfillmentCreate"
            and c["variables"]["fulfillment"]["trackingInfo"]["number"] == shipment.tracking_number
        ]
        events = [
            i
            for i, c in calls
            if c["operation"] == "fulfillmentEventCreate"
            and c["variables"]["fulfillmentEvent"]["fulfillmentId"] == record.external_fulfillment_id
        ]
        assert len(created) == 1 and events and created[0] < min(events)


def test_a_fulfillment_order_closed_by_hand_in_shopify_is_recorded_not_retried(floor, shopify):
    shopify.add_order(1, [(line_ids(1)[0], "ARCH-EU42", 2)], status="CLOSED", remaining=0)
    shipment = ship(floor, 1)
    changed(shipment, ("in_transit", AT))
    assert [c["operation"] for c in shopify.calls] == ["OrderFulfillmentOrders"]
    record = StorefrontFulfillment.objects.get(shipment=shipment)
    assert (record.outcome, record.external_fulfillment_id) == ("closed", "")
    assert [
        (m.kind, m.status, m.attempts) for m in Message.objects.filter(kind__startswith="shopify").order_by("pk")
    ] == [
        ("shopify_fulfillment", "sent", 1),
        ("shopify_fulfillment_event", "sent", 1),
    ]
    note = OrderEvent.objects.get(order=shipment.order, kind="pushback_closed")
    assert "closed" in note.message


def test_without_shopify_credentials_nothing_is_queued_and_the_timeline_says_so(floor, settings):
    settings.SHOPIFY_ADMIN_URL, settings.SHOPIFY_ACCESS_TOKEN = "", ""
    shipment = ship(floor, 1)
    changed(shipment, ("in_transit", AT))
    assert not Message.objects.filter(kind__startswith="shopify").exists()
    note = OrderEvent.objects.get(order=shipment.order, kind="pushback_skipped")
    assert "SHOPIFY_ADMIN_URL" in note.message
    assert not StorefrontFulfillment.objects.exists()


def test_a_bad_token_is_a_dead_letter_at_once(floor, shopify, settings):
    shopify.add_order(1, [(line_ids(1)[0], "ARCH-EU42", 2)])
    settings.SHOPIFY_ACCESS_TOKEN = "shpat_wrong"
    ship(floor, 1)
    message = Message.objects.get(kind="shopify_fulfillment")
    assert (message.status, message.attempts) == ("dead", 1)
    assert "401" in message.last_error and "Invalid API key" in message.last_error


@pytest.mark.postgres
@pytest.mark.slow
def test_a_worker_killed_mid_push_leaves_one_fulfillment_adopted_by_the_next_try(floor, shopify, monkeypatch):
    """A real process delivering the push is SIGKILLed while Shopify creates the fulfillment."""
    from django.db import connections

    from outbox import dispatch

    shopify.add_order(1, [(line_ids(1)[0], "ARCH-EU42", 2)])
    shopify.fault("fulfillmentCreate", "slow", seconds=3.0)
    kicked = []
    monkeypatch.setattr(dispatch, "message_kick", kicked.append)  # as if the broker had it: nobody sends yet
    client, packer = floor
    order_id, _ = packed_order(client, packer, 1)
    packer.post(f"/api/orders/{order_id}/ship", {"courier": "dhl_express"}, format="json")
    outbox.message_deliver(message_id=Message.objects.get(kind="shipment_book").pk)  # booked here
    push = Message.objects.get(kind="shopify_fulfillment")
    assert (push.status, push.attempts) == ("pending", 0)
    connections.close_all()
    pid = os.fork()
    if pid == 0:  # the worker
        try:
            outbox.message_deliver(message_id=push.pk)
        finally:
            os._exit(0)
    deadline = time.monotonic() + 10
    while not shopify.fulfillments and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)  # mid-push: Shopify has created it, the worker never records it
    os.waitpid(pid, 0)
    assert len(shopify.fulfillments) == 1
    push.refresh_from_db()
    assert (push.status, push.attempts) == ("pending", 1)  # the attempt was counted before the call
    assert not StorefrontFulfillment.objects.exists()
    monkeypatch.undo()
    deliver_due()  # the lease ran out: the sweeper hands it out again
    push.refresh_from_db()
    assert (push.status, push.attempts) == ("sent", 2)
    [made] = shopify.fulfillments
    record = StorefrontFulfillment.objects.get()
    assert (record.outcome, record.external_fulfillment_id) == ("adopted", made)
    assert len(shopify.ops("fulfillmentCreate")) == 1
