"""GET /api/stock/: the out_of_stock, below_reorder and size_system filters, and the streamed CSV export."""

from __future__ import annotations

import csv
import io

import pytest

from inventory import services
from inventory.models import SizeSystem, Sku, StockLevel, Warehouse
from tests.factories import ProductFactory, SizeFactory, SkuFactory
from tests.inventory.fixtures import demo  # noqa: F401  (module-scoped: seeded once for this file)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("demo")]

JSON_FIELDS = [
    "sku",
    "product",
    "size",
    "size_system",
    "warehouse",
    "bin",
    "on_hand",
    "reserved",
    "available",
    "reorder_point",
    "updated_at",
]


@pytest.fixture
def ops(client_for):
    return client_for("operations")


def level(code: str, warehouse: str) -> StockLevel:
    return StockLevel.objects.get(sku__code=code, warehouse__code=warehouse)


def rows(client, **params) -> list[dict]:
    body = client.get("/api/stock/", {"page_size": 500, **params}).json()
    assert body["count"] == len(body["results"])
    return body["results"]


def keys(results) -> set[tuple[str, str]]:
    return {(row["sku"], row["warehouse"]) for row in results}


def read_csv(response) -> list[list[str]]:
    assert response.streaming
    text = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.reader(io.StringIO(text)))


def test_out_of_stock_splits_the_levels_by_available(ops):
    empty = level("ARCH-EU35", "AU")
    services.reservation_create(warehouse=empty.warehouse, items=[(empty.sku_id, empty.on_hand)], reference="order:1")
    zero = level("RUN-EU48", "EU")
    services.stock_count(sku=zero.sku, warehouse=zero.warehouse, counted=0)

    out = rows(ops, out_of_stock="true")
    assert keys(out) == {("ARCH-EU35", "AU"), ("RUN-EU48", "EU")}
    assert all(row["available"] <= 0 for row in out)
    some = rows(ops, out_of_stock="false")
    assert len(some) == 166 and all(row["available"] > 0 for row in some)


def test_below_reorder_needs_a_reorder_point_and_counts_available_at_or_below_it(ops):
    at_point = level("WORK-EU42", "US")
    services.stock_count(sku=at_point.sku, warehouse=at_point.warehouse, counted=14)
    services.reservation_create(warehouse=at_point.warehouse, items=[(at_point.sku_id, 4)], reference="order:2")
    unmanaged = level("ARCH-EU35", "AU")  # 2 on hand, below the demo's 10 ...
    StockLevel.objects.filter(pk=unmanaged.pk).update(reorder_point=0)  # ... but no reorder point set

    low = rows(ops, below_reorder="true")
    high = rows(ops, below_reorder="false")
    assert len(low) + len(high) == 168 and not keys(low) & keys(high)
    assert ("WORK-EU42", "US") in keys(low)  # available 10 = reorder point 10: at it counts
    assert ("ARCH-EU35", "AU") in keys(high)
    assert all(row["reorder_point"] > 0 and row["available"] <= row["reorder_point"] for row in low)
    assert all(row["reorder_point"] == 0 or row["available"] > row["reorder_point"] for row in high)
    services.stock_receive(sku=at_point.sku, warehouse=at_point.warehouse, quantity=1)
    assert ("WORK-EU42", "US") in keys(rows(ops, below_reorder="false"))


def test_filters_combine(ops):
    thin = rows(ops, below_reorder="true", warehouse="AU", product="RUN")
    assert thin and {row["warehouse"] for row in thin} == {"AU"} and {row["product"] for row in thin} == {"RUN"}
    assert rows(ops, below_reorder="true", out_of_stock="true") == []


def test_size_system_filters_by_the_size_system(ops):
    uk = SizeFactory(system=SizeSystem.UK, label="8", sort_order=80)
    sku = SkuFactory(product=ProductFactory(code="ARCH"), size=uk, code="ARCH-UK8")
    services.stock_receive(sku=sku, warehouse=Warehouse.objects.get(code="EU"), quantity=4)

    assert keys(rows(ops, size_system="UK")) == {("ARCH-UK8", "EU")}
    assert len(rows(ops, size_system="EU")) == 168
    assert rows(ops, size_system="US-M") == [] and rows(ops, size_system="US-W") == []


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("out_of_stock", "yes"),
        ("out_of_stock", "1"),
        ("out_of_stock", "True"),
        ("below_reorder", "0"),
        ("size_system", "JP"),
        ("size_system", "eu"),
    ],
)
@pytest.mark.parametrize("export", [False, True], ids=["json", "csv"])
def test_a_bad_filter_value_is_a_json_400_naming_it(ops, parameter, value, export):
    params = {parameter: value, **({"format": "csv"} if export else {})}
    response = ops.get("/api/stock/", params)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "invalid" and list(body["extra"]["fields"]) == [parameter]


