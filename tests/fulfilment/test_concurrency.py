"""Idempotency and no-oversell claims for webhooks, proven on PostgreSQL with concurrent requests."""

from __future__ import annotations

import datetime as dt
import functools
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from config.redis import redis_client
from fulfilment import services as fulfilment_services
from fulfilment.models import InboxDelivery, Order, OrderLine
from fulfilment.services import dispatch
from inventory import services
from inventory.models import Reservation, StockLevel
from tests.fulfilment.helpers import make_world, sku
from tests.fulfilment.payloads import shopify_body, shopify_headers, shopify_line, shopify_order

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def post_all(requests: list[tuple[bytes, dict]]) -> list[int]:
    """POST every (body, headers) to the Shopify webhook at the same moment, one thread and connection each."""
    barrier = threading.Barrier(len(requests))

    def send(request):
        body, headers = request
        try:
            barrier.wait(timeout=30)
            response = Client().post("/webhooks/shopify", data=body, content_type="application/json", headers=headers)
            return response.status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(send, requests))


def test_same_event_five_times_concurrently_is_one_order_reserved_once():
    make_world()
    body = shopify_body(shopify_order())
    headers = shopify_headers(body, event_id="evt-concurrent")

    assert post_all([(body, headers)] * 5) == [200] * 5

    assert Order.objects.count() == 1 and InboxDelivery.objects.count() == 1
    assert InboxDelivery.objects.get().attempts == 5
    assert Reservation.objects.count() == 2
    assert StockLevel.objects.get(sku__code="ARCH-EU38", warehouse__code="AU").reserved == 2
    call_command("verify_stock")


def test_same_order_under_five_event_ids_concurrently_is_one_order():
    make_world()
    body = shopify_body(shopify_order())
    requests = [(body, shopify_headers(body)) for _ in range(5)]

    assert post_all(requests) == [200] * 5

    assert Order.objects.count() == 1 and InboxDelivery.objects.count() == 5
    assert StockLevel.objects.get(sku__code="ARCH-EU38", warehouse__code="AU").reserved == 2
    call_command("verify_stock")


def test_hot_size_sixty_orders_for_twenty_pairs_then_receipt_fills_oldest_first():
    make_world({"ARCH-EU42": 20}, warehouses=("AU",))
    base = dt.datetime(2024, 5, 2, 9, 0, tzinfo=dt.UTC)
    requests = []
    for i in range(60):
        payload = shopify_order(
            id=7_000_000 + i,
            name=f"#{5000 + i}",
            processed_at=(base + dt.timedelta(minutes=i)).isoformat(),
            line_items=[shopify_line(id=9_000_000 + i, sku="ARCH-EU42", quantity=1, fulfillable_quantity=1)],
        )
        body = shopify_body(payload)
        requests.append((body, shopify_headers(body)))

    assert post_all(requests) == [200] * 60

    statuses = list(Order.objects.values_list("status", flat=True))
    assert (statuses.count("reserved"), statuses.count("backordered")) == (20, 40)
    level = StockLevel.objects.get(sku__code="ARCH-EU42")
    assert (level.on_hand, level.reserved) == (20, 20)
    assert sum(OrderLine.objects.values_list("quantity_backordered", flat=True)) == 40
    call_command("verify_stock")

    backordered = list(Order.objects.filter(status="backordered").order_by("paid_at").values_list("pk", flat=True))
    services.stock_receive(sku=sku("ARCH-EU42"), warehouse=level.warehouse, quantity=25, reference="PO-hot")

    filled = set(Order.objects.filter(pk__in=backordered, status="reserved").values_list("pk", flat=True))
    assert filled == set(backordered[:25])  # the 25 paid first, none of the later ones
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (45, 45)
    assert Order.objects.filter(status="backordered").count() == 15
    call_command("verify_stock")


def test_processing_waits_for_a_duplicate_that_briefly_locks_the_delivery(settings, monkeypatch):
    """A duplicate webhook locks the delivery row to count its attempt; processing must wait, not skip it."""
    import psycopg

    from fulfilment import tasks

    make_world()
    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setattr(tasks.inbox_process_task, "delay", lambda delivery_id: None)
    body = shopify_body(shopify_order())
    response = Client().post(
        "/webhooks/shopify", data=body, content_type="application/json", headers=shopify_headers(body)
    )
    delivery_id = response.json()["delivery"]
    locked, release = threading.Event(), threading.Event()

    def duplicate_holding_the_row():
        with psycopg.connect(**connection.get_connection_params()) as other:
            other.execute("SELECT 1 FROM fulfilment_inboxdelivery WHERE id = %s FOR UPDATE", [delivery_id])
            locked.set()
            release.wait(timeout=10)
            other.commit()

    holder = threading.Thread(target=duplicate_holding_the_row)
    holder.start()
    assert locked.wait(timeout=10)
    threading.Timer(0.3, release.set).start()
    assert tasks.inbox_process_task(delivery_id) == "processed"
    holder.join()
    assert Order.objects.get().status == "reserved"


# --- the drain: several workers taking pending deliveries side by side ------------------------------


def accept_only(settings, monkeypatch) -> list[str]:
    """Webhooks store and kick but nothing processes them until a test calls inbox_drain; returns the kicks."""
    from fulfilment import tasks

    settings.CELERY_TASK_ALWAYS_EAGER = False
    kicks: list[str] = []
    monkeypatch.setattr(tasks.inbox_drain_task, "delay", lambda: kicks.append("drain"))
    if (client := redis_client()) is not None:
        client.delete(fulfilment_services.INBOX_KICK_KEY)
    return kicks


