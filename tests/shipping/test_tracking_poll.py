"""Polling couriers for tracking against the courier sandbox over real sockets, on the shared Redis: batches per
courier, Retry-After obeyed, one shared rate limit, one run per courier at a time, the beat fan-out, metrics, and
a shipment booked through the API that ends delivered by itself."""

from __future__ import annotations

import io
import threading
import time
from collections import Counter
from urllib.parse import parse_qs

import pytest
import requests
from django.core.management import call_command

from fulfilment.models import Order
from shipping import couriers
from shipping.models import Shipment, TrackingEvent
from shipping.services import dispatch, tracking_poll
from shipping.services.tracking import poll_lock
from tests.shipping.helpers import NAMES, packed_order, point_couriers_at, sandbox_fault, world
from tests.shipping.tracking_helpers import booked, forget_courier_state, sandbox_numbers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]

TRACK_PATHS = {
    "fedex": "/track/v1/trackingnumbers",
    "auspost": "/shipping/v1/track",
    "ups": "/api/track/v1/details/",
    "dhl_express": "/tracking",
}


@pytest.fixture
def sandbox(courier_sandbox, settings):
    settings.HTTP_READ_TIMEOUT = 2.0
    point_couriers_at(courier_sandbox, settings)
    for name in NAMES.values():
        settings.COURIERS[name].update(RATE_PER_SECOND=1000.0, BURST=1000)
    forget_courier_state()
    yield courier_sandbox
    forget_courier_state()


def _advance(sandbox, steps=1, **match):
    requests.post(f"{sandbox.url}/_sandbox/advance", json={"steps": steps, **match}, timeout=5).raise_for_status()


def _track_calls(sandbox, courier):
    calls = requests.get(f"{sandbox.url}/_sandbox/calls", params={"courier": courier}, timeout=5).json()["calls"]
    return [c for c in calls if c["path"].startswith(TRACK_PATHS[courier])]


def _shipments(sandbox, courier, count):
    return [booked(courier=courier, number=n) for n in sandbox_numbers(sandbox, courier, count)]


@pytest.mark.slow
def test_each_courier_is_polled_in_its_own_batch_size(sandbox):
    sizes = {"fedex": (31, [30, 1]), "auspost": (11, [10, 1]), "ups": (3, [1, 1, 1]), "dhl_express": (51, [50, 1])}
    made = {courier: _shipments(sandbox, courier, count) for courier, (count, _) in sizes.items()}
    _advance(sandbox)  # picked up, everywhere
    for courier, (count, batches) in sizes.items():
        stats = tracking_poll(courier=courier)
        assert (stats.shipments, stats.calls, stats.changed, stats.stopped) == (count, len(batches), count, "")
        assert stats.statuses == {"picked_up": count}
        calls = _track_calls(sandbox, courier)
        assert len(calls) == len(batches)
        # Batches are fetched by several threads at once: they arrive in any order.
        if courier == "auspost":
            assert sorted(len(parse_qs(c["query"])["tracking_ids"][0].split(",")) for c in calls) == sorted(batches)
        if courier == "dhl_express":
            assert sorted(len(parse_qs(c["query"])["shipmentTrackingNumber"]) for c in calls) == sorted(batches)
        ids = [s.pk for s in made[courier]]
        assert set(Shipment.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"picked_up"}
        per_shipment = 1 if courier == "dhl_express" else 2  # DHL has no checkpoint before the pickup
        assert TrackingEvent.objects.filter(shipment_id__in=ids).count() == per_shipment * count
    # A second poll finds nothing new: nothing is written.
    again = tracking_poll(courier="fedex")
    assert (again.calls, again.events, again.changed) == (2, 0, 0)
    assert TrackingEvent.objects.filter(courier="fedex").count() == 2 * 31


