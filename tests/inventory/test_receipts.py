"""Receipts: POST /api/stock/receipts books all lines or none, once per warehouse and reference; list and detail."""

from __future__ import annotations

import pytest

from inventory import services
from inventory.errors import ReceiptConflict, ReceiptLinesInvalid, ReferenceRequired
from inventory.models import STOCK_LEVEL_MAX, StockLevel, StockMovement, StockReceipt, StockReceiptLine
from inventory.services import ReceiptLine
from tests.factories import BinFactory, ProductFactory, SizeFactory, SkuFactory, WarehouseFactory

pytestmark = pytest.mark.django_db

URL = "/api/stock/receipts"


@pytest.fixture
def world():
    au, eu = WarehouseFactory(code="AU"), WarehouseFactory(code="EU")
    BinFactory(warehouse=au, code="A-01-01")
    BinFactory(warehouse=au, code="A-01-02")
    BinFactory(warehouse=eu, code="E-09")
    product = ProductFactory(code="ARCH")
    skus = {label: SkuFactory(product=product, size=SizeFactory(label=label)) for label in ("40", "41", "42")}
    services.stock_receive(sku=skus["42"], warehouse=au, quantity=5, reference="initial")
    return {"AU": au, "EU": eu, **skus}


@pytest.fixture
def staff(client_for):
    return client_for("operations")  # DESIGN.md: receipts are operations' (warehouse may read)


def body(reference="PO-1", warehouse="AU", lines=None) -> dict:
    return {
        "warehouse": warehouse,
        "reference": reference,
        "lines": lines
        if lines is not None
        else [
            {"sku": "ARCH-EU42", "quantity": 10, "bin": "A-01-01"},
            {"sku": "ARCH-EU40", "quantity": 3},
        ],
    }


def state() -> tuple:
    """Everything a receipt could change: the ledger, the levels (numbers and bins) and the receipts."""
    return (
        list(StockMovement.objects.order_by("pk").values_list("kind", "quantity", "sku_id", "reference")),
        list(StockLevel.objects.order_by("pk").values_list("sku_id", "warehouse_id", "on_hand", "reserved", "bin_id")),
        list(StockReceipt.objects.order_by("pk").values_list("pk", "reference")),
        StockReceiptLine.objects.count(),
    )


def on_hand(code: str, warehouse: str = "AU") -> int:
    return StockLevel.objects.get(sku__code=code, warehouse__code=warehouse).on_hand


def test_a_receipt_books_every_line_and_is_recorded(staff, world):
    response = staff.post(URL, body(), format="json")

    assert response.status_code == 201, response.content
    receipt = response.json()
    assert receipt | {"id": None, "received_at": None} == {
        "id": None,
        "warehouse": "AU",
        "reference": "PO-1",
        "lines": [
            {"sku": "ARCH-EU42", "quantity": 10, "bin": "A-01-01"},
            {"sku": "ARCH-EU40", "quantity": 3, "bin": ""},
        ],
        "received_at": None,
        "actor": "operations-user",
    }
    assert (on_hand("ARCH-EU42"), on_hand("ARCH-EU40")) == (15, 3)
    assert StockLevel.objects.get(sku__code="ARCH-EU42", warehouse__code="AU").bin.code == "A-01-01"
    booked = StockMovement.objects.filter(reference="PO-1").order_by("pk")
    assert list(booked.values_list("kind", "quantity", "sku__code", "warehouse__code", "actor__username")) == [
        ("receipt", 10, "ARCH-EU42", "AU", "operations-user"),
        ("receipt", 3, "ARCH-EU40", "AU", "operations-user"),
    ]
    assert staff.get(f"/api/stock/receipts/{receipt['id']}/").json() == receipt
    assert staff.get("/api/stock/receipts/").json()["results"] == [receipt]
    assert services.stock_verify() == []


def test_the_same_receipt_posted_again_is_the_first_receipt_and_books_nothing(staff, world):
    first = staff.post(URL, body(), format="json").json()
    before = state()

    again = staff.post(URL, body(), format="json")
    assert again.status_code == 200 and again.json() == first
    reordered = body(lines=list(reversed(body()["lines"])))
    assert staff.post(URL, reordered, format="json").json()["id"] == first["id"]  # the same delivery
    assert state() == before
    assert on_hand("ARCH-EU42") == 15


