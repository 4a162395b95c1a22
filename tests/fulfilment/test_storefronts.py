"""Storefront registry, and fuzzing: parse raises PayloadInvalid or nothing (pure, no database)."""

from __future__ import annotations

import contextlib
import copy
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.exceptions import NotFound
from fulfilment.errors import PayloadInvalid, ShopMismatch, SignatureInvalid
from fulfilment.models import HoldReason, Order, OrderLine
from fulfilment.storefronts import STOREFRONT_NAMES, base, get_storefront, shopify, woocommerce
from fulfilment.storefronts.base import (
    ADDRESS_LIMITS,
    CENT,
    LINE_PRICE_DIGITS,
    MAX_INT,
    ORDER_TOTAL_DIGITS,
    Delivery,
    IncomingOrder,
)
from tests.fulfilment.helpers import shopify_delivery, woo_delivery
from tests.fulfilment.payloads import (
    SHOPIFY_SECRET,
    WOO_SECRET,
    shopify_order,
    sign_shopify,
    sign_woo,
    woo_headers,
    woo_order,
)

# --- registry -------------------------------------------------------------------


def test_get_storefront_returns_modules_by_name():
    assert get_storefront("shopify") is shopify
    assert get_storefront("woocommerce") is woocommerce
    assert STOREFRONT_NAMES == ("shopify", "woocommerce")


def test_get_storefront_unknown_name_is_not_found():
    with pytest.raises(NotFound) as info:
        get_storefront("magento")
    assert info.value.status == 404
    assert info.value.extra == {"channel": "magento"}


def test_errors_carry_codes_and_statuses():
    assert (SignatureInvalid.status, SignatureInvalid.code) == (401, "invalid_signature")
    assert (PayloadInvalid.status, PayloadInvalid.code) == (400, "invalid_payload")
    assert (ShopMismatch.status, ShopMismatch.code) == (401, "unknown_shop")


def test_the_parsers_column_limits_are_the_models():
    # base.py is pure and cannot read the models; this keeps its constants honest.
    assert (Order._meta.get_field("total_price").max_digits, Order._meta.get_field("total_price").decimal_places) == (
        ORDER_TOTAL_DIGITS,
        2,
    )
    unit_price = OrderLine._meta.get_field("unit_price")
    assert (unit_price.max_digits, unit_price.decimal_places) == (LINE_PRICE_DIGITS, 2)
    # PositiveIntegerField is a 32-bit signed column on PostgreSQL.
    assert MAX_INT == 2**31 - 1


def test_the_parsers_hold_reasons_are_the_models():
    for name in ("IMPLAUSIBLE_QUANTITY", "IMPLAUSIBLE_AMOUNT", "TEXT_TOO_LONG", "TOPIC_MISMATCH"):
        assert getattr(base, name) == getattr(HoldReason, name).value


# --- fuzzing: parse raises PayloadInvalid or nothing ------------------------------

# Long text straddles the address limits (255 and shorter): shortened and an issue, never stored whole.
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.text(alphabet="ab ", min_size=250, max_size=300)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)

SHOPIFY_TOPICS = ["orders/paid", "orders/updated", "orders/cancelled"]
WOO_TOPICS = ["order.created", "order.updated"]

FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """The valid payload with a few nodes replaced by random JSON or deleted."""
    payload = copy.deepcopy(base)
    paths = _paths(base)
    for path in draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3)):
        parent: Any = payload
        try:
            for step in path[:-1]:
                parent = parent[step]
            if isinstance(parent, dict) and draw(st.booleans()) and draw(st.booleans()):
                del parent[path[-1]]
            else:
                parent[path[-1]] = draw(json_values)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation replaced an ancestor
    return payload


def _fits(amount: Decimal, digits: int) -> bool:
    """Would the DECIMAL(digits, 2) column take it as it is (no rounding, no overflow)?"""
    return amount.is_finite() and 0 <= amount < Decimal(10) ** (digits - 2) and amount == amount.quantize(CENT)