def test_express_shipments_most_recently_scanned_are_asked_first(sandbox):
    from django.utils import timezone

    from shipping.services.tracking import poll_candidates

    now = timezone.now()
    standard = booked(courier="ups", service="standard", last_event_at=now)
    old_express = booked(courier="ups", service="express", last_event_at=now.replace(year=now.year - 1))
    new_express = booked(courier="ups", service="express", last_event_at=now)
    aged = booked(courier="ups", booked_at=now.replace(year=now.year - 1))  # beyond TRACKING_MAX_AGE_DAYS
    Shipment.objects.filter(pk=booked(courier="ups").pk).update(status="delivered")
    ids = [pk for pk, _, _ in poll_candidates(courier="ups")]
    assert ids == [new_express.pk, old_express.pk, standard.pk]
    assert aged.pk not in ids


def test_a_courier_answering_429_is_not_called_again_before_its_retry_after_and_others_carry_on(sandbox):
    _shipments(sandbox, "fedex", 2)
    ups = _shipments(sandbox, "ups", 1)
    _advance(sandbox)
    sandbox_fault(sandbox, courier="fedex", path="/track", mode="rate_limit", seconds=30, count=1)
    first = tracking_poll(courier="fedex")
    assert (first.stopped, first.retry_after, first.events) == ("429", 30, 0)
    assert len(_track_calls(sandbox, "fedex")) == 1
    # The next run (any worker: the block is in Redis) does not call FedEx before Retry-After.
    second = tracking_poll(courier="fedex")
    assert second.stopped == "rate_limited" and 25 < second.retry_after <= 30
    assert len(_track_calls(sandbox, "fedex")) == 1
    # Another courier is not held back.
    assert tracking_poll(courier="ups").changed == 1
    assert Shipment.objects.get(pk=ups[0].pk).status == "picked_up"


