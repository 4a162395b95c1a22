"""Pick waves over the API: claim reserved orders express first then oldest paid, cancel, close."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import IntegrityError, connection, transaction
from rest_framework.test import APIClient

from config.auth import token_issue
from fulfilment.models import Order, PickWave, PickWaveOrder
from fulfilment.services.waves import express_due
from inventory.models import Warehouse
from tests.fulfilment.helpers import make_world, post_shopify
from tests.fulfilment.payloads import shopify_line, shopify_order, shopify_shipping_line

pytestmark = pytest.mark.django_db(transaction=True)


def place(client, n: int, *, paid: str, express: bool = False) -> int:
    lines = [shopify_shipping_line(code="Express" if express else "Standard", title="Express" if express else "Std")]
    payload = shopify_order(id=n, name=f"#{n}", processed_at=paid, shipping_lines=lines, line_items=[shopify_line()])
    order = post_shopify(client, payload, event_id=f"evt-{n}").json()["order"]
    assert (order["status"], order["warehouse"]) == ("reserved", "AU"), order
    return order["id"]


@pytest.fixture
def floor(client, client_for):
    make_world({"ARCH-EU42": 50})
    ids = {
        "old_std": place(client, 1, paid="2024-05-01T09:00:00+10:00"),
        "new_express": place(client, 2, paid="2024-05-02T09:00:00+10:00", express=True),
        "new_std": place(client, 3, paid="2024-05-02T10:00:00+10:00"),
        "old_express": place(client, 4, paid="2024-05-01T10:00:00+10:00", express=True),
    }
    return ids, client_for("warehouse", "picker-1")


def test_a_wave_claims_express_first_then_oldest_paid_and_marks_late_express(floor):
    ids, staff = floor
    response = staff.post("/api/pick-waves/", {"warehouse": "AU"}, format="json")
    assert response.status_code == 201, response.content
    wave = response.json()
    assert (wave["warehouse"], wave["status"], wave["picker"]) == ("AU", "open", "picker-1")
    assert wave["orders"] == [ids["old_express"], ids["new_express"], ids["old_std"], ids["new_std"]]
    # Both express orders were paid in 2024: their cut-off passed long ago.
    assert wave["late_orders"] == [ids["old_express"], ids["new_express"]]
    assert set(Order.objects.values_list("status", flat=True)) == {"picking"}
    assert staff.get(f"/api/pick-waves/{wave['id']}/").json() == wave


def test_max_orders_and_service_level_limit_the_wave(floor):
    ids, staff = floor
    express = staff.post("/api/pick-waves/", {"warehouse": "au", "service_level": "express", "max_orders": 1})
    assert express.json()["orders"] == [ids["old_express"]]
    rest = staff.post("/api/pick-waves/", {"warehouse": "AU", "max_orders": 2}, format="json").json()
    assert rest["orders"] == [ids["new_express"], ids["old_std"]]


def test_nothing_to_pick_is_a_409_and_creates_no_wave(floor):
    _, staff = floor
    assert staff.post("/api/pick-waves/", {"warehouse": "AU"}, format="json").status_code == 201
    response = staff.post("/api/pick-waves/", {"warehouse": "AU"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "nothing_to_pick"
    assert PickWave.objects.count() == 1


def test_cancel_returns_the_orders_to_reserved_and_a_second_cancel_is_a_409(floor):
    _, staff = floor
    wave = staff.post("/api/pick-waves/", {"warehouse": "AU"}, format="json").json()
    cancelled = staff.post(f"/api/pick-waves/{wave['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["ended_at"] is not None and cancelled.json()["orders"] == wave["orders"]
    assert set(Order.objects.values_list("status", flat=True)) == {"reserved"}
    again = staff.post(f"/api/pick-waves/{wave['id']}/close")
    assert again.status_code == 409 and again.json()["code"] == "wave_not_open"
    # The orders can be picked in a new wave.
    assert staff.post("/api/pick-waves/", {"warehouse": "AU"}, format="json").json()["orders"] == wave["orders"]


def test_close_keeps_packed_orders_and_returns_the_rest(floor):
    from fulfilment import services

    ids, staff = floor
    wave = staff.post("/api/pick-waves/", {"warehouse": "AU"}, format="json").json()
    services.order_transition(order=Order.objects.get(pk=ids["old_express"]), status="packed")
    assert staff.post(f"/api/pick-waves/{wave['id']}/close").json()["status"] == "closed"
    statuses = dict(Order.objects.values_list("pk", "status"))
    assert statuses.pop(ids["old_express"]) == "packed" and set(statuses.values()) == {"reserved"}
    assert not PickWaveOrder.objects.filter(active=True).exists()


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"warehouse": "XX"}, 404, "unknown_warehouse"),
        ({}, 400, "invalid"),
        ({"warehouse": "AU", "max_orders": "5"}, 400, "invalid"),
        ({"warehouse": "AU", "max_orders": 0}, 400, "invalid"),
        ({"warehouse": "AU", "service_level": "overnight"}, 400, "invalid"),
    ],
)
def test_bad_wave_requests_are_json_4xx_and_change_nothing(floor, payload, status, code):
    _, staff = floor
    response = staff.post("/api/pick-waves/", payload, format="json")
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert not PickWave.objects.exists() and set(Order.objects.values_list("status", flat=True)) == {"reserved"}


def test_staff_limited_to_a_warehouse_cannot_work_in_another(floor, django_user_model):
    _, staff = floor
    user = django_user_model.objects.get(username="picker-1")
    Warehouse.objects.get(code="EU").staff.add(user)
    response = staff.post("/api/pick-waves/", {"warehouse": "AU"}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "warehouse_forbidden"
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(username='picker-2', role='warehouse')}")
    wave = other.post("/api/pick-waves/", {"warehouse": "AU"}, format="json").json()
    assert staff.get(f"/api/pick-waves/{wave['id']}/").status_code == 404  # not their warehouse
    assert staff.get("/api/pick-waves/").json()["count"] == 0
    assert staff.post(f"/api/pick-waves/{wave['id']}/cancel").status_code == 403


def test_roles_operations_read_storefront_nothing(floor, client_for):
    _, staff = floor
    wave = staff.post("/api/pick-waves/", {"warehouse": "AU"}, format="json").json()
    ops, shop = client_for("operations"), client_for("storefront")
    assert ops.get(f"/api/pick-waves/{wave['id']}/").status_code == 200
    assert ops.post("/api/pick-waves/", {"warehouse": "AU"}, format="json").status_code == 403
    assert ops.post(f"/api/pick-waves/{wave['id']}/cancel").status_code == 403
    assert shop.get("/api/pick-waves/").status_code == 403
    assert staff.get("/api/pick-waves/999999/").json()["code"] == "not_found"


def test_wave_list_and_detail_queries_do_not_grow_with_waves(floor, client, django_assert_max_num_queries):
    _, staff = floor
    for n in range(10, 16):
        place(client, n, paid="2024-05-03T09:00:00+10:00")
    for _ in range(5):
        staff.post("/api/pick-waves/", {"warehouse": "AU", "max_orders": 2}, format="json")
    with django_assert_max_num_queries(8):
        listed = staff.get("/api/pick-waves/").json()
    assert listed["count"] == 5 and all(len(w["orders"]) == 2 for w in listed["results"])
    with django_assert_max_num_queries(7):
        assert staff.get(f"/api/pick-waves/{listed['results'][0]['id']}/").status_code == 200


def test_the_database_refuses_an_order_in_two_open_waves(floor):
    ids, staff = floor
    first = PickWave.objects.get(pk=staff.post("/api/pick-waves/", {"warehouse": "AU"}, format="json").json()["id"])
    second = PickWave.objects.create(warehouse=first.warehouse)
    with pytest.raises(IntegrityError), transaction.atomic():
        PickWaveOrder.objects.create(wave=second, order_id=ids["old_std"], position=1)


def test_express_due_is_that_days_cutoff_if_paid_before_it_else_the_next_days():
    import datetime as dt

    cutoff = dt.time(14, 0)
    before = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)  # 13:00 in Sydney (UTC+11)
    after = dt.datetime(2026, 12, 1, 4, 0, tzinfo=dt.UTC)  # 15:00 in Sydney
    assert express_due(paid_at=before, cutoff=cutoff, zone="Australia/Sydney").isoformat() == (
        "2026-12-01T14:00:00+11:00"
    )
    assert express_due(paid_at=after, cutoff=cutoff, zone="Australia/Sydney").isoformat() == (
        "2026-12-02T14:00:00+11:00"
    )


@pytest.mark.postgres
@pytest.mark.slow
def test_waves_created_at_the_same_moment_never_share_an_order(client):
    make_world({"ARCH-EU42": 100})
    placed = {place(client, n, paid=f"2024-05-02T{n % 24:02d}:00:00+10:00") for n in range(1, 41)}
    tokens = [token_issue(username=f"picker-{n}", role="warehouse") for n in range(4)]
    barrier = threading.Barrier(len(tokens))

    def create(token: str) -> tuple[int, list[int]]:
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        try:
            barrier.wait(timeout=30)
            response = api.post("/api/pick-waves/", {"warehouse": "AU", "max_orders": 15}, format="json")
            return response.status_code, response.json().get("orders", [])
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        results = list(pool.map(create, tokens))

    claimed = [order for status, orders in results if status == 201 for order in orders]
    assert len(claimed) == len(set(claimed))  # no order in two waves
    assert set(claimed) == placed  # 4 x 15 asked for, 40 there: every order taken once
    assert all(status in (201, 409) for status, _ in results)
    assert set(Order.objects.values_list("status", flat=True)) == {"picking"}
