"""Storefront webhooks over HTTP: signatures, the inbox, holds, cancellation, updates, WooCommerce."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.redis import redis_client
from fulfilment import services as fulfilment_services
from fulfilment.models import InboxDelivery, Order, OrderStatus
from fulfilment.services import allocation, dispatch
from inventory import services
from inventory.errors import InsufficientStock
from inventory.models import Reservation, StockLevel, StockMovement
from tests.fulfilment.conftest import post_shopify, post_woo
from tests.fulfilment.payloads import (
    SHOPIFY_SECRET,
    shopify_address,
    shopify_body,
    shopify_headers,
    shopify_line,
    shopify_order,
    shopify_shipping_line,
    woo_order,
    woo_ping,
)

# Transactional: a webhook is processed after its acceptance commits (on_commit), as in production.
pytestmark = pytest.mark.django_db(transaction=True)


def stock_snapshot():
    return list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved"))


def level(code: str, wh: str) -> StockLevel:
    return StockLevel.objects.get(sku__code=code, warehouse__code=wh)


# --- signatures ----------------------------------------------------------------------


def test_paid_order_is_reserved_in_the_best_warehouse(client, world):
    response = post_shopify(client)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "processed" and body["duplicate"] is False
    order = body["order"]
    assert (order["channel"], order["external_id"], order["number"], order["status"], order["warehouse"]) == (
        "shopify",
        "5901234567890",
        "#1001",
        "reserved",
        "AU",
    )
    assert [
        (line["sku"], line["quantity"], line["quantity_reserved"], line["quantity_backordered"])
        for line in order["lines"]
    ] == [
        ("ARCH-EU42", 1, 1, 0),
        ("ARCH-EU38", 2, 2, 0),
    ]
    assert (level("ARCH-EU42", "AU").reserved, level("ARCH-EU38", "AU").reserved) == (1, 2)
    assert level("ARCH-EU42", "EU").reserved == 0
    assert services.stock_verify() == []


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(
            lambda body, headers: (
                body,
                {**headers, "X-Shopify-Hmac-Sha256": shopify_headers(body, "wrong")["X-Shopify-Hmac-Sha256"]},
            ),
            id="wrong-secret",
        ),
        pytest.param(
            lambda body, headers: (body.replace(b'"quantity":2', b'"quantity":9'), headers), id="tampered-body"
        ),
        pytest.param(
            lambda body, headers: (body, {k: v for k, v in headers.items() if k != "X-Shopify-Hmac-Sha256"}),
            id="missing-header",
        ),
        pytest.param(
            lambda body, headers: (json.dumps(json.loads(body), indent=2).encode(), headers), id="re-serialized-json"
        ),
        pytest.param(
            lambda body, headers: (body, {**headers, "X-Shopify-Shop-Domain": "evil.myshopify.com"}), id="other-shop"
        ),
    ],
)
def test_bad_signature_is_401_and_stores_nothing(client, world, tamper, caplog):
    body = shopify_body(shopify_order())
    body, headers = tamper(body, shopify_headers(body))
    before = stock_snapshot()

    response = client.post("/webhooks/shopify", data=body, content_type="application/json", headers=headers)

    assert response.status_code == 401
    assert response.json()["code"] in {"invalid_signature", "unknown_shop"}
    assert not InboxDelivery.objects.exists() and not Order.objects.exists()
    assert stock_snapshot() == before
    assert "webhook refused" in caplog.text


def test_previous_secret_still_verifies_during_rotation(client, world):
    assert post_shopify(client, secret="shpss_test_previous_1b2c").status_code == 200
    assert Order.objects.get().status == OrderStatus.RESERVED


def test_signed_but_unparseable_body_is_400_and_stored_as_rejected(client, world):
    body = b'{"id": 1, "line_items": "not a list"'
    response = client.post(
        "/webhooks/shopify", data=body, content_type="application/json", headers=shopify_headers(body)
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_payload"
    delivery = InboxDelivery.objects.get()
    assert (delivery.status, bytes(delivery.body)) == ("rejected", body)
    assert "not valid JSON" in delivery.error
    assert not Order.objects.exists()


def test_ignored_topic_is_stored_and_acknowledged(client, world):
    response = post_shopify(client, topic="orders/create")
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    assert InboxDelivery.objects.get().status == "ignored" and not Order.objects.exists()


# --- duplicates ------------------------------------------------------------------------


def test_replayed_event_returns_the_same_order_and_reserves_once(client, world):
    body = shopify_body(shopify_order())
    headers = shopify_headers(body, event_id="evt-1")
    first = client.post("/webhooks/shopify", data=body, content_type="application/json", headers=headers).json()
    second = client.post("/webhooks/shopify", data=body, content_type="application/json", headers=headers).json()

    assert second["duplicate"] is True and second["order"]["id"] == first["order"]["id"]
    assert InboxDelivery.objects.get().attempts == 2
    assert Reservation.objects.count() == 2  # one per SKU
    assert level("ARCH-EU38", "AU").reserved == 2


def test_same_order_under_a_new_event_id_is_still_one_order(client, world):
    post_shopify(client)
    response = post_shopify(client)  # fresh event id, same order id
    assert response.json()["duplicate"] is False
    assert Order.objects.count() == 1 and InboxDelivery.objects.count() == 2
    assert level("ARCH-EU38", "AU").reserved == 2
    assert services.stock_verify() == []


def test_event_id_falls_back_to_webhook_id(client, world):
    body = shopify_body(shopify_order())
    headers = {k: v for k, v in shopify_headers(body, webhook_id="wh-77").items() if k != "X-Shopify-Event-Id"}
    client.post("/webhooks/shopify", data=body, content_type="application/json", headers=headers)
    assert InboxDelivery.objects.get().event_id == "wh-77"


# --- never drop a paid order ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"line_items": [shopify_line(sku="NOPE-EU99")]}, "unknown_sku"),
        ({"line_items": [shopify_line(sku=None)]}, "unknown_sku"),
        ({"shipping_address": None}, "missing_address"),
        ({"shipping_address": shopify_address(address1="", city="")}, "missing_address"),
        ({"shipping_address": shopify_address(country_code="XZ", country="Nowhere")}, "unserved_country"),
        ({"line_items": [shopify_line(requires_shipping=False, sku="GIFT-CARD")]}, "nothing_to_ship"),
    ],
)
def test_unfulfillable_paid_order_is_kept_on_hold_with_a_reason(client, world, overrides, reason):
    before = stock_snapshot()
    response = post_shopify(client, shopify_order(**overrides))

    assert response.status_code == 200
    order = response.json()["order"]
    assert (order["status"], order["hold_reason"]) == ("on_hold", reason)
    assert order["hold_detail"]
    assert stock_snapshot() == before and not Reservation.objects.exists()


def test_unserved_country_when_no_warehouse_serves_the_rest_of_the_world(client, db):
    from tests.fulfilment.conftest import make_world

    make_world(warehouses=("AU",))
    from inventory.models import WarehouseZone

    WarehouseZone.objects.filter(zone="*").delete()
    order = post_shopify(client, shopify_order(shipping_address=shopify_address(country_code="DE"))).json()["order"]
    assert (order["status"], order["hold_reason"]) == ("on_hold", "unserved_country")


def test_unpaid_order_is_held_then_reserved_when_paid(client, world):
    pending = shopify_order(financial_status="pending", updated_at="2024-05-02T14:03:10+10:00")
    held = post_shopify(client, pending, topic="orders/updated").json()["order"]
    assert (held["status"], held["hold_reason"]) == ("on_hold", "not_paid")

    paid = post_shopify(client, shopify_order(updated_at="2024-05-02T14:05:00+10:00"), topic="orders/paid").json()[
        "order"
    ]
    assert (paid["id"], paid["status"], paid["hold_reason"]) == (held["id"], "reserved", "")


def test_non_latin_address_is_kept_verbatim(client, world):
    address = shopify_address(
        name="山田 太郎", address1="東京都千代田区丸の内1-1", city="千代田区", country_code="JP", zip="100-0005"
    )
    order = post_shopify(client, shopify_order(shipping_address=address)).json()["order"]
    assert order["shipping_address"]["name"] == "山田 太郎"
    assert order["shipping_address"]["address1"] == "東京都千代田区丸の内1-1"
    assert (order["status"], order["warehouse"]) == ("reserved", "AU")  # Asia is served from Sydney


def test_express_shipping_line_sets_the_service_level(client, world):
    express = shopify_shipping_line(code="DHL Express Worldwide", title="Express (1-3 days)")
    assert post_shopify(client, shopify_order(shipping_lines=[express])).json()["order"]["service_level"] == "express"


def test_destination_picks_the_zone_warehouse(client, world):
    german = shopify_address(country_code="DE", country="Germany", city="Berlin", address1="Bergmannstraße 5")
    assert post_shopify(client, shopify_order(shipping_address=german)).json()["order"]["warehouse"] == "EU"


# --- cancellation ----------------------------------------------------------------------------


def test_cancel_webhook_releases_the_reservation(client, world):
    post_shopify(client)
    cancelled = shopify_order(
        cancelled_at="2024-05-02T15:00:00+10:00", cancel_reason="customer", updated_at="2024-05-02T15:00:01+10:00"
    )
    order = post_shopify(client, cancelled, topic="orders/cancelled").json()["order"]

    assert order["status"] == "cancelled"
    assert (level("ARCH-EU42", "AU").reserved, level("ARCH-EU38", "AU").reserved) == (0, 0)
    assert StockMovement.objects.filter(kind="release").count() == 2
    assert services.stock_verify() == []


def test_cancel_after_shipping_is_refused_and_flagged(client, world):
    order = Order.objects.get(pk=post_shopify(client).json()["order"]["id"])
    for status in ("picking", "packed"):
        fulfilment_services.order_transition(order=order, status=status)
    fulfilment_services.order_ship(order=order)
    assert level("ARCH-EU38", "AU").on_hand == 8

    response = post_shopify(client, shopify_order(cancelled_at="2024-05-03T09:00:00+10:00"), topic="orders/cancelled")
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == "shipped" and "arrange a return" in order.needs_attention
    assert level("ARCH-EU38", "AU").on_hand == 8
    assert services.stock_verify() == []


# --- updates ------------------------------------------------------------------------------------


def test_address_change_before_packing_is_applied(client, world):
    post_shopify(client)
    moved = shopify_order(
        shipping_address=shopify_address(address1="1 New Street"), updated_at="2024-05-02T16:00:00+10:00"
    )
    order = post_shopify(client, moved, topic="orders/updated").json()["order"]
    assert order["shipping_address"]["address1"] == "1 New Street" and order["status"] == "reserved"


def test_country_change_before_packing_reallocates(client, world):
    post_shopify(client)
    german = shopify_address(country_code="DE", country="Germany", city="Berlin", address1="Bergmannstraße 5")
    order = post_shopify(
        client, shopify_order(shipping_address=german, updated_at="2024-05-02T16:00:00+10:00"), topic="orders/updated"
    ).json()["order"]
    assert (order["status"], order["warehouse"]) == ("reserved", "EU")
    assert (level("ARCH-EU38", "AU").reserved, level("ARCH-EU38", "EU").reserved) == (0, 2)
    assert services.stock_verify() == []


def test_address_change_after_packing_is_recorded_and_flagged_not_applied(client, world):
    order = Order.objects.get(pk=post_shopify(client).json()["order"]["id"])
    for status in ("picking", "packed"):
        fulfilment_services.order_transition(order=order, status=status)
    moved = shopify_order(
        shipping_address=shopify_address(address1="1 Late Street"), updated_at="2024-05-02T16:00:00+10:00"
    )
    post_shopify(client, moved, topic="orders/updated")

    order.refresh_from_db()
    assert order.shipping_address["address1"] != "1 Late Street"
    assert order.status == "packed" and "after packing" in order.needs_attention
    assert order.events.filter(kind="address_change_refused").exists()


def test_a_late_replay_never_moves_the_order_backwards(client, world):
    order = Order.objects.get(pk=post_shopify(client).json()["order"]["id"])
    fulfilment_services.order_transition(order=order, status="picking")
    post_shopify(client)  # orders/paid again, new event id
    order.refresh_from_db()
    assert order.status == "picking"
    assert Reservation.objects.filter(status="active").count() == 2


def test_stale_update_is_ignored(client, world):
    post_shopify(client, shopify_order(updated_at="2024-05-02T18:00:00+10:00"))
    old = shopify_order(shipping_address=shopify_address(address1="Old Street"), updated_at="2024-05-02T17:00:00+10:00")
    order = post_shopify(client, old, topic="orders/updated").json()["order"]
    assert order["shipping_address"]["address1"] != "Old Street"


# --- item changes (order edits, refunds) --------------------------------------------------------

LATER = "2024-05-02T16:00:00+10:00"
SIZE_38 = 14001234567891  # the default order's second line: 2 x ARCH-EU38


def edited_order(*, removed_38: bool = False, added: dict | None = None, **overrides):
    """The default order after a Shopify order edit: the EU 38 line refunded and/or a line added."""
    lines = [shopify_line()]
    if removed_38:
        lines.append(shopify_line(id=SIZE_38, sku="ARCH-EU38", quantity=2, current_quantity=0, fulfillable_quantity=0))
    else:
        lines.append(shopify_line(id=SIZE_38, sku="ARCH-EU38", quantity=2, current_quantity=2, fulfillable_quantity=2))
    if added:
        lines.append(shopify_line(**added))
    return shopify_order(line_items=lines, updated_at=LATER, **overrides)


def test_refunded_line_before_picking_is_removed_and_its_stock_released(client, world):
    order_id = post_shopify(client).json()["order"]["id"]
    assert level("ARCH-EU38", "AU").reserved == 2

    order = post_shopify(client, edited_order(removed_38=True), topic="orders/updated").json()["order"]

    assert order["id"] == order_id and (order["status"], order["warehouse"]) == ("reserved", "AU")
    assert [(line["sku"], line["quantity"], line["quantity_reserved"]) for line in order["lines"]] == [
        ("ARCH-EU42", 1, 1)
    ]
    assert (level("ARCH-EU38", "AU").reserved, level("ARCH-EU42", "AU").reserved) == (0, 1)
    changed = Order.objects.get().events.get(kind="lines_changed")
    assert changed.data == {
        "before": {"14001234567890": 1, str(SIZE_38): 2},
        "after": {"14001234567890": 1},
    }
    assert services.stock_verify() == []


def test_size_swap_before_picking_reserves_the_new_size(client, world):
    post_shopify(client)
    swap = {"id": 14001234567999, "sku": "RUN-EU40", "quantity": 2, "current_quantity": 2, "fulfillable_quantity": 2}

    order = post_shopify(client, edited_order(removed_38=True, added=swap), topic="orders/updated").json()["order"]

    assert order["status"] == "reserved"
    assert sorted((line["sku"], line["quantity_reserved"]) for line in order["lines"]) == [
        ("ARCH-EU42", 1),
        ("RUN-EU40", 2),
    ]
    assert (level("ARCH-EU38", "AU").reserved, level("RUN-EU40", "AU").reserved) == (0, 2)
    active = Reservation.objects.filter(status="active").values_list("stock__sku__code", "quantity")
    assert sorted(active) == [("ARCH-EU42", 1), ("RUN-EU40", 2)]
    assert services.stock_verify() == []


def test_update_without_item_changes_leaves_the_reservations_alone(client, world):
    post_shopify(client)
    ledger = StockMovement.objects.count()

    order = post_shopify(client, edited_order(email="new@example.com"), topic="orders/updated").json()["order"]

    assert order["status"] == "reserved" and order["email"] == "new@example.com"
    assert StockMovement.objects.count() == ledger  # nothing released, nothing reserved again
    assert not Order.objects.get().events.filter(kind__startswith="lines_").exists()


def test_item_change_while_picking_is_flagged_not_applied(client, world):
    order = Order.objects.get(pk=post_shopify(client).json()["order"]["id"])
    fulfilment_services.order_transition(order=order, status="picking")

    post_shopify(client, edited_order(removed_38=True), topic="orders/updated")

    order.refresh_from_db()
    assert order.status == "picking" and "changed the items" in order.needs_attention
    assert order.lines.count() == 2 and level("ARCH-EU38", "AU").reserved == 2
    assert order.events.filter(kind="lines_change_refused").exists()


def test_country_and_items_changed_while_picking_keep_both_flags(client, world):
    order = Order.objects.get(pk=post_shopify(client).json()["order"]["id"])
    fulfilment_services.order_transition(order=order, status="picking")
    german = shopify_address(country_code="DE", country="Germany", city="Berlin", address1="Bergmannstraße 5")

    post_shopify(client, edited_order(removed_38=True, shipping_address=german), topic="orders/updated")

    order.refresh_from_db()
    assert order.needs_attention == (
        "Destination country changed while picking; check the warehouse; "
        "Storefront changed the items while the order was picking; not applied"
    )
    post_shopify(client, edited_order(removed_38=True, shipping_address=german), topic="orders/updated")
    order.refresh_from_db()
    assert order.needs_attention.count("not applied") == 1  # the same reason is not repeated


def test_item_change_after_shipping_is_only_recorded(client, world):
    order = Order.objects.get(pk=post_shopify(client).json()["order"]["id"])
    for status in ("picking", "packed"):
        fulfilment_services.order_transition(order=order, status=status)
    fulfilment_services.order_ship(order=order)

    post_shopify(client, edited_order(removed_38=True), topic="orders/updated")

    order.refresh_from_db()
    assert (order.status, order.needs_attention) == ("shipped", "")
    assert order.lines.count() == 2
    assert order.events.filter(kind="lines_change_recorded").exists()
    assert services.stock_verify() == []


def test_storefront_update_keeps_the_sku_operations_fixed(client, world, client_for):
    unknown = shopify_order(line_items=[shopify_line(sku="ARCH-42-OLD")])
    order = post_shopify(client, unknown).json()["order"]
    assert order["hold_reason"] == "unknown_sku"
    ops = client_for("operations")
    line_id = order["lines"][0]["id"]
    assert (
        ops.patch(
            f"/api/orders/{order['id']}/edit", {"lines": [{"id": line_id, "sku": "ARCH-EU42"}]}, format="json"
        ).status_code
        == 200
    )
    assert ops.post(f"/api/orders/{order['id']}/release-hold").json()["status"] == "reserved"

    # The storefront still says ARCH-42-OLD for that line, and adds a second line.
    added = {"id": 14001234567999, "sku": "RUN-EU40", "quantity": 1}
    update = shopify_order(line_items=[shopify_line(sku="ARCH-42-OLD"), shopify_line(**added)], updated_at=LATER)
    order = post_shopify(client, update, topic="orders/updated").json()["order"]

    assert order["status"] == "reserved"
    assert sorted((line["sku"], line["sku_edited"]) for line in order["lines"]) == [
        ("ARCH-EU42", True),
        ("RUN-EU40", False),
    ]
    assert (level("ARCH-EU42", "AU").reserved, level("RUN-EU40", "AU").reserved) == (1, 1)


def test_held_order_takes_the_sku_the_storefront_corrects(client, world):
    """No one edited the line here: the storefront's corrected SKU for the same line id is taken."""
    order = post_shopify(client, shopify_order(line_items=[shopify_line(sku="ARCH-42-OLD")])).json()["order"]
    assert order["hold_reason"] == "unknown_sku"

    corrected = shopify_order(line_items=[shopify_line(sku="ARCH-EU42")], updated_at=LATER)
    order = post_shopify(client, corrected, topic="orders/updated").json()["order"]

    assert order["status"] == "reserved"
    assert [(line["sku"], line["sku_edited"]) for line in order["lines"]] == [("ARCH-EU42", False)]


