"""The inbox: failures and replay, the kick and the drain, the broker down, outbound calls and transactions."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from urllib.parse import urlsplit

import psycopg
import pytest
from django.core.management import call_command
from django.db import OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.redis import redis_client
from fulfilment import services as fulfilment_services
from fulfilment.models import InboxDelivery, Order
from fulfilment.services import allocation, dispatch, order_sync
from inventory import services as inventory_services
from inventory.models import Reservation, StockLevel
from tests.fulfilment.helpers import post_shopify
from tests.fulfilment.payloads import (
    shopify_address,
    shopify_body,
    shopify_headers,
    shopify_order,
)

# Transactional: a webhook is processed after its acceptance commits (on_commit), as in production.
pytestmark = pytest.mark.django_db(transaction=True)


# --- failures, replay, outbound calls, transactions -------------------------------------------------


def test_processing_failure_keeps_the_delivery_for_replay(client, world, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("allocation bug")

    monkeypatch.setattr(allocation, "plan", broken)
    response = post_shopify(client)
    assert response.status_code == 200 and response.json()["status"] == "failed"
    delivery = InboxDelivery.objects.get()
    assert delivery.status == "failed" and "allocation bug" in delivery.error and delivery.failures == 1
    # The paid order is not lost: it is kept on hold (no lines, nothing reserved), the delivery linked.
    held = Order.objects.get()
    assert (held.status, held.hold_reason, delivery.order_id) == ("on_hold", "processing_failed", held.pk)
    assert "allocation bug" in held.hold_detail and not held.lines.exists()
    assert not Reservation.objects.exists()

    monkeypatch.undo()
    call_command("replay_inbox")
    delivery.refresh_from_db()
    assert delivery.status == "processed" and delivery.order_id == held.pk
    held.refresh_from_db()
    assert held.status == "reserved" and held.lines.count() == 2 and Order.objects.count() == 1
    call_command("verify_stock")


def test_storefront_retry_of_a_failed_delivery_processes_it(client, world, monkeypatch):
    body = shopify_body(shopify_order())
    headers = shopify_headers(body, event_id="evt-retry")
    monkeypatch.setattr(allocation, "plan", lambda *a, **kw: (_ for _ in ()).throw(RuntimeError("boom")))
    client.post("/webhooks/shopify", data=body, content_type="application/json", headers=headers)
    monkeypatch.undo()
    retry = client.post("/webhooks/shopify", data=body, content_type="application/json", headers=headers).json()
    assert retry["status"] == "processed" and retry["order"]["status"] == "reserved"
    assert InboxDelivery.objects.get().attempts == 2


@pytest.mark.postgres
@pytest.mark.redis
def test_webhook_accepts_in_one_transaction_without_outbound_calls_then_a_worker_processes_it(
    client, world, monkeypatch, settings
):
    """With a real broker the request only stores the delivery and kicks a drain after commit; the drain does the rest."""
    from fulfilment import tasks

    settings.CELERY_TASK_ALWAYS_EAGER = False
    redis_client().delete(fulfilment_services.INBOX_KICK_KEY)
    connection.ensure_connection()
    connects, commits, kicked = [], [], []
    real_connect, real_commit = socket.socket.connect, connection.commit

    def spy_connect(sock, address):
        connects.append(address)
        return real_connect(sock, address)

    def spy_commit():
        commits.append(1)
        return real_commit()

    monkeypatch.setattr(socket.socket, "connect", spy_connect)
    monkeypatch.setattr(connection, "commit", spy_commit)

    def queue():
        # Kicked only once the delivery is committed: another connection can already see it.
        with psycopg.connect(**connection.get_connection_params()) as other:
            rows = other.execute("SELECT status FROM fulfilment_inboxdelivery ORDER BY id").fetchall()
        kicked.append(rows)

    monkeypatch.setattr(tasks.inbox_drain_task, "delay", queue)
    with CaptureQueriesContext(connection) as queries:
        response = post_shopify(client)

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["order"]) == ("pending", None)
    # No outbound call but the kick to Redis (libpq, used inside queue(), does not go through Python sockets).
    redis_port = urlsplit(settings.REDIS_URL).port or 6379
    assert all(port == redis_port for _host, port in connects)
    # One statement in autocommit: the INSERT of the delivery is the whole transaction.
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["INSERT"] and commits == []
    assert kicked == [[("pending",)]]
    assert not Order.objects.exists() and not Reservation.objects.exists()

    # A second order while that drain is queued and not started: no second task.
    assert post_shopify(client, shopify_order(id=5550001)).json()["status"] == "pending"
    assert len(kicked) == 1

    assert tasks.inbox_drain_task() == 2
    assert tasks.inbox_drain_task() == 0  # a redelivered task does nothing twice
    assert sorted(Order.objects.values_list("status", flat=True)) == ["reserved", "reserved"]
    assert Reservation.objects.count() == 4  # two lines each
    # The drain cleared the kick: the next delivery queues a new one.
    post_shopify(client, shopify_order(id=5550002))
    assert len(kicked) == 2


@pytest.mark.postgres
def test_processing_a_new_order_is_one_insert_each_and_the_reservation_last(
    client, world, monkeypatch, settings, django_assert_max_num_queries
):
    """Allocation is planned in memory: order, lines and timeline are one INSERT each, nothing is updated after."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setattr(dispatch, "drain_kick", lambda **kwargs: True)
    delivery_id = post_shopify(client).json()["delivery"]

    with django_assert_max_num_queries(14) as queries:
        result = fulfilment_services.inbox_process(delivery_id=delivery_id)

    assert result.order.status == "reserved" and Reservation.objects.count() == 2
    kinds = [statement_kind(q["sql"]) for q in queries]
    assert [k for k in kinds if k.startswith(("INSERT", "UPDATE", "DELETE"))] == [
        "INSERT fulfilment_order",
        "INSERT fulfilment_orderline",
        "INSERT fulfilment_orderevent",
        "UPDATE fulfilment_inboxdelivery",
    ]
    # The stock UPDATEs (inside inventory_reserve) come last: only the savepoint's release and COMMIT follow.
    assert kinds[-3:] == ["SELECT inventory_reserve", "RELEASE", "COMMIT"]


