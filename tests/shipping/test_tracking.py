"""Recording tracking events: stored once, a status that only moves up its rank, side states shown and cleared,
delivered moving the order, every change published once (our webhooks and the storefront push-back), stale."""

from __future__ import annotations

import datetime as dt
import sys
import types

import pytest
from django.utils import timezone

from fulfilment.models import Order, OrderStatus
from outbox.models import Message, WebhookSubscription
from shipping.couriers import base
from shipping.models import Shipment, TrackingEvent
from shipping.services import tracking_record
from tests.shipping.tracking_helpers import T0, booked, event

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_delivery(monkeypatch):
    """Outbox rows are what these tests count: nothing is sent."""
    monkeypatch.setattr("outbox.dispatch.message_kick", lambda message_id: None)


@pytest.fixture
def subscribed(db):
    return WebhookSubscription.objects.create(
        url="https://hooks.example/tracking",
        secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        events=["shipment.status_changed", "shipment.delivered"],
    )


@pytest.fixture
def pushback(monkeypatch):
    """The storefront push-back hook, recording its calls (the real module may not have landed yet)."""
    calls = []

    def pushback_status_changed(*, shipment, status, happened_at):
        assert Shipment.objects.select_for_update().filter(pk=shipment.pk).exists()  # inside our transaction
        calls.append((shipment.pk, status, happened_at))

    try:
        from shipping.services import pushback as module
    except ImportError:
        module = types.ModuleType("shipping.services.pushback")
        monkeypatch.setitem(sys.modules, "shipping.services.pushback", module)
        import shipping.services

        monkeypatch.setattr(shipping.services, "pushback", module, raising=False)
    monkeypatch.setattr(module, "pushback_status_changed", pushback_status_changed, raising=False)
    return calls


def _changes(shipment) -> list[str]:
    rows = Message.objects.filter(kind="webhook", key__startswith=f"shipment.status_changed:shipment:{shipment.pk}:")
    return [m.payload["data"]["status"] for m in rows.order_by("pk")]


def test_out_of_order_and_duplicate_events_keep_one_monotonic_status_and_publish_each_change_once(subscribed, pushback):
    shipment = booked(booked_at=T0 - dt.timedelta(hours=1))
    number = shipment.tracking_number
    assert tracking_record(shipment=shipment, events=[event(number, "in_transit", 30, code="AR")])
    # Older scans arrive later, and the same scan again: stored once each, the status stays.
    late = [event(number, "picked_up", 10, code="PU"), event(number, "label_created", 0, code="OC")]
    assert not tracking_record(shipment_id=shipment.pk, events=[*late, event(number, "in_transit", 30, code="AR")])
    assert tracking_record(shipment=shipment, events=[event(number, "out_for_delivery", 60, code="OD")])
    replay = [*late, event(number, "in_transit", 30, code="AR"), event(number, "out_for_delivery", 60, code="OD")]
    for _ in range(2):
        assert not tracking_record(shipment=shipment, events=replay)

    shipment.refresh_from_db()
    assert shipment.status == "out_for_delivery"
    assert shipment.last_event_at == T0 + dt.timedelta(minutes=60)
    stored = TrackingEvent.objects.filter(shipment=shipment)
    assert sorted(stored.values_list("code", flat=True)) == ["AR", "OC", "OD", "PU"]
    assert (
        stored.get(code="AR").location == "SYDNEY, NSW, AU" and stored.get(code="AR").description == "in_transit scan"
    )
    assert _changes(shipment) == ["in_transit", "out_for_delivery"]
    assert [status for _, status, _ in pushback] == ["in_transit", "out_for_delivery"]
    key = Message.objects.get(key__contains=":status:in_transit:").key
    assert (
        key
        == f"shipment.status_changed:shipment:{shipment.pk}:status:in_transit:{(T0 + dt.timedelta(minutes=30)).isoformat()}"
    )


