"""WooCommerce webhook parsing into IncomingOrder (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from fulfilment.errors import PayloadInvalid
from fulfilment.storefronts import woocommerce
from fulfilment.storefronts.base import Address
from tests.fulfilment.helpers import woo_delivery, woo_event
from tests.fulfilment.payloads import (
    woo_address,
    woo_body,
    woo_line,
    woo_order,
    woo_shipping_line,
)

# --- WooCommerce parse ----------------------------------------------------------


def test_woo_parse_processing_order_values():
    event = woo_event()
    assert event is not None
    assert event.action == "upsert"
    order = event.order
    assert order.external_id == "727"
    assert order.number == "727"
    assert order.email == "lukas@example.de"
    assert order.customer_name == "Lukas Schmidt"
    assert order.financial_status == "processing"
    assert order.is_paid is True
    assert order.is_cancelled is False
    assert order.currency == "EUR"
    assert order.total_price == Decimal("68.16")
    assert order.total_weight_g == 0
    assert order.service_level == "standard"
    assert order.shipping_method == "Flat rate"
    assert order.paid_at == datetime(2024, 5, 2, 14, 21, 4, tzinfo=UTC)
    assert order.updated_at == datetime(2024, 5, 2, 14, 21, 5, tzinfo=UTC)
    assert order.cancelled_at is None
    assert order.shipping_address == Address(
        name="Lukas Schmidt",
        address1="Bergmannstraße 5",
        city="Berlin",
        province="BE",
        province_code="BE",
        postcode="10961",
        country_code="DE",
        phone="+49 30 1234567",
        email="lukas@example.de",
    )
    (line,) = order.lines
    assert (line.external_id, line.sku, line.title, line.quantity) == (
        "311",
        "ARCH-EU42",
        "Arch Support Insole - EU 42",
        1,
    )
    assert line.unit_price == Decimal("50.38")
    assert isinstance(line.unit_price, Decimal)
    assert (line.requires_shipping, line.fulfillable_quantity) == (True, None)


@pytest.mark.parametrize(
    ("status", "is_paid", "action"),
    [
        ("processing", True, "upsert"),
        ("completed", True, "upsert"),
        ("pending", False, "upsert"),
        ("on-hold", False, "upsert"),
        ("failed", False, "upsert"),
        ("refunded", False, "upsert"),
        ("cancelled", False, "cancel"),
        ("wc-processing", True, "upsert"),
    ],
)
def test_woo_status_rules(status, is_paid, action):
    payload = woo_order(status=status, date_paid_gmt=None if not is_paid else "2024-05-02T14:21:04")
    event = woo_event(payload)
    assert event is not None
    assert event.order.is_paid is is_paid
    assert event.action == action
    assert event.order.is_cancelled is (action == "cancel")
    assert (event.order.paid_at is not None) is is_paid


def test_woo_pending_order_has_no_paid_at():
    event = woo_event(
        woo_order(status="pending", date_paid=None, date_paid_gmt=None, needs_payment=True), topic="order.created"
    )
    assert event is not None
    assert (event.order.is_paid, event.order.paid_at, event.action) == (False, None, "upsert")


def test_woo_cash_on_delivery_paid_at_falls_back_to_created():
    event = woo_event(woo_order(payment_method="cod", date_paid=None, date_paid_gmt=None))
    assert event is not None
    assert event.order.is_paid is True
    assert event.order.paid_at == datetime(2024, 5, 2, 14, 20, 41, tzinfo=UTC)


def test_woo_timestamps_with_explicit_offset_are_converted_to_utc():
    event = woo_event(woo_order(date_modified_gmt="2024-05-02T16:21:05+02:00"))
    assert event is not None
    assert event.order.updated_at == datetime(2024, 5, 2, 14, 21, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    "topic",
    ["order.deleted", "order.restored", "product.updated", "customer.created", "action.woocommerce_payment_complete"],
)
def test_woo_ignored_topics_parse_to_none(topic):
    assert woo_event(topic=topic) is None


def test_woo_express_from_method_title_or_id():
    by_title = woo_event(woo_order(shipping_lines=[woo_shipping_line(method_title="DHL Express (1-2 days)")]))
    by_id = woo_event(woo_order(shipping_lines=[woo_shipping_line(method_id="express_rate", method_title="Fast")]))
    assert by_title is not None and by_id is not None
    assert by_title.order.service_level == by_id.order.service_level == "express"
    assert by_title.order.shipping_method == "DHL Express (1-2 days)"


def test_woo_cyrillic_and_japanese_text_survive_php_escaping():
    shipping = woo_address(
        first_name="Дмитрий",
        last_name="Смирнов",
        address_1="Невский пр., 28",
        city="Санкт-Петербург",
        state="",
        postcode="191186",
        country="RU",
    )
    billing = woo_address(first_name="花子", last_name="佐藤", email="hanako@example.jp", phone="")
    event = woo_event(woo_order(shipping=shipping, billing=billing))
    assert event is not None
    assert event.order.customer_name == "花子 佐藤"
    shipped = event.order.shipping_address
    assert shipped is not None
    assert (shipped.name, shipped.address1, shipped.city, shipped.country_code) == (
        "Дмитрий Смирнов",
        "Невский пр., 28",
        "Санкт-Петербург",
        "RU",
    )


def test_woo_float_prices_become_the_cents_the_column_stores():
    # From the float's shortest repr ("16.666666666666668"), never its binary expansion, then
    # rounded half away from zero as PostgreSQL rounds into DECIMAL(12,2).
    lines = [
        woo_line(price=16.666666666666668, quantity=3),
        woo_line(id=2, price=12, sku="ARCH-EU38"),
        woo_line(id=3, price=0.125, sku="ARCH-EU38"),
    ]
    event = woo_event(woo_order(line_items=lines))
    assert event is not None
    assert [str(line.unit_price) for line in event.order.lines] == ["16.67", "12.00", "0.13"]
    assert [line.quantity for line in event.order.lines] == [3, 1, 1]


def test_woo_virtual_order_blank_shipping_is_none():
    blank = dict.fromkeys(woo_address(), "")
    event = woo_event(woo_order(shipping=blank, shipping_lines=[]))
    assert event is not None
    assert event.order.shipping_address is None
    assert event.order.customer_name == "Lukas Schmidt"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (woo_order(line_items=[woo_line(quantity="1")]), "line_items[0].quantity"),
        (woo_order(line_items=[woo_line(price="free")]), "line_items[0].price"),
        (woo_order(line_items=[woo_line(sku=12.5)]), "line_items[0].sku"),
        (woo_order(line_items={"0": woo_line()}), "line_items"),
        (woo_order(shipping=["Berlin"]), "shipping"),
        (woo_order(billing="lukas@example.de"), "billing"),
        (woo_order(shipping_lines=[woo_shipping_line(method_id={"id": 1})]), "shipping_lines[0].method_id"),
        (woo_order(date_paid_gmt="02/05/2024"), "date_paid_gmt"),
        (woo_order(total=[68.16]), "total"),
    ],
)
def test_woo_parse_invalid_payload_names_the_field(payload, field):
    with pytest.raises(PayloadInvalid) as info:
        woocommerce.parse(woo_delivery(woo_body(payload)))
    assert info.value.extra == {"field": field}


@pytest.mark.parametrize(
    ("line", "reason", "field"),
    [
        (woo_line(quantity=-2), "implausible_quantity", "line_items[0].quantity"),
        (woo_line(quantity=2**63), "implausible_quantity", "line_items[0].quantity"),
        (woo_line(price=1e11), "implausible_amount", "line_items[0].price"),
        (woo_line(price=-0.5), "implausible_amount", "line_items[0].price"),
    ],
)
def test_woo_implausible_numbers_are_issues_not_400(line, reason, field):
    event = woo_event(woo_order(line_items=[line]))
    assert event is not None
    assert [(issue.reason, issue.field) for issue in event.order.issues] == [(reason, field)]


@pytest.mark.parametrize("topic", ["order.created", "order.updated"])
def test_woo_status_decides_whatever_the_topic(topic):
    # Both topics only route; a cancelled body is a cancel, a pending one not paid, under either.
    assert woo_event(woo_order(status="cancelled"), topic=topic).action == "cancel"
    pending = woo_event(woo_order(status="pending"), topic=topic)
    assert (pending.action, pending.order.is_paid, pending.order.issues) == ("upsert", False, ())


def test_woo_body_without_status_is_no_version_of_the_order():
    event = woocommerce.parse(woo_delivery(woo_body({"id": 727}), topic="order.updated"))
    assert event is not None
    assert [(i.reason, i.field) for i in event.order.issues] == [("topic_mismatch", "status")]
