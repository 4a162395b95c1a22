"""Intake limits end to end over HTTP: a signed order that cannot be right is kept on hold, never lost.

Shop keys from configuration, implausible amounts and quantities, the topic against the signed
body, unbounded text and line counts. Transactional, as in test_intake.py: a webhook is
processed after its acceptance commits (on_commit), as in production.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from fulfilment import services as fulfilment_services
from fulfilment.models import InboxDelivery, Order
from fulfilment.storefronts.base import DEFAULT_SHOP
from inventory import services
from inventory.models import Reservation
from tests.fulfilment.helpers import level, post_shopify, post_woo, stock_snapshot
from tests.fulfilment.payloads import (
    shopify_address,
    shopify_body,
    shopify_customer,
    shopify_headers,
    shopify_line,
    shopify_order,
    shopify_shipping_line,
    shopify_webhook,
    woo_address,
    woo_body,
    woo_headers,
    woo_line,
    woo_order,
)

pytestmark = pytest.mark.django_db(transaction=True)


# --- the shop key comes from configuration, never from an unsigned header ----------------------


def test_woocommerce_without_a_configured_url_is_one_order_for_two_sources(client, world, settings):
    settings.WOOCOMMERCE_URL = ""
    first = post_woo(client, source="https://shop.example.com/").json()["order"]
    update = woo_order(date_modified_gmt="2024-05-02T14:30:00", line_items=[woo_line(quantity=2)])
    second = post_woo(client, update, source="https://www.shop.example.com/").json()["order"]

    assert second["id"] == first["id"]
    assert Order.objects.get().shop == DEFAULT_SHOP
    # One pair was reserved, then the update made it two: not one plus two.
    assert level("ARCH-EU42", "EU").reserved == 2
    assert services.stock_verify() == []
    # The unsigned header is still kept on the delivery, for diagnosis.
    sources = sorted(d.headers["x-wc-webhook-source"] for d in InboxDelivery.objects.all())
    assert sources == ["https://shop.example.com/", "https://www.shop.example.com/"]
    assert set(InboxDelivery.objects.values_list("shop", flat=True)) == {DEFAULT_SHOP}


def test_shopify_without_a_configured_domain_is_one_order_for_two_shop_headers(client, world, settings):
    settings.SHOPIFY_SHOP_DOMAIN = ""
    first = post_shopify(client, shop="insoles-test.myshopify.com").json()["order"]
    update = shopify_order(updated_at="2024-05-02T14:05:00+10:00")
    second = post_shopify(client, update, topic="orders/updated", shop="someone-else.myshopify.com").json()["order"]

    assert second["id"] == first["id"]
    assert Order.objects.get().shop == DEFAULT_SHOP
    assert (level("ARCH-EU42", "AU").reserved, level("ARCH-EU38", "AU").reserved) == (1, 2)
    headers = sorted(d.headers["x-shopify-shop-domain"] for d in InboxDelivery.objects.all())
    assert headers == ["insoles-test.myshopify.com", "someone-else.myshopify.com"]


def test_configured_shops_name_the_orders(client, world, settings):
    settings.SHOPIFY_SHOP_DOMAIN = "https://Insoles-Test.myshopify.com/"
    shopify = post_shopify(client, shop="INSOLES-TEST.myshopify.com").json()["order"]
    woo = post_woo(client, source="https://Insoles-Woo.example/").json()["order"]
    # Reconciliation names the WooCommerce shop shop_host(WOOCOMMERCE_URL): webhooks must agree.
    assert (shopify["shop"], woo["shop"]) == ("insoles-test.myshopify.com", "insoles-woo.example")


# --- amounts and numbers that pass as JSON but do not fit their columns ---------------------------


def _held(response, reason: str) -> dict:
    assert response.status_code == 200, response.content
    order = response.json()["order"]
    assert (order["status"], order["hold_reason"]) == ("on_hold", reason), order["hold_detail"]
    assert not Reservation.objects.filter(status=Reservation.Status.ACTIVE).exists()
    return order


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("overrides", "field", "value"),
    [
        ({"line_items": [shopify_line(price="99999999999.99")]}, "line_items[0].price", "99999999999.99"),
        # Rounds to 10000000000.00 in DECIMAL(12,2): one cent past what the column holds.
        ({"line_items": [shopify_line(price="9999999999.995")]}, "line_items[0].price", "9999999999.995"),
        ({"total_price": "999999999999.995"}, "total_price", "999999999999.995"),
        ({"total_price": "1e300"}, "total_price", "1e300"),
        ({"total_price": "-5.00"}, "total_price", "-5.00"),
        # A JSON number too large for a float arrives as infinity.
        ({"line_items": [shopify_line(price="JSON:1e400")]}, "line_items[0].price", "inf"),
    ],
)
def test_an_amount_beyond_its_column_is_held_not_lost(client, world, overrides, field, value):
    body = shopify_body(shopify_order(**overrides)).replace(b'"JSON:1e400"', b"1e400")
    headers = shopify_headers(body)

    first = client.post("/webhooks/shopify", data=body, content_type="application/json", headers=headers)

    order = _held(first, "implausible_amount")
    assert field in order["hold_detail"] and value in order["hold_detail"]
    assert "stored 0" in order["hold_detail"]
    stored = Order.objects.get()
    if field == "total_price":
        assert stored.total_price == 0
    else:
        assert stored.lines.get(external_id="14001234567890").unit_price == 0
    assert InboxDelivery.objects.get().status == "processed"
    # The storefront's retry (same event) is a duplicate of the same held order, not a failure.
    again = client.post("/webhooks/shopify", data=body, content_type="application/json", headers=headers)
    assert (again.json()["duplicate"], again.json()["order"]["id"]) == (True, order["id"])
    assert Order.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("overrides", "stored"),
    [
        # The largest values the columns hold, after rounding to cents.
        ({"line_items": [shopify_line(price="9999999999.99")]}, ("9999999999.99", None)),
        ({"line_items": [shopify_line(price="9999999999.994")]}, ("9999999999.99", None)),
        ({"total_price": "999999999999.994"}, (None, "999999999999.99")),
        ({"total_price": "12.345"}, (None, "12.35")),
    ],
)
def test_the_largest_amounts_a_column_holds_are_accepted(client, world, overrides, stored):
    response = post_shopify(client, shopify_order(**overrides))
    assert response.json()["order"]["status"] == "reserved"
    order = Order.objects.get()
    unit_price, total_price = stored
    if unit_price:
        assert order.lines.get(external_id="14001234567890").unit_price == Decimal(unit_price)
    if total_price:
        assert order.total_price == Decimal(total_price)


@pytest.mark.postgres
@pytest.mark.parametrize("weight", [2**31, -1])
def test_a_weight_beyond_its_column_is_held(client, world, weight):
    order = _held(post_shopify(client, shopify_order(total_weight=weight)), "implausible_amount")
    assert f"total_weight is {weight}" in order["hold_detail"]
    assert Order.objects.get().total_weight_g == 0


def test_woocommerce_amount_beyond_its_column_is_held(client, world):
    order = _held(post_woo(client, woo_order(total="1000000000000")), "implausible_amount")
    assert "total is 1000000000000" in order["hold_detail"]


# --- quantities -----------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("quantity", [2**31 - 1, 2**31, 2**63, 501])
def test_an_implausible_quantity_is_held_and_reserves_nothing(client, world, quantity):
    before = stock_snapshot()
    lines = [shopify_line(quantity=quantity, fulfillable_quantity=quantity)]
    order = _held(post_shopify(client, shopify_order(line_items=lines)), "implausible_quantity")

    assert f"line_items[0].quantity is {quantity}" in order["hold_detail"]
    assert stock_snapshot() == before
    assert order["lines"][0]["quantity_backordered"] == 0
    # What fits the column is kept; nothing is reserved or backordered for it.
    assert order["lines"][0]["quantity"] == min(quantity, 2**31 - 1)


def test_the_quantity_limit_is_a_setting(client, world, settings):
    settings.FULFILMENT_MAX_LINE_QUANTITY = 3
    lines = [shopify_line(quantity=4, fulfillable_quantity=4)]
    order = _held(post_shopify(client, shopify_order(line_items=lines)), "implausible_quantity")
    assert "FULFILMENT_MAX_LINE_QUANTITY (3)" in order["hold_detail"]


def test_the_largest_plausible_quantity_is_allocated(client, world):
    lines = [shopify_line(quantity=500, fulfillable_quantity=500)]
    order = post_shopify(client, shopify_order(line_items=lines)).json()["order"]
    assert (order["status"], order["lines"][0]["quantity_reserved"]) == ("backordered", 10)


def test_woocommerce_implausible_quantity_is_held(client, world):
    order = _held(post_woo(client, woo_order(line_items=[woo_line(quantity=2**40)])), "implausible_quantity")
    assert f"line_items[0].quantity is {2**40}" in order["hold_detail"]


def test_release_keeps_an_implausible_order_held_until_the_storefront_fixes_it(client, world, client_for, settings):
    lines = [shopify_line(quantity=2**31 - 1, fulfillable_quantity=2**31 - 1)]
    held = _held(post_shopify(client, shopify_order(line_items=lines, total_price="1e20")), "implausible_quantity")

    release = client_for("operations").post(f"/api/orders/{held['id']}/release-hold")
    assert release.status_code == 409
    assert (release.json()["code"], release.json()["extra"]["hold_reason"]) == ("still_on_hold", "implausible_quantity")
    assert Order.objects.get().status == "on_hold" and not Reservation.objects.exists()

    fixed = shopify_order(updated_at="2024-05-02T14:05:00+10:00")
    order = post_shopify(client, fixed, topic="orders/updated").json()["order"]
    assert (order["id"], order["status"], order["hold_reason"], order["total_price"]) == (
        held["id"],
        "reserved",
        "",
        "189.80",
    )
    assert (level("ARCH-EU42", "AU").reserved, level("ARCH-EU38", "AU").reserved) == (1, 2)
    assert services.stock_verify() == []


def test_release_rechecks_a_quantity_against_the_current_setting(client, world, client_for, settings):
    settings.FULFILMENT_MAX_LINE_QUANTITY = 1
    held = _held(post_shopify(client), "implausible_quantity")  # its second line has 2 pairs
    ops = client_for("operations")
    assert ops.post(f"/api/orders/{held['id']}/release-hold").status_code == 409

    settings.FULFILMENT_MAX_LINE_QUANTITY = 2
    released = ops.post(f"/api/orders/{held['id']}/release-hold")
    assert (released.status_code, released.json()["status"]) == (200, "reserved")


# --- the signed body decides paid and cancelled; the unsigned topic only routes ----------------------


def test_an_unpaid_body_posted_as_orders_paid_is_held_not_reserved(client, world):
    unpaid = shopify_order(financial_status="pending")
    order = _held(post_shopify(client, unpaid, topic="orders/paid"), "topic_mismatch")
    assert "financial_status is 'pending'" in order["hold_detail"] and "orders/paid" in order["hold_detail"]
    assert order["paid_at"] is None and Order.objects.get().is_paid is False

    # A storefront version that is paid (and says so) releases it.
    paid = shopify_order(updated_at="2024-05-02T14:05:00+10:00")
    allocated = post_shopify(client, paid, topic="orders/paid").json()["order"]
    assert (allocated["id"], allocated["status"], allocated["hold_reason"]) == (order["id"], "reserved", "")


def test_orders_cancelled_without_cancelled_at_does_not_cancel_or_release(client, world):
    reserved = post_shopify(client).json()["order"]
    before = stock_snapshot()
    replayed = shopify_order(updated_at="2024-05-02T14:05:00+10:00")  # signed, paid, not cancelled

    response = post_shopify(client, replayed, topic="orders/cancelled")

    assert response.status_code == 200
    order = Order.objects.get()
    assert (order.pk, order.status) == (reserved["id"], "reserved")
    assert stock_snapshot() == before and Reservation.objects.count() == 2
    assert "topic" in order.needs_attention
    event = order.events.get(kind="topic_mismatch")
    assert "cancelled_at" in event.message
    assert services.stock_verify() == []


def test_orders_cancelled_without_cancelled_at_as_first_news_is_held(client, world):
    order = _held(post_shopify(client, topic="orders/cancelled"), "topic_mismatch")
    assert "cancelled_at" in order["hold_detail"]


def test_a_cancelled_body_cancels_whatever_the_topic(client, world):
    post_shopify(client)
    cancelled = shopify_order(cancelled_at="2024-05-02T15:00:00+10:00", updated_at="2024-05-02T15:00:01+10:00")
    order = post_shopify(client, cancelled, topic="orders/updated").json()["order"]
    assert order["status"] == "cancelled"
    assert (level("ARCH-EU42", "AU").reserved, level("ARCH-EU38", "AU").reserved) == (0, 0)


@pytest.mark.parametrize("topic", ["orders/updated", "orders/paid"])
def test_a_bare_delete_body_under_an_order_topic_changes_nothing(client, world, topic):
    # orders/delete sends {"id": n}: signed, but not a version of the order.
    reserved = post_shopify(client).json()["order"]
    before = stock_snapshot()
    response = post_shopify(client, {"id": int(reserved["external_id"])}, topic=topic)

    assert response.status_code == 200
    order = Order.objects.get()
    assert order.status == "reserved" and order.lines.count() == 2
    assert order.shipping_address["city"] == "Fitzroy"
    assert stock_snapshot() == before
    assert order.events.filter(kind="topic_mismatch").exists()


def test_woocommerce_status_decides_whatever_the_topic(client, world):
    held = post_woo(client, woo_order(status="on-hold", date_paid_gmt=None), topic="order.created").json()["order"]
    assert (held["status"], held["hold_reason"]) == ("on_hold", "not_paid")
    cancelled = woo_order(status="cancelled", date_modified_gmt="2024-05-02T14:40:00")
    assert post_woo(client, cancelled, topic="order.created").json()["order"]["status"] == "cancelled"


def test_woocommerce_bare_delete_body_under_order_updated_changes_nothing(client, world):
    reserved = post_woo(client).json()["order"]
    before = stock_snapshot()
    body = woo_body({"id": 727})
    headers = woo_headers(body, topic="order.updated", delivery_id="d-1")
    response = client.post("/webhooks/woocommerce", data=body, content_type="application/json", headers=headers)

    assert response.status_code == 200
    order = Order.objects.get()
    assert (order.pk, order.status, order.lines.count()) == (reserved["id"], "reserved", 1)
    assert stock_snapshot() == before
    assert order.events.filter(kind="topic_mismatch").exists()


# --- unbounded text and line counts -------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "field"),
    [
        ({"address1": "1 Long Road " * 8334}, "address1"),
        ({"address2": "x" * 256}, "address2"),
        ({"name": "N" * 300, "first_name": "N", "last_name": "N"}, "name"),
        ({"company": "C" * 256}, "company"),
        ({"city": "C" * 1000}, "city"),
        ({"province": "P" * 256}, "province"),
        ({"province_code": "V" * 17}, "province_code"),
        ({"zip": "3" * 33}, "postcode"),
        ({"phone": "+61" + "4" * 100}, "phone"),
    ],
)
def test_a_shipping_field_too_long_for_a_label_is_held_and_stored_shortened(client, world, address, field):
    payload = shopify_order(shipping_address=shopify_address(**address))
    order = _held(post_shopify(client, payload), "text_too_long")

    assert f"shipping_address.{field}" in order["hold_detail"] and "stored the first" in order["hold_detail"]
    stored = Order.objects.get().shipping_address[field]
    sent = next(iter(address.values()))
    assert stored == sent[: len(stored)] and len(stored) < len(sent)


def test_a_100000_character_address_line_is_held_quickly(client, world):
    started = time.monotonic()
    order = _held(
        post_shopify(client, shopify_order(shipping_address=shopify_address(address1="x" * 100_000))), "text_too_long"
    )
    assert time.monotonic() - started < 5
    assert len(Order.objects.get().shipping_address["address1"]) == 255
    assert "100000 characters" in order["hold_detail"]


def test_an_email_too_long_is_held(client, world):
    email = "o" * 300 + "@example.com"
    order = _held(post_shopify(client, shopify_order(email=email)), "text_too_long")
    assert "shipping_address.email" in order["hold_detail"]
    stored = Order.objects.get()
    assert (len(stored.email), len(stored.shipping_address["email"])) == (254, 254)


def test_woocommerce_address_too_long_is_held(client, world):
    order = _held(post_woo(client, woo_order(shipping=woo_address(address_1="B" * 5000))), "text_too_long")
    assert "shipping_address.address1" in order["hold_detail"]


def test_titles_and_shipping_method_are_shortened_without_a_hold(client, world):
    lines = [shopify_line(name="Arch Support Insole " * 50), shopify_line(id=2, sku="ARCH-EU38", name="T" * 10_000)]
    payload = shopify_order(
        line_items=lines,
        shipping_lines=[shopify_shipping_line(title="Standard " * 200)],
        name="#" + "1" * 100,
        customer=shopify_customer(first_name="F" * 300),
    )
    order = post_shopify(client, payload).json()["order"]
    assert order["status"] == "reserved"
    stored = Order.objects.get()
    assert [len(line.title) for line in stored.lines.all()] == [255, 255]
    assert (len(stored.shipping_method), len(stored.number), len(stored.customer_name)) == (255, 64, 255)


def test_release_keeps_a_long_address_held_until_operations_correct_it(client, world, client_for):
    payload = shopify_order(shipping_address=shopify_address(address1="12 Example Street " * 100))
    held = _held(post_shopify(client, payload), "text_too_long")
    ops = client_for("operations")

    release = ops.post(f"/api/orders/{held['id']}/release-hold")
    assert (release.status_code, release.json()["extra"]["hold_reason"]) == (409, "text_too_long")

    edit = ops.patch(
        f"/api/orders/{held['id']}/edit", {"shipping_address": {"address1": "12 Example Street"}}, format="json"
    )
    assert edit.status_code == 200
    released = ops.post(f"/api/orders/{held['id']}/release-hold")
    assert (released.status_code, released.json()["status"]) == (200, "reserved")


def _bare_lines(count: int) -> list[dict]:
    # Only the fields we read, so a 5,000-line body stays under Django's upload limit.
    return [{"id": 10_000 + n, "sku": "ARCH-EU42", "quantity": 1, "price": "1.00"} for n in range(count)]


def test_an_order_with_too_many_lines_is_held_with_the_first_lines_stored(client, world):
    started = time.monotonic()
    order = _held(post_shopify(client, shopify_order(line_items=_bare_lines(5000))), "too_many_lines")
    assert time.monotonic() - started < 10

    assert "line_items has 5000 lines" in order["hold_detail"] and "stored the first 100" in order["hold_detail"]
    assert Order.objects.get().lines.count() == 100


def test_a_realistic_order_larger_than_any_api_request_is_stored_and_held_not_refused(client, world, settings):
    """Whole Shopify line items (not bare ones): the body passes Django's upload limit for API requests."""
    lines = [shopify_line(id=n, sku="ARCH-EU42", title="ArchPro insole " * 20) for n in range(1, 3001)]
    body, headers = shopify_webhook(shopify_order(line_items=lines))
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = client.post("/webhooks/shopify", data=body, content_type="application/json", headers=headers)
    assert response.status_code == 200
    order = _held(response, "too_many_lines")
    assert Order.objects.get(pk=order["id"]).lines.count() == 100


