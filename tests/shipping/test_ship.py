"""Shipping a packed order through the API against the courier sandbox (real sockets): booking once,
labels that scan, invoices, refusals, faults, cancel, batches and manifests."""

from __future__ import annotations

import threading

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fulfilment.models import Order
from inventory.models import StockMovement
from outbox.models import Message
from shipping.models import LabelPrint, Shipment
from tests.labels.helpers import decode_pages, pages_text, squash
from tests.shipping.helpers import (
    SANDBOX_ACCOUNT,
    SANDBOX_KEY,
    SANDBOX_SECRET,
    packed_order,
    point_couriers_at,
    sandbox_fault,
    sandbox_shipments,
    world,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sandbox(courier_sandbox):
    return courier_sandbox


@pytest.fixture(autouse=True)
def _courier_state_forgotten():
    """Tokens and rate-limit blocks live in the shared Redis: one test's 429 must not slow the next."""
    from config.redis import redis_client

    client = redis_client()
    if client is not None:
        for pattern in ("courier-token:*", "courier-rate:*"):
            for key in client.scan_iter(pattern):
                client.delete(key)
    yield


def _forget_rate_blocks():
    from config.redis import redis_client

    client = redis_client()
    if client is not None:
        for key in client.scan_iter("courier-rate:*"):
            client.delete(key)


@pytest.fixture
def floor(sandbox, settings, client, client_for):
    settings.HTTP_READ_TIMEOUT = 2.0
    point_couriers_at(sandbox, settings)
    world()
    call_command("seed_courier_rules", verbosity=0)
    return client, client_for("warehouse", "packer-1")


def _verify_stock():
    call_command("verify_stock", verbosity=0)  # exits non-zero (SystemExit) on a mismatch


def _deliver_due():
    from outbox import services as outbox

    Message.objects.filter(status="pending").update(next_attempt_at=timezone.now())
    return outbox.outbox_drain_due()


@pytest.mark.parametrize("courier", ["dhl_express", "auspost", "fedex", "ups"])
def test_a_packed_order_ships_with_each_courier_and_its_label_scans_to_the_tracking_number(floor, sandbox, courier):
    client, packer = floor
    order_id, _ = packed_order(client, packer, 1, courier_route=courier)
    answer = packer.post(f"/api/orders/{order_id}/ship", {"courier": courier, "service": "express"}, format="json")
    assert answer.status_code == 202, answer.content
    shipment = answer.json()
    # Embedded mode: booked in-process, the answer already holds the tracking number.
    assert shipment["status"] == "label_created", (shipment["status_detail"], shipment)
    assert shipment["courier"] == courier and shipment["order"] == order_id
    number = shipment["tracking_number"]
    assert number and shipment["booked_at"]
    assert [p["sequence"] for p in shipment["parcels"]] == [1]
    assert shipment["parcels"][0]["tracking_number"]
    assert shipment["parcels"][0]["weight_g"] == 420 and shipment["parcels"][0]["dimensions_cm"] == [30, 12, 4]
    assert shipment["tracking_url"].startswith("https://") and number in shipment["tracking_url"]
    at_courier = [s for s in sandbox_shipments(sandbox, courier) if not s.get("voided")]
    assert len(at_courier) == 1

    order = Order.objects.get(pk=order_id)
    assert order.status == "shipped"
    shipped = StockMovement.objects.filter(kind="shipment", reference=f"order:{order_id}")
    assert [m.quantity for m in shipped] == [-2]
    _verify_stock()

    pdf = packer.get(f"/api/shipments/{shipment['id']}/label.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert [text for _, text in decode_pages(pdf.content)[0]] == [number]
    zpl = packer.get(f"/api/shipments/{shipment['id']}/label.zpl")
    assert zpl.status_code == 200
    assert f"^FD{number}^FS".encode() in zpl.content or number.encode() in zpl.content
    assert zpl.content.startswith(b"^XA")


def test_an_international_shipment_has_a_commercial_invoice_with_hs_6406_and_a_domestic_one_does_not(floor):
    client, packer = floor
    abroad, _ = packed_order(client, packer, 1, courier_route="dhl_express")
    home, _ = packed_order(client, packer, 2, courier_route="auspost")
    intl = packer.post(f"/api/orders/{abroad}/ship", {"courier": "dhl_express"}, format="json").json()
    domestic = packer.post(f"/api/orders/{home}/ship", {}, format="json").json()
    assert domestic["courier"] == "auspost"  # the demo rules: Australia Post at home
    invoice = packer.get(f"/api/shipments/{intl['id']}/commercial-invoice.pdf")
    assert invoice.status_code == 200
    text = squash(" ".join(pages_text(invoice.content)))
    assert "640690" in text or "6406" in text
    assert intl["tracking_number"] in text
    refused = packer.get(f"/api/shipments/{domestic['id']}/commercial-invoice.pdf")
    assert refused.status_code == 404
    assert refused.json()["code"] == "not_international"


def test_the_courier_rules_choose_when_no_courier_is_named(floor):
    client, packer = floor
    express_abroad, _ = packed_order(client, packer, 1, courier_route="dhl_express", express=True)
    home_us, _ = packed_order(client, packer, 2, courier_route="ups")
    abroad_us, _ = packed_order(client, packer, 3, courier_route="fedex")
    chosen = [
        packer.post(f"/api/orders/{o}/ship", {}, format="json").json()["courier"]
        for o in (express_abroad, home_us, abroad_us)
    ]
    assert chosen == ["dhl_express", "ups", "fedex"]


def test_shipping_twice_answers_with_the_same_shipment_and_books_once(floor, sandbox):
    client, packer = floor
    order_id, _ = packed_order(client, packer, 1)
    first = packer.post(f"/api/orders/{order_id}/ship", {}, format="json").json()
    again = packer.post(f"/api/orders/{order_id}/ship", {}, format="json")
    assert again.status_code == 202
    assert again.json()["id"] == first["id"]
    assert again.json()["tracking_number"] == first["tracking_number"]
    assert len(sandbox_shipments(sandbox, "auspost")) == 1
    assert Shipment.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.slow
def test_two_ship_requests_at_once_make_one_shipment_and_one_booking(floor, sandbox, client_for):
    client, packer = floor
    order_id, _ = packed_order(client, packer, 1)
    barrier, answers = threading.Barrier(2), []

    def ship():
        try:
            barrier.wait(10)
            answers.append(
                client_for("warehouse", f"p-{threading.get_ident()}").post(
                    f"/api/orders/{order_id}/ship", {}, format="json"
                )
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=ship) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(a.status_code for a in answers) == [202, 202]
    assert len({a.json()["id"] for a in answers}) == 1
    assert Shipment.objects.count() == 1
    assert len(sandbox_shipments(sandbox, "auspost")) == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"courier": "pigeon-post"}, 400, "unknown_courier"),
        ({"parcels": []}, 400, None),
        ({"parcels": [{"weight_g": 0}]}, 400, None),
        ({"parcels": [{"weight_g": 100, "dimensions_cm": [1, 2]}]}, 400, None),
        ({"service": "overnight-by-drone"}, 400, None),
        ({"courier": 7}, 400, None),
    ],
)
def test_bad_ship_requests_are_json_4xx_and_change_nothing(floor, body, status, code):
    client, packer = floor
    order_id, _ = packed_order(client, packer, 1)
    answer = packer.post(f"/api/orders/{order_id}/ship", body, format="json")
    assert answer.status_code == status, answer.content
    if code:
        assert answer.json()["code"] == code
    assert "detail" in answer.json()
    assert Shipment.objects.count() == 0 and Message.objects.filter(kind="shipment_book").count() == 0
    assert Order.objects.get(pk=order_id).status == "packed"