def statement_kind(sql: str) -> str:
    words = sql.replace('"', "").split()
    if words[0] in ("INSERT", "DELETE"):
        return f"{words[0]} {words[2]}"
    if words[0] == "UPDATE":
        return f"UPDATE {words[1]}"
    if "inventory_reserve(" in sql:
        return "SELECT inventory_reserve"
    return words[0]


@pytest.mark.redis
def test_broker_outage_loses_nothing_the_sweeper_drains(client, world, monkeypatch, settings):
    from kombu.exceptions import OperationalError

    from fulfilment import tasks

    settings.CELERY_TASK_ALWAYS_EAGER = False
    redis_client().delete(fulfilment_services.INBOX_KICK_KEY)
    dispatch.kick_pause_clear()
    kicks = []

    def broker_down():
        kicks.append("refused")
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.inbox_drain_task, "delay", broker_down)
    for n in range(2):
        response = post_shopify(client, shopify_order(id=5560000 + n))
        assert response.status_code == 200 and response.json()["status"] == "pending"
    # One attempt, then kicks pause: an outage costs one failed call, not one per webhook.
    assert kicks == ["refused"]
    assert list(InboxDelivery.objects.values_list("status", flat=True)) == ["pending", "pending"]
    assert not Order.objects.exists()
    # The failed kick did not leave its key behind: once the pause is over the next delivery tries again.
    dispatch.kick_pause_clear()
    post_shopify(client, shopify_order(id=5560002))
    assert kicks == ["refused", "refused"]

    monkeypatch.setattr(tasks.inbox_drain_task, "delay", lambda: kicks.append("queued"))
    assert fulfilment_services.inbox_sweep(older_than_seconds=3600) == 0  # not stale yet: left to the kicks
    assert kicks == ["refused", "refused"]
    assert fulfilment_services.inbox_sweep(older_than_seconds=0) == 3  # the sweeper ignores the pause
    assert kicks[-1] == "queued"
    assert tasks.inbox_drain_task() == 3
    assert sorted(Order.objects.values_list("status", flat=True)) == ["reserved"] * 3
    assert set(InboxDelivery.objects.values_list("status", flat=True)) == {"processed"}
    assert fulfilment_services.inbox_sweep(older_than_seconds=0) == 0