def test_one_answer_revealing_several_statuses_is_one_change_each_in_rank_order(subscribed, pushback):
    shipment = booked(courier="ups")
    number = shipment.tracking_number
    events = [
        event(number, "delivered", 300, code="D/FS"),
        event(number, "picked_up", 10, code="P/PU"),
        event(number, "out_for_delivery", 200, code="I/OT"),
        event(number, "in_transit", 100, code="I/AR"),
    ]
    assert tracking_record(shipment=shipment, events=events)
    expected = ["picked_up", "in_transit", "out_for_delivery", "delivered"]
    assert _changes(shipment) == expected
    assert [status for _, status, _ in pushback] == expected
    assert [at for _, _, at in pushback] == [T0 + dt.timedelta(minutes=m) for m in (10, 100, 200, 300)]
    delivered = Message.objects.get(key=f"shipment.delivered:shipment:{shipment.pk}:delivered")
    assert delivered.payload["data"]["tracking_number"] == number
    assert delivered.payload["data"]["delivered_at"] == (T0 + dt.timedelta(minutes=300)).isoformat()


def test_delivered_moves_the_order_and_always_wins(subscribed, pushback):
    shipment = booked()
    number = shipment.tracking_number
    tracking_record(shipment=shipment, events=[event(number, "delivered", 100, code="DL")])
    # A later exception (a misfiled scan) and an older in-transit scan change nothing.
    assert not tracking_record(
        shipment=shipment,
        events=[
            event(number, "exception", 200, code="SE", reason="Damaged"),
            event(number, "in_transit", 50, code="AR"),
        ],
    )
    shipment.refresh_from_db()
    assert shipment.status == "delivered" and shipment.status_detail == ""
    assert shipment.delivered_at == T0 + dt.timedelta(minutes=100)
    assert Order.objects.get(pk=shipment.order_id).status == OrderStatus.DELIVERED
    assert _changes(shipment) == ["delivered"]
    assert Message.objects.filter(key__startswith="shipment.delivered:").count() == 1
    assert [s for _, s, _ in pushback] == ["delivered"]


def test_an_order_in_exception_is_delivered_too():
    shipment = booked(order_status=OrderStatus.EXCEPTION)
    tracking_record(shipment=shipment, events=[event(shipment.tracking_number, "delivered", 5, code="DL")])
    assert Order.objects.get(pk=shipment.order_id).status == OrderStatus.DELIVERED


def test_side_states_are_shown_while_no_later_scan_supersedes_them(subscribed):
    shipment = booked()
    number = shipment.tracking_number
    tracking_record(shipment=shipment, events=[event(number, "in_transit", 10, code="AR")])
    # An exception newer than the last ranked scan is shown, with its reason.
    assert tracking_record(shipment=shipment, events=[event(number, "exception", 20, code="DE", reason="Bad address")])
    shipment.refresh_from_db()
    assert (shipment.status, shipment.status_detail) == ("exception", "Bad address")
    # The parcel moves again: a later scan (of any rank) clears it.
    assert tracking_record(shipment=shipment, events=[event(number, "in_transit", 30, code="DP")])
    shipment.refresh_from_db()
    assert (shipment.status, shipment.status_detail) == ("in_transit", "")
    # An older exception arriving late is stored, not shown.
    assert not tracking_record(shipment=shipment, events=[event(number, "exception", 25, code="DY", reason="Weather")])
    shipment.refresh_from_db()
    assert shipment.status == "in_transit"
    # A failed attempt after out-for-delivery is shown; the rank under it is kept.
    tracking_record(shipment=shipment, events=[event(number, "out_for_delivery", 40, code="OD")])
    tracking_record(shipment=shipment, events=[event(number, "attempt_failed", 50, code="DE", reason="Nobody home")])
    shipment.refresh_from_db()
    assert (shipment.status, shipment.status_detail) == ("attempt_failed", "Nobody home")
    assert _changes(shipment) == ["in_transit", "exception", "in_transit", "out_for_delivery", "attempt_failed"]
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 6
    assert "Nobody home" in " ".join(Order.objects.get(pk=shipment.order_id).events.values_list("message", flat=True))


