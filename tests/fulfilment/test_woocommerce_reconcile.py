"""WooCommerce reconciliation: orders read from a real HTTP server (pytest-httpserver) through the inbox."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time

import pytest
from django.core.management import CommandError, call_command
from werkzeug import Request, Response

from fulfilment import services as fulfilment_services
from fulfilment import tasks
from fulfilment.errors import ChannelUnavailable
from fulfilment.models import ChannelCursor, InboxDelivery, Order
from inventory.models import Reservation, StockLevel
from tests.fulfilment.helpers import post_woo
from tests.fulfilment.payloads import woo_line, woo_order

pytestmark = pytest.mark.django_db(transaction=True)

KEY, SECRET = "ck_test_4f1d", "cs_test_9a7c"
ORDERS = "/wp-json/wc/v3/orders"
SINCE = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)


@pytest.fixture
def shop(httpserver, settings):
    settings.WOOCOMMERCE_URL = httpserver.url_for("/")
    settings.WOOCOMMERCE_CONSUMER_KEY, settings.WOOCOMMERCE_CONSUMER_SECRET = KEY, SECRET
    return httpserver


def basic_auth() -> str:
    return "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()


def stamp(n: int) -> str:
    """date_modified_gmt n seconds after 2024-05-02 14:00:00."""
    return (dt.datetime(2024, 5, 2, 14, tzinfo=dt.UTC) + dt.timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%S")


class FakeShop:
    """Answers GET /wp-json/wc/v3/orders like WooCommerce: modified strictly after, oldest first, paged."""

    def __init__(self, orders: list[dict]):
        self.orders = {order["id"]: order for order in orders}
        self.requests: list[dict] = []
        self.after_first_page = None  # a change to make while the job reads

    def __call__(self, request: Request) -> Response:
        args = request.args
        self.requests.append(dict(args))
        assert request.headers.get("Authorization") == basic_auth()
        assert (args["dates_are_gmt"], args["orderby"], args["order"]) == ("true", "modified", "asc")
        after, per_page, page = args["modified_after"], int(args["per_page"]), int(args["page"])
        matching = sorted(
            (o for o in self.orders.values() if o["date_modified_gmt"] > after),
            key=lambda o: (o["date_modified_gmt"], o["id"]),
        )
        body = matching[(page - 1) * per_page : page * per_page]
        if len(self.requests) == 1 and self.after_first_page:
            self.after_first_page(self)
        return Response(json.dumps(body), content_type="application/json")


def test_an_order_whose_webhook_was_lost_is_read_and_reserved(shop, world):
    shop.expect_request(ORDERS, method="GET", headers={"Authorization": basic_auth()}).respond_with_json([woo_order()])

    result = fulfilment_services.woocommerce_reconcile(since=SINCE)

    assert (result.read, result.accepted, result.duplicates, result.rejected) == (1, 1, 0, 0)
    order = Order.objects.get()
    assert (order.channel, order.external_id, order.status, order.warehouse.code) == (
        "woocommerce",
        "727",
        "reserved",
        "EU",
    )
    assert order.shop == f"localhost:{shop.port}"  # the host of WOOCOMMERCE_URL, as webhooks name the shop
    delivery = InboxDelivery.objects.get()
    assert (delivery.topic, delivery.event_id, delivery.status) == (
        "order.updated",
        "727:2024-05-02T14:21:05:processing",
        "processed",
    )
    assert ChannelCursor.objects.get(channel="woocommerce").position == dt.datetime(
        2024, 5, 2, 14, 21, 5, tzinfo=dt.UTC
    )
    query = shop.log[0][0].args
    assert (query["modified_after"], query["per_page"], query["page"]) == ("2024-05-01T00:00:00", "100", "1")


def test_a_version_the_webhook_delivered_is_a_duplicate(shop, client, world):
    webhook = post_woo(client, source=shop.url_for("/")).json()["order"]
    assert webhook["status"] == "reserved"
    shop.expect_request(ORDERS).respond_with_json([woo_order()])

    result = fulfilment_services.woocommerce_reconcile(since=SINCE)

    assert (result.read, result.accepted, result.duplicates) == (1, 0, 1)
    assert Order.objects.count() == 1 and InboxDelivery.objects.count() == 1
    assert Reservation.objects.count() == 1


def test_a_cancellation_whose_webhook_was_lost_releases_the_stock(shop, client, world):
    post_woo(client, source=shop.url_for("/"))
    stock = StockLevel.objects.get(sku__code="ARCH-EU42", warehouse__code="EU")
    assert stock.reserved == 1
    cancelled = woo_order(status="cancelled", date_modified_gmt="2024-05-03T08:00:00")
    shop.expect_request(ORDERS).respond_with_json([cancelled])

    assert fulfilment_services.woocommerce_reconcile(since=SINCE).accepted == 1

    assert Order.objects.get().status == "cancelled"
    stock.refresh_from_db()
    assert stock.reserved == 0


def test_many_orders_are_read_by_walking_the_modified_cursor_even_when_one_changes_meanwhile(shop, world):
    orders = [woo_order(id=1000 + n, number=str(1000 + n), date_modified_gmt=stamp(n)) for n in range(150)]
    fake = FakeShop(orders)

    def customer_changes_order_1005(fake: FakeShop) -> None:
        # Modified while the job reads page 1: with page numbers, order 1100 would shift onto page 1 and be skipped.
        fake.orders[1005] = woo_order(
            id=1005, number="1005", date_modified_gmt=stamp(500), line_items=[woo_line(quantity=2)]
        )

    fake.after_first_page = customer_changes_order_1005
    shop.expect_request(ORDERS).respond_with_handler(fake)

    result = fulfilment_services.woocommerce_reconcile(since=SINCE)

    assert Order.objects.count() == 150
    assert set(Order.objects.values_list("external_id", flat=True)) == {str(1000 + n) for n in range(150)}
    assert Order.objects.get(external_id="1005").lines.get().quantity == 2  # its newer version was read too
    assert result.accepted == 151 and result.rejected == 0
    assert result.position == dt.datetime(2024, 5, 2, 14, 8, 20, tzinfo=dt.UTC)  # stamp(500)
    # Page 2 asked for what came after page 1's newest order (minus a second), from page 1 again.
    assert [(r["modified_after"], r["page"]) for r in fake.requests] == [
        ("2024-05-01T00:00:00", "1"),
        (stamp(98), "1"),
    ]

    # The next run starts a lookback before the cursor: what it reads again is a duplicate.
    requests = len(fake.requests)
    again = fulfilment_services.woocommerce_reconcile()
    assert again.read >= 150 and again.duplicates == again.read and again.accepted == 0
    assert fake.requests[requests]["modified_after"] == stamp(500 - 900)
    assert Order.objects.count() == 150


def test_a_full_page_within_one_second_moves_on_by_page_number(shop, world, monkeypatch):
    from fulfilment.storefronts import woocommerce_client

    monkeypatch.setattr(woocommerce_client, "PER_PAGE", 3)
    orders = [woo_order(id=2000 + n, number=str(2000 + n), date_modified_gmt=stamp(0)) for n in range(7)]
    fake = FakeShop(orders)
    shop.expect_request(ORDERS).respond_with_handler(fake)

    result = fulfilment_services.woocommerce_reconcile(since=SINCE)

    assert Order.objects.count() == 7 and result.accepted == 7
    # The cursor moves to that second (minus one) once; then only page numbers make progress.
    assert [(r["modified_after"], r["page"]) for r in fake.requests] == [
        ("2024-05-01T00:00:00", "1"),
        (stamp(-1), "1"),
        (stamp(-1), "2"),
        (stamp(-1), "3"),
    ]


def test_an_order_dated_in_the_future_does_not_move_the_cursor_past_now(shop, world):
    future = woo_order(id=4001, date_modified_gmt="2099-01-01T00:00:00")
    shop.expect_request(ORDERS).respond_with_json([woo_order(id=4000), future])
    before = dt.datetime.now(dt.UTC)

    result = fulfilment_services.woocommerce_reconcile(since=SINCE)

    assert result.accepted == 2
    assert before <= result.position <= dt.datetime.now(dt.UTC)
    assert ChannelCursor.objects.get().position == result.position


def test_an_unreadable_order_is_stored_as_rejected_and_the_rest_still_go_through(shop, world):
    broken = woo_order(id=3001, line_items=[woo_line(quantity="two")])
    shop.expect_request(ORDERS).respond_with_json([broken, woo_order(id=3002)])

    result = fulfilment_services.woocommerce_reconcile(since=SINCE)

    assert (result.read, result.accepted, result.rejected) == (2, 1, 1)
    assert Order.objects.get().external_id == "3002"
    rejected = InboxDelivery.objects.get(status="rejected")
    assert "quantity" in rejected.error and json.loads(bytes(rejected.body))["id"] == 3001


@pytest.mark.parametrize(
    "answer",
    [
        Response("Service Unavailable", status=503),
        Response("<html>maintenance</html>", status=200, content_type="text/html"),
        Response(json.dumps({"code": "woocommerce_rest_cannot_view"}), status=200, content_type="application/json"),
    ],
    ids=["503", "html", "not-a-list"],
)
def test_an_unusable_answer_changes_nothing(shop, world, answer):
    shop.expect_request(ORDERS).respond_with_response(answer)

    with pytest.raises(ChannelUnavailable):
        fulfilment_services.woocommerce_reconcile(since=SINCE)

    assert not InboxDelivery.objects.exists() and not ChannelCursor.objects.exists()
    with pytest.raises(CommandError, match="WooCommerce"):
        call_command("reconcile_woocommerce", "--since", "2024-05-01T00:00:00+00:00")


def test_a_shop_that_does_not_answer_in_time_is_unavailable(shop, world, settings):
    settings.HTTP_READ_TIMEOUT = 0.2

    def slow(request):
        time.sleep(1)
        return Response("[]", content_type="application/json")

    shop.expect_request(ORDERS).respond_with_handler(slow)
    started = time.monotonic()
    with pytest.raises(ChannelUnavailable, match="did not answer"):
        fulfilment_services.woocommerce_reconcile(since=SINCE)
    assert time.monotonic() - started < 1


def test_not_configured_does_nothing(settings, db):
    settings.WOOCOMMERCE_URL = ""
    assert tasks.woocommerce_reconcile_task() == {"read": 0, "accepted": 0, "duplicates": 0}
    with pytest.raises(CommandError, match="WOOCOMMERCE_URL"):
        call_command("reconcile_woocommerce")


def test_command_reports_what_it_read(shop, world, capsys):
    shop.expect_request(ORDERS).respond_with_json([woo_order()])
    call_command("reconcile_woocommerce", "--since", "2024-05-01T00:00:00+00:00")
    assert "read 1: 1 new, 0 already delivered, 0 unreadable" in capsys.readouterr().out