# --- a race lost at the stock UPDATE -----------------------------------------------------------------


def steal_after_planning(monkeypatch, times: int) -> list[str]:
    """Each of the first ``times`` plans is made stale: right after it, someone reserves all of ARCH-EU42 in AU."""
    real_plan, plans = allocation.plan, []

    def stale_plan(candidates, need, available, **kwargs):
        plan = real_plan(candidates, need, available, **kwargs)
        plans.append(plan.warehouse.code)
        if len(plans) <= times:
            stock = level("ARCH-EU42", "AU")
            if stock.available:
                sku = stock.sku
                services.reservation_create(
                    warehouse=stock.warehouse, items=[(sku.pk, stock.available)], reference=f"thief:{len(plans)}"
                )
        return plan

    monkeypatch.setattr(allocation, "plan", stale_plan)
    return plans


def test_new_order_that_loses_the_race_plans_again_from_fresh_numbers(client, world, monkeypatch):
    plans = steal_after_planning(monkeypatch, times=1)
    order = post_shopify(client).json()["order"]

    # Planned twice: the first plan's UPDATE came up short and rolled back; with AU out of ARCH-EU42
    # the fresh plan finds the next warehouse by zone priority that can fill the whole order.
    assert plans == ["AU", "EU"]
    assert (order["status"], order["warehouse"]) == ("reserved", "EU")
    lines = {line["sku"]: (line["quantity_reserved"], line["quantity_backordered"]) for line in order["lines"]}
    assert lines == {"ARCH-EU42": (1, 0), "ARCH-EU38": (2, 0)}
    created = Order.objects.get()
    # One order, one set of lines and one timeline: nothing of the rolled-back attempt is left.
    assert created.lines.count() == 2
    assert list(created.events.values_list("kind", flat=True)) == ["received", "reserved"]
    assert Reservation.objects.filter(reference=created.reservation_reference).count() == 2
    assert (level("ARCH-EU42", "AU").reserved, level("ARCH-EU38", "AU").reserved) == (10, 0)  # the thief's
    assert (level("ARCH-EU42", "EU").reserved, level("ARCH-EU38", "EU").reserved) == (1, 2)
    assert InboxDelivery.objects.get().status == "processed"
    call_command("verify_stock")