@pytest.mark.postgres
def test_redis_down_the_webhook_still_answers_at_once(client, world, monkeypatch, settings):
    """Nothing listens on Redis's port: the delivery is stored and answered; the kick fails fast, once."""
    from config import redis as config_redis

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.REDIS_URL = f"redis://127.0.0.1:{closed}/0"
    settings.CELERY_BROKER_URL = settings.REDIS_URL
    config_redis.redis_client.cache_clear()
    dispatch.kick_pause_clear()
    asked = []
    monkeypatch.setattr(dispatch, "redis_client", lambda: asked.append(1) or config_redis.redis_client())
    try:
        started = time.monotonic()
        first = post_shopify(client, shopify_order(id=5570001))
        second = post_shopify(client, shopify_order(id=5570002))
        elapsed = time.monotonic() - started
    finally:
        config_redis.redis_client.cache_clear()

    assert [first.status_code, second.status_code] == [200, 200]
    assert [first.json()["status"], second.json()["status"]] == ["pending", "pending"]
    assert elapsed < 2
    assert len(asked) == 1 and dispatch.kick_paused()  # the second did not try
    assert InboxDelivery.objects.filter(status="pending").count() == 2


def test_sweeper_with_in_process_tasks_processes_what_was_left_pending(client, world, monkeypatch, settings):
    from fulfilment import tasks

    monkeypatch.setattr(tasks.inbox_process_task, "delay", lambda delivery_id: None)  # the process died
    post_shopify(client)
    assert InboxDelivery.objects.get().status == "pending"
    monkeypatch.undo()
    assert fulfilment_services.inbox_sweep(older_than_seconds=0) == 1
    assert InboxDelivery.objects.get().status == "processed" and Order.objects.get().status == "reserved"


# --- transient failures are retried, permanent ones are held ---------------------------------------


def test_transient_and_permanent_errors_are_told_apart():
    from django.db import DatabaseError, DataError, IntegrityError, InterfaceError, OperationalError

    from fulfilment.services.inbox import error_is_transient

    assert error_is_transient(OperationalError("deadlock detected"))
    assert error_is_transient(InterfaceError("connection already closed"))
    for permanent in (DataError("numeric field overflow"), IntegrityError("duplicate"), DatabaseError(), KeyError()):
        assert not error_is_transient(permanent)


def test_retry_delay_doubles_and_is_capped(settings):
    from fulfilment.services.inbox import retry_delay

    settings.INBOX_RETRY_MAX_DELAY_SECONDS = 60
    assert [retry_delay(n) for n in (1, 2, 3, 5, 6, 30)] == [2, 4, 8, 32, 60, 60]


def make_due(delivery: InboxDelivery) -> None:
    InboxDelivery.objects.filter(pk=delivery.pk).update(retry_at=timezone.now() - dt.timedelta(seconds=1))