@pytest.mark.parametrize(
    "lines",
    [
        [{"sku": "ARCH-EU42", "quantity": 11, "bin": "A-01-01"}, {"sku": "ARCH-EU40", "quantity": 3}],
        [{"sku": "ARCH-EU42", "quantity": 10, "bin": "A-01-02"}, {"sku": "ARCH-EU40", "quantity": 3}],
        [{"sku": "ARCH-EU42", "quantity": 10, "bin": "A-01-01"}],
        [*body()["lines"], {"sku": "ARCH-EU41", "quantity": 1}],
    ],
    ids=["quantity", "bin", "fewer-lines", "more-lines"],
)
def test_other_lines_under_a_booked_reference_are_a_409_and_change_nothing(staff, world, lines):
    first = staff.post(URL, body(), format="json").json()
    before = state()
    response = staff.post(URL, body(lines=lines), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "receipt_conflict"
    assert response.json()["extra"] == {"warehouse": "AU", "reference": "PO-1", "receipt": first["id"]}
    assert state() == before


def test_the_same_reference_in_another_warehouse_is_another_receipt(staff, world):
    au = staff.post(URL, body(), format="json").json()
    eu = staff.post(
        URL, body(warehouse="EU", lines=[{"sku": "ARCH-EU42", "quantity": 2, "bin": "E-09"}]), format="json"
    )
    assert eu.status_code == 201 and eu.json()["id"] != au["id"]
    assert on_hand("ARCH-EU42", "EU") == 2


# --- bad lines: 400 naming the line, nothing booked ---------------------------------------------


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"sku": "ARCH-EU41", "quantity": "5"}, "quantity"),
        ({"sku": "ARCH-EU41", "quantity": 0}, "quantity"),
        ({"sku": "ARCH-EU41", "quantity": -4}, "quantity"),
        ({"sku": "ARCH-EU41", "quantity": 2.5}, "quantity"),
        ({"sku": "ARCH-EU41", "quantity": True}, "quantity"),
        ({"sku": "ARCH-EU41", "quantity": 1_000_001}, "quantity"),
        ({"sku": "ARCH-EU41"}, "quantity"),
        ({"quantity": 1}, "sku"),
        ({"sku": "NOPE", "quantity": 1}, "sku"),
        ({"sku": "ARCH-EU41\x00", "quantity": 1}, "sku"),
        ({"sku": "ARCH-EU42", "quantity": 1}, "sku"),  # a second line of the first line's SKU
        ({"sku": "ARCH-EU41", "quantity": 1, "bin": "Z-99"}, "bin"),
        ({"sku": "ARCH-EU41", "quantity": 1, "bin": "E-09"}, "bin"),  # a bin of another warehouse
        ("ARCH-EU41 x 1", None),
    ],
)
def test_a_bad_line_is_a_400_naming_its_index_and_field_and_nothing_is_booked(staff, world, bad, field):
    before = state()
    lines = [{"sku": "ARCH-EU42", "quantity": 10}, {"sku": "ARCH-EU40", "quantity": 3}, bad]
    response = staff.post(URL, body(lines=lines), format="json")
    assert response.status_code == 400, response.content
    error = response.json()
    assert error["code"] == "invalid_receipt_line"
    assert (error["extra"]["line"], error["extra"]["field"]) == (2, field)
    assert [(e["line"], e["field"]) for e in error["extra"]["lines"]] == [(2, field)]
    assert "line 2" in error["detail"] and "Nothing was booked" in error["detail"]
    assert state() == before


def test_every_bad_line_is_listed(staff, world):
    before = state()
    lines = [
        {"sku": "NOPE", "quantity": 1},
        {"sku": "ARCH-EU40", "quantity": 3},
        {"sku": "ARCH-EU41", "quantity": 1, "bin": "Z-99"},
        {"sku": "ARCH-EU40", "quantity": 1},
    ]
    error = staff.post(URL, body(lines=lines), format="json").json()
    assert error["extra"]["lines"] == [
        {"line": 0, "field": "sku", "detail": "No such SKU: 'NOPE'."},
        {"line": 2, "field": "bin", "detail": "No bin 'Z-99' in warehouse AU."},
        {"line": 3, "field": "sku", "detail": "SKU ARCH-EU40 is on line 1 already."},
    ]
    assert (error["extra"]["line"], error["extra"]["field"]) == (0, "sku")
    assert state() == before