# --- CSV --------------------------------------------------------------------------------------


def test_csv_has_the_json_columns_and_rows_in_the_same_order(ops):
    response = ops.get("/api/stock/", {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="stock-')
    assert response["Content-Disposition"].endswith('.csv"')
    header, *records = read_csv(response)
    assert header == JSON_FIELDS
    expected = [[("" if value is None else str(value)) for value in row.values()] for row in rows(ops)]
    assert records == expected
    assert len(records) == 168
    assert records[0][:6] == ["ARCH-EU35", "ARCH", "35", "EU", "AU", "A01"]


def test_csv_takes_the_same_filters_and_no_pagination(ops):
    params = {"warehouse": "EU", "below_reorder": "true"}
    _, *records = read_csv(ops.get("/api/stock/", {"format": "csv", **params}))
    assert [record[:5] for record in records] == [[r[f] for f in JSON_FIELDS[:5]] for r in rows(ops, **params)]
    assert {record[4] for record in records} == {"EU"}
    # page and page_size do not cut the export short.
    _, *everything = read_csv(ops.get("/api/stock/", {"format": "csv", "page_size": 2, "page": 1}))
    assert len(everything) == 168


def test_csv_also_answers_accept_text_csv_and_json_stays_the_default(ops):
    by_header = ops.get("/api/stock/", {"warehouse": "US"}, HTTP_ACCEPT="text/csv")
    assert by_header["Content-Type"].startswith("text/csv") and len(read_csv(by_header)) == 57
    page = ops.get("/api/stock/")
    assert page["Content-Type"] == "application/json"
    assert page.json()["count"] == 168 and len(page.json()["results"]) == 50
    assert ops.get("/api/stock/", {"format": "json"}).json()["count"] == 168
    unknown = ops.get("/api/stock/", {"format": "xml"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"


def test_a_bin_or_code_a_spreadsheet_would_run_is_written_as_text(ops):
    sku = SkuFactory(product=ProductFactory(code="=HYPERLINK"), size=SizeFactory(label="42"), code="@SUM(A1)")
    services.stock_receive(sku=sku, warehouse=Warehouse.objects.get(code="AU"), quantity=1)
    _, *records = read_csv(ops.get("/api/stock/", {"format": "csv", "sku": "@SUM(A1)"}))
    assert [record[:2] for record in records] == [["'@SUM(A1)", "'=HYPERLINK"]]
    assert rows(ops, sku="@SUM(A1)")[0]["sku"] == "@SUM(A1)"  # the JSON is not touched


def test_csv_is_for_staff_while_the_storefront_keeps_the_json_list(client_for):
    storefront = client_for("storefront")
    assert storefront.get("/api/stock/").status_code == 200
    refused = storefront.get("/api/stock/", {"format": "csv"})
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    assert client_for("warehouse").get("/api/stock/", {"format": "csv"}).status_code == 200
    assert client_for("operations").get("/api/stock/", {"format": "csv"}).status_code == 200


def test_csv_export_takes_a_constant_number_of_queries(ops, django_assert_num_queries):
    sku = Sku.objects.get(code="ARCH-EU42")
    # token, the user's other tokens (knox expiry clean-up), roles, then one query for all rows
    with django_assert_num_queries(4):
        records = read_csv(ops.get("/api/stock/", {"format": "csv"}))
    assert len(records) == 169
    services.stock_receive(sku=sku, warehouse=Warehouse.objects.get(code="AU"), quantity=1)
    with django_assert_num_queries(4):
        read_csv(ops.get("/api/stock/", {"format": "csv", "below_reorder": "false"}))


def test_json_list_query_count_is_constant_with_the_new_filters(ops, django_assert_num_queries):
    # token, knox clean-up, roles, count, page
    with django_assert_num_queries(5):
        body = ops.get("/api/stock/", {"page_size": 200, "out_of_stock": "false", "below_reorder": "false"}).json()
    assert body["count"] == len(body["results"]) > 100