def test_new_order_that_keeps_losing_the_race_is_backordered_whole(client, world, monkeypatch):
    real_reserve, attempts = services.reservation_create, []

    def always_short(**kwargs):
        attempts.append(kwargs["reference"])
        raise InsufficientStock("taken meanwhile", sku=0)

    monkeypatch.setattr(services, "reservation_create", always_short)
    order = post_shopify(client).json()["order"]

    assert len(attempts) == fulfilment_services.ALLOCATION_ATTEMPTS
    assert order["status"] == "backordered"
    assert {(line["quantity_reserved"], line["quantity_backordered"]) for line in order["lines"]} == {(0, 1), (0, 2)}
    assert not Reservation.objects.exists() and StockLevel.objects.filter(reserved__gt=0).count() == 0
    assert list(Order.objects.get().events.values_list("kind", flat=True)) == ["received", "backordered"]
    monkeypatch.setattr(services, "reservation_create", real_reserve)
    call_command("verify_stock")


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


# --- WooCommerce ---------------------------------------------------------------------------------


def test_woocommerce_processing_order_is_reserved(client, world):
    order = post_woo(client).json()["order"]
    assert (order["channel"], order["status"], order["warehouse"]) == ("woocommerce", "reserved", "EU")
    assert order["shipping_address"]["address1"] == "Bergmannstraße 5"