@pytest.mark.parametrize(
    ("payload", "status", "code", "field"),
    [
        ({"reference": "PO-1", "lines": [{"sku": "ARCH-EU40", "quantity": 1}]}, 400, "invalid", "warehouse"),
        ({"warehouse": "AU", "lines": [{"sku": "ARCH-EU40", "quantity": 1}]}, 400, "invalid", "reference"),
        (body(reference=""), 400, "invalid", "reference"),
        (body(reference="P" * 101), 400, "invalid", "reference"),
        (body(lines=[]), 400, "invalid", "lines"),
        (body(lines={"sku": "ARCH-EU40", "quantity": 1}), 400, "invalid", "lines"),
        (body(lines=[{"sku": "ARCH-EU40", "quantity": 1}] * 1001), 400, "invalid", "lines"),
        ({**body(lines=[{"sku": "NOPE", "quantity": 1}]), "warehouse": ""}, 400, "invalid", "warehouse"),
        (body(warehouse="MARS"), 404, "unknown_warehouse", None),
    ],
)
def test_a_bad_envelope_is_a_4xx_and_nothing_is_booked(staff, world, payload, status, code, field):
    before = state()
    response = staff.post(URL, payload, format="json")
    assert response.status_code == status, response.content
    error = response.json()
    assert error["code"] == code and set(error) == {"detail", "code", "extra"}
    if field:
        assert field in error["extra"]["fields"]
    assert state() == before


def test_a_form_body_or_broken_json_is_refused(staff, world):
    before = state()
    assert staff.post(URL, {"warehouse": "AU"}, format="multipart").status_code == 415
    broken = staff.post(URL, data="{not json", content_type="application/json")
    assert broken.status_code == 400 and broken.json()["code"] == "parse_error"
    assert state() == before


def test_a_line_past_what_a_level_holds_refuses_the_whole_receipt(staff, world):
    services.stock_count(sku=world["41"], warehouse=world["AU"], counted=STOCK_LEVEL_MAX - 1)
    before = state()
    lines = [{"sku": "ARCH-EU42", "quantity": 10}, {"sku": "ARCH-EU41", "quantity": 2}]
    response = staff.post(URL, body(lines=lines), format="json")
    assert response.status_code == 409 and response.json()["code"] == "stock_limit"
    assert response.json()["extra"]["sku"] == "ARCH-EU41"
    assert state() == before  # the first line's receipt went back with it
    assert not StockReceipt.objects.exists()


# --- the service -------------------------------------------------------------------------------------


def test_the_service_returns_whether_it_booked(world):
    lines = [ReceiptLine("ARCH-EU42", 4), ReceiptLine("ARCH-EU41", 1, "A-01-02")]
    receipt, created = services.stock_receipt_create(warehouse=world["AU"], reference="ASN-7", lines=lines)
    assert created and [(line.sku.code, line.quantity, line.bin) for line in receipt.lines.all()] == [
        ("ARCH-EU42", 4, ""),
        ("ARCH-EU41", 1, "A-01-02"),
    ]
    again, created = services.stock_receipt_create(warehouse=world["AU"], reference="ASN-7", lines=lines[::-1])
    assert (again.pk, created) == (receipt.pk, False)
    with pytest.raises(ReceiptConflict):
        services.stock_receipt_create(warehouse=world["AU"], reference="ASN-7", lines=lines[:1])
    with pytest.raises(ReferenceRequired):
        services.stock_receipt_create(warehouse=world["AU"], reference="  ", lines=lines)
    with pytest.raises(ReceiptLinesInvalid):
        services.stock_receipt_create(warehouse=world["AU"], reference="ASN-8", lines=[])
    with pytest.raises(ReceiptLinesInvalid) as err:
        services.stock_receipt_create(warehouse=world["AU"], reference="ASN-8", lines=[ReceiptLine("ARCH-EU40", 0)])
    assert err.value.extra["field"] == "quantity"
    assert on_hand("ARCH-EU42") == 9