def _assert_well_formed(event: IncomingOrder) -> None:
    """Every value fits its column; what did not fit is an issue with a known reason instead."""
    order = event.order
    assert event.action in ("upsert", "cancel")
    assert order.service_level in ("express", "standard")
    assert _fits(order.total_price, ORDER_TOTAL_DIGITS), order.total_price
    assert isinstance(order.total_weight_g, int) and 0 <= order.total_weight_g <= MAX_INT
    for moment in (order.paid_at, order.updated_at, order.cancelled_at):
        assert moment is None or moment.utcoffset() is not None
    for line in order.lines:
        assert isinstance(line.quantity, int) and not isinstance(line.quantity, bool)
        assert 0 <= line.quantity <= MAX_INT
        assert line.fulfillable_quantity is None or 0 <= line.fulfillable_quantity <= MAX_INT
        assert _fits(line.unit_price, LINE_PRICE_DIGITS), line.unit_price
        assert isinstance(line.sku, str) and isinstance(line.requires_shipping, bool)
    if order.shipping_address is not None:
        assert all(isinstance(value, str) for value in vars(order.shipping_address).values())
        assert all(len(getattr(order.shipping_address, name)) <= limit for name, limit in ADDRESS_LIMITS.items())
    for issue in order.issues:
        if issue.stored:  # a shortened address field: what the order keeps
            assert getattr(order.shipping_address, issue.field.removeprefix("shipping_address.")) == issue.stored
        assert issue.reason in HoldReason.values
        assert isinstance(issue.field, str) and issue.detail.startswith(issue.field)


def _parse_or_payload_invalid(channel: Any, delivery: Delivery) -> None:
    try:
        event = channel.parse(delivery)
    except PayloadInvalid as exc:
        assert isinstance(exc.extra.get("field"), str)
        return
    if event is not None:
        assert isinstance(event, IncomingOrder)
        _assert_well_formed(event)


@FUZZ
@given(value=json_values, topic=st.sampled_from(SHOPIFY_TOPICS))
def test_fuzz_shopify_random_json(value, topic):
    _parse_or_payload_invalid(shopify, shopify_delivery(json.dumps(value).encode(), topic))


@FUZZ
@given(payload=mutated(shopify_order()), topic=st.sampled_from(SHOPIFY_TOPICS))
def test_fuzz_shopify_mutated_payload(payload, topic):
    _parse_or_payload_invalid(shopify, shopify_delivery(json.dumps(payload).encode(), topic))


@FUZZ
@given(value=json_values, topic=st.sampled_from(WOO_TOPICS))
def test_fuzz_woo_random_json(value, topic):
    _parse_or_payload_invalid(woocommerce, woo_delivery(json.dumps(value).encode(), topic))


@FUZZ
@given(payload=mutated(woo_order()), topic=st.sampled_from(WOO_TOPICS))
def test_fuzz_woo_mutated_payload(payload, topic):
    _parse_or_payload_invalid(woocommerce, woo_delivery(json.dumps(payload).encode(), topic))


@FUZZ
@given(body=st.binary(max_size=200))
def test_fuzz_random_bytes(body):
    _parse_or_payload_invalid(shopify, shopify_delivery(body))
    _parse_or_payload_invalid(woocommerce, woo_delivery(body))


@FUZZ
@given(payload=mutated(woo_order()) | json_values)
def test_fuzz_woo_verify_signed_random_body(payload):
    # WooCommerce verify parses the body for the event id, so it too must only raise PayloadInvalid.
    body = json.dumps(payload).encode()
    try:
        delivery = woocommerce.verify(headers=woo_headers(body), body=body, secrets=[WOO_SECRET])
    except PayloadInvalid:
        return
    assert delivery.event_id
    _parse_or_payload_invalid(woocommerce, delivery)


@FUZZ
@given(headers=st.dictionaries(st.text(max_size=30), st.text(max_size=60), max_size=6), body=st.binary(max_size=50))
def test_fuzz_verify_random_headers_only_raise_domain_errors(headers, body):
    for channel, secret in ((shopify, SHOPIFY_SECRET), (woocommerce, WOO_SECRET)):
        with contextlib.suppress(SignatureInvalid, PayloadInvalid, ShopMismatch):
            channel.verify(headers=headers, body=body, secrets=[secret])


def test_sign_helpers_match_known_vector():
    # Pinned so a helper change cannot silently agree with a matching verify() bug.
    assert sign_shopify(b"{}", "key") == sign_woo(b"{}", "key") == "p3dyTZQ+tI3Gm8qKSm1XoE2z+ex+HeTlgehgJlvfMDI="
