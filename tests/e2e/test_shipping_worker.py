"""Shipping with real Celery workers: POST /ship enqueues the booking to Redis and a ``celery worker``
subprocess books it with the courier sandbox over HTTP, on the test's PostgreSQL database.

What in-process (eager) tests cannot show: the task really crosses the broker; a worker SIGKILLed inside
the courier call leaves an ambiguous booking that the redelivered task (visibility timeout) or the
sweeper (after the outbox lease) adopts by our reference instead of booking twice; a broker outage at
commit loses nothing; 5xx and 429 are retried by countdown tasks, the 429 not before its Retry-After.
"""

from __future__ import annotations

import logging
import re
import time

import pytest
import requests
from django.core.management import call_command
from django.utils import timezone

from fulfilment.models import Order
from inventory.models import StockMovement
from outbox import services as outbox
from outbox.models import Message
from shipping.models import Shipment
from tests.e2e.workers import LEASE_SECONDS, VISIBILITY_TIMEOUT, wait_until
from tests.labels.helpers import decode_pages
from tests.shipping.helpers import packed_order, point_couriers_at, sandbox_fault, sandbox_shipments, world

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

# The booking call of each courier at the sandbox (method, path relative to the courier's base URL).
BOOKING = {
    "dhl_express": ("POST", "/shipments"),
    "auspost": ("POST", "/shipping/v1/shipments"),
    "fedex": ("POST", "/ship/v1/shipments"),
    "ups": ("POST", "/api/shipments/v2409/ship"),
}


@pytest.fixture
def floor(workers, courier_sandbox, settings, client, client_for):
    """Couriers pointed at the sandbox (web side), the catalogue and rules, a warehouse client."""
    point_couriers_at(courier_sandbox, settings)
    world()
    call_command("seed_courier_rules", verbosity=0)
    return client, client_for("warehouse", "packer-1")


def _calls(sandbox, courier: str) -> list[dict]:
    answer = requests.get(f"{sandbox.url}/_sandbox/calls", params={"courier": courier}, timeout=5)
    answer.raise_for_status()
    return answer.json()["calls"]


def _bookings(sandbox, courier: str) -> list[dict]:
    method, path = BOOKING[courier]
    return [c for c in _calls(sandbox, courier) if (c["method"], c["path"]) == (method, path)]


def _live(sandbox, courier: str) -> list[dict]:
    return [s for s in sandbox_shipments(sandbox, courier) if not s.get("voided")]


def _ship(packer, order_id: int, courier: str) -> dict:
    answer = packer.post(f"/api/orders/{order_id}/ship", {"courier": courier, "service": "express"}, format="json")
    assert answer.status_code == 202, answer.content
    shipment = answer.json()
    # A broker: the answer comes before the booking.
    assert shipment["status"] == "booking" and not shipment["tracking_number"], shipment
    return shipment


def _booked(packer, shipment_id: int, workers, *, timeout: float = 15) -> dict:
    def done():
        shipment = packer.get(f"/api/shipments/{shipment_id}/").json()
        return shipment if shipment["status"] != "booking" else None

    return wait_until(done, timeout=timeout, what=f"shipment {shipment_id} booked", context=workers.logs)


def _assert_booked_once(packer, sandbox, workers, *, order_id: int, shipment: dict, courier: str) -> None:
    """One live booking at the courier, ours, with its number on the one label; the stock left once."""
    assert shipment["status"] == "label_created", shipment
    [at_courier] = _live(sandbox, courier)
    assert shipment["tracking_number"] == at_courier["tracking_number"]
    assert f"SHP-{shipment['id']}" in at_courier["references"]
    assert Shipment.objects.filter(order_id=order_id).exclude(status="cancelled").count() == 1
    pdf = packer.get(f"/api/shipments/{shipment['id']}/label.pdf")
    assert pdf.status_code == 200, pdf.content
    assert [text for _, text in decode_pages(pdf.content)[0]] == [shipment["tracking_number"]]
    assert Order.objects.get(pk=order_id).status == "shipped"
    shipped = StockMovement.objects.filter(kind="shipment", reference=f"order:{order_id}")
    assert [m.quantity for m in shipped] == [-2]
    call_command("verify_stock", verbosity=0)  # exits non-zero (SystemExit) on any mismatch
    [message] = Message.objects.filter(kind="shipment_book")
    assert message.status == "sent", (message.status, message.last_error, workers.logs())


def test_a_real_worker_books_the_shipment_and_its_label_scans_to_the_sandboxs_number(
    floor, workers, courier_sandbox, on_broker
):
    client, packer = floor
    order_id, _ = packed_order(client, packer, 1, courier_route="ups")
    on_broker()
    workers.start()

    shipment = _ship(packer, order_id, "ups")
    booked = _booked(packer, shipment["id"], workers)

    _assert_booked_once(packer, courier_sandbox, workers, order_id=order_id, shipment=booked, courier="ups")
    assert len(_bookings(courier_sandbox, "ups")) == 1
    assert Message.objects.get(kind="shipment_book").attempts == 1


