"""A storefront's later versions of an order: cancellation, updates, item changes, a race lost at the stock UPDATE."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from fulfilment import services as fulfilment_services
from fulfilment.models import InboxDelivery, Order
from fulfilment.services import allocation
from inventory import services
from inventory.errors import InsufficientStock
from inventory.models import Reservation, StockLevel, StockMovement
from tests.fulfilment.helpers import level, post_shopify
from tests.fulfilment.payloads import (
    shopify_address,
    shopify_line,
    shopify_order,
)

# Transactional: a webhook is processed after its acceptance commits (on_commit), as in production.
pytestmark = pytest.mark.django_db(transaction=True)


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
