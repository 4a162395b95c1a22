"""Adjustment reason codes and notes; counts and adjustments below reserved name the orders holding the stock."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from inventory import services
from inventory.errors import BelowReserved, NoteRequired, NoteTooLong, ReasonRequired, UnknownReason
from inventory.models import NOTE_MAX_LENGTH, AdjustmentReason, StockLevel, StockMovement
from tests.factories import SkuFactory, WarehouseFactory

pytestmark = pytest.mark.django_db

CODES = ["damaged", "lost", "found", "returned", "short_pick", "other"]


@pytest.fixture
def wh():
    return WarehouseFactory(code="EU")


@pytest.fixture
def sku(wh):
    sku = SkuFactory()
    services.stock_receive(sku=sku, warehouse=wh, quantity=20, reference="initial")
    return sku


def ledger() -> tuple:
    return (
        list(StockMovement.objects.order_by("pk").values_list("kind", "quantity", "reason", "note")),
        list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved")),
    )


def test_the_reason_codes():
    assert AdjustmentReason.values == CODES


@pytest.mark.parametrize("code", CODES)
def test_every_reason_code_is_stored_in_the_reason_column(sku, wh, code):
    services.stock_adjust(sku=sku, warehouse=wh, delta=-2, reason=code, note="seen on the shelf")
    movement = StockMovement.objects.filter(kind="adjustment").get()
    assert (movement.quantity, movement.reason, movement.note) == (-2, code, "seen on the shelf")
    assert StockLevel.objects.get(sku=sku, warehouse=wh).on_hand == 18


def test_short_pick_is_called_as_the_packing_code_calls_it(sku, wh):
    user = get_user_model().objects.create(username="picker")
    services.stock_adjust(sku=sku, warehouse=wh, delta=-1, reason="short_pick", actor=user, reference="order:12")
    movement = StockMovement.objects.filter(kind="adjustment").get()
    assert (movement.reason, movement.note, movement.reference, movement.actor) == ("short_pick", "", "order:12", user)
    assert services.stock_verify() == []


@pytest.mark.parametrize("reason", ["water damage", "Damaged", "short-pick", "other\u00a0"])
def test_an_unknown_reason_is_refused_naming_the_codes_and_writes_nothing(sku, wh, reason):
    before = ledger()
    with pytest.raises(UnknownReason) as err:
        services.stock_adjust(sku=sku, warehouse=wh, delta=-1, reason=reason)
    assert err.value.extra == {"reason": reason, "allowed": CODES}
    assert ledger() == before


def test_other_needs_a_note_and_a_note_has_a_length_limit(sku, wh):
    before = ledger()
    with pytest.raises(NoteRequired):
        services.stock_adjust(sku=sku, warehouse=wh, delta=3, reason="other")
    with pytest.raises(NoteRequired):
        services.stock_adjust(sku=sku, warehouse=wh, delta=3, reason="other", note="   ")
    with pytest.raises(NoteTooLong):
        services.stock_adjust(sku=sku, warehouse=wh, delta=3, reason="found", note="x" * (NOTE_MAX_LENGTH + 1))
    with pytest.raises(ReasonRequired) as err:
        services.stock_adjust(sku=sku, warehouse=wh, delta=3, reason="", note="found behind the rack")
    assert err.value.extra["allowed"] == CODES
    assert ledger() == before
    services.stock_adjust(sku=sku, warehouse=wh, delta=3, reason="other", note="transfer from the showroom")
    assert StockMovement.objects.filter(kind="adjustment").get().note == "transfer from the showroom"


@pytest.mark.postgres
def test_ledger_rows_written_by_the_reserve_function_get_an_empty_note(sku, wh):
    services.reservation_create(warehouse=wh, items=[(sku.pk, 2)], reference="order:1")
    assert StockMovement.objects.filter(kind="reservation").get().note == ""


# --- Below reserved: who holds the stock ------------------------------------------------------


def test_a_count_below_reserved_is_refused_naming_the_orders_that_hold_the_stock(sku, wh):
    services.reservation_create(warehouse=wh, items=[(sku.pk, 3)], reference="order:12")
    services.reservation_create(warehouse=wh, items=[(sku.pk, 4)], reference="order:7")
    services.reservation_create(warehouse=wh, items=[(sku.pk, 1)], reference="transfer:9")
    services.reservation_create(warehouse=wh, items=[(sku.pk, 2)], reference="order:12")  # a filled backorder
    services.reservation_create(warehouse=wh, items=[(sku.pk, 5)], reference="order:99")
    services.reservation_release(reference="order:99")  # released: holds nothing
    before = ledger()

    with pytest.raises(BelowReserved) as err:
        services.stock_count(sku=sku, warehouse=wh, counted=9)

    assert err.value.status == 409 and err.value.code == "below_reserved"
    assert err.value.extra == {
        "sku": sku.code,
        "warehouse": "EU",
        "counted": 9,
        "reserved": 10,
        "references": ["order:12", "order:7", "transfer:9"],
        "orders": [12, 7],
        "reservations": [
            {"reference": "order:12", "quantity": 5},
            {"reference": "order:7", "quantity": 4},
            {"reference": "transfer:9", "quantity": 1},
        ],
        "reservation_count": 3,
    }
    assert "order:12, order:7, transfer:9" in err.value.detail
    assert ledger() == before
    services.stock_count(sku=sku, warehouse=wh, counted=10)  # down to exactly what is reserved: fine
    assert StockLevel.objects.get(sku=sku, warehouse=wh).on_hand == 10


def test_an_adjustment_below_reserved_names_the_holders_too(sku, wh):
    services.reservation_create(warehouse=wh, items=[(sku.pk, 15)], reference="order:3")
    with pytest.raises(BelowReserved) as err:
        services.stock_adjust(sku=sku, warehouse=wh, delta=-6, reason="damaged")
    assert (err.value.extra["on_hand"], err.value.extra["delta"]) == (20, -6)
    assert (err.value.extra["references"], err.value.extra["orders"]) == (["order:3"], [3])


def test_a_refusal_lists_at_most_a_hundred_holders_and_counts_them_all(sku, wh):
    services.stock_receive(sku=sku, warehouse=wh, quantity=100)
    for i in range(1, 121):
        services.reservation_create(warehouse=wh, items=[(sku.pk, 1)], reference=f"order:{i}")
    with pytest.raises(BelowReserved) as err:
        services.stock_count(sku=sku, warehouse=wh, counted=0)
    extra = err.value.extra
    assert extra["reservation_count"] == 120
    assert extra["orders"] == list(range(1, 101)) and len(extra["references"]) == 100


# --- Over the API ---------------------------------------------------------------------------------


def test_the_api_adjusts_with_a_code_and_a_note_and_the_ledger_lists_both(client_for, sku, wh):
    ops = client_for("operations")
    response = ops.post(
        "/api/stock/adjust",
        {"sku": sku.code, "warehouse": "EU", "delta": -2, "reason": "damaged", "note": "forklift"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["on_hand"] == 18
    (row,) = ops.get("/api/movements/", {"kind": "adjustment"}).json()["results"]
    assert (row["reason"], row["note"], row["quantity"], row["actor"]) == ("damaged", "forklift", -2, "operations-user")
    receipt = ops.get("/api/movements/", {"kind": "receipt"}).json()["results"][0]
    assert (receipt["reason"], receipt["note"]) == ("", "")


@pytest.mark.parametrize(
    ("payload", "code", "extra"),
    [
        ({"reason": "water damage"}, "unknown_reason", {"reason": "water damage", "allowed": CODES}),
        ({"reason": "other"}, "note_required", {"reason": "other"}),
        ({"reason": "other", "note": "  "}, "note_required", {"reason": "other"}),
    ],
)
def test_the_api_refuses_an_unknown_code_or_a_bare_other_and_changes_nothing(client_for, sku, wh, payload, code, extra):
    before = ledger()
    response = client_for("operations").post(
        "/api/stock/adjust", {"sku": sku.code, "warehouse": "EU", "delta": -1, **payload}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["extra"]) == (code, extra)
    assert ledger() == before


def test_a_count_below_reserved_over_the_api_is_a_409_naming_the_orders(client_for, sku, wh):
    services.reservation_create(warehouse=wh, items=[(sku.pk, 6)], reference="order:41")
    before = ledger()
    response = client_for("warehouse").post(
        "/api/stock/count", {"sku": sku.code, "warehouse": "EU", "counted": 5}, format="json"
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "below_reserved"
    assert (body["extra"]["orders"], body["extra"]["references"]) == ([41], ["order:41"])
    assert body["extra"]["reservations"] == [{"reference": "order:41", "quantity": 6}]
    assert ledger() == before


def test_warehouse_staff_cannot_adjust(client_for, sku):
    before = ledger()
    response = client_for("warehouse").post(
        "/api/stock/adjust", {"sku": sku.code, "warehouse": "EU", "delta": -1, "reason": "lost"}, format="json"
    )
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert ledger() == before
