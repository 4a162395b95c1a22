"""The pick list and the packing slip over the API: real PDFs, read back as a person would, with a
number of queries that does not grow with the wave, and JSON errors whatever the client accepts."""

from __future__ import annotations

import io
import re
import unicodedata

import pypdf
import pypdfium2
import pytest
import zxingcpp
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fulfilment.models import Order
from inventory.models import Bin, Size, Sku, StockLevel, Warehouse
from tests.fulfilment.helpers import make_world, post_shopify
from tests.fulfilment.payloads import shopify_address, shopify_line, shopify_order

pytestmark = pytest.mark.django_db(transaction=True)


def _text(pdf: bytes) -> tuple[list, str]:
    pages = pypdf.PdfReader(io.BytesIO(pdf)).pages
    return pages, "\n".join(page.extract_text() for page in pages)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _size_pt(page) -> tuple[int, int]:
    return round(float(page.mediabox.width)), round(float(page.mediabox.height))


def _order(client, n: int, skus: list[str], **fields) -> int:
    items = [
        shopify_line(id=1000 * n + i, sku=sku, name=f"Arch Support Insole - {sku[-4:]}") for i, sku in enumerate(skus)
    ]
    body = post_shopify(client, shopify_order(id=n, name=f"#{n}", line_items=items, **fields), event_id=f"e{n}").json()
    assert body["order"]["status"] == "reserved", body
    return body["order"]["id"]


@pytest.fixture
def floor(client, client_for):
    """AU stock in bins whose walk order is not their code order; a picker."""
    make_world({"ARCH-EU42": 500, "ARCH-EU38": 500, "RUN-EU40": 500}, warehouses=("AU",))
    au = Warehouse.objects.get(code="AU")
    for code, bin_code, walk in (("ARCH-EU42", "A-10", 30), ("ARCH-EU38", "A-9", 20), ("RUN-EU40", "B-2", 10)):
        StockLevel.objects.filter(sku__code=code).update(
            bin=Bin.objects.create(warehouse=au, code=bin_code, walk_sequence=walk)
        )
    return client_for("warehouse", "picker-1")