def test_an_order_that_is_not_packed_is_a_409(floor):
    client, packer = floor
    order_id, _ = packed_order(client, packer, 1)
    Order.objects.filter(pk=order_id).update(status="picking")
    answer = packer.post(f"/api/orders/{order_id}/ship", {}, format="json")
    assert answer.status_code == 409
    assert answer.json()["code"] == "illegal_transition"
    assert packer.post("/api/orders/999999/ship", {}, format="json").status_code == 404


def test_without_rules_or_defaults_the_first_configured_courier_of_the_built_in_preference_ships(
    floor, sandbox, settings
):
    from shipping.models import CourierDefault, CourierRule

    client, packer = floor
    CourierRule.objects.all().delete()
    CourierDefault.objects.all().delete()
    point_couriers_at(sandbox, settings, only=("auspost", "fedex"))
    home, _ = packed_order(client, packer, 1)  # AU -> AU: the national post
    assert packer.post(f"/api/orders/{home}/ship", {}, format="json").json()["courier"] == "auspost"
    abroad, _ = packed_order(client, packer, 2, courier_route="dhl_express")  # AU -> NZ: DHL is not set up
    assert packer.post(f"/api/orders/{abroad}/ship", {}, format="json").json()["courier"] == "fedex"

    point_couriers_at(sandbox, settings, only=())  # nothing configured: nothing to choose from
    third, _ = packed_order(client, packer, 3)
    refused = packer.post(f"/api/orders/{third}/ship", {}, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "no_courier_rule"
    assert Shipment.objects.filter(order_id=third).count() == 0


def test_the_flat_courier_setting_names_count_when_changed_at_run_time(floor, sandbox, settings):
    client, packer = floor
    point_couriers_at(sandbox, settings, only=("auspost",))  # FedEx unconfigured in COURIERS
    settings.COURIER_FEDEX_BASE_URL = sandbox.base_url("fedex")  # ... and configured by its env name
    settings.COURIER_FEDEX_KEY, settings.COURIER_FEDEX_SECRET = SANDBOX_KEY, SANDBOX_SECRET
    settings.COURIER_FEDEX_ACCOUNT = SANDBOX_ACCOUNT
    order_id, _ = packed_order(client, packer, 1)
    answer = packer.post(f"/api/orders/{order_id}/ship", {"courier": "fedex"}, format="json")
    assert answer.status_code == 202 and answer.json()["tracking_number"], answer.content
    assert Shipment.objects.get().courier == "fedex"


def test_a_courier_without_credentials_is_a_409_naming_the_settings(floor, sandbox, settings):
    client, packer = floor
    point_couriers_at(sandbox, settings, only=("auspost",))
    order_id, _ = packed_order(client, packer, 1)
    answer = packer.post(f"/api/orders/{order_id}/ship", {"courier": "fedex"}, format="json")
    assert answer.status_code == 409
    assert answer.json()["code"] == "courier_not_configured"
    assert "COURIER_FEDEX_BASE_URL" in answer.json()["detail"]
    assert Shipment.objects.count() == 0


def test_only_warehouse_staff_ship_and_operations_read(floor, client_for):
    client, packer = floor
    order_id, _ = packed_order(client, packer, 1)
    ops = client_for("operations", "ops-1")
    assert client_for("storefront").post(f"/api/orders/{order_id}/ship", {}, format="json").status_code == 403
    assert client.post(f"/api/orders/{order_id}/ship", {}, format="json").status_code == 401
    refused = ops.post(f"/api/orders/{order_id}/ship", {}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    assert Shipment.objects.count() == 0  # nothing changed
    assert client_for("storefront").get("/api/shipments/").status_code == 403

    shipment = packer.post(f"/api/orders/{order_id}/ship", {}, format="json").json()
    assert ops.get("/api/shipments/").json()["count"] == 1
    assert ops.get(f"/api/shipments/{shipment['id']}/").status_code == 200
    assert ops.get(f"/api/shipments/{shipment['id']}/label.pdf").status_code == 200
    assert ops.post(f"/api/shipments/{shipment['id']}/cancel").status_code == 403
    assert ops.post("/api/labels/batch", {"shipments": [shipment["id"]]}, format="json").status_code == 403
    assert Shipment.objects.get().status != "cancelled"


def test_an_address_the_courier_refuses_shows_its_message_and_ships_after_the_fix(floor, sandbox):
    client, packer = floor
    order_id, _ = packed_order(client, packer, 1)
    order = Order.objects.get(pk=order_id)
    order.shipping_address = {**order.shipping_address, "postcode": "00000"}
    order.save(update_fields=["shipping_address"])
    refused = packer.post(f"/api/orders/{order_id}/ship", {}, format="json").json()
    assert refused["status"] == "exception"
    assert refused["status_detail"]  # the courier's own words
    assert refused["tracking_number"] == ""
    assert Order.objects.get(pk=order_id).status == "packed"
    book = Message.objects.get(kind="shipment_book")
    assert (book.status, book.attempts) == ("sent", 1)  # a permanent refusal is not retried
    order.shipping_address = {**order.shipping_address, "postcode": "3065"}
    order.save(update_fields=["shipping_address"])
    fixed = packer.post(f"/api/orders/{order_id}/ship", {}, format="json").json()
    assert fixed["id"] == refused["id"]
    assert fixed["status"] == "label_created" and fixed["tracking_number"]
    assert len([s for s in sandbox_shipments(sandbox, "auspost") if not s.get("voided")]) == 1


@pytest.mark.parametrize("mode", [{"mode": "error", "status": 503}, {"mode": "rate_limit", "seconds": 30}])
def test_a_5xx_or_429_is_retried_later_and_books_once(floor, sandbox, mode):
    client, packer = floor
    order_id, _ = packed_order(client, packer, 1)
    sandbox_fault(sandbox, courier="fedex", path="/ship/v1/shipments", count=1, **mode)
    answer = packer.post(f"/api/orders/{order_id}/ship", {"courier": "fedex"}, format="json").json()
    assert answer["status"] == "booking" and answer["tracking_number"] == ""
    book = Message.objects.get(kind="shipment_book")
    assert (book.status, book.attempts) == ("pending", 1)
    if mode["mode"] == "rate_limit":
        assert (book.next_attempt_at - timezone.now()).total_seconds() >= 25  # Retry-After obeyed
    _forget_rate_blocks()  # as if Retry-After had passed
    _deliver_due()
    shipment = Shipment.objects.get()
    assert shipment.status == "label_created" and shipment.tracking_number
    assert len(sandbox_shipments(sandbox, "fedex")) == 1


@pytest.mark.parametrize("courier", ["dhl_express", "auspost", "fedex", "ups"])
def test_a_booking_whose_answer_is_lost_to_a_timeout_is_adopted_not_booked_twice(floor, sandbox, courier):
    client, packer = floor
    order_id, _ = packed_order(client, packer, 1, courier_route=courier)
    book_path = {
        "dhl_express": "/shipments",
        "auspost": "/shipping/v1/shipments",
        "fedex": "/ship/v1/shipments",
        "ups": "/api/shipments",
    }[courier]
    sandbox_fault(sandbox, courier=courier, path=book_path, mode="drop", seconds=4, count=1)
    first = packer.post(f"/api/orders/{order_id}/ship", {"courier": courier}, format="json").json()
    assert first["status"] == "booking"  # the courier booked it, the answer never came
    assert len(sandbox_shipments(sandbox, courier)) == 1
    _deliver_due()
    shipment = Shipment.objects.get()
    [at_courier] = sandbox_shipments(sandbox, courier)
    assert shipment.status == "label_created"
    live = [s for s in sandbox_shipments(sandbox, courier) if not s.get("voided")]
    assert len(live) == 1
    assert shipment.tracking_number in str(at_courier)
    assert Order.objects.get(pk=order_id).status == "shipped"
    _verify_stock()


@pytest.mark.parametrize("courier", ["auspost", "fedex", "ups", "dhl_express"])
def test_cancelling_voids_with_the_courier_packs_the_order_again_and_reverses_the_stock(floor, sandbox, courier):
    client, packer = floor
    order_id, _ = packed_order(client, packer, 1, courier_route=courier)
    shipment = packer.post(f"/api/orders/{order_id}/ship", {"courier": courier}, format="json").json()
    before = list(StockMovement.objects.values_list("pk", flat=True))
    answer = packer.post(f"/api/shipments/{shipment['id']}/cancel")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["status"] == "cancelled" and body["voided_at"]
    assert body["voided_with_courier"] is (courier != "dhl_express")
    [at_courier] = sandbox_shipments(sandbox, courier)
    assert bool(at_courier.get("voided")) is (courier != "dhl_express")
    assert Order.objects.get(pk=order_id).status == "packed"
    reversal = StockMovement.objects.exclude(pk__in=before)
    assert sorted((m.kind, m.quantity, m.reason) for m in reversal) == [
        ("reservation", 2, "shipment_cancelled"),
        ("return", 2, "shipment_cancelled"),
    ]
    _verify_stock()
    # Packed again, it ships again: a new shipment, a new number.
    again = packer.post(f"/api/orders/{order_id}/ship", {"courier": courier}, format="json").json()
    assert again["id"] != shipment["id"] and again["tracking_number"] != shipment["tracking_number"]
    assert packer.post(f"/api/shipments/{shipment['id']}/cancel").json()["status"] == "cancelled"  # idempotent


def test_a_shipment_cancelled_while_booking_voids_the_booking_that_comes_back(floor, sandbox):
    client, packer = floor
    order_id, _ = packed_order(client, packer, 1)
    sandbox_fault(sandbox, courier="auspost", path="/shipping/v1/shipments", mode="error", status=503, count=1)
    shipment = packer.post(f"/api/orders/{order_id}/ship", {}, format="json").json()
    assert shipment["status"] == "booking"
    assert packer.post(f"/api/shipments/{shipment['id']}/cancel").json()["status"] == "cancelled"
    assert _deliver_due() == 1  # the booking message finds nothing to book
    assert sandbox_shipments(sandbox, "auspost") == []
    assert Order.objects.get(pk=order_id).status == "packed"


def test_labels_batch_prints_a_wave_in_pick_order_and_marks_reprints(floor):
    client, packer = floor
    ids = []
    for n in (1, 2, 3):
        order_id, _ = packed_order(client, packer, n)
        ids.append(packer.post(f"/api/orders/{order_id}/ship", {}, format="json").json())
    numbers = [s["tracking_number"] for s in ids]
    batch = packer.post("/api/labels/batch", {"shipments": [ids[2]["id"], ids[0]["id"], ids[1]["id"]]}, format="json")
    assert batch.status_code == 200, batch.content
    decoded = [codes[0][1] for codes in decode_pages(batch.content)]
    assert sorted(decoded) == sorted(numbers)
    assert all("REPRINT" not in squash(t) for t in pages_text(batch.content))
    zpl = packer.post("/api/labels/batch", {"shipments": [s["id"] for s in ids], "format": "zpl"}, format="json")
    assert zpl.status_code == 200 and zpl.content.count(b"^XA") == 3
    assert zpl.content.count(b"REPRINT") == 3
    assert LabelPrint.objects.filter(reprint=True).count() == 3


def test_labels_batch_for_a_wave_follows_the_wave_and_refuses_unbooked(floor):
    client, packer = floor
    order_id, wave_id = packed_order(client, packer, 1)
    refused = packer.post("/api/labels/batch", {"wave": wave_id}, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "not_booked"
    shipment = packer.post(f"/api/orders/{order_id}/ship", {}, format="json").json()
    ok = packer.post("/api/labels/batch", {"wave": wave_id}, format="json")
    assert ok.status_code == 200
    assert decode_pages(ok.content)[0][0][1] == shipment["tracking_number"]
    for bad in (
        {},
        {"wave": wave_id, "shipments": [1]},
        {"shipments": []},
        {"wave": "x"},
        {"wave": 1, "format": "png"},
    ):
        answer = packer.post("/api/labels/batch", bad, format="json")
        assert answer.status_code == 400, (bad, answer.content)
        assert answer.json()["code"]


def test_the_shipment_list_filters_and_reads_in_a_fixed_number_of_queries(floor):
    client, packer = floor
    for n in (1, 2):
        order_id, _ = packed_order(client, packer, n)
        packer.post(f"/api/orders/{order_id}/ship", {}, format="json")
    with CaptureQueriesContext(connection) as few:
        assert packer.get("/api/shipments/").json()["count"] == 2
    for n in (3, 4, 5):
        order_id, _ = packed_order(client, packer, n)
        packer.post(f"/api/orders/{order_id}/ship", {}, format="json")
    with CaptureQueriesContext(connection) as more:
        assert packer.get("/api/shipments/").json()["count"] == 5
    assert len(more) == len(few)
    listed = packer.get("/api/shipments/?courier=auspost&status=label_created").json()
    assert listed["count"] == 5
    assert packer.get("/api/shipments/?stale=true").json()["count"] == 0
    Shipment.objects.filter(pk=listed["results"][0]["id"]).update(
        last_event_at=timezone.now() - timezone.timedelta(days=5)
    )
    stale = packer.get("/api/shipments/?stale=true").json()
    assert [s["id"] for s in stale["results"]] == [listed["results"][0]["id"]]
    assert stale["results"][0]["stale"] is True
    number = listed["results"][1]["tracking_number"]
    assert packer.get(f"/api/shipments/?tracking_number={number}").json()["count"] == 1
    assert packer.get("/api/shipments/?status=bogus").status_code == 400


def test_the_manifest_command_closes_the_day_with_the_courier(floor, capsys):
    client, packer = floor
    for n in (1, 2):
        order_id, _ = packed_order(client, packer, n)
        packer.post(f"/api/orders/{order_id}/ship", {}, format="json")
    call_command("manifest", courier="auspost", warehouse="AU")
    out = capsys.readouterr().out
    assert "2 shipment(s)" in out
    assert Shipment.objects.filter(manifest__isnull=False).count() == 2
    call_command("manifest", courier="auspost", warehouse="AU")
    assert "No booked auspost shipments" in capsys.readouterr().out


@pytest.mark.parametrize("courier", ["auspost", "fedex", "ups"])
def test_a_lost_booking_of_a_shipment_cancelled_meanwhile_is_voided_with_the_courier(floor, sandbox, courier):
    client, packer = floor
    order_id, _ = packed_order(client, packer, 1, courier_route=courier)
    book_path = {"auspost": "/shipping/v1/shipments", "fedex": "/ship/v1/shipments", "ups": "/api/shipments"}[courier]
    sandbox_fault(sandbox, courier=courier, path=book_path, mode="drop", seconds=4, count=1)
    shipment = packer.post(f"/api/orders/{order_id}/ship", {"courier": courier}, format="json").json()
    assert shipment["status"] == "booking"
    [made] = sandbox_shipments(sandbox, courier)
    assert not made.get("voided")
    assert packer.post(f"/api/shipments/{shipment['id']}/cancel").json()["status"] == "cancelled"
    _deliver_due()
    [orphan] = sandbox_shipments(sandbox, courier)
    assert orphan.get("voided") is True  # the booking nobody uses is voided, not left billable
    assert Order.objects.get(pk=order_id).status == "packed"
    assert Shipment.objects.get().tracking_number == ""