def test_a_webhook_over_its_body_limit_is_a_json_413_and_stores_nothing(client, world, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 2000
    body, headers = shopify_webhook(shopify_order(note="x" * 3000))
    response = client.post("/webhooks/shopify", data=body, content_type="application/json", headers=headers)
    assert response.status_code == 413
    assert response.json() == {
        "detail": "The request body is too large.",
        "code": "request_too_large",
        "extra": {"max_bytes": 2000},
    }
    assert not InboxDelivery.objects.exists() and not Order.objects.exists()


def test_the_line_limit_is_a_setting_and_release_keeps_the_order_held(client, world, client_for, settings):
    settings.FULFILMENT_MAX_LINES = 2
    three = [shopify_line(), shopify_line(id=2, sku="ARCH-EU38"), shopify_line(id=3, sku="RUN-EU40")]
    held = _held(post_shopify(client, shopify_order(line_items=three)), "too_many_lines")
    assert "FULFILMENT_MAX_LINES (2)" in held["hold_detail"]
    assert [line["sku"] for line in held["lines"]] == ["ARCH-EU42", "ARCH-EU38"]

    # Raising the limit does not help: the third line was never stored, only the storefront has it.
    settings.FULFILMENT_MAX_LINES = 100
    assert client_for("operations").post(f"/api/orders/{held['id']}/release-hold").status_code == 409

    update = shopify_order(line_items=three, updated_at="2024-05-02T14:05:00+10:00")
    order = post_shopify(client, update, topic="orders/updated").json()["order"]
    assert (order["id"], order["status"], len(order["lines"])) == (held["id"], "reserved", 3)


# --- an implausible update of an order already allocated -------------------------------------------


def test_an_implausible_update_before_picking_holds_the_order_and_releases_its_stock(client, world):
    post_shopify(client)
    update = shopify_order(total_price="1e20", updated_at="2024-05-02T14:05:00+10:00")
    order = _held(post_shopify(client, update, topic="orders/updated"), "implausible_amount")
    assert "total_price is 1e20" in order["hold_detail"]
    assert (level("ARCH-EU42", "AU").reserved, level("ARCH-EU38", "AU").reserved) == (0, 0)
    assert services.stock_verify() == []


def test_an_implausible_update_while_picking_is_flagged_not_applied(client, world):
    order = Order.objects.get(pk=post_shopify(client).json()["order"]["id"])
    fulfilment_services.order_transition(order=order, status="picking")
    update = shopify_order(total_price="1e20", updated_at="2024-05-02T14:05:00+10:00")
    post_shopify(client, update, topic="orders/updated")

    order.refresh_from_db()
    assert order.status == "picking" and "cannot be right" in order.needs_attention
    assert order.events.filter(kind="implausible_update").exists()
    assert (level("ARCH-EU42", "AU").reserved, level("ARCH-EU38", "AU").reserved) == (1, 2)