def _wave(staff, **body) -> dict:
    response = staff.post("/api/pick-waves/", {"warehouse": "AU", **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_the_pick_list_is_an_a4_pdf_walking_bins_in_walk_order_with_the_wave_barcode(floor, client):
    for n in range(1, 4):
        _order(client, n, ["ARCH-EU42", "ARCH-EU38", "RUN-EU40"])
    wave = _wave(floor)
    response = floor.get(f"/api/pick-waves/{wave['id']}/pick-list.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="pick-list-wave-{wave["id"]}.pdf"'
    pages, text = _text(response.content)
    assert {_size_pt(page) for page in pages} == {(595, 842)}
    walk = [text.index(sku) for sku in ("RUN-EU40", "ARCH-EU38", "ARCH-EU42")]
    assert walk == sorted(walk), "lines follow walk_sequence (B-2, A-9, A-10), not bin codes"
    assert "picker-1" in text and "AU" in text
    assert f"Page 1 of {len(pages)}" in text
    image = pypdfium2.PdfDocument(response.content)[0].render(scale=203 / 72, grayscale=True).to_pil()
    decoded = [(r.format, r.text) for r in zxingcpp.read_barcodes(image)]
    assert (zxingcpp.BarcodeFormat.Code128, str(wave["id"])) in decoded


def test_the_pick_list_reads_the_same_number_of_queries_for_a_wave_ten_times_larger(floor, client):
    _order(client, 1, ["ARCH-EU42"])
    small = _wave(floor)
    for n in range(2, 22):
        _order(client, n, ["ARCH-EU42", "ARCH-EU38", "RUN-EU40"])
    big = _wave(floor)
    counts = []
    for wave in (small, big):
        with CaptureQueriesContext(connection) as queries:
            assert floor.get(f"/api/pick-waves/{wave['id']}/pick-list.pdf").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 8, counts


def test_pick_list_errors_are_json_even_for_a_client_that_accepts_only_pdf(
    floor, client, client_for, django_user_model
):
    _order(client, 1, ["ARCH-EU42"])
    wave = _wave(floor)
    pdf_only = {"HTTP_ACCEPT": "application/pdf"}
    assert floor.get(f"/api/pick-waves/{wave['id']}/pick-list.pdf", **pdf_only).status_code == 200
    unknown = floor.get("/api/pick-waves/999999/pick-list.pdf", **pdf_only)
    assert (unknown.status_code, unknown["Content-Type"], unknown.json()["code"]) == (
        404,
        "application/json",
        "not_found",
    )
    # Operations may read it; a storefront token may not.
    assert client_for("operations").get(f"/api/pick-waves/{wave['id']}/pick-list.pdf").status_code == 200
    denied = client_for("storefront").get(f"/api/pick-waves/{wave['id']}/pick-list.pdf", **pdf_only)
    assert (denied.status_code, denied.json()["code"]) == (403, "permission_denied")
    # Staff limited to another warehouse do not see the wave at all.
    elsewhere = client_for("warehouse", "picker-eu")
    Warehouse.objects.create(code="EU", name="EU", country="NL", express_cutoff="15:00").staff.add(
        django_user_model.objects.get(username="picker-eu")
    )
    assert elsewhere.get(f"/api/pick-waves/{wave['id']}/pick-list.pdf").status_code == 404
    assert floor.post(f"/api/pick-waves/{wave['id']}/close").status_code == 200
    ended = floor.get(f"/api/pick-waves/{wave['id']}/pick-list.pdf", **pdf_only)
    assert (ended.status_code, ended.json()["code"], ended.json()["extra"]["current"]) == (
        409,
        "wave_not_open",
        "closed",
    )


def test_the_packing_slip_prints_the_customer_s_script_and_sizes_in_their_system(floor, client):
    eu42 = Size.objects.get(system="EU", label="42")
    eu42.equivalents.add(Size.objects.create(system="UK", label="8", sort_order=80))
    address = shopify_address(
        name="山田 太郎", address1="神南1-2-3", city="渋谷区", province="東京都", zip="150-0041", country_code="JP"
    )
    order_id = _order(client, 1, ["ARCH-EU42"], shipping_address=address)
    Sku.objects.filter(code="ARCH-EU42").update(barcode="9400000004200")
    response = floor.get(f"/api/orders/{order_id}/packing-slip.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    pages, text = _text(response.content)
    assert _size_pt(pages[0]) == (420, 595)  # A5
    squashed = _squash(text)
    for value in ("山田 太郎", "神南1-2-3", "渋谷区", "#1", "ARCH-EU42", "EU 42", "30"):
        assert _squash(value) in squashed, value
    # The storefront's line named no size system: a customer in the UK reads UK sizes, with the EU
    # size the stock is kept in beside it. (The Japanese customer above ordered "EU 42".)
    uk = shopify_address(name="Jane Doe", city="Leeds", zip="LS1 1AA", country_code="GB", province_code="")
    line = shopify_line(id=2001, name="Arch Support Insole", variant_title=None)
    uk_order = post_shopify(
        client, shopify_order(id=2, name="#2", shipping_address=uk, line_items=[line]), event_id="e2"
    ).json()["order"]
    _pages, uk_text = _text(floor.get(f"/api/orders/{uk_order['id']}/packing-slip.pdf").content)
    assert "UK 8" in uk_text and "EU 42" in uk_text and "Jane Doe" in uk_text


def test_packing_slip_errors_are_json(floor, client, client_for):
    held = post_shopify(client, shopify_order(id=3, name="#3", shipping_address=None), event_id="e3").json()["order"]
    assert Order.objects.get(pk=held["id"]).warehouse is None
    response = floor.get(f"/api/orders/{held['id']}/packing-slip.pdf", HTTP_ACCEPT="application/pdf")
    assert (response.status_code, response.json()["code"]) == (409, "not_allocated")
    assert floor.get("/api/orders/999999/packing-slip.pdf").json()["code"] == "not_found"
    denied = client_for("storefront").get(f"/api/orders/{held['id']}/packing-slip.pdf")
    assert denied.status_code == 403
