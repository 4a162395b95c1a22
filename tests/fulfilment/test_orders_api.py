"""The staff order API: lists without N+1, detail with timeline, cancel, edit and release-hold."""

from __future__ import annotations

import pytest

from fulfilment import services as fulfilment_services
from fulfilment.errors import IllegalTransition
from fulfilment.models import Order
from inventory import services
from inventory.models import Sku, StockLevel, Warehouse
from tests.factories import ProductFactory, SizeFactory, SkuFactory
from tests.fulfilment.helpers import make_world, post_shopify, post_woo
from tests.fulfilment.payloads import shopify_address, shopify_line, shopify_order

# Transactional: a webhook is processed after its acceptance commits (on_commit), as in production.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ops(client_for):
    return client_for("operations")


def place(client, **overrides) -> dict:
    return post_shopify(client, shopify_order(**overrides)).json()["order"]


def test_order_list_filters_and_has_no_n_plus_one(client, world, ops, django_assert_max_num_queries):
    for i in range(12):
        place(
            client,
            id=100 + i,
            name=f"#{2000 + i}",
            email=f"c{i}@example.com",
            processed_at=f"2024-05-0{1 + i % 3}T10:00:00+00:00",
        )
    place(client, id=999, name="#2999", line_items=[shopify_line(sku="NOPE")])
    post_woo(client)

    with django_assert_max_num_queries(7):
        body = ops.get("/api/orders/", {"page_size": 100}).json()
    assert body["count"] == 14
    assert all(len(order["lines"]) >= 1 for order in body["results"])

    assert ops.get("/api/orders/", {"status": "on_hold"}).json()["count"] == 1
    assert ops.get("/api/orders/", {"status": ["on_hold", "reserved"]}).json()["count"] == 14
    # AU holds 10 x EU38 and each order takes 2: five fill there, then the rest-of-world warehouses step in.
    counts = {wh: ops.get("/api/orders/", {"warehouse": wh}).json()["count"] for wh in ("AU", "EU", "US")}
    assert counts == {"AU": 5, "EU": 5 + 1, "US": 2}
    assert ops.get("/api/orders/", {"channel": "woocommerce"}).json()["count"] == 1
    assert ops.get("/api/orders/", {"external_id": "105"}).json()["results"][0]["number"] == "#2005"
    assert ops.get("/api/orders/", {"search": "#2003"}).json()["results"][0]["external_id"] == "103"
    assert ops.get("/api/orders/", {"search": "c4@example.com"}).json()["count"] == 1
    assert ops.get("/api/orders/", {"service_level": "express"}).json()["count"] == 0
    assert ops.get("/api/orders/", {"paid_after": "2024-05-03T00:00:00Z", "channel": "shopify"}).json()["count"] == 4
    assert ops.get("/api/orders/", {"hold_reason": "unknown_sku"}).json()["count"] == 1
    bad = ops.get("/api/orders/", {"status": "lost"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"


def test_order_detail_has_lines_reservations_and_timeline(client, world, ops, django_assert_max_num_queries):
    order = place(client)
    with django_assert_max_num_queries(8):
        detail = ops.get(f"/api/orders/{order['id']}/").json()
    assert sorted((r["sku"], r["warehouse"], r["quantity"], r["status"]) for r in detail["reservations"]) == [
        ("ARCH-EU38", "AU", 2, "active"),
        ("ARCH-EU42", "AU", 1, "active"),
    ]
    assert [event["kind"] for event in detail["timeline"]] == ["received", "reserved"]
    assert ops.get("/api/orders/999999/").status_code == 404


def test_roles_for_orders(client, world, client_for, api_client):
    order = place(client)
    assert api_client.get("/api/orders/").status_code == 401
    assert client_for("warehouse").post(f"/api/orders/{order['id']}/cancel").status_code == 403
    assert client_for("warehouse").get("/api/orders/").status_code == 200
    assert client_for("storefront").get("/api/orders/", {"external_id": order["external_id"]}).json()["count"] == 1


def test_cancel_through_the_api_releases_stock_and_is_idempotent(client, world, ops):
    order = place(client)
    response = ops.post(f"/api/orders/{order['id']}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert ops.post(f"/api/orders/{order['id']}/cancel").status_code == 200
    assert StockLevel.objects.get(sku__code="ARCH-EU38", warehouse__code="AU").reserved == 0
    assert services.stock_verify() == []


def test_cancel_after_shipping_is_409_and_flagged(client, world, ops):
    order = Order.objects.get(pk=place(client)["id"])
    for status in ("picking", "packed"):
        fulfilment_services.order_transition(order=order, status=status)
    fulfilment_services.order_ship(order=order)

    response = ops.post(f"/api/orders/{order.pk}/cancel")
    assert response.status_code == 409
    assert response.json()["code"] == "illegal_transition"
    order.refresh_from_db()
    assert order.status == "shipped" and "arrange a return" in order.needs_attention
    assert ops.get("/api/orders/", {"needs_attention": "true"}).json()["count"] == 1


def test_illegal_transitions_are_refused(client, world, ops):
    order = Order.objects.get(pk=place(client)["id"])
    response = ops.post(f"/api/orders/{order.pk}/release-hold")
    assert response.status_code == 409 and response.json()["code"] == "illegal_transition"
    with pytest.raises(IllegalTransition):
        fulfilment_services.order_transition(order=order, status="shipped")
    order.refresh_from_db()
    assert order.status == "reserved"


def test_fix_unknown_sku_then_release_hold(client, world, ops):
    order = place(client, line_items=[shopify_line(sku="ARCH-42")])
    assert order["hold_reason"] == "unknown_sku"

    still = ops.post(f"/api/orders/{order['id']}/release-hold")
    assert still.status_code == 409 and still.json()["code"] == "still_on_hold"
    assert still.json()["extra"]["hold_reason"] == "unknown_sku"

    line_id = order["lines"][0]["id"]
    edited = ops.patch(
        f"/api/orders/{order['id']}/edit", {"lines": [{"id": line_id, "sku": "ARCH-EU42"}]}, format="json"
    )
    assert edited.status_code == 200 and edited.json()["status"] == "on_hold"
    released = ops.post(f"/api/orders/{order['id']}/release-hold")
    assert released.status_code == 200
    assert (released.json()["status"], released.json()["lines"][0]["quantity_reserved"]) == ("reserved", 1)


def test_sku_created_later_is_found_on_release(client, world, ops):
    order = place(client, line_items=[shopify_line(sku="THERMO-EU44")])
    sku = SkuFactory(product=ProductFactory(code="THERMO"), size=SizeFactory(label="44"), code="THERMO-EU44")
    services.stock_receive(sku=sku, warehouse=Warehouse.objects.get(code="AU"), quantity=3)
    assert ops.post(f"/api/orders/{order['id']}/release-hold").json()["status"] == "reserved"


def test_fix_missing_address_then_release_hold(client, world, ops):
    order = place(client, shipping_address=shopify_address(address1="", city=""))
    assert order["hold_reason"] == "missing_address"
    fix = {"shipping_address": {"address1": "10 Collins St", "city": "Melbourne", "country_code": "au"}}
    assert ops.patch(f"/api/orders/{order['id']}/edit", fix, format="json").status_code == 200
    released = ops.post(f"/api/orders/{order['id']}/release-hold").json()
    assert (released["status"], released["shipping_address"]["country_code"]) == ("reserved", "AU")


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"shipping_address": {"country_code": "Australia"}}, 400, "invalid"),
        ({"lines": [{"id": "x", "sku": "A"}]}, 400, "invalid"),
        ({"lines": [{"id": "1", "sku": "A"}]}, 400, "invalid"),  # a JSON integer, not a string
        ({"lines": [{"id": True, "sku": "A"}]}, 400, "invalid"),
        ({"lines": [{"id": 0, "sku": "A"}]}, 400, "invalid"),
        ({"lines": [{"id": 999999, "sku": "ARCH-EU42"}]}, 404, "not_found"),
    ],
)
def test_bad_edits_are_4xx_and_change_nothing(client, world, ops, payload, status, code):
    order = place(client, line_items=[shopify_line(sku="NOPE")])
    response = ops.patch(f"/api/orders/{order['id']}/edit", payload, format="json")
    assert response.status_code == status and response.json()["code"] == code
    assert Order.objects.get(pk=order["id"]).shipping_address == order["shipping_address"]
    assert Order.objects.get(pk=order["id"]).lines.get().sku_code == "NOPE"