def test_woocommerce_pending_then_processing(client, world):
    held = post_woo(client, woo_order(status="pending", date_paid_gmt=None, date_paid=None)).json()["order"]
    assert (held["status"], held["hold_reason"]) == ("on_hold", "not_paid")
    paid = post_woo(client, woo_order(date_modified_gmt="2024-05-02T14:30:00")).json()["order"]
    assert (paid["id"], paid["status"]) == (held["id"], "reserved")


def test_woocommerce_paid_in_the_same_second_as_pending_is_not_a_duplicate(client, world):
    post_woo(client, woo_order(status="pending", date_paid_gmt=None, date_paid=None))
    paid = post_woo(client, woo_order()).json()  # same date_modified_gmt, now processing
    assert paid["duplicate"] is False and paid["order"]["status"] == "reserved"


def test_woocommerce_same_modification_twice_is_a_duplicate(client, world):
    post_woo(client)
    again = post_woo(client).json()  # new delivery id, same order id + date_modified
    assert again["duplicate"] is True and Order.objects.count() == 1


def test_woocommerce_ping_is_acknowledged(client, world):
    body, headers = woo_ping()
    response = client.post(
        "/webhooks/woocommerce", data=body, content_type="application/x-www-form-urlencoded", headers=headers
    )
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    assert not InboxDelivery.objects.exists()  # unsigned, so nothing is stored


def test_woocommerce_bad_signature(client, world):
    from tests.fulfilment.payloads import woo_webhook

    body, headers = woo_webhook(secret="not-the-secret")
    response = client.post("/webhooks/woocommerce", data=body, content_type="application/json", headers=headers)
    assert response.status_code == 401 and not InboxDelivery.objects.exists()


def test_woocommerce_webhook_from_another_shop_is_401_and_stores_nothing(client, world):
    response = post_woo(client, source="https://www.insoles-woo.example/")
    assert response.status_code == 401
    assert response.json()["code"] == "unknown_shop"
    assert not InboxDelivery.objects.exists() and not Order.objects.exists()


def test_shopify_secret_constant_is_the_configured_one(settings):
    assert SHOPIFY_SECRET in settings.SHOPIFY_WEBHOOK_SECRETS
