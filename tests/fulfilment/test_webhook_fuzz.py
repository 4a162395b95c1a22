"""Random bodies with a valid signature never give a 500 and never change stock."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