@pytest.mark.postgres
@pytest.mark.slow
def test_a_lock_timeout_leaves_the_delivery_pending_and_a_later_try_processes_it_once(client, world):
    """A real transient error: another transaction holds the stock row past our lock_timeout."""
    locked, release, done = threading.Event(), threading.Event(), threading.Event()

    def hold_stock_row():
        try:
            with transaction.atomic():
                StockLevel.objects.select_for_update().filter(sku__code="ARCH-EU42", warehouse__code="AU").get()
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()
            done.set()

    threading.Thread(target=hold_stock_row, daemon=True).start()
    assert locked.wait(timeout=10)
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '300ms'")
    try:
        answer = post_shopify(client).json()
        delivery = InboxDelivery.objects.get()
        # Nothing was lost and nothing is held or failed: the delivery waits for its next try.
        assert (answer["status"], delivery.status, delivery.failures) == ("pending", "pending", 1)
        assert "transient" in delivery.error and "lock" in delivery.error.lower()
        assert 1 <= (delivery.retry_at - timezone.now()).total_seconds() <= 2
        assert not Order.objects.exists() and not Reservation.objects.exists()
        # Not due yet: neither the sweeper nor a drain takes it.
        assert fulfilment_services.inbox_sweep(older_than_seconds=0) == 0
        assert fulfilment_services.inbox_drain() == 0
    finally:
        release.set()
        assert done.wait(timeout=10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")

    make_due(delivery)
    InboxDelivery.objects.filter(pk=delivery.pk).update(received_at=timezone.now() - dt.timedelta(minutes=2))
    assert fulfilment_services.inbox_sweep() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.retry_at, delivery.error) == ("processed", None, "")
    assert delivery.order.status == "reserved" and Order.objects.count() == 1
    assert Reservation.objects.count() == 2
    call_command("verify_stock")


def test_a_transient_error_that_persists_past_the_retry_limit_fails_and_keeps_the_order_held(
    client, world, monkeypatch, settings
):
    from django.db import OperationalError

    settings.INBOX_RETRY_LIMIT = 2

    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(allocation, "plan", locked)
    post_shopify(client)
    delivery = InboxDelivery.objects.get()
    for failures in (1, 2):
        delivery.refresh_from_db()
        assert (delivery.status, delivery.failures) == ("pending", failures)
        make_due(delivery)
        fulfilment_services.inbox_drain()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.failures, delivery.retry_at) == ("failed", 3, None)
    held = Order.objects.get()
    assert (held.status, held.hold_reason, delivery.order_id) == ("on_hold", "processing_failed", held.pk)


def test_with_a_broker_the_retry_is_queued_with_its_backoff_within_the_visibility_timeout(
    client, world, monkeypatch, settings
):
    from django.db import OperationalError

    from fulfilment import tasks

    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_VISIBILITY_TIMEOUT = 100
    settings.INBOX_RETRY_MAX_DELAY_SECONDS = 3600
    monkeypatch.setattr(dispatch, "drain_kick", lambda **kwargs: True)
    queued = []
    monkeypatch.setattr(
        tasks.inbox_process_task, "apply_async", lambda args, countdown: queued.append((args, countdown))
    )
    delivery_id = post_shopify(client).json()["delivery"]
    monkeypatch.setattr(allocation, "plan", lambda *a, **kw: (_ for _ in ()).throw(OperationalError("deadlock")))

    fulfilment_services.inbox_process(delivery_id=delivery_id)
    InboxDelivery.objects.filter(pk=delivery_id).update(failures=9)
    fulfilment_services.inbox_process(delivery_id=delivery_id)

    # 2 s after the first failure; 2**10 s after the tenth, cut to stay under the visibility timeout.
    assert queued == [((delivery_id,), 2.0), ((delivery_id,), 40)]


# --- what a failing delivery was about stays in front of operations ---------------------------------


def later(**overrides):
    return shopify_order(updated_at="2024-05-02T14:05:00+10:00", **overrides)


def test_a_failing_update_of_a_reserved_order_releases_it_and_holds_it_until_replayed(client, world, monkeypatch):
    order = Order.objects.get(pk=post_shopify(client).json()["order"]["id"])
    assert Reservation.objects.filter(status="active").count() == 2
    monkeypatch.setattr(allocation, "plan", lambda *a, **kw: (_ for _ in ()).throw(RuntimeError("bug")))
    # An address change re-allocates, and allocation is broken: the update cannot be applied.
    moved = later(shipping_address=shopify_address(country_code="US", province_code="CA", zip="90001"))
    post_shopify(client, moved, topic="orders/updated")

    order.refresh_from_db()
    assert (order.status, order.hold_reason) == ("on_hold", "processing_failed")
    assert not Reservation.objects.filter(status="active").exists()  # nothing ships on the old version
    assert all(line.quantity_reserved == 0 for line in order.lines.all())
    call_command("verify_stock")

    monkeypatch.undo()
    call_command("replay_inbox")
    order.refresh_from_db()
    assert (order.status, order.warehouse.code, order.ship_country) == ("reserved", "US", "US")
    assert Order.objects.count() == 1
    call_command("verify_stock")


