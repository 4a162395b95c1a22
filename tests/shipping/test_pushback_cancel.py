"""A booked shipment cancelled after its push: Shopify's fulfillment cancelled once, the WooCommerce
order back to processing once, and the replacement shipment fulfilled after the cancel.

Against the same fakes as the push-back tests (Shopify's GraphQL Admin API, WooCommerce's REST API)
on real sockets; shipments are booked and cancelled through the real API against the courier sandbox.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from fulfilment.models import OrderEvent
from outbox import services as outbox
from outbox.models import Message
from shipping.models import Shipment, StorefrontFulfillment
from shipping.services import shipment_cancel
from tests.shipping import test_pushback as shopify_push
from tests.shipping import test_pushback_woocommerce as woo_push
from tests.shipping.test_pushback import deliver_due, line_ids, ship

# The fakes and fixtures of the push-back tests (Shopify's GraphQL Admin API, WooCommerce's REST API).
_shopify_server, shopify, floor = shopify_push._shopify_server, shopify_push.shopify, shopify_push.floor
woo, shipped = woo_push.woo, woo_push.shipped

pytestmark = pytest.mark.django_db(transaction=True)


def drain() -> None:
    """Until nothing is pending: every wait passed, also after a try that failed."""
    for _ in range(10):
        if not Message.objects.filter(status="pending").exists():
            return
        Message.objects.filter(status="pending").update(next_attempt_at=timezone.now())
        outbox.outbox_drain_due()


def cancel(floor, shipment: Shipment) -> dict:
    _, packer = floor
    answer = packer.post(f"/api/shipments/{shipment.pk}/cancel")
    assert answer.status_code == 200, answer.content
    return answer.json()


def reship(floor, shipment: Shipment) -> Shipment:
    _, packer = floor
    answer = packer.post(f"/api/orders/{shipment.order_id}/ship", {"courier": "dhl_express"}, format="json")
    assert answer.status_code == 202 and answer.json()["tracking_number"], answer.content
    return Shipment.objects.select_related("order").get(pk=answer.json()["id"])


def test_a_cancelled_shipment_cancels_its_fulfillment_and_the_replacement_is_fulfilled(floor, shopify):
    shopify.add_order(1, [(line_ids(1)[0], "ARCH-EU42", 2)])
    first = ship(floor, 1)
    [made] = shopify.orders["1"]["fulfillments"]
    assert cancel(floor, first)["status"] == "cancelled"

    [call] = shopify.ops("fulfillmentCancel")
    assert call["variables"] == {"id": made["id"]}
    assert "fulfillmentCancel(id: $id)" in call["query"] and "userErrors" in call["query"]
    assert made["status"] == "CANCELLED"
    record = StorefrontFulfillment.objects.get(shipment=first)
    assert record.cancelled_at is not None and record.external_fulfillment_id == made["id"]
    message = Message.objects.get(kind="shopify_fulfillment_cancel")
    assert (message.status, message.attempts, message.key) == ("sent", 1, f"shipment:{first.pk}:fulfillment-cancel")
    assert message.group == f"order:{first.order_id}:push"
    entry = OrderEvent.objects.get(order=first.order, kind="pushback_cancelled")
    assert made["id"] in entry.message

    # Packed again and shipped again: Shopify fulfils the reopened line items with the new number.
    second = reship(floor, first)
    assert second.pk != first.pk and second.tracking_number != first.tracking_number
    fulfillments = shopify.orders["1"]["fulfillments"]
    assert [(f["status"], f["trackingInfo"][0]["number"]) for f in fulfillments] == [
        ("CANCELLED", first.tracking_number),
        ("SUCCESS", second.tracking_number),
    ]
    assert StorefrontFulfillment.objects.get(shipment=second).outcome == "created"
    assert len(shopify.ops("fulfillmentCancel")) == 1


def test_with_shopify_down_the_replacement_waits_for_the_cancel_then_both_go_in_order(floor, shopify):
    shopify.add_order(2, [(line_ids(2)[0], "ARCH-EU42", 2)])
    first = ship(floor, 2)
    shopify.fault("*", "503", times=2)  # the cancel, then the replacement's turn behind it
    cancel(floor, first)
    second = reship(floor, first)
    cancelling = Message.objects.get(kind="shopify_fulfillment_cancel")
    creating = Message.objects.get(kind="shopify_fulfillment", key__startswith=f"shipment:{second.pk}:")
    assert cancelling.status == "pending" and "503" in cancelling.last_error
    assert creating.status == "pending" and creating.group == cancelling.group  # behind the cancel
    before = len(shopify.calls)
    drain()
    after = [c["operation"] for c in shopify.calls[before:] if c["operation"] != "OrderFulfillments"]
    assert after.index("fulfillmentCancel") < after.index("fulfillmentCreate")
    assert [f["status"] for f in shopify.orders["2"]["fulfillments"]] == ["CANCELLED", "SUCCESS"]
    assert Message.objects.filter(status="sent").count() == Message.objects.count()


def test_a_cancel_whose_answer_was_lost_is_found_cancelled_on_the_retry_not_sent_twice(floor, shopify, settings):
    shopify.add_order(3, [(line_ids(3)[0], "ARCH-EU42", 2)])
    first = ship(floor, 3)
    settings.HTTP_READ_TIMEOUT = 0.5
    shopify.fault("fulfillmentCancel", "slow", seconds=1.0)  # cancelled in Shopify; the answer comes too late
    cancel(floor, first)
    message = Message.objects.get(kind="shopify_fulfillment_cancel")
    assert message.status == "pending" and message.attempts == 1
    time.sleep(0.7)
    deliver_due()
    assert len(shopify.ops("fulfillmentCancel")) == 1
    assert shopify.ops("OrderFulfillments")  # read first on the retry
    assert Message.objects.get(pk=message.pk).status == "sent"
    assert StorefrontFulfillment.objects.get(shipment=first).cancelled_at is not None
    assert "found cancelled" in OrderEvent.objects.get(order=first.order, kind="pushback_cancelled").message


def test_the_same_cancel_twice_at_once_is_one_fulfillment_cancel(floor, shopify):
    shopify.add_order(4, [(line_ids(4)[0], "ARCH-EU42", 2)])
    first = ship(floor, 4)
    barrier, errors = threading.Barrier(2), []

    def go():
        try:
            barrier.wait(timeout=10)
            shipment_cancel(shipment_id=first.pk)
        except Exception as exc:  # pragma: no cover - shown by the assert below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=go) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    deliver_due()
    assert len(shopify.ops("fulfillmentCancel")) == 1
    assert Message.objects.filter(kind="shopify_fulfillment_cancel").count() == 1
    assert OrderEvent.objects.filter(order=first.order, kind="pushback_cancelled").count() == 1


def test_user_errors_on_the_cancel_are_a_dead_letter_that_does_not_hold_the_replacement(floor, shopify):
    shopify.add_order(5, [(line_ids(5)[0], "ARCH-EU42", 2)])
    first = ship(floor, 5)
    shopify.fault("fulfillmentCancel", "user_errors", message="Fulfillment cannot be cancelled.")
    cancel(floor, first)
    message = Message.objects.get(kind="shopify_fulfillment_cancel")
    assert message.status == "dead" and "cannot be cancelled" in message.last_error
    assert StorefrontFulfillment.objects.get(shipment=first).cancelled_at is None


def test_nothing_is_cancelled_in_shopify_when_nothing_was_fulfilled_there(floor, shopify, settings):
    # Fulfilled by hand in Shopify before us: recorded closed, no fulfillment of ours to cancel.
    shopify.add_order(6, [(line_ids(6)[0], "ARCH-EU42", 2)], status="CLOSED", remaining=0)
    first = ship(floor, 6)
    assert StorefrontFulfillment.objects.get(shipment=first).outcome == "closed"
    cancel(floor, first)
    assert shopify.ops("fulfillmentCancel") == []
    assert Message.objects.get(kind="shopify_fulfillment_cancel").status == "sent"
    # Without Shopify credentials nothing is queued at all.
    settings.SHOPIFY_ACCESS_TOKEN = ""
    shopify.add_order(7, [(line_ids(7)[0], "ARCH-EU42", 2)])
    other = ship(floor, 7)
    cancel(floor, other)
    assert Message.objects.filter(kind="shopify_fulfillment_cancel").count() == 1


def test_a_woocommerce_order_completed_by_a_cancelled_shipment_is_processing_again(shipped, woo, client_for):
    shipment = shipped()
    assert woo.orders["727"]["status"] == "completed"
    woo.calls.clear()
    woo.faults.append({"method": "PUT", "status": 503, "times": 1})
    packer = client_for("warehouse", "packer-2")
    assert packer.post(f"/api/shipments/{shipment.pk}/cancel").json()["status"] == "cancelled"
    message = Message.objects.get(kind="woocommerce_reopen")
    assert (message.status, message.key) == ("pending", f"shipment:{shipment.pk}:reopen")
    deliver_due()
    assert [(c["method"], c["path"]) for c in woo.calls] == [
        ("POST", "/wp-json/wc/v3/orders/727/notes"),
        ("GET", "/wp-json/wc/v3/orders/727"),
        ("PUT", "/wp-json/wc/v3/orders/727"),  # 503
        ("GET", "/wp-json/wc/v3/orders/727/notes"),  # the retry: ours is there, not written twice
        ("GET", "/wp-json/wc/v3/orders/727"),
        ("PUT", "/wp-json/wc/v3/orders/727"),
    ]
    note = woo.calls[0]["body"]
    assert note["customer_note"] is False and shipment.tracking_number in note["note"] and "void" in note["note"]
    assert woo.calls[-1]["body"] == {"status": "processing"}
    assert woo.orders["727"]["status"] == "processing" and len(woo.orders["727"]["notes"]) == 2
    assert Message.objects.get(pk=message.pk).status == "sent"
    assert StorefrontFulfillment.objects.get(shipment=shipment).cancelled_at is not None


def test_a_status_the_merchant_set_since_is_kept(shipped, woo, client_for):
    shipment = shipped(728)
    woo.orders["728"]["status"] = "refunded"  # the merchant refunded it in WooCommerce meanwhile
    packer = client_for("warehouse", "packer-2")
    packer.post(f"/api/shipments/{shipment.pk}/cancel")
    assert woo.orders["728"]["status"] == "refunded"
    assert not [c for c in woo.calls if c["method"] == "PUT" and c["body"] == {"status": "processing"}]
    assert "refunded was kept" in OrderEvent.objects.get(order=shipment.order, kind="pushback_cancelled").message