def test_returning_to_sender_flags_the_order_and_a_courier_cancel_does_not_cancel_the_shipment():
    returning = booked(courier="ups")
    tracking_record(
        shipment=returning, events=[event(returning.tracking_number, "returning_to_sender", 5, code="RS/RS")]
    )
    returning.refresh_from_db()
    assert returning.status == "returning_to_sender"
    assert "returning to sender" in Order.objects.get(pk=returning.order_id).needs_attention

    voided = booked(courier="ups")
    tracking_record(shipment=voided, events=[event(voided.tracking_number, "cancelled", 5, code="MV/VP")])
    voided.refresh_from_db()
    assert voided.status == "label_created"  # cancelling is ours (it frees the order for another shipment)
    assert "cancelled" in Order.objects.get(pk=voided.order_id).needs_attention


def test_a_cancelled_or_unbooked_shipment_keeps_its_status():
    shipment = booked()
    Shipment.objects.filter(pk=shipment.pk).update(status="cancelled")
    assert not tracking_record(shipment=shipment, events=[event(shipment.tracking_number, "in_transit", 5)])
    assert Shipment.objects.get(pk=shipment.pk).status == "cancelled"


def test_stale_is_set_without_a_scan_in_the_window_and_cleared_by_one(client_for, settings):
    settings.TRACKING_STALE_HOURS = {"express": 24, "standard": 72}
    long_ago = timezone.now() - dt.timedelta(hours=30)
    express = booked(service="express", booked_at=long_ago, last_event_at=long_ago)
    standard = booked(service="standard", booked_at=long_ago, last_event_at=long_ago)  # within its 72 h
    reader = client_for("operations")

    def stale_ids():
        answer = reader.get("/api/shipments/", {"stale": "true"})
        assert answer.status_code == 200
        return [row["id"] for row in answer.json()["results"]]

    assert stale_ids() == [express.pk]
    assert reader.get(f"/api/shipments/{express.pk}/").json()["stale"] is True
    tracking_record(
        shipment=express,
        events=[
            base.TrackingEvent(
                tracking_number=express.tracking_number,
                code="AR",
                description="Arrived",
                status="in_transit",
                occurred_at=timezone.now() - dt.timedelta(minutes=5),
            )
        ],
    )
    assert stale_ids() == []
    assert reader.get(f"/api/shipments/{express.pk}/").json()["stale"] is False
    assert standard.pk not in stale_ids()


def test_operations_list_shipments_in_exception_with_their_events(client_for):
    troubled = booked()
    booked()
    tracking_record(
        shipment=troubled,
        events=[event(troubled.tracking_number, "exception", 5, code="SE", reason="Customs: invoice missing")],
    )
    answer = client_for("operations").get("/api/shipments/", {"status": "exception"})
    assert answer.status_code == 200
    rows = answer.json()["results"]
    assert [r["id"] for r in rows] == [troubled.pk]
    assert rows[0]["status_detail"] == "Customs: invoice missing"
    assert rows[0]["events"][0]["code"] == "SE" and rows[0]["events"][0]["reason"] == "Customs: invoice missing"


def test_without_subscriptions_or_push_back_nothing_is_queued():
    shipment = booked()
    assert tracking_record(shipment=shipment, events=[event(shipment.tracking_number, "in_transit", 5)])
    assert Message.objects.count() == 0


def test_only_orders_the_events_may_write_are_locked():
    """An in-transit scan writes the shipment, never its order: the order is read, not locked."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    moving, arriving = booked(), booked()
    with CaptureQueriesContext(connection) as queries:
        from shipping.services.tracking import _Entry, _record

        _record(
            [
                _Entry(moving.pk, moving.order_id, [event(moving.tracking_number, "in_transit", 10, code="AR")]),
                _Entry(arriving.pk, arriving.order_id, [event(arriving.tracking_number, "delivered", 20, code="DL")]),
            ]
        )
    locks = [q["sql"] for q in queries if "fulfilment_order" in q["sql"] and "FOR UPDATE" in q["sql"]]
    assert len(locks) == 1 and str(arriving.order_id) in locks[0] and str(moving.order_id) not in locks[0]
    assert Shipment.objects.get(pk=moving.pk).status == "in_transit"
    assert Order.objects.get(pk=arriving.order_id).status == OrderStatus.DELIVERED
    assert Order.objects.get(pk=moving.order_id).status == OrderStatus.SHIPPED


def test_an_exception_writes_the_timeline_so_its_order_is_locked_before_the_shipment():
    """The timeline row's foreign key would take a lock on the order after the shipment's: taken first
    instead, in the order every other path uses (orders, then shipments), so no deadlock with a cancel."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from fulfilment.models import OrderEvent
    from shipping.services.tracking import _Entry, _record

    failing = booked()
    with CaptureQueriesContext(connection) as queries:
        _record([_Entry(failing.pk, failing.order_id, [event(failing.tracking_number, "exception", 10, code="DE")])])
    statements = [q["sql"] for q in queries if "FOR UPDATE" in q["sql"]]
    order_lock = next(i for i, sql in enumerate(statements) if "fulfilment_order" in sql)
    shipment_lock = next(i for i, sql in enumerate(statements) if "shipping_shipment" in sql)
    assert order_lock < shipment_lock and str(failing.order_id) in statements[order_lock]
    assert OrderEvent.objects.filter(order_id=failing.order_id, kind="shipment_exception").exists()