def test_a_failing_cancellation_of_a_picking_order_flags_it(client, world, monkeypatch):
    order = Order.objects.get(pk=post_shopify(client).json()["order"]["id"])
    fulfilment_services.order_transition(order=order, status="picking")

    def broken(*args, **kwargs):
        raise RuntimeError("release bug")

    monkeypatch.setattr(inventory_services, "reservation_release", broken)
    post_shopify(client, later(cancelled_at="2024-05-02T14:05:00+10:00"), topic="orders/cancelled")
    monkeypatch.undo()

    order.refresh_from_db()
    assert order.status == "picking" and "could not be processed while picking" in order.needs_attention
    assert order.events.filter(kind="processing_failed").exists()
    assert InboxDelivery.objects.filter(status="failed").count() == 1


def test_a_failing_first_news_cancellation_is_kept_cancelled_not_held(client, world, monkeypatch):
    monkeypatch.setattr(order_sync, "order_create", lambda *a, **kw: (_ for _ in ()).throw(RuntimeError("bug")))
    post_shopify(client, shopify_order(cancelled_at="2024-05-02T14:05:00+10:00"), topic="orders/cancelled")
    order = Order.objects.get()
    assert (order.status, order.hold_reason) == ("cancelled", "")
    assert not Reservation.objects.exists()


def test_a_rejected_delivery_replayed_after_a_fix_is_keyed_by_the_configured_shop(client, world, settings):
    body = shopify_body(shopify_order())
    stored = InboxDelivery.objects.create(
        channel="shopify",
        topic="orders/paid",
        event_id="evt-rejected",
        shop="",
        body=body,
        headers={},
        status="rejected",
    )
    call_command("replay_inbox", stored.pk)
    assert Order.objects.get().shop == settings.SHOPIFY_SHOP_DOMAIN


def test_a_storefront_retry_of_a_failed_delivery_starts_a_fresh_series_of_retries(client, world, monkeypatch):
    body = shopify_body(shopify_order())
    headers = shopify_headers(body, event_id="evt-exhausted")
    monkeypatch.setattr(allocation, "plan", lambda *a, **kw: (_ for _ in ()).throw(RuntimeError("boom")))
    client.post("/webhooks/shopify", data=body, content_type="application/json", headers=headers)
    InboxDelivery.objects.update(failures=20)
    monkeypatch.setattr(allocation, "plan", lambda *a, **kw: (_ for _ in ()).throw(OperationalError("deadlock")))
    client.post("/webhooks/shopify", data=body, content_type="application/json", headers=headers)
    delivery = InboxDelivery.objects.get()
    # One transient failure after the retry: pending with backoff, not failed at once.
    assert (delivery.status, delivery.failures) == ("pending", 1) and delivery.retry_at is not None


def test_a_process_task_that_arrives_before_its_retry_is_due_leaves_it(client, world, monkeypatch, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setattr(dispatch, "drain_kick", lambda **kwargs: True)
    delivery_id = post_shopify(client).json()["delivery"]
    InboxDelivery.objects.filter(pk=delivery_id).update(retry_at=timezone.now() + dt.timedelta(minutes=5))
    assert fulfilment_services.inbox_process(delivery_id=delivery_id) is None
    InboxDelivery.objects.filter(pk=delivery_id).update(retry_at=timezone.now() + dt.timedelta(seconds=1))
    assert fulfilment_services.inbox_process(delivery_id=delivery_id).delivery.status == "processed"