def test_the_backorder_hook_gets_every_level_of_the_receipt_once(world, settings, django_capture_on_commit_callbacks):
    seen = []
    settings.INVENTORY_STOCK_AVAILABLE_HOOKS = ["tests.inventory.test_receipts.recording_hook"]
    settings.INVENTORY_STOCK_CHANGED_HOOKS = []  # the alert check, one more callback (tests/inventory/test_alerts.py)
    recording_hook.calls = seen
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.stock_receipt_create(
            warehouse=world["AU"],
            reference="PO-H",
            lines=[ReceiptLine("ARCH-EU41", 1), ReceiptLine("ARCH-EU42", 2), ReceiptLine("ARCH-EU40", 3)],
        )
    assert len(callbacks) == 1
    levels = StockLevel.objects.filter(warehouse=world["AU"], sku__code__in=["ARCH-EU40", "ARCH-EU41", "ARCH-EU42"])
    assert seen == [tuple(sorted(levels.values_list("pk", flat=True)))]


def recording_hook(*, stock_ids):
    recording_hook.calls.append(stock_ids)


# --- reading and roles -------------------------------------------------------------------------------


def test_the_receipt_list_filters_and_takes_a_constant_number_of_queries(staff, world, django_assert_num_queries):
    staff.post(URL, body(), format="json")
    # token, knox clean-up, roles, count, page, lines (with their SKUs)
    with django_assert_num_queries(6):
        assert staff.get("/api/stock/receipts/").json()["count"] == 1
    for n in range(2, 7):
        lines = [{"sku": f"ARCH-EU{size}", "quantity": n} for size in (40, 41, 42)]
        staff.post(URL, body(reference=f"PO-{n}", warehouse="EU" if n % 2 else "AU", lines=lines), format="json")
    with django_assert_num_queries(6):
        page = staff.get("/api/stock/receipts/").json()
    assert [r["reference"] for r in page["results"]] == ["PO-6", "PO-5", "PO-4", "PO-3", "PO-2", "PO-1"]
    assert sum(len(r["lines"]) for r in page["results"]) == 17
    assert [r["reference"] for r in staff.get("/api/stock/receipts/", {"warehouse": "EU"}).json()["results"]] == [
        "PO-5",
        "PO-3",
    ]
    assert staff.get("/api/stock/receipts/", {"reference": "PO-4"}).json()["count"] == 1
    first = StockReceipt.objects.get(reference="PO-1").received_at.isoformat()
    assert staff.get("/api/stock/receipts/", {"until": first}).json()["count"] == 0
    assert staff.get("/api/stock/receipts/", {"since": first}).json()["count"] == 6
    bad = staff.get("/api/stock/receipts/", {"since": "soon"})
    assert bad.status_code == 400 and list(bad.json()["extra"]["fields"]) == ["since"]
    assert staff.get("/api/stock/receipts/999999/").json()["code"] == "not_found"


def test_roles(client_for, api_client, world):
    storefront = client_for("storefront")
    for response in (
        storefront.post(URL, body(), format="json"),
        storefront.get("/api/stock/receipts/"),
    ):
        assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    warehouse = client_for("warehouse")
    refused = warehouse.post(URL, body(), format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    assert not StockReceipt.objects.exists()
    assert client_for("operations").post(URL, body(), format="json").status_code == 201
    assert client_for("operations").get("/api/stock/receipts/").json()["count"] == 1
    assert warehouse.get("/api/stock/receipts/").json()["count"] == 1  # warehouse may read
    assert api_client.post(URL, body(), format="json").status_code == 401


def test_the_admin_shows_receipts_and_movement_notes_read_only(client, django_user_model, staff, world):
    receipt_id = staff.post(URL, body(), format="json").json()["id"]
    services.stock_adjust(sku=world["42"], warehouse=world["AU"], delta=-1, reason="other", note="sample for a fair")
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    listing = client.get("/admin/inventory/stockreceipt/")
    assert listing.status_code == 200 and b"PO-1" in listing.content
    page = client.get(f"/admin/inventory/stockreceipt/{receipt_id}/change/")
    assert page.status_code == 200 and b"ARCH-EU42" in page.content and b"A-01-01" in page.content
    assert client.get("/admin/inventory/stockreceipt/add/").status_code == 403
    ledger = client.get("/admin/inventory/stockmovement/", {"reason": "other"})
    assert ledger.status_code == 200 and b"sample for a fair" in ledger.content
