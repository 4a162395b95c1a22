"""Random bodies with a valid signature never give a 500 and never change stock."""

from __future__ import annotations

import itertools
import json
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fulfilment.models import InboxDelivery, Order
from inventory import services
from inventory.models import Reservation, StockLevel
from tests.fulfilment.helpers import make_world
from tests.fulfilment.payloads import shopify_headers, shopify_line, shopify_order, sign_woo, woo_headers

# Transactional: a webhook is processed after its acceptance commits (on_commit), as in production.
pytestmark = pytest.mark.django_db(transaction=True)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)
order_keys = st.sampled_from(
    [
        "id",
        "line_items",
        "shipping_address",
        "financial_status",
        "sku",
        "quantity",
        "name",
        "processed_at",
        "updated_at",
        "shipping_lines",
        "total_weight",
        "cancelled_at",
    ]
)
order_like = st.dictionaries(order_keys, json_values, max_size=8)
# A valid order with one field replaced by garbage. Its SKU is unknown, so the only legitimate outcomes
# are 400 (unreadable) or 200 with the order on hold: either way no stock moves.
BASE = shopify_order(line_items=[shopify_line(sku="FUZZ-UNKNOWN")])
mutated = st.tuples(order_keys, json_values).map(lambda kv: {**BASE, kv[0]: kv[1]})
bodies = st.one_of(
    json_values.map(json.dumps),
    order_like.map(json.dumps),
    mutated.map(json.dumps),
    st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
)


@pytest.fixture
def stock(db):
    make_world()
    return list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved"))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=bodies, topic=st.sampled_from(["orders/paid", "orders/updated", "orders/cancelled", "orders/create"]))
def test_random_signed_shopify_bodies(client, stock, text, topic):
    body = text.encode("utf-8", "surrogatepass")
    response = client.post(
        "/webhooks/shopify", data=body, content_type="application/json", headers=shopify_headers(body, topic=topic)
    )
    assert response.status_code in (200, 400), response.content
    assert set(response.json()) >= ({"detail", "code", "extra"} if response.status_code == 400 else {"status"})
    assert list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved")) == stock
    assert not Reservation.objects.exists()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=bodies)
def test_random_signed_woocommerce_bodies(client, stock, text):
    body = text.encode("utf-8", "surrogatepass")
    headers = {**woo_headers(body), "X-WC-Webhook-Signature": sign_woo(body)}
    response = client.post("/webhooks/woocommerce", data=body, content_type="application/json", headers=headers)
    assert response.status_code in (200, 400), response.content
    assert list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved")) == stock
    assert not Reservation.objects.exists()


# Numbers of any size and sign where the columns have limits: every one is well-formed JSON, so the
# answer is always 200 and an order always exists, held for the value or stored with it as sent
# (rounded to cents). Before the bounds matched the columns, some of these failed in the worker.
_amounts = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["9999999999.99", "9999999999.995", "999999999999.99", "999999999999.995", "0.005"]),
)
_counts = st.one_of(st.integers(), st.sampled_from([0, 1, 500, 501, 2**31 - 1, 2**31]))
_order_ids = itertools.count(1)


def _as_stored(value) -> Decimal | None:
    """What the column stores for ``value``, or None if it cannot hold it."""
    amount = Decimal(str(value))
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e10"):
        return None
    rounded = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return rounded if rounded < Decimal("1e10") else None


@pytest.mark.postgres
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(price=_amounts, total=_amounts, quantity=_counts, weight=_counts)
def test_signed_numbers_of_any_size_are_stored_or_held_never_lost(client, stock, price, total, quantity, weight):
    external_id = next(_order_ids)
    line = shopify_line(sku="ARCH-EU42", price=price, quantity=quantity, fulfillable_quantity=quantity)
    payload = shopify_order(id=external_id, line_items=[line], total_price=total, total_weight=weight)
    body = json.dumps(payload).encode()

    response = client.post(
        "/webhooks/shopify", data=body, content_type="application/json", headers=shopify_headers(body)
    )

    assert response.status_code == 200, response.content
    order = Order.objects.get(external_id=str(external_id))
    assert InboxDelivery.objects.get(order=order).status == "processed"
    reserved = Reservation.objects.filter(reference=order.reservation_reference, status="active").exists()
    if order.status == "on_hold":
        assert order.hold_reason in ("implausible_amount", "implausible_quantity", "nothing_to_ship"), order.hold_detail
        assert not reserved
    else:
        assert _as_stored(price) == order.lines.get().unit_price
        assert 0 < quantity <= 500
    assert services.stock_verify() == []
