"""GET /api/movements/: the since/until range and the CSV export, streamed in constant memory."""

from __future__ import annotations

import csv
import datetime as dt
import gc
import io
import time
import tracemalloc

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from inventory import services
from inventory.models import StockMovement
from tests.factories import SkuFactory, WarehouseFactory

pytestmark = pytest.mark.django_db

JSON_FIELDS = ["id", "kind", "quantity", "sku", "warehouse", "reference", "reason", "note", "actor", "created_at"]


@pytest.fixture
def ops(client_for):
    return client_for("operations")


@pytest.fixture
def booked():
    """Four movements of one SKU, booked one after another: receipt, adjustment, count, receipt.

    (Not a reservation: inventory_reserve stamps its rows with PostgreSQL's now(), the start of
    the transaction, and a test runs in one transaction.)
    """
    sku, wh = SkuFactory(code="ARCH-EU42"), WarehouseFactory(code="EU")
    user = get_user_model().objects.create(username="ops-anna")
    services.stock_receive(sku=sku, warehouse=wh, quantity=10, reference="PO-1", actor=user)
    services.stock_adjust(sku=sku, warehouse=wh, delta=-2, reason="damaged", note="crushed, box 3", actor=user)
    services.stock_count(sku=sku, warehouse=wh, counted=7)
    services.stock_receive(sku=sku, warehouse=wh, quantity=5, reference="PO-2")
    return list(StockMovement.objects.order_by("pk"))


def iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def ids(client, **params) -> list[int]:
    return [row["id"] for row in client.get("/api/movements/", params).json()["results"]]


def read_csv(response) -> list[list[str]]:
    assert response.streaming
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_since_is_inclusive_and_until_exclusive(ops, booked):
    first, second, third, fourth = booked
    assert ids(ops, since=iso(second.created_at), until=iso(fourth.created_at)) == [third.pk, second.pk]
    assert ids(ops, until=iso(second.created_at)) == [first.pk]
    assert ids(ops, since=iso(fourth.created_at)) == [fourth.pk]
    assert ids(ops, since=iso(third.created_at), until=iso(third.created_at)) == []
    # An offset is read as such: the same instant written in UTC+10 selects the same rows.
    local = second.created_at.astimezone(dt.timezone(dt.timedelta(hours=10))).isoformat()
    assert ids(ops, since=local) == ids(ops, since=iso(second.created_at))


@pytest.mark.parametrize("value", ["2026-01-01T", "yesterday", "2026-01-01T00:00:00 02:00", "2026-01-01T25:00:00Z"])
@pytest.mark.parametrize("parameter", ["since", "until"])
@pytest.mark.parametrize("export", [False, True], ids=["json", "csv"])
def test_a_bad_datetime_is_a_json_400_naming_it(ops, booked, parameter, value, export):
    response = ops.get("/api/movements/", {parameter: value, **({"format": "csv"} if export else {})})
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert list(response.json()["extra"]["fields"]) == [parameter]


def test_a_date_alone_means_midnight_utc(ops, booked):
    assert ids(ops, since="2000-01-01") == [m.pk for m in reversed(booked)]
    assert ids(ops, until="2000-01-01") == []


def test_reason_filters_adjustments_by_code(ops, booked):
    assert ids(ops, reason="damaged") == [booked[1].pk]
    assert ids(ops, reason="lost") == []
    bad = ops.get("/api/movements/", {"reason": "crushed"})
    assert bad.status_code == 400 and list(bad.json()["extra"]["fields"]) == ["reason"]


