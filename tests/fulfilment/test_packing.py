"""The pack bench over the API: scan-verified packing, short picks written off and backordered."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from fulfilment.models import Order, OrderEvent, OrderLine, PickWaveOrder
from inventory import services as inventory
from inventory.models import Sku, StockMovement, Warehouse
from tests.fulfilment.helpers import level, make_world, post_shopify, stock_snapshot
from tests.fulfilment.payloads import shopify_line, shopify_order

pytestmark = pytest.mark.django_db(transaction=True)

GTIN_42, GTIN_38 = "09312345000421", "09312345000384"


def _order(client, n: int, lines: list[tuple[str, int]], expect: str = "reserved", **fields) -> int:
    items = [
        shopify_line(
            id=1000 * n + i,
            sku=sku,
            quantity=qty,
            current_quantity=qty,
            fulfillable_quantity=qty,
            name=f"Arch Support Insole - {sku[-4:]}",
        )
        for i, (sku, qty) in enumerate(lines)
    ]
    order = post_shopify(
        client, shopify_order(id=n, name=f"#{n}", line_items=items, **fields), event_id=f"evt-{n}"
    ).json()
    assert order["order"]["status"] == expect, order
    return order["order"]["id"]


@pytest.fixture
def bench(client, client_for):
    """One order (2 x ARCH-EU42, 1 x ARCH-EU38) being picked in AU, and a packer."""
    make_world({"ARCH-EU42": 50, "ARCH-EU38": 50})
    Sku.objects.filter(code="ARCH-EU42").update(barcode=GTIN_42)
    Sku.objects.filter(code="ARCH-EU38").update(barcode=GTIN_38)
    order_id = _order(client, 1, [("ARCH-EU42", 2), ("ARCH-EU38", 1)])
    packer = client_for("warehouse", "packer-1")
    wave = packer.post("/api/pick-waves/", {"warehouse": "AU"}, format="json").json()
    assert wave["orders"] == [order_id]
    return order_id, wave["id"], packer


def _state(order_id):
    """Everything a refused pack or short pick must leave as it was."""
    order = Order.objects.get(pk=order_id)
    return (
        order.status,
        order.updated_at,
        order.packed_at,
        order.parcel_weight_g,
        list(OrderLine.objects.filter(order_id=order_id).values_list("quantity_reserved", "quantity_backordered")),
        OrderEvent.objects.filter(order_id=order_id).count(),
        StockMovement.objects.count(),
        stock_snapshot(),
        list(PickWaveOrder.objects.values_list("active", "left_at")),
    )


def test_packing_by_barcode_and_sku_moves_the_order_to_packed_with_its_packer_and_parcel(bench):
    order_id, _wave, packer = bench
    scans = [{"barcode": GTIN_42}, {"barcode": GTIN_42}, {"sku": "ARCH-EU38", "quantity": 1}]
    response = packer.post(
        f"/api/orders/{order_id}/pack", {"items": scans, "weight_g": 420, "dimensions_cm": [30, 12, 4]}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["packed_by"], body["parcel_weight_g"]) == ("packed", "packer-1", 420)
    assert body["parcel_dimensions_cm"] == [30, 12, 4] and body["packed_at"] is not None
    event = OrderEvent.objects.filter(order_id=order_id, kind="packed").get()
    assert event.actor.username == "packer-1" and event.data["units"] == 3
    # Packing moves no stock: the units stay reserved until the courier takes them.
    assert (level("ARCH-EU42", "AU").on_hand, level("ARCH-EU42", "AU").reserved) == (50, 2)


def test_a_gtin_scanned_in_another_length_is_the_same_article(bench):
    order_id, _wave, packer = bench
    # The catalogue keeps GTIN-14 09312345000421; the scanner reads the EAN-13 on the box, without the 0.
    scans = [{"barcode": GTIN_42[1:], "quantity": 2}, {"barcode": f" {GTIN_38} "}]
    body = packer.post(f"/api/orders/{order_id}/pack", {"items": scans}, format="json").json()
    assert body["status"] == "packed", body


@pytest.mark.parametrize(
    ("code", "key", "spellings"),
    [
        ("012345678905", "00012345678905", {"012345678905", "0012345678905", "00012345678905"}),
        ("4006381333931", "04006381333931", {"4006381333931", "04006381333931"}),
        ("96385074", "00000096385074", {"96385074", "000096385074", "0000096385074", "00000096385074"}),
        ("ARCH-EU42", "ARCH-EU42", {"ARCH-EU42"}),
        ("12345", "12345", {"12345"}),
    ],
)
def test_gtin_spellings(code, key, spellings):
    from fulfilment.services.packing import gtin_key, gtin_spellings

    assert (gtin_key(code), gtin_spellings(code)) == (key, spellings)


def test_scans_in_another_grouping_match_and_the_weight_defaults_to_the_units_weight(bench):
    order_id, _wave, packer = bench
    scans = [{"sku": "ARCH-EU38"}, {"barcode": GTIN_42, "quantity": 2}]
    body = packer.post(f"/api/orders/{order_id}/pack", {"items": scans}, format="json").json()
    assert (body["status"], body["parcel_weight_g"], body["parcel_dimensions_cm"]) == ("packed", 3 * 80, None)


@pytest.mark.parametrize(
    ("scans", "missing", "unexpected"),
    [
        # The wrong size: EU 38 scanned where EU 42 belongs.
        ([{"sku": "ARCH-EU38", "quantity": 2}, {"barcode": GTIN_42}], {"ARCH-EU42": 1}, {"ARCH-EU38": 1}),
        # A pair missing.
        ([{"barcode": GTIN_42}, {"sku": "ARCH-EU38"}], {"ARCH-EU42": 1}, {}),
        # An extra pair, and a barcode no SKU carries (reported as scanned).
        (
            [{"barcode": GTIN_42, "quantity": 3}, {"sku": "ARCH-EU38"}, {"barcode": "4006381333931"}],
            {},
            {"ARCH-EU42": 1, "4006381333931": 1},
        ),
        # Nothing scanned at all.
        ([], {"ARCH-EU38": 1, "ARCH-EU42": 2}, {}),
    ],
)
def test_a_mismatch_is_a_409_listing_missing_and_unexpected_and_changes_nothing(bench, scans, missing, unexpected):
    order_id, _wave, packer = bench
    before = _state(order_id)
    response = packer.post(f"/api/orders/{order_id}/pack", {"items": scans, "weight_g": 300}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "pack_mismatch"
    assert (body["extra"]["missing"], body["extra"]["unexpected"]) == (missing, unexpected)
    assert _state(order_id) == before


def test_packing_an_order_that_is_not_picking_is_a_409_illegal_transition(bench, client):
    order_id, _wave, packer = bench
    scans = {"items": [{"barcode": GTIN_42, "quantity": 2}, {"barcode": GTIN_38}]}
    assert packer.post(f"/api/orders/{order_id}/pack", scans, format="json").status_code == 200
    again = packer.post(f"/api/orders/{order_id}/pack", scans, format="json")
    assert again.status_code == 409
    assert (again.json()["code"], again.json()["extra"]["current"]) == ("illegal_transition", "packed")
    reserved = _order(client, 2, [("ARCH-EU42", 1)])
    response = packer.post(f"/api/orders/{reserved}/pack", {"items": [{"barcode": GTIN_42}]}, format="json")
    assert response.status_code == 409 and response.json()["extra"]["current"] == "reserved"
    assert Order.objects.get(pk=reserved).status == "reserved"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"items": "ARCH-EU42"},
        {"items": [{}]},
        {"items": [{"barcode": GTIN_42, "sku": "ARCH-EU42"}]},
        {"items": [{"sku": "ARCH-EU42", "quantity": "2"}]},
        {"items": [{"sku": "ARCH-EU42", "quantity": 0}]},
        {"items": [{"barcode": GTIN_42}], "weight_g": -5},
        {"items": [{"barcode": GTIN_42}], "weight_g": 420.5},
        {"items": [{"barcode": GTIN_42}], "dimensions_cm": [30, 12]},
        {"items": [{"barcode": GTIN_42}], "dimensions_cm": [30, 12, 0]},
    ],
)
def test_bad_pack_requests_are_json_400s_and_change_nothing(bench, payload):
    order_id, _wave, packer = bench
    before = _state(order_id)
    response = packer.post(f"/api/orders/{order_id}/pack", payload, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid", response.content
    assert _state(order_id) == before


def test_only_warehouse_staff_of_the_order_s_warehouse_pack(bench, client_for, django_user_model):
    order_id, _wave, packer = bench
    scans = {"items": [{"barcode": GTIN_42, "quantity": 2}, {"barcode": GTIN_38}]}
    before = _state(order_id)
    for role in ("operations", "storefront"):
        response = client_for(role).post(f"/api/orders/{order_id}/pack", scans, format="json")
        assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    Warehouse.objects.get(code="EU").staff.add(django_user_model.objects.get(username="packer-1"))
    response = packer.post(f"/api/orders/{order_id}/pack", scans, format="json")
    assert response.status_code == 403 and response.json()["code"] == "warehouse_forbidden"
    assert _state(order_id) == before
    missing = packer.post("/api/orders/999999/pack", scans, format="json")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


# --- Short picks ---------------------------------------------------------------------------


def test_a_short_pick_writes_the_units_off_backorders_the_line_and_takes_the_order_out_of_the_wave(bench):
    order_id, wave_id, packer = bench
    response = packer.post(f"/api/orders/{order_id}/short-pick", {"sku": "ARCH-EU42", "quantity": 1}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "backordered"
    line = next(line for line in body["lines"] if line["sku"] == "ARCH-EU42")
    assert (line["quantity"], line["quantity_reserved"], line["quantity_backordered"]) == (2, 1, 1)
    reference = f"order:{order_id}"
    moves = StockMovement.objects.filter(reference=reference, sku__code="ARCH-EU42", reason="short_pick")
    assert sorted(moves.values_list("kind", "quantity")) == [("adjustment", -1), ("release", -1)]
    assert moves.get(kind="adjustment").note == f"not found (the SKU has no bin), wave {wave_id}"
    assert (level("ARCH-EU42", "AU").on_hand, level("ARCH-EU42", "AU").reserved) == (49, 1)
    assert inventory.stock_verify() == []
    wave = packer.get(f"/api/pick-waves/{wave_id}/").json()
    assert (wave["orders"], wave["left_orders"], wave["status"]) == ([], [order_id], "open")
    assert not PickWaveOrder.objects.filter(order_id=order_id, active=True).exists()
    event = OrderEvent.objects.get(order_id=order_id, kind="short_pick")
    assert event.data == {"sku": "ARCH-EU42", "quantity": 1, "bin": None, "wave": wave_id}
    # Backordered now: it cannot be packed until it is reserved and picked again.
    scans = {"items": [{"barcode": GTIN_42, "quantity": 2}, {"barcode": GTIN_38}]}
    assert packer.post(f"/api/orders/{order_id}/pack", scans, format="json").json()["code"] == "illegal_transition"


def test_a_short_picked_order_is_filled_first_paid_first_when_stock_arrives_and_picked_again(client, client_for):
    make_world({"ARCH-EU42": 2}, warehouses=("AU",))
    first = _order(client, 1, [("ARCH-EU42", 2)], processed_at="2026-11-30T09:00:00+11:00")
    packer = client_for("warehouse", "packer-1")
    wave = packer.post("/api/pick-waves/", {"warehouse": "AU"}, format="json").json()
    assert packer.post(f"/api/orders/{first}/short-pick", {"sku": "ARCH-EU42", "quantity": 2}).status_code == 200
    later = _order(client, 2, [("ARCH-EU42", 1)], expect="backordered", processed_at="2026-11-30T10:00:00+11:00")
    au, sku = Warehouse.objects.get(code="AU"), Sku.objects.get(code="ARCH-EU42")
    inventory.stock_receive(sku=sku, warehouse=au, quantity=2, reference="PO-7")
    statuses = dict(Order.objects.values_list("pk", "status"))
    assert (statuses[first], statuses[later]) == ("reserved", "backordered")
    assert inventory.stock_verify() == []
    again = packer.post("/api/pick-waves/", {"warehouse": "AU"}, format="json").json()
    assert again["orders"] == [first] and again["id"] != wave["id"]


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"sku": "ARCH-EU42", "quantity": 3}, 400, "invalid_quantity"),
        ({"sku": "RUN-EU40", "quantity": 1}, 400, "not_in_order"),
        ({"sku": "NOPE", "quantity": 1}, 400, "not_in_order"),
        ({"sku": "ARCH-EU42", "quantity": 0}, 400, "invalid"),
        ({"sku": "ARCH-EU42", "quantity": "1"}, 400, "invalid"),
        ({"sku": "ARCH-EU42"}, 400, "invalid"),
    ],
)
def test_bad_short_picks_are_json_4xx_and_change_nothing(bench, payload, status, code):
    order_id, _wave, packer = bench
    before = _state(order_id)
    response = packer.post(f"/api/orders/{order_id}/short-pick", payload, format="json")
    assert (response.status_code, response.json()["code"]) == (status, code), response.content
    assert _state(order_id) == before


def test_a_short_pick_on_an_order_that_is_not_picking_is_a_409(bench):
    order_id, wave_id, packer = bench
    assert packer.post(f"/api/pick-waves/{wave_id}/cancel").status_code == 200
    before = _state(order_id)
    response = packer.post(f"/api/orders/{order_id}/short-pick", {"sku": "ARCH-EU42", "quantity": 1}, format="json")
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["extra"]["current"]) == ("illegal_transition", "reserved")
    assert _state(order_id) == before


@pytest.mark.postgres
def test_the_same_pack_sent_twice_at_once_packs_once(client, client_for):
    make_world({"ARCH-EU42": 5})
    Sku.objects.filter(code="ARCH-EU42").update(barcode=GTIN_42)
    order_id = _order(client, 1, [("ARCH-EU42", 1)])
    packer = client_for("warehouse", "packer-1")
    packer.post("/api/pick-waves/", {"warehouse": "AU"}, format="json")
    barrier, results = threading.Barrier(2), []

    def pack():
        try:
            barrier.wait()
            response = packer.post(f"/api/orders/{order_id}/pack", {"items": [{"barcode": GTIN_42}]}, format="json")
            results.append((response.status_code, response.json().get("code")))
        finally:
            connection.close()

    threads = [threading.Thread(target=pack) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=str) == [(200, None), (409, "illegal_transition")]
    assert OrderEvent.objects.filter(order_id=order_id, kind="packed").count() == 1


def test_several_skus_of_one_tote_can_be_reported_short_while_its_wave_is_open(bench):
    order_id, wave_id, packer = bench
    first = packer.post(f"/api/orders/{order_id}/short-pick", {"sku": "ARCH-EU42", "quantity": 2}, format="json")
    assert first.status_code == 200 and first.json()["status"] == "backordered"
    second = packer.post(f"/api/orders/{order_id}/short-pick", {"sku": "arch-eu38", "quantity": 1}, format="json")
    assert second.status_code == 200, second.content
    lines = {line["sku"]: (line["quantity_reserved"], line["quantity_backordered"]) for line in second.json()["lines"]}
    assert lines == {"ARCH-EU42": (0, 2), "ARCH-EU38": (0, 1)}
    assert (level("ARCH-EU42", "AU").on_hand, level("ARCH-EU38", "AU").on_hand) == (48, 49)
    assert inventory.stock_verify() == []
    # Once the wave has ended the tote is gone: a later report is refused.
    assert packer.post(f"/api/pick-waves/{wave_id}/close").status_code == 200
    late = packer.post(f"/api/orders/{order_id}/short-pick", {"sku": "ARCH-EU42", "quantity": 1}, format="json")
    assert (late.status_code, late.json()["code"]) == (409, "illegal_transition")


def test_keyed_sku_codes_match_whatever_their_case(bench):
    order_id, _wave, packer = bench
    scans = [{"sku": "arch-eu42", "quantity": 2}, {"sku": " Arch-EU38 "}]
    assert packer.post(f"/api/orders/{order_id}/pack", {"items": scans}, format="json").json()["status"] == "packed"


def test_with_units_still_on_record_the_sweeper_reserves_a_short_picked_order_again(bench):
    """Documented: a short pick writes off what the picker reports, not what the bin may lack beyond it."""
    from fulfilment import services

    order_id, _wave, packer = bench
    packer.post(f"/api/orders/{order_id}/short-pick", {"sku": "ARCH-EU42", "quantity": 1}, format="json")
    assert Order.objects.get(pk=order_id).status == "backordered"
    assert services.backorders_sweep() == 1
    assert Order.objects.get(pk=order_id).status == "reserved"
    assert inventory.stock_verify() == []


def test_a_cancelled_order_leaves_its_open_wave(bench, client_for):
    order_id, wave_id, packer = bench
    assert client_for("operations").post(f"/api/orders/{order_id}/cancel").json()["status"] == "cancelled"
    wave = packer.get(f"/api/pick-waves/{wave_id}/").json()
    assert (wave["orders"], wave["left_orders"]) == ([], [order_id])
    assert (level("ARCH-EU42", "AU").on_hand, level("ARCH-EU42", "AU").reserved) == (50, 0)


def test_an_order_reserved_across_warehouses_is_flagged_and_not_picked(client, client_for, settings):
    settings.FULFILMENT_ALLOCATION = "split"
    make_world({"ARCH-EU42": 1}, warehouses=("AU", "US"))
    order_id = _order(client, 1, [("ARCH-EU42", 2)])
    order = Order.objects.get(pk=order_id)
    assert order.needs_attention.startswith("Reserved across warehouses AU, US")
    picker = client_for("warehouse", "picker-1")
    for code in ("AU", "US"):
        response = picker.post("/api/pick-waves/", {"warehouse": code}, format="json")
        assert (response.status_code, response.json()["code"]) == (409, "nothing_to_pick")
