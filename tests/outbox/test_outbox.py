"""The durable outbox and our Standard-Webhooks-signed webhooks."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone
from standardwebhooks import Webhook
from werkzeug import Response

from outbox import dispatch, services
from outbox.errors import DeliveryFailed, DeliveryRetry, NotRetryable
from outbox.models import Message, MessageStatus, WebhookSubscription

# Transactional: messages leave after COMMIT, which a test wrapped in one transaction never reaches.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def subscription(httpserver):
    return services.subscription_create(url=httpserver.url_for("/hooks"), events=["stock.low", "stock.recovered"])


def _received(httpserver):
    return [(request, json.loads(request.get_data())) for request, _ in httpserver.log]


def test_an_event_is_signed_the_standard_webhooks_way_and_verifies_with_the_reference_library(httpserver, subscription):
    httpserver.expect_request("/hooks", method="POST").respond_with_data("", status=204)
    with transaction.atomic():
        [message] = services.event_publish(
            event_type="stock.low", data={"sku": "ARCH-EU42", "warehouse": "AU", "available": 3}, key="alert-1:open"
        )
        assert httpserver.log == []  # nothing leaves before commit
    [(request, body)] = _received(httpserver)
    verified = Webhook(subscription.secret).verify(request.get_data(), dict(request.headers))
    assert verified == body
    assert body["type"] == "stock.low"
    assert body["data"] == {"sku": "ARCH-EU42", "warehouse": "AU", "available": 3}
    assert dt.datetime.fromisoformat(body["timestamp"]).tzinfo is not None
    assert request.headers["webhook-id"] == f"msg_{message.pk}"
    assert request.headers["webhook-signature"].startswith("v1,")
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 1)
    assert message.sent_at is not None


def test_a_tampered_body_does_not_verify(httpserver, subscription):
    from standardwebhooks.webhooks import WebhookVerificationError

    httpserver.expect_request("/hooks").respond_with_data("")
    services.event_publish(event_type="stock.low", data={"available": 3}, key="k")
    [(request, _)] = _received(httpserver)
    with pytest.raises(WebhookVerificationError):
        Webhook(subscription.secret).verify(request.get_data().replace(b"3", b"4"), dict(request.headers))


def test_a_rolled_back_change_sends_nothing(httpserver, subscription):
    httpserver.expect_request("/hooks").respond_with_data("")
    with pytest.raises(RuntimeError), transaction.atomic():
        services.event_publish(event_type="stock.low", data={}, key="k")
        raise RuntimeError("the change failed")
    assert Message.objects.count() == 0
    assert httpserver.log == []


def test_only_subscribers_of_the_event_type_get_it(httpserver):
    httpserver.expect_request("/a").respond_with_data("")
    httpserver.expect_request("/b").respond_with_data("")
    services.subscription_create(url=httpserver.url_for("/a"), events=["stock.low"])
    services.subscription_create(url=httpserver.url_for("/b"), events=["shipment.booked"])
    off = services.subscription_create(url=httpserver.url_for("/b"), events=["stock.low"])
    WebhookSubscription.objects.filter(pk=off.pk).update(active=False)
    services.event_publish(event_type="stock.low", data={}, key="k")
    assert [request.path for request, _ in httpserver.log] == ["/a"]


def test_the_same_event_key_is_one_message_and_one_delivery(httpserver, subscription):
    httpserver.expect_request("/hooks").respond_with_data("")
    first = services.event_publish(event_type="stock.low", data={"n": 1}, key="alert-7:open")
    again = services.event_publish(event_type="stock.low", data={"n": 2}, key="alert-7:open")
    assert [m.pk for m in first] == [m.pk for m in again]
    assert len(httpserver.log) == 1


@pytest.mark.postgres
@pytest.mark.slow
def test_the_same_event_written_by_two_transactions_at_once_is_one_message(transactional_db, httpserver):
    httpserver.expect_request("/hooks").respond_with_data("")
    services.subscription_create(url=httpserver.url_for("/hooks"), events=["stock.low"])
    barrier = threading.Barrier(2)
    errors = []

    def publish():
        try:
            with transaction.atomic():
                barrier.wait(timeout=10)
                services.event_publish(event_type="stock.low", data={}, key="race")
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=publish) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert Message.objects.count() == 1
    assert len(httpserver.log) == 1


def test_a_subscriber_that_is_down_gets_the_event_once_it_is_back(httpserver, subscription):
    httpserver.expect_ordered_request("/hooks").respond_with_data("down", status=503)
    httpserver.expect_ordered_request("/hooks").respond_with_response(Response("", status=502))
    httpserver.expect_ordered_request("/hooks").respond_with_data("ok", status=200)
    [message] = services.event_publish(event_type="stock.low", data={"sku": "X"}, key="k")
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.PENDING, 1)
    assert message.next_attempt_at > timezone.now()
    assert "503" in message.last_error
    # Not due yet: a delivery now changes nothing.
    assert services.message_deliver(message_id=message.pk) is None
    for _ in range(2):
        Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
        services.message_deliver(message_id=message.pk)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 3)
    ids = {request.headers["webhook-id"] for request, _ in _received(httpserver)}
    assert ids == {f"msg_{message.pk}"}  # one id across retries: the receiver can dedupe
    for request, _ in _received(httpserver):
        Webhook(subscription.secret).verify(request.get_data(), dict(request.headers))


def test_retries_back_off_exponentially_with_jitter_capped_and_obey_retry_after(settings):
    settings.OUTBOX_RETRY_MAX_DELAY_SECONDS = 300
    for attempts, low, high in [(1, 1, 2), (2, 2, 4), (5, 16, 32), (9, 150, 300), (30, 150, 300)]:
        delays = [services.retry_delay(attempts) for _ in range(50)]
        assert all(low <= d <= high for d in delays), (attempts, min(delays), max(delays))
        assert len(set(delays)) > 1  # jittered
    assert services.retry_delay(1, retry_after=120) >= 120


def test_a_retry_is_never_queued_past_the_visibility_timeout(settings, monkeypatch):
    sent = []
    monkeypatch.setattr(dispatch, "_send", lambda message_id, countdown: sent.append(countdown))
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_VISIBILITY_TIMEOUT = 3600
    dispatch.message_retry_later(1, 30)
    dispatch.message_retry_later(1, 3599)  # left to the beat sweeper
    assert sent == [30]


def test_after_the_last_attempt_it_is_a_dead_letter_visible_and_retryable_over_the_api(
    httpserver, subscription, settings, client_for
):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    httpserver.expect_ordered_request("/hooks").respond_with_data("", status=500)
    httpserver.expect_ordered_request("/hooks").respond_with_data("", status=500)
    [message] = services.event_publish(event_type="stock.recovered", data={"sku": "X"}, key="k")
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    services.message_deliver(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == MessageStatus.DEAD and message.dead_at is not None
    assert "after 2 attempts" in message.last_error

    ops = client_for("operations")
    listed = ops.get("/api/outbox/?status=dead").json()
    assert listed["count"] == 1
    assert listed["results"][0]["id"] == message.pk
    assert listed["results"][0]["payload"]["type"] == "stock.recovered"
    assert ops.get("/api/outbox/?status=sent").json()["count"] == 0

    httpserver.expect_ordered_request("/hooks").respond_with_data("", status=200)
    answer = ops.post(f"/api/outbox/{message.pk}/retry")
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "sent"
    again = ops.post(f"/api/outbox/{message.pk}/retry")
    assert again.status_code == 409
    assert again.json()["code"] == "outbox_not_retryable"
    assert ops.post("/api/outbox/999999/retry").status_code == 404


def test_410_gone_disables_the_subscription_and_makes_a_dead_letter(httpserver, subscription):
    httpserver.expect_request("/hooks").respond_with_data("", status=410)
    [message] = services.event_publish(event_type="stock.low", data={}, key="k")
    message.refresh_from_db()
    subscription.refresh_from_db()
    assert message.status == MessageStatus.DEAD
    assert subscription.active is False


def test_a_deleted_subscription_turns_its_pending_message_into_a_dead_letter(httpserver, subscription):
    httpserver.expect_request("/hooks").respond_with_data("", status=503)
    [message] = services.event_publish(event_type="stock.low", data={}, key="k")
    services.subscription_delete(subscription_id=subscription.pk)
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    services.message_deliver(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == MessageStatus.DEAD
    assert "deleted" in message.last_error


def test_messages_of_one_group_go_out_in_order(settings):
    calls = []

    def handler(message):
        calls.append(message.key)
        if message.key == "first" and calls.count("first") == 1:
            raise DeliveryRetry("not yet")

    settings.OUTBOX_HANDLERS = {**settings.OUTBOX_HANDLERS, "test": "tests.outbox.test_outbox.HANDLER"}
    globals()["HANDLER"] = handler
    with transaction.atomic():
        first = services.message_enqueue(kind="test", key="first", payload={}, group="shipment-1")
        second = services.message_enqueue(kind="test", key="second", payload={}, group="shipment-1")
    assert calls == ["first"]  # the second waits behind the first, which failed
    assert Message.objects.get(pk=second.pk).status == MessageStatus.PENDING
    Message.objects.filter(pk=first.pk).update(next_attempt_at=timezone.now())
    services.message_deliver(message_id=first.pk)
    assert calls == ["first", "first", "second"]
    assert set(Message.objects.values_list("status", flat=True)) == {MessageStatus.SENT}


def test_a_permanent_failure_is_a_dead_letter_after_one_try_and_a_crashing_handler_is_retried(settings):
    def handler(message):
        if message.key == "refused":
            raise DeliveryFailed("userErrors: fulfillment order is closed")
        raise KeyError("a bug")

    settings.OUTBOX_HANDLERS = {**settings.OUTBOX_HANDLERS, "test": "tests.outbox.test_outbox.HANDLER"}
    globals()["HANDLER"] = handler
    refused = services.message_enqueue(kind="test", key="refused", payload={})
    buggy = services.message_enqueue(kind="test", key="buggy", payload={})
    refused.refresh_from_db()
    buggy.refresh_from_db()
    assert (refused.status, refused.attempts, refused.last_error) == (
        MessageStatus.DEAD,
        1,
        "userErrors: fulfillment order is closed",
    )
    assert (buggy.status, buggy.attempts) == (MessageStatus.PENDING, 1)
    assert "KeyError" in buggy.last_error


def test_an_unknown_kind_is_refused_before_anything_is_written():
    with pytest.raises(ValueError, match="no outbox handler"):
        services.message_enqueue(kind="carrier-pigeon", key="k", payload={})
    assert Message.objects.count() == 0


@pytest.mark.postgres
def test_a_message_held_by_another_worker_is_skipped_not_waited_for(transactional_db, httpserver):
    httpserver.expect_request("/hooks").respond_with_data("", status=503)
    services.subscription_create(url=httpserver.url_for("/hooks"), events=["stock.low"])
    [message] = services.event_publish(event_type="stock.low", data={}, key="k")
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    held, release = threading.Event(), threading.Event()

    def hold():
        with transaction.atomic():
            Message.objects.select_for_update().get(pk=message.pk)
            held.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    try:
        assert services.message_deliver(message_id=message.pk) is None
    finally:
        release.set()
        holder.join(10)
    assert Message.objects.get(pk=message.pk).attempts == 1


def test_the_sweeper_sends_what_the_broker_never_got(httpserver, subscription, monkeypatch):
    httpserver.expect_request("/hooks").respond_with_data("")
    monkeypatch.setattr(dispatch, "message_kick", lambda message_id: None)  # the broker was down at commit
    [message] = services.event_publish(event_type="stock.low", data={}, key="k")
    monkeypatch.undo()
    assert services.outbox_sweep() == 0  # too young: its task may still be on its way
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - dt.timedelta(minutes=2))
    assert services.outbox_sweep() == 1
    assert Message.objects.get(pk=message.pk).status == MessageStatus.SENT
    assert len(httpserver.log) == 1


def test_retry_of_a_sent_message_is_refused():
    message = Message.objects.create(
        kind="webhook", key="k", destination="1", status=MessageStatus.SENT, sent_at=timezone.now()
    )
    with pytest.raises(NotRetryable):
        services.message_retry(message_id=message.pk)


class _Killed(BaseException):
    """What a SIGKILL looks like from inside: nothing after it runs in this process."""


def test_a_send_cut_short_by_a_dead_worker_is_sent_again_after_its_lease_knowing_it_is_a_second_try(settings):
    seen = []

    def handler(message):
        seen.append(message.attempts)
        if message.attempts == 1:
            raise _Killed

    settings.OUTBOX_HANDLERS = {**settings.OUTBOX_HANDLERS, "test": "tests.outbox.test_outbox.HANDLER"}
    settings.OUTBOX_LEASE_SECONDS = 300
    globals()["HANDLER"] = handler
    with pytest.raises(_Killed):
        services.message_enqueue(kind="test", key="k", payload={})
    message = Message.objects.get()
    assert (message.status, message.attempts) == (MessageStatus.PENDING, 1)  # the attempt was committed first
    assert message.next_attempt_at > timezone.now() + dt.timedelta(seconds=290)  # leased
    assert services.outbox_sweep() == 0  # nobody else takes it while the lease runs
    assert services.message_deliver(message_id=message.pk) is None
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() - dt.timedelta(minutes=1))
    assert services.outbox_sweep() == 1
    assert seen == [1, 2]
    assert Message.objects.get(pk=message.pk).status == MessageStatus.SENT