def test_csv_has_the_json_columns_and_rows_newest_first(ops, booked):
    response = ops.get("/api/movements/", {"format": "csv"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="movements-')
    header, *records = read_csv(response)
    assert header == JSON_FIELDS
    expected = [
        [("" if value is None else str(value)) for value in row.values()]
        for row in ops.get("/api/movements/").json()["results"]
    ]
    assert records == expected
    assert [record[1:9] for record in records] == [
        ["receipt", "5", "ARCH-EU42", "EU", "PO-2", "", "", ""],
        ["count", "-1", "ARCH-EU42", "EU", "", "", "", ""],
        ["adjustment", "-2", "ARCH-EU42", "EU", "", "damaged", "crushed, box 3", "ops-anna"],
        ["receipt", "10", "ARCH-EU42", "EU", "PO-1", "", "", "ops-anna"],
    ]


def test_csv_takes_the_range_and_the_other_filters(ops, booked):
    first, second, third, _ = booked
    params = {"format": "csv", "since": iso(first.created_at), "until": iso(third.created_at), "sku": "ARCH-EU42"}
    _, *records = read_csv(ops.get("/api/movements/", params))
    assert [int(record[0]) for record in records] == [second.pk, first.pk]
    _, *none = read_csv(ops.get("/api/movements/", {"format": "csv", "warehouse": "US"}))
    assert none == []


def test_csv_guards_free_text_a_spreadsheet_would_run(ops, booked):
    sku, wh = booked[0].sku, booked[0].warehouse
    services.stock_adjust(sku=sku, warehouse=wh, delta=1, reason="other", note='=HYPERLINK("http://x","y")')
    services.stock_receive(sku=sku, warehouse=wh, quantity=1, reference="+61 2 9999")
    _, *records = read_csv(ops.get("/api/movements/", {"format": "csv"}))
    assert records[0][5] == "'+61 2 9999" and records[0][2] == "1"
    assert records[1][7] == '\'=HYPERLINK("http://x","y")' and records[1][2] == "1"
    assert records[3][2] == "-1"  # numbers are not text: a negative quantity stays a number


def test_the_ledger_is_for_staff_only(client_for, booked):
    storefront = client_for("storefront")
    for params in ({}, {"format": "csv"}):
        response = storefront.get("/api/movements/", params)
        assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert client_for("warehouse").get("/api/movements/", {"format": "csv"}).status_code == 200


def test_csv_export_takes_a_constant_number_of_queries(ops, booked, django_assert_num_queries):
    # token, the user's other tokens (knox expiry clean-up), roles, then one query for all rows
    with django_assert_num_queries(4):
        assert len(read_csv(ops.get("/api/movements/", {"format": "csv"}))) == 5


# --- constant memory -----------------------------------------------------------------------------


def _book(n: int, sku, wh, user) -> None:
    """n count movements in one INSERT ... SELECT (bulk_create spends 50 us a row building objects)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO inventory_stockmovement"
            " (kind, quantity, sku_id, warehouse_id, reference, reason, note, actor_id, created_at)"
            " SELECT 'count', i %% 7 - 3, %s, %s, 'count-' || i, '', 'shelf ' || i %% 50, %s,"
            " now() - make_interval(secs => %s - i)"
            " FROM generate_series(1, %s) AS i",
            [sku.pk, wh.pk, user.pk, n, n],
        )


def _export_peak(client, **params) -> tuple[int, int, int]:
    """(peak bytes Python allocated while the export streamed, rows, bytes of CSV), reading it chunk by chunk."""
    gc.collect()
    tracemalloc.start()
    try:
        response = client.get("/api/movements/", {"format": "csv", **params})
        lines = size = 0
        for chunk in response.streaming_content:
            lines += chunk.count(b"\n")
            size += len(chunk)
        # Reading to the end closed the response (the test client's wrapper does; closing it again
        # here would close the test's database connection).
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, lines - 1, size


@pytest.mark.postgres  # rows booked with generate_series; the export itself reads a server-side cursor
@pytest.mark.slow  # about 5 s: tracemalloc slows every allocation of the 55,000 rows written
def test_the_csv_export_streams_in_constant_memory(ops):
    wh = WarehouseFactory(code="EU")
    few, many = SkuFactory(code="FEW-EU40"), SkuFactory(code="MANY-EU41")
    user = get_user_model().objects.create(username="counter")
    _book(5_000, few, wh, user)
    _book(45_000, many, wh, user)
    read_csv(ops.get("/api/movements/", {"format": "csv", "sku": "NONE"}))  # first-request caches, untraced

    started = time.monotonic()
    small_peak, small_rows, small_size = _export_peak(ops, sku="FEW-EU40")
    big_peak, big_rows, big_size = _export_peak(ops, warehouse="EU")
    elapsed = time.monotonic() - started

    assert (small_rows, big_rows) == (5_000, 50_000)
    assert big_size > 9 * small_size  # ten times the rows really went out ...
    # ... in about the same memory: rows are fetched 2,000 at a time and sent 500 at a time.
    assert big_peak < 1.5 * small_peak + 256 * 1024, (small_peak, big_peak)
    assert big_peak < 4 * 1024 * 1024, big_peak
    assert elapsed < 30, elapsed