@pytest.mark.parametrize(
    ("courier", "resend"),
    [
        ("fedex", "broker"),  # the task is redelivered once the visibility timeout has passed
        ("auspost", "sweeper"),  # the beat sweeper re-sends once the outbox lease has run out
    ],
)
def test_a_worker_killed_inside_the_booking_call_leaves_one_booking_adopted_by_reference(
    floor, workers, courier_sandbox, on_broker, broker, courier, resend
):
    client, packer = floor
    order_id, _ = packed_order(client, packer, 1, courier_route=courier)
    on_broker()
    first = workers.start()
    path = BOOKING[courier][1]
    # The sandbox sleeps 3 s inside the booking call, then books: the worker is killed while it waits.
    sandbox_fault(courier_sandbox, courier=courier, path=path, mode="latency", seconds=3, count=1)

    shipment = _ship(packer, order_id, courier)

    def in_flight():
        return [c for c in _bookings(courier_sandbox, courier) if c.get("fault") == "latency" and "status" not in c]

    wait_until(in_flight, timeout=10, what="the booking call in flight", context=workers.logs)
    first.kill()
    # The sandbox completes the booking server-side although nobody hears the answer: the ambiguous case.
    wait_until(
        lambda: [c for c in _bookings(courier_sandbox, courier) if "status" in c],
        timeout=10,
        what="the sandbox finishes the booking",
    )
    assert len(_live(courier_sandbox, courier)) == 1
    assert Shipment.objects.get(pk=shipment["id"]).status == "booking"
    message = Message.objects.get(kind="shipment_book")
    assert (message.status, message.attempts) == ("pending", 1)  # the attempt was counted before the call
    assert broker.queued()[1] == 1  # delivered to the killed worker, never acknowledged

    if resend == "broker":
        # A worker starting to consume restores tasks unacknowledged for longer than the visibility timeout.
        wait_until(
            lambda: (broker.oldest_unacked_age() or 0) > VISIBILITY_TIMEOUT + 0.5,
            timeout=VISIBILITY_TIMEOUT + 5,
            what="the killed worker's task outlives the visibility timeout",
        )
        workers.start()
    else:
        workers.start()
        wait_until(
            lambda: Message.objects.get(pk=message.pk).next_attempt_at <= timezone.now(),
            timeout=LEASE_SECONDS + 2,
            what="the killed attempt's lease runs out",
        )
        assert outbox.outbox_sweep(older_than_seconds=0) == 1

    booked = _booked(packer, shipment["id"], workers)
    _assert_booked_once(packer, courier_sandbox, workers, order_id=order_id, shipment=booked, courier=courier)
    assert len(_bookings(courier_sandbox, courier)) == 1  # adopted, not booked again
    assert Message.objects.get(pk=message.pk).attempts == 2
    assert "found by reference" in workers.logs()


def test_the_broker_down_while_shipping_loses_nothing_and_the_sweeper_books_it_once(
    floor, workers, courier_sandbox, on_broker, broker, caplog
):
    client, packer = floor
    order_id, _ = packed_order(client, packer, 1, courier_route="dhl_express")
    on_broker()
    workers.start()

    broker.stop()
    with caplog.at_level(logging.WARNING, logger="outbox"):
        started = time.monotonic()
        shipment = _ship(packer, order_id, "dhl_express")  # still 202: the outbox row is committed
        seconds = time.monotonic() - started
    assert any("broker unreachable" in r.getMessage() for r in caplog.records), caplog.text
    # One connection attempt, not kombu's retries for broker_connection_timeout (6 s) inside the request.
    assert seconds < 1.5, seconds
    message = Message.objects.get(kind="shipment_book")
    assert (message.status, message.attempts) == ("pending", 0)

    broker.start()  # back, and empty: the task was never queued
    assert broker.queued() == (0, 0)

    def swept_and_queued():
        # What beat does every 30 s; a publish on a connection the outage broke fails once and is logged.
        outbox.outbox_sweep(older_than_seconds=0)
        waiting, delivered = broker.queued()
        return waiting + delivered or Message.objects.get(pk=message.pk).attempts

    wait_until(swept_and_queued, timeout=10, every=0.5, what="the sweeper queues the booking")
    booked = _booked(packer, shipment["id"], workers, timeout=20)
    _assert_booked_once(packer, courier_sandbox, workers, order_id=order_id, shipment=booked, courier="dhl_express")
    assert len(_bookings(courier_sandbox, "dhl_express")) == 1


@pytest.mark.parametrize(
    ("courier", "fault"),
    [
        ("dhl_express", {"mode": "error", "status": 503}),
        ("fedex", {"mode": "rate_limit", "seconds": 3}),
    ],
)
def test_a_5xx_or_a_429_is_retried_by_a_countdown_task_and_books_once(
    floor, workers, courier_sandbox, on_broker, courier, fault
):
    client, packer = floor
    order_id, _ = packed_order(client, packer, 1, courier_route=courier)
    on_broker()
    # A countdown must stay below the visibility timeout (outbox.dispatch.message_retry_later keeps 60 s
    # clear of it), so this worker's broker window is wider than the redelivery tests'.
    workers.start(CELERY_VISIBILITY_TIMEOUT="120")
    sandbox_fault(courier_sandbox, courier=courier, path=BOOKING[courier][1], count=1, **fault)

    shipment = _ship(packer, order_id, courier)
    booked = _booked(packer, shipment["id"], workers)

    _assert_booked_once(packer, courier_sandbox, workers, order_id=order_id, shipment=booked, courier=courier)
    refused, accepted = _bookings(courier_sandbox, courier)
    assert refused["status"] == (429 if fault["mode"] == "rate_limit" else 503)
    assert accepted["status"] in (200, 201)
    if fault["mode"] == "rate_limit":
        assert accepted["time"] - refused["time"] >= fault["seconds"]  # not before Retry-After
    assert Message.objects.get(kind="shipment_book").attempts == 2
    # The retry is a second task (a countdown the worker queued), not a redelivery of the first.
    received = re.findall(r"Task outbox\.tasks\.outbox_deliver_task\[([0-9a-f-]+)\] received", workers.logs())
    assert len(received) == len(set(received)) == 2, workers.logs()