def test_edit_refused_unless_on_hold(client, world, ops):
    order = place(client)
    response = ops.patch(f"/api/orders/{order['id']}/edit", {"shipping_address": {"city": "X"}}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "order_not_editable"


def test_backorder_keeps_one_warehouse_by_default(client, db, ops):
    make_world({"ARCH-EU42": 1, "ARCH-EU38": 0}, warehouses=("AU", "US"))
    order = place(client)
    assert (order["status"], order["warehouse"]) == ("backordered", "AU")
    assert [(line["sku"], line["quantity_reserved"], line["quantity_backordered"]) for line in order["lines"]] == [
        ("ARCH-EU42", 1, 0),
        ("ARCH-EU38", 0, 2),
    ]


def test_whole_order_prefers_a_warehouse_that_can_fill_it(client, db):
    world = make_world({"ARCH-EU42": 5, "ARCH-EU38": 0}, warehouses=("AU", "US"))
    services.stock_receive(sku=Sku.objects.get(code="ARCH-EU38"), warehouse=world["US"], quantity=2)
    order = place(client)
    assert (order["status"], order["warehouse"]) == ("reserved", "US")  # AU is closer but cannot fill it


def test_split_mode_reserves_across_warehouses(client, db, settings):
    settings.FULFILMENT_ALLOCATION = "split"
    world = make_world({"ARCH-EU42": 1, "ARCH-EU38": 1}, warehouses=("AU", "US"))
    order = place(client)
    assert order["status"] == "reserved"
    reserved = dict(StockLevel.objects.filter(sku__code="ARCH-EU38").values_list("warehouse__code", "reserved"))
    assert reserved == {"AU": 1, "US": 1}
    assert world["AU"].stock_levels.get(sku__code="ARCH-EU42").reserved == 1
    assert services.stock_verify() == []


def test_sweeper_fills_backorders_the_hook_missed(client, db, settings):
    world = make_world({"ARCH-EU42": 0, "ARCH-EU38": 0}, warehouses=("AU",))
    order = place(client)
    assert order["status"] == "backordered"
    settings.INVENTORY_STOCK_AVAILABLE_HOOKS = []  # as if the process died right after the receipt
    for code, units in (("ARCH-EU42", 1), ("ARCH-EU38", 2)):
        services.stock_receive(sku=Sku.objects.get(code=code), warehouse=world["AU"], quantity=units)
    assert Order.objects.get(pk=order["id"]).status == "backordered"
    assert fulfilment_services.backorders_sweep() == 3
    assert Order.objects.get(pk=order["id"]).status == "reserved"
    assert services.stock_verify() == []
