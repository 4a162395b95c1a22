"""Receipts as committed in production: backorders filled first paid first after COMMIT, and requests racing
on PostgreSQL with one thread and connection each (the same delivery posted twice books once)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from rest_framework.test import APIClient

from config.auth import token_issue
from fulfilment.models import Order
from inventory import services
from inventory.models import StockLevel, StockMovement, StockReceipt, Warehouse
from tests.factories import ProductFactory, SizeFactory, SkuFactory
from tests.fulfilment.helpers import make_world, post_shopify
from tests.fulfilment.payloads import shopify_line, shopify_order

# The request's own transaction is the outermost one, so the backorder hook runs at its COMMIT.
pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/stock/receipts"


def staff_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def place(client, n: int, *, paid: str, units: int) -> int:
    payload = shopify_order(
        id=6_100_000 + n,
        name=f"#R{n}",
        processed_at=paid,
        line_items=[shopify_line(id=6_200_000 + n, sku="ARCH-EU42", quantity=units, fulfillable_quantity=units)],
    )
    order = post_shopify(client, payload).json()["order"]
    assert order["status"] == "backordered"
    return order["id"]


def test_a_receipt_fills_backorders_first_paid_first(client):
    make_world({"ARCH-EU42": 0, "ARCH-EU38": 0}, warehouses=("AU",))
    # Created out of paid order: the receipt must follow paid_at, not the order id.
    late = place(client, 1, paid="2024-05-03T09:00:00+00:00", units=1)
    first = place(client, 2, paid="2024-05-01T09:00:00+00:00", units=2)
    second = place(client, 3, paid="2024-05-02T09:00:00+00:00", units=2)
    ops = staff_client(token_issue(username="ops", role="operations"))
    assert ops.get("/api/stock/grid/", {"product": "ARCH"}).json()["cells"][1]["backordered"] == 5

    response = ops.post(
        URL, {"warehouse": "AU", "reference": "PO-77", "lines": [{"sku": "ARCH-EU42", "quantity": 3}]}, format="json"
    )

    assert response.status_code == 201, response.content
    status = dict(Order.objects.values_list("pk", "status"))
    assert (status[first], status[second], status[late]) == ("reserved", "backordered", "backordered")
    second_line = Order.objects.get(pk=second).lines.get()
    assert (second_line.quantity_reserved, second_line.quantity_backordered) == (1, 1)
    level = StockLevel.objects.get(sku__code="ARCH-EU42", warehouse__code="AU")
    assert (level.on_hand, level.reserved) == (3, 3)
    cell = next(c for c in ops.get("/api/stock/grid/", {"product": "ARCH"}).json()["cells"] if c["size"] == "42")
    assert (cell["on_hand"], cell["reserved"], cell["available"], cell["backordered"]) == (3, 3, 0, 2)
    call_command("verify_stock")


# --- racing requests ------------------------------------------------------------------------------------


def post_all(bodies: list[dict], token: str) -> list[tuple[int, dict]]:
    """POST every body at the same moment, one thread and database connection each."""
    barrier = threading.Barrier(len(bodies))

    def send(body: dict) -> tuple[int, dict]:
        try:
            barrier.wait(timeout=30)
            response = staff_client(token).post(URL, body, format="json")
            return response.status_code, response.json()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(send, bodies))


def delivery(quantity: int = 10) -> dict:
    return {
        "warehouse": "AU",
        "reference": "PO-RACE",
        "lines": [{"sku": "ARCH-EU42", "quantity": quantity}, {"sku": "ARCH-EU38", "quantity": 4}],
    }


@pytest.mark.postgres
@pytest.mark.slow
def test_the_same_receipt_posted_concurrently_books_once():
    make_world({"ARCH-EU42": 1, "ARCH-EU38": 1}, warehouses=("AU",))
    token = token_issue(username="receiver", role="operations")

    answers = post_all([delivery()] * 6, token)

    statuses = sorted(status for status, _ in answers)
    assert statuses == [200, 200, 200, 200, 200, 201]
    assert len({body["id"] for _, body in answers}) == 1
    assert StockReceipt.objects.count() == 1
    levels = dict(StockLevel.objects.values_list("sku__code", "on_hand"))
    assert levels == {"ARCH-EU42": 11, "ARCH-EU38": 5}
    assert StockMovement.objects.filter(reference="PO-RACE").count() == 2
    call_command("verify_stock")


@pytest.mark.postgres
@pytest.mark.slow
def test_two_deliveries_racing_under_one_reference_book_one_and_refuse_the_other():
    make_world({"ARCH-EU42": 1, "ARCH-EU38": 1}, warehouses=("AU",))
    token = token_issue(username="receiver", role="operations")

    answers = post_all([delivery(10), delivery(20)], token)

    assert sorted(status for status, _ in answers) == [201, 409]
    (booked,) = [body for status, body in answers if status == 201]
    (refused,) = [body for status, body in answers if status == 409]
    assert refused["code"] == "receipt_conflict" and refused["extra"]["receipt"] == booked["id"]
    on_hand = StockLevel.objects.get(sku__code="ARCH-EU42").on_hand
    assert on_hand == 1 + booked["lines"][0]["quantity"]
    call_command("verify_stock")


@pytest.mark.postgres
def test_a_repeat_waits_for_the_first_receipt_to_commit_and_answers_with_it():
    """The race, step by step: the repeat's INSERT waits on the unique index until the first commits."""
    world = make_world({"ARCH-EU42": 1, "ARCH-EU38": 1}, warehouses=("AU",))
    token = token_issue(username="receiver", role="operations")
    lines = [services.ReceiptLine(line["sku"], line["quantity"]) for line in delivery()["lines"]]
    inserted, release = threading.Event(), threading.Event()
    first: list[int] = []

    def first_request_still_open():
        try:
            with transaction.atomic():
                receipt, _ = services.stock_receipt_create(warehouse=world["AU"], reference="PO-RACE", lines=lines)
                first.append(receipt.pk)
                inserted.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    holder = threading.Thread(target=first_request_still_open)
    holder.start()
    assert inserted.wait(timeout=10)
    threading.Timer(0.5, release.set).start()
    started = time.monotonic()
    response = staff_client(token).post(URL, delivery(), format="json")
    waited = time.monotonic() - started
    holder.join()

    assert response.status_code == 200, response.content
    assert response.json()["id"] == first[0]
    assert waited >= 0.4  # it did not see the uncommitted receipt: it waited on the index
    assert StockLevel.objects.get(sku__code="ARCH-EU42", warehouse=Warehouse.objects.get(code="AU")).on_hand == 11
    call_command("verify_stock")


@pytest.mark.postgres
@pytest.mark.slow
def test_receipts_creating_the_same_new_levels_in_opposite_orders_do_not_deadlock():
    make_world({}, warehouses=("AU",))
    product = ProductFactory(code="NEW")
    token = token_issue(username="receiver", role="operations")
    for round_ in range(3):
        skus = [SkuFactory(product=product, size=SizeFactory(label=str(36 + 2 * round_ + i))) for i in range(2)]
        codes = [sku.code for sku in skus]  # no stock level exists for these yet
        bodies = [
            {
                "warehouse": "AU",
                "reference": f"PO-{round_}-{n}",
                "lines": [{"sku": code, "quantity": 1} for code in (codes if n % 2 else codes[::-1])],
            }
            for n in range(6)
        ]
        assert sorted(status for status, _ in post_all(bodies, token)) == [201] * 6
        assert sorted(StockLevel.objects.filter(sku__in=skus).values_list("on_hand", flat=True)) == [6, 6]
    call_command("verify_stock")