def test_a_delivery_found_in_an_older_event_locks_the_order_and_moves_it():
    """A shipment showing in_transit with a delivered scan already stored (its status set by hand, say): a new
    scan derives delivered from the old one, so the batch is recorded again with the order locked."""
    shipment = booked()
    number = shipment.tracking_number
    tracking_record(shipment=shipment, events=[event(number, "delivered", 20, code="DL")])
    Shipment.objects.filter(pk=shipment.pk).update(status="in_transit", delivered_at=None)
    Order.objects.filter(pk=shipment.order_id).update(status=OrderStatus.SHIPPED)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert tracking_record(shipment=shipment, events=[event(number, "in_transit", 10, code="AR")])
    locks = [q["sql"] for q in queries if "fulfilment_order" in q["sql"] and "FOR UPDATE" in q["sql"]]
    assert len(locks) == 1 and str(shipment.order_id) in locks[0]  # none at first (no query), then the order
    shipment.refresh_from_db()
    assert shipment.status == "delivered" and shipment.delivered_at == T0 + dt.timedelta(minutes=20)
    assert Order.objects.get(pk=shipment.order_id).status == OrderStatus.DELIVERED
    assert TrackingEvent.objects.filter(shipment=shipment, code="AR").count() == 1  # the rolled-back try left none


def test_a_late_older_scan_stores_the_event_and_writes_nothing_else():
    shipment = booked()
    number = shipment.tracking_number
    tracking_record(shipment=shipment, events=[event(number, "in_transit", 30, code="AR")])
    updated = Shipment.objects.get(pk=shipment.pk).updated_at
    assert not tracking_record(shipment=shipment, events=[event(number, "picked_up", 10, code="PU")])
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 2
    assert Shipment.objects.get(pk=shipment.pk).updated_at == updated


def test_texts_and_times_are_stored_exactly_and_a_replay_dedupes_on_them():
    """Quotes, backslashes, braces, commas and non-ASCII text, and a time with microseconds in another
    offset: stored as given (the batch travels as one JSON text), and the same scan again is no new row."""
    shipment = booked()
    number = shipment.tracking_number
    at = dt.datetime(2026, 11, 30, 9, 15, 42, 123456, tzinfo=dt.timezone(dt.timedelta(hours=10)))
    scan = base.TrackingEvent(
        tracking_number=number,
        code='X"1\\{a,b}',
        description='Zugestellt an "Nachbar", Straße 5 \\ {links} – ok',
        status="exception",
        occurred_at=at,
        location="MÜNCHEN, DE",
        reason="Adresse unvollständig; NULL 'null' [1,2]",
    )
    assert tracking_record(shipment=shipment, events=[scan])
    assert not tracking_record(shipment=shipment, events=[scan])
    stored = TrackingEvent.objects.get(shipment=shipment)
    assert (stored.code, stored.description, stored.location, stored.reason) == (
        scan.code,
        scan.description,
        scan.location,
        scan.reason,
    )
    assert stored.occurred_at == at
    shipment.refresh_from_db()
    assert shipment.status == "exception" and shipment.status_detail == scan.reason