@pytest.mark.slow
def test_two_workers_share_one_rate_limit_and_never_overlap_a_run_for_one_courier(sandbox, settings):
    settings.COURIERS["UPS"].update(RATE_PER_SECOND=10.0, BURST=2)
    shipments = _shipments(sandbox, "ups", 14)
    _advance(sandbox)
    numbers = [s.tracking_number for s in shipments]
    started = time.time()
    results, skipped = [], []
    gate = threading.Barrier(3)

    def poll():
        gate.wait()
        stats = tracking_poll(courier="ups")
        (skipped if stats.skipped else results).append(stats)

    def other_worker():  # another worker's calls to the same courier (a booking's lookup, say)
        gate.wait()
        adapter = couriers.get_courier("ups")
        for number in numbers[:8]:
            adapter.track([number])

    threads = [threading.Thread(target=poll), threading.Thread(target=poll), threading.Thread(target=other_worker)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 1 and len(skipped) == 1 and skipped[0].skipped == "locked"
    assert results[0].changed == 14
    calls = [c["time"] for c in requests.get(f"{sandbox.url}/_sandbox/calls", timeout=5).json()["calls"]]
    calls = sorted(t for t in calls if t >= started)
    assert len(calls) >= 22  # 14 + 8 tracking calls (+ the token)
    # Over any second, at most rate x 1 s + burst calls (+1 for the clock read after a token is taken).
    worst = max(sum(1 for t in calls if start <= t < start + 1.0) for start in calls)
    assert worst <= 10 + 2 + 1, worst
    assert calls[-1] - calls[0] >= (len(calls) - 2 - 1) / 10 * 0.9


def test_a_run_lock_that_expired_is_taken_again(sandbox, settings):
    from config.redis import redis_client

    _shipments(sandbox, "ups", 1)
    with poll_lock("ups") as held:
        assert held is not None
        assert tracking_poll(courier="ups").skipped == "locked"
    # A run that died leaves its lock to expire, then the next run goes ahead.
    redis_client().set("shipping:tracking-poll:ups", "dead-run", px=200)
    assert tracking_poll(courier="ups").skipped == "locked"
    time.sleep(0.3)
    assert tracking_poll(courier="ups").skipped == ""


def test_beat_fans_out_one_task_per_configured_courier_on_its_own_queue(sandbox, settings, monkeypatch):
    from shipping import tasks

    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.TRACKING_QUEUE_PREFIX = "tracking"
    point_couriers_at(sandbox, settings, only=("fedex", "ups"))
    sent = []
    monkeypatch.setattr(tasks.tracking_poll_task, "apply_async", lambda args, **options: sent.append((args, options)))
    assert tasks.tracking_poll_all_task() == ["ups", "fedex"]  # the most calls per shipment first
    assert [(args, o["queue"], o["expires"]) for args, o in sent] == [
        (("ups",), "tracking.ups", settings.TRACKING_POLL_EVERY_SECONDS),
        (("fedex",), "tracking.fedex", settings.TRACKING_POLL_EVERY_SECONDS),
    ]
    assert settings.CELERY_BEAT_SCHEDULE["tracking-poll"]["task"] == "shipping.tasks.tracking_poll_all_task"
    settings.TRACKING_QUEUE_PREFIX = ""
    assert dispatch.tracking_queue("ups") is None


def test_metrics_show_courier_calls_tracking_events_and_the_outbox(sandbox, api_client):
    from outbox.models import Message

    _shipments(sandbox, "fedex", 2)
    _advance(sandbox)
    tracking_poll(courier="fedex")
    Message.objects.create(kind="webhook", destination="1", key="k-dead", status="dead", dead_at="2026-01-01T00:00Z")
    Message.objects.create(kind="shipment_book", key="k-pending")
    text = api_client.get("/metrics").content.decode()
    assert 'insoles_courier_request_seconds_count{courier="fedex",outcome="ok"}' in text
    assert 'insoles_tracking_events{courier="fedex",status="picked_up"} 2.0' in text
    assert 'insoles_shipments{courier="fedex",status="picked_up"} 2.0' in text
    assert 'insoles_outbox_messages{kind="webhook",status="dead"} 1.0' in text
    assert 'insoles_outbox_messages{kind="shipment_book",status="pending"} 1.0' in text
    assert 'insoles_outbox_oldest_pending_seconds{kind="shipment_book"}' in text
    sandbox_fault(sandbox, courier="fedex", path="/track", mode="error", status=503, count=1)
    assert tracking_poll(courier="fedex").stopped == "503"
    text = api_client.get("/metrics").content.decode()
    assert 'insoles_courier_request_errors_total{courier="fedex",outcome="server_error"}' in text


@pytest.mark.slow
def test_a_shipment_booked_in_the_sandbox_ends_delivered_with_its_order(sandbox, settings, client, client_for):
    from django.core.management import call_command as run

    world()
    run("seed_courier_rules", verbosity=0)
    packer = client_for("warehouse", "packer-1")
    order_id, _ = packed_order(client, packer, 1, courier_route="fedex")
    shipped = packer.post(f"/api/orders/{order_id}/ship", {"courier": "fedex"}, format="json").json()
    assert shipped["status"] == "label_created"
    _advance(sandbox, steps=4, tracking_number=shipped["tracking_number"])
    out = io.StringIO()
    call_command("track_shipments", "--courier", "fedex", stdout=out)
    assert "fedex: 1 shipments, 1 calls, 5 new events, 1 changed" in out.getvalue()
    shipment = Shipment.objects.get(pk=shipped["id"])
    assert shipment.status == "delivered" and shipment.delivered_at is not None
    assert Order.objects.get(pk=order_id).status == "delivered"
    codes = Counter(TrackingEvent.objects.filter(shipment=shipment).values_list("status", flat=True))
    assert codes == Counter(["label_created", "picked_up", "in_transit", "out_for_delivery", "delivered"])
    answer = packer.get(f"/api/shipments/{shipment.pk}/").json()
    assert [e["code"] for e in answer["events"]] == ["OC", "PU", "AR", "OD", "DL"]
    out = io.StringIO()
    call_command("track_shipments", stdout=out)  # all couriers; the delivered one is no longer asked
    assert "fedex: 0 shipments" in out.getvalue()
