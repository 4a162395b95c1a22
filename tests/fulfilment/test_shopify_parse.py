"""Shopify webhook parsing into IncomingOrder (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from fulfilment.errors import PayloadInvalid
from fulfilment.storefronts import shopify
from fulfilment.storefronts.base import Address
from tests.fulfilment.helpers import shopify_delivery, shopify_event
from tests.fulfilment.payloads import (
    SHOPIFY_SECRET,
    shopify_address,
    shopify_body,
    shopify_line,
    shopify_order,
    shopify_shipping_line,
    shopify_webhook,
)

# --- Shopify parse --------------------------------------------------------------


def test_shopify_parse_paid_order_values():
    event = shopify_event(topic="orders/paid")
    assert event is not None
    assert event.action == "upsert"
    order = event.order
    assert order.external_id == "5901234567890"
    assert order.number == "#1001"
    assert order.email == "olivia@example.com"
    assert order.customer_name == "Olivia Nguyen"
    assert order.financial_status == "paid"
    assert order.is_paid is True
    assert order.is_cancelled is False
    assert order.currency == "AUD"
    assert order.total_price == Decimal("189.80")
    assert isinstance(order.total_price, Decimal)
    assert order.total_weight_g == 360
    assert order.service_level == "standard"
    assert order.shipping_method == "Standard Shipping"
    assert order.paid_at == datetime(2024, 5, 2, 4, 3, 6, tzinfo=UTC)
    assert order.paid_at.utcoffset().total_seconds() == 0
    assert order.updated_at == datetime(2024, 5, 2, 4, 3, 10, tzinfo=UTC)
    assert order.cancelled_at is None
    assert order.shipping_address == Address(
        name="Olivia Nguyen",
        company="",
        address1="12 Example Street",
        address2="Unit 4",
        city="Fitzroy",
        province="Victoria",
        province_code="VIC",
        postcode="3065",
        country_code="AU",
        phone="+61 400 000 000",
        email="olivia@example.com",
    )
    assert [(line.sku, line.quantity, line.unit_price, line.fulfillable_quantity) for line in order.lines] == [
        ("ARCH-EU42", 1, Decimal("59.95"), 1),
        ("ARCH-EU38", 2, Decimal("59.95"), 2),
    ]
    first = order.lines[0]
    assert first.external_id == "14001234567890"
    assert first.title == "Arch Support Insole - EU 42"
    assert first.requires_shipping is True


def test_shopify_parse_keeps_the_delivery():
    body, headers = shopify_webhook(event_id="evt-keep")
    delivery = shopify.verify(headers=headers, body=body, secrets=[SHOPIFY_SECRET])
    event = shopify.parse(delivery)
    assert event is not None
    assert event.delivery is delivery


def test_shopify_parse_cancelled_order():
    payload = shopify_order(
        cancelled_at="2024-05-03T09:30:00+10:00",
        cancel_reason="customer",
        financial_status="refunded",
        closed_at="2024-05-03T09:30:00+10:00",
    )
    event = shopify_event(payload, topic="orders/cancelled")
    assert event is not None
    assert event.action == "cancel"
    assert event.order.is_cancelled is True
    assert event.order.is_paid is False
    assert event.order.paid_at is None
    assert event.order.cancelled_at == datetime(2024, 5, 2, 23, 30, tzinfo=UTC)
    assert event.order.cancelled_at.tzinfo is not None


def test_shopify_parse_updated_unpaid_order_is_upsert_not_paid():
    event = shopify_event(shopify_order(financial_status="pending"), topic="orders/updated")
    assert event is not None
    assert event.action == "upsert"
    assert event.order.is_paid is False
    assert event.order.paid_at is None
    assert event.order.financial_status == "pending"


def test_shopify_parse_updated_with_cancelled_at_is_a_cancel():
    # orders/updated can arrive after orders/cancelled; it must not resurrect the order.
    payload = shopify_order(cancelled_at="2024-05-03T09:30:00+10:00", financial_status="voided")
    event = shopify_event(payload, topic="orders/updated")
    assert event is not None
    assert event.action == "cancel"
    assert event.order.is_cancelled is True


@pytest.mark.parametrize(
    ("financial_status", "is_paid"),
    [
        ("paid", True),
        ("partially_refunded", True),
        ("PAID", True),
        ("pending", False),
        ("authorized", False),
        ("partially_paid", False),
        ("refunded", False),
        ("voided", False),
        (None, False),
    ],
)
def test_shopify_paid_rule_on_orders_updated(financial_status, is_paid):
    event = shopify_event(shopify_order(financial_status=financial_status), topic="orders/updated")
    assert event is not None
    assert event.order.is_paid is is_paid
    assert (event.order.paid_at is not None) is is_paid


def test_shopify_orders_paid_topic_does_not_make_an_unpaid_body_paid():
    # The topic header is not signed: the same body re-posted as orders/paid must not reserve.
    event = shopify_event(shopify_order(financial_status="authorized"), topic="orders/paid")
    assert event is not None
    assert (event.action, event.order.is_paid, event.order.paid_at) == ("upsert", False, None)
    assert [(i.reason, i.field) for i in event.order.issues] == [("topic_mismatch", "financial_status")]
    assert "'authorized'" in event.order.issues[0].detail


def test_shopify_orders_cancelled_topic_does_not_cancel_a_body_without_cancelled_at():
    event = shopify_event(shopify_order(), topic="orders/cancelled")
    assert event is not None
    assert (event.action, event.order.is_cancelled, event.order.is_paid) == ("upsert", False, True)
    assert [(i.reason, i.field) for i in event.order.issues] == [("topic_mismatch", "cancelled_at")]


@pytest.mark.parametrize("topic", ["orders/paid", "orders/updated", "orders/cancelled"])
def test_shopify_topics_agreeing_with_the_body_are_no_issue(topic):
    payload = shopify_order(cancelled_at="2024-05-03T09:30:00+10:00") if topic == "orders/cancelled" else None
    event = shopify_event(payload, topic=topic)
    assert event is not None
    assert event.order.issues == ()
    assert event.action == ("cancel" if topic == "orders/cancelled" else "upsert")


@pytest.mark.parametrize("topic", ["orders/paid", "orders/updated", "orders/cancelled"])
def test_shopify_body_without_financial_status_is_no_version_of_the_order(topic):
    # orders/delete sends {"id": n}; re-posted under an order topic it must not wipe the order.
    event = shopify.parse(shopify_delivery(b'{"id": 1}', topic=topic))
    assert event is not None
    assert [(i.reason, i.field) for i in event.order.issues][:1] == [("topic_mismatch", "financial_status")]


def test_shopify_paid_at_falls_back_to_created_at():
    event = shopify_event(shopify_order(processed_at=None))
    assert event is not None
    assert event.order.paid_at == datetime(2024, 5, 2, 4, 3, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    "topic",
    [
        "orders/create",
        "orders/fulfilled",
        "orders/partially_fulfilled",
        "orders/delete",
        "orders/edited",
        "app/uninstalled",
        "refunds/create",
    ],
)
def test_shopify_ignored_topics_parse_to_none(topic):
    assert shopify_event(topic=topic) is None


def test_shopify_ignored_topic_with_garbage_body_is_still_none():
    # Ignored topics are never parsed, so odd payloads for them cannot 400 (and get retried).
    assert shopify.parse(shopify_delivery(b"[]", topic="customers/redact")) is None


@pytest.mark.parametrize(
    "shipping_line",
    [
        {"code": "DHL Express Worldwide", "title": "International"},
        {"code": "Standard", "title": "Priority Mail International"},
        {"code": "OVERNIGHT", "title": "Fast"},
        {"code": "", "title": "Next Day Delivery"},
        {"code": "next-day", "title": "Delivery"},
        {"code": "EXPRESS_SATCHEL", "title": None},
        {"code": None, "title": "Australia Post Express"},
    ],
)
def test_shopify_express_service_level(shipping_line):
    payload = shopify_order(shipping_lines=[shopify_shipping_line(**shipping_line)])
    event = shopify_event(payload)
    assert event is not None
    assert event.order.service_level == "express"


@pytest.mark.parametrize(
    "shipping_lines",
    [
        [shopify_shipping_line(code="Standard", title="Standard Shipping")],
        [shopify_shipping_line(code="FREE", title="Free shipping over $100")],
        [],
    ],
)
def test_shopify_standard_service_level(shipping_lines):
    event = shopify_event(shopify_order(shipping_lines=shipping_lines))
    assert event is not None
    assert event.order.service_level == "standard"


def test_shopify_any_express_line_makes_the_order_express():
    lines = [shopify_shipping_line(), shopify_shipping_line(id=2, code="express", title="Upgrade")]
    event = shopify_event(shopify_order(shipping_lines=lines))
    assert event is not None
    assert event.order.service_level == "express"
    assert event.order.shipping_method == "Standard Shipping"


def test_shopify_japanese_address_survives_untouched():
    address = shopify_address(
        first_name="太郎",
        last_name="山田",
        name="山田 太郎",
        company="株式会社インソール",
        address1="千代田区丸の内1-9-2",
        address2="グラントウキョウサウスタワー 11階",
        city="千代田区",
        province="東京都",
        province_code="JP-13",
        zip="100-6611",
        country="Japan",
        country_code="JP",
        phone="+81 3-1234-5678",
    )
    payload = shopify_order(shipping_address=address, customer=None, currency="JPY", total_price="6800")
    event = shopify_event(payload)
    assert event is not None
    shipped = event.order.shipping_address
    assert shipped is not None
    assert shipped.name == "山田 太郎"
    assert shipped.company == "株式会社インソール"
    assert shipped.address1 == "千代田区丸の内1-9-2"
    assert shipped.address2 == "グラントウキョウサウスタワー 11階"
    assert shipped.city == "千代田区"
    assert shipped.province == "東京都"
    assert shipped.province_code == "JP-13"
    assert shipped.postcode == "100-6611"
    assert shipped.country_code == "JP"
    assert event.order.customer_name == "山田 太郎"
    assert event.order.currency == "JPY"
    assert event.order.total_price == Decimal("6800")


def test_shopify_cyrillic_address_survives_untouched():
    address = shopify_address(
        first_name="Анна",
        last_name="Иванова",
        name="Анна Иванова",
        address1="ул. Тверская, д. 7, кв. 12",
        address2=None,
        city="Москва",
        province="Москва",
        province_code="MOW",
        zip="125009",
        country_code="ru",
    )
    event = shopify_event(
        shopify_order(shipping_address=address, customer={"first_name": "Анна", "last_name": "Иванова"})
    )
    assert event is not None
    shipped = event.order.shipping_address
    assert shipped is not None
    assert (shipped.name, shipped.address1, shipped.address2, shipped.city) == (
        "Анна Иванова",
        "ул. Тверская, д. 7, кв. 12",
        "",
        "Москва",
    )
    assert shipped.country_code == "RU"
    assert event.order.customer_name == "Анна Иванова"


def test_shopify_name_built_from_parts_when_name_missing():
    address = shopify_address(name=None, first_name="Mia", last_name=None)
    event = shopify_event(shopify_order(shipping_address=address))
    assert event is not None
    assert event.order.shipping_address is not None
    assert event.order.shipping_address.name == "Mia"


@pytest.mark.parametrize(
    ("raw", "expected"), [("de", "DE"), (" gb ", "GB"), ("Deutschland", ""), ("U", ""), (None, ""), ("1A", "")]
)
def test_shopify_country_code_normalised_or_blank(raw, expected):
    event = shopify_event(shopify_order(shipping_address=shopify_address(country_code=raw)))
    assert event is not None
    assert event.order.shipping_address is not None
    assert event.order.shipping_address.country_code == expected


def test_shopify_gift_card_and_missing_sku_lines_are_kept_and_flagged():
    lines = [
        shopify_line(),
        shopify_line(
            id=2,
            name="Gift Card - $50",
            sku=None,
            gift_card=True,
            requires_shipping=False,
            price="50.00",
            fulfillable_quantity=0,
        ),
        shopify_line(id=3, sku="", name="Custom Moulded Insole"),
        shopify_line(id=4, sku="  ARCH-EU44 "),
    ]
    event = shopify_event(shopify_order(line_items=lines))
    assert event is not None
    gift, custom, padded = event.order.lines[1:]
    assert (gift.sku, gift.requires_shipping, gift.unit_price, gift.fulfillable_quantity) == (
        "",
        False,
        Decimal("50.00"),
        0,
    )
    assert (custom.sku, custom.requires_shipping) == ("", True)
    assert padded.sku == "ARCH-EU44"


def test_shopify_line_title_falls_back_to_title_and_variant():
    event = shopify_event(shopify_order(line_items=[shopify_line(name=None)]))
    assert event is not None
    assert event.order.lines[0].title == "Arch Support Insole - EU 42"


def test_shopify_fulfillable_quantity_missing_is_none():
    line = shopify_line()
    del line["fulfillable_quantity"]
    event = shopify_event(shopify_order(line_items=[line]))
    assert event is not None
    assert event.order.lines[0].fulfillable_quantity is None


def test_shopify_digital_only_order_has_no_shipping_address():
    event = shopify_event(shopify_order(shipping_address=None, shipping_lines=[]))
    assert event is not None
    assert event.order.shipping_address is None
    assert event.order.shipping_method == ""


def test_shopify_all_blank_address_is_none():
    blank = dict.fromkeys(shopify_address(), "")
    event = shopify_event(shopify_order(shipping_address=blank))
    assert event is not None
    assert event.order.shipping_address is None


def test_shopify_email_and_phone_fallbacks():
    payload = shopify_order(
        email="", contact_email=None, phone="+61 2 9999 0000", customer=shopify_customer_without_email()
    )
    payload["shipping_address"]["phone"] = None
    event = shopify_event(payload)
    assert event is not None
    assert event.order.email == "fallback@example.com"
    assert event.order.shipping_address is not None
    assert event.order.shipping_address.phone == "+61 2 9999 0000"
    assert event.order.shipping_address.email == "fallback@example.com"


def shopify_customer_without_email() -> dict[str, Any]:
    return {"id": 1, "email": "fallback@example.com", "first_name": "Olivia", "last_name": "Nguyen", "phone": None}


def test_shopify_number_falls_back_to_order_number():
    event = shopify_event(shopify_order(name=None))
    assert event is not None
    assert event.order.number == "1001"


def test_shopify_nul_and_lone_surrogates_are_made_storable():
    body = shopify_body(shopify_order(shipping_address=shopify_address(city="Fitz\x00roy"))).replace(
        b'"address2":"Unit 4"', b'"address2":"Unit \\ud800 4"'
    )
    event = shopify.parse(shopify_delivery(body))
    assert event is not None
    assert event.order.shipping_address is not None
    assert event.order.shipping_address.city == "Fitzroy"
    assert event.order.shipping_address.address2 == "Unit ? 4"


def test_shopify_naive_timestamp_is_refused():
    with pytest.raises(PayloadInvalid) as info:
        shopify_event(shopify_order(updated_at="2024-05-02T14:03:10"))
    assert info.value.extra == {"field": "updated_at"}


def _with_line(**overrides: Any) -> dict[str, Any]:
    return shopify_order(line_items=[shopify_line(), shopify_line(**{"id": 2, **overrides})])


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"id": None, "line_items": []}, "id"),
        ({"id": True}, "id"),
        ({"id": -5}, "id"),
        ({"id": "12abc"}, "id"),
        (_with_line(quantity=1.5), "line_items[1].quantity"),
        (_with_line(quantity="2"), "line_items[1].quantity"),
        (_with_line(quantity=[2]), "line_items[1].quantity"),
        (_with_line(quantity=None), "line_items[1].quantity"),
        (_with_line(quantity=True), "line_items[1].quantity"),
        (_with_line(fulfillable_quantity="1"), "line_items[1].fulfillable_quantity"),
        (_with_line(id=None), "line_items[1].id"),
        (_with_line(price="abc"), "line_items[1].price"),
        (_with_line(price="Infinity"), "line_items[1].price"),
        (_with_line(price="NaN"), "line_items[1].price"),
        (_with_line(price="0x10"), "line_items[1].price"),
        (_with_line(price="1 000"), "line_items[1].price"),
        (_with_line(price={"amount": "1"}), "line_items[1].price"),
        (_with_line(requires_shipping="yes"), "line_items[1].requires_shipping"),
        (_with_line(sku=["ARCH"]), "line_items[1].sku"),
        (shopify_order(line_items="ARCH-EU42 x2"), "line_items"),
        (shopify_order(line_items=[shopify_line(), 7]), "line_items[1]"),
        (shopify_order(shipping_address=42), "shipping_address"),
        (shopify_order(shipping_address=shopify_address(city={"name": "Fitzroy"})), "shipping_address.city"),
        (shopify_order(shipping_lines={"code": "express"}), "shipping_lines"),
        (shopify_order(shipping_lines=[shopify_shipping_line(title=1.5)]), "shipping_lines[0].title"),
        (shopify_order(customer="Olivia"), "customer"),
        (shopify_order(total_weight="360"), "total_weight"),
        (shopify_order(updated_at="yesterday"), "updated_at"),
        (shopify_order(updated_at=1714622590), "updated_at"),
        (shopify_order(cancelled_at=["2024-05-03"]), "cancelled_at"),
        (shopify_order(financial_status={"paid": True}), "financial_status"),
    ],
)
def test_shopify_parse_invalid_payload_names_the_field(payload, field):
    with pytest.raises(PayloadInvalid) as info:
        shopify.parse(shopify_delivery(shopify_body(payload)))
    assert info.value.status == 400
    assert info.value.code == "invalid_payload"
    assert info.value.extra == {"field": field}
    assert field.split("[")[0].split(".")[0] in info.value.detail


@pytest.mark.parametrize(
    ("payload", "reason", "field", "stored"),
    [
        (_with_line(quantity=-1), "implausible_quantity", "line_items[1].quantity", ("quantity", 0)),
        (_with_line(quantity=2**40), "implausible_quantity", "line_items[1].quantity", ("quantity", 2**31 - 1)),
        (_with_line(fulfillable_quantity=-3), "implausible_quantity", "line_items[1].fulfillable_quantity", None),
        (_with_line(price="-1.00"), "implausible_amount", "line_items[1].price", ("unit_price", Decimal(0))),
        (_with_line(price="10000000000"), "implausible_amount", "line_items[1].price", ("unit_price", Decimal(0))),
        (shopify_order(total_price="1e30"), "implausible_amount", "total_price", ("total_price", Decimal(0))),
        (shopify_order(total_price="9" * 100), "implausible_amount", "total_price", ("total_price", Decimal(0))),
        (shopify_order(total_price="1e99999999999999999999"), "implausible_amount", "total_price", None),
        (shopify_order(total_weight=-1), "implausible_amount", "total_weight", ("total_weight_g", 0)),
        (shopify_order(total_weight=2**31), "implausible_amount", "total_weight", ("total_weight_g", 0)),
    ],
)
def test_shopify_implausible_numbers_are_issues_with_a_value_that_fits(payload, reason, field, stored):
    # Well-formed but impossible: a 400 would lose a signed, maybe paid order; the service holds it.
    event = shopify.parse(shopify_delivery(shopify_body(payload)))
    assert event is not None
    [issue] = event.order.issues
    assert (issue.reason, issue.field) == (reason, field)
    assert issue.detail.startswith(f"{field} is ") and "stored" in issue.detail
    if stored is not None:
        name, value = stored
        holder = event.order.lines[1] if field.startswith("line_items") else event.order
        assert getattr(holder, name) == value


def test_shopify_amounts_are_rounded_to_cents_as_the_column_rounds_them():
    event = shopify_event(shopify_order(total_price="12.345", line_items=[shopify_line(price="0.005")]))
    assert event is not None
    assert (event.order.total_price, event.order.lines[0].unit_price) == (Decimal("12.35"), Decimal("0.01"))
    assert event.order.issues == ()


def test_shopify_a_long_implausible_value_is_quoted_shortly():
    event = shopify_event(shopify_order(total_price="9" * 100_000))
    assert event is not None
    [issue] = event.order.issues
    assert "(100000 characters)" in issue.detail and len(issue.detail) < 200


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00garbage",
        b"[]",
        b'"order"',
        b"null",
        b"42",
        b'{"id": NaN}',
        b'{"id": 1, "total_price": Infinity}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"id": ' + b"9" * 5000 + b"}",
    ],
)
def test_shopify_parse_unreadable_body_is_payload_invalid(body):
    with pytest.raises(PayloadInvalid) as info:
        shopify.parse(shopify_delivery(body))
    assert info.value.extra == {"field": ""}


def test_shopify_parse_accepts_minimal_object():
    event = shopify.parse(shopify_delivery(b'{"id": 1}'))
    assert event is not None
    order = event.order
    assert (order.external_id, order.number, order.lines, order.shipping_address) == ("1", "1", (), None)
    assert order.total_price == Decimal(0)
    # The topic says paid, the body says nothing: not paid, and an issue for the service to hold.
    assert order.is_paid is False
    assert [issue.reason for issue in order.issues] == ["topic_mismatch"]


def test_shopify_parse_accepts_string_id():
    event = shopify.parse(shopify_delivery(b'{"id": "5901234567890"}'))
    assert event is not None
    assert event.order.external_id == "5901234567890"