def drain_in_threads(threads: int, until: threading.Event | None = None) -> list[int]:
    """Run ``inbox_drain`` in ``threads`` threads at once (each again and again until ``until`` is set)."""
    barrier = threading.Barrier(threads)

    def drain() -> int:
        try:
            barrier.wait(timeout=30)
            done = fulfilment_services.inbox_drain()
            while until is not None and not until.is_set():
                done += fulfilment_services.inbox_drain()
            return done + fulfilment_services.inbox_drain()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(lambda _: drain(), range(threads)))


def test_three_drains_side_by_side_process_every_delivery_exactly_once(settings, monkeypatch):
    make_world({"ARCH-EU42": 100}, warehouses=("AU",))
    accept_only(settings, monkeypatch)
    for n in range(40):
        body = shopify_body(shopify_order(id=7000 + n, name=f"#D{n}", line_items=[shopify_line(quantity=1)]))
        response = Client().post(
            "/webhooks/shopify", data=body, content_type="application/json", headers=shopify_headers(body)
        )
        assert response.json()["status"] == "pending"

    counts = drain_in_threads(3)

    assert sum(counts) == 40 and all(counts)  # every delivery once, and all three drains took a share
    assert set(InboxDelivery.objects.values_list("status", flat=True)) == {"processed"}
    assert Order.objects.filter(status="reserved").count() == 40
    assert Reservation.objects.count() == 40
    assert StockLevel.objects.get(sku__code="ARCH-EU42").reserved == 40
    call_command("verify_stock")


def test_hot_sku_with_drains_running_while_webhooks_arrive_never_oversells(settings, monkeypatch):
    make_world({"ARCH-EU42": 20}, warehouses=("AU",))
    level = StockLevel.objects.get(sku__code="ARCH-EU42")
    accept_only(settings, monkeypatch)
    requests = []
    for n in range(40):
        body = shopify_body(shopify_order(id=8000 + n, name=f"#H{n}", line_items=[shopify_line(quantity=1)]))
        requests.append((body, shopify_headers(body)))
    posted = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as background:
        drains = background.submit(drain_in_threads, 2, posted)
        try:
            assert post_all(requests) == [200] * 40
        finally:
            posted.set()
        counts = drains.result(timeout=60)

    assert sum(counts) == 40
    statuses = sorted(Order.objects.values_list("status", flat=True))
    assert statuses == ["backordered"] * 20 + ["reserved"] * 20
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (20, 20)
    call_command("verify_stock")


@pytest.mark.redis
def test_a_drain_skips_a_delivery_a_duplicate_holds_and_the_duplicate_kicks_another(settings, monkeypatch):
    """Two halves of one race: a drain skips the row a duplicate has locked; the duplicate then kicks a drain."""
    import psycopg

    make_world()
    kicks = accept_only(settings, monkeypatch)
    body = shopify_body(shopify_order())
    headers = shopify_headers(body, event_id="evt-held")
    post = functools.partial(
        Client().post, "/webhooks/shopify", data=body, content_type="application/json", headers=headers
    )
    delivery_id = post().json()["delivery"]
    assert kicks == ["drain"]

    with psycopg.connect(**connection.get_connection_params()) as other:
        other.execute("SELECT 1 FROM fulfilment_inboxdelivery WHERE id = %s FOR UPDATE", [delivery_id])
        assert fulfilment_services.inbox_drain() == 0  # skipped, not waited for
    assert InboxDelivery.objects.get().status == "pending"

    # The storefront's retry (a duplicate) counts its attempt under the same lock, then kicks a drain:
    # the drain above cleared the kick key, so this one is queued.
    assert post().json() | {"delivery": delivery_id} == {
        "delivery": delivery_id,
        "status": "pending",
        "duplicate": True,
        "order": None,
    }
    assert kicks == ["drain", "drain"]
    assert fulfilment_services.inbox_drain() == 1
    assert InboxDelivery.objects.get().status == "processed" and Order.objects.get().status == "reserved"


@pytest.mark.redis
def test_a_drain_past_its_time_budget_hands_over_to_a_fresh_task(settings, monkeypatch):
    make_world()
    kicks = accept_only(settings, monkeypatch)
    body = shopify_body(shopify_order())
    Client().post("/webhooks/shopify", data=body, content_type="application/json", headers=shopify_headers(body))
    assert kicks == ["drain"]

    # A web process kicks right after this drain cleared the key: the key is set again, and the
    # drain task it queued is not started yet. The hand-over must not trust that key (it may belong
    # to a task that is lost), so it queues a drain regardless.
    real_taken = dispatch.drain_started

    def taken_then_kicked_again():
        real_taken()
        assert redis_client().set(fulfilment_services.INBOX_KICK_KEY, "1", nx=True, ex=30)

    monkeypatch.setattr(dispatch, "drain_started", taken_then_kicked_again)
    assert fulfilment_services.inbox_drain(max_seconds=0) == 0
    assert kicks == ["drain", "drain"]
    monkeypatch.setattr(dispatch, "drain_started", real_taken)
    assert InboxDelivery.objects.get().status == "pending"
    assert fulfilment_services.inbox_drain() == 1
    assert fulfilment_services.inbox_drain(max_seconds=0) == 0
    assert kicks == ["drain", "drain"]  # nothing left: nothing handed over
