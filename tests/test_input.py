"""Strict input on every list filter, page parameter and stock command: bad values get a JSON 400 and change nothing.

Integers are integers: a JSON body takes only JSON integers (not booleans, floats or
strings), a query parameter only ASCII ``-?[0-9]+``; booleans are ``true`` or ``false``;
datetimes are ISO 8601 with a UTC offset PostgreSQL can store (within ±15:59).
"""

from __future__ import annotations

import pytest

from inventory.models import StockLevel, StockMovement
from tests.inventory.fixtures import demo  # noqa: F401  (module-scoped demo catalogue)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("demo")]

LISTS = [
    "/api/products/",
    "/api/skus/",
    "/api/warehouses/",
    "/api/stock/",
    "/api/movements/",
    "/api/orders/",
    "/api/stock/receipts/",
]


@pytest.fixture
def ops(client_for):
    return client_for("operations")


def _ledger() -> tuple:
    return StockMovement.objects.count(), list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved"))


def _assert_400_naming(response, parameter: str) -> None:
    assert response.status_code == 400, (response.status_code, response.content)
    body = response.json()
    assert set(body) == {"detail", "code", "extra"}
    assert body["code"] == "invalid"
    assert list(body["extra"]["fields"]) == [parameter], body


# --- date filters ----------------------------------------------------------------------

BAD_DATETIMES = [
    "2026-01-01T00:00:00+20:00",  # Python takes offsets to ±23:59, PostgreSQL only ±15:59
    "2026-01-01T00:00:00-16:00",
    "2026-01-01T00:00:00+16:00",
    "2026-01-01T00:00:00 02:00",  # an unencoded + arrives as a space
    "2026-13-01T00:00:00Z",
    "yesterday",
    "٢٠٢٦-٠١-٠١T00:00:00Z",  # Arabic-Indic digits
    "10000-01-01T00:00:00Z",
]


@pytest.mark.parametrize("value", BAD_DATETIMES)
@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/api/orders/", "paid_after"),
        ("/api/orders/", "paid_before"),
        ("/api/movements/", "since"),
        ("/api/movements/", "until"),
    ],
)
def test_a_bad_datetime_filter_is_a_400_naming_the_parameter(ops, url, parameter, value):
    _assert_400_naming(ops.get(url, {parameter: value}), parameter)


@pytest.mark.parametrize("value", ["2026-01-01T00:00:00+14:00", "2026-01-01T00:00:00-12:00", "2026-01-01T00:00:00Z"])
def test_a_datetime_filter_with_a_real_offset_is_accepted(ops, value):
    assert ops.get("/api/orders/", {"paid_after": value}).status_code == 200
    assert ops.get("/api/orders/", {"paid_before": value}).status_code == 200
    # The demo seed booked every movement just now: all of them are after 2000 in UTC+15:59.
    since = ops.get("/api/movements/", {"since": "2000-01-01T00:00:00+15:59"})
    assert since.status_code == 200 and since.json()["count"] == StockMovement.objects.count()


# --- boolean and choice filters ----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "parameter", "value"),
    [
        ("/api/products/", "is_active", "0.59"),
        ("/api/products/", "is_active", "maybe"),
        ("/api/products/", "is_active", "1"),
        ("/api/skus/", "is_active", "0.59"),
        ("/api/skus/", "is_active", "True"),
        ("/api/stock/", "below_reorder", "maybe"),
        ("/api/stock/", "below_reorder", "2"),
        ("/api/stock/", "out_of_stock", "maybe"),
        ("/api/movements/", "reason", "water damage"),
        ("/api/orders/", "needs_attention", "2"),
        ("/api/orders/", "needs_attention", "yes"),
        ("/api/orders/", "status", "lost"),
        ("/api/orders/", "service_level", "teleport"),
        ("/api/orders/", "channel", "ebay"),
        ("/api/movements/", "kind", "theft"),
        ("/api/skus/", "size_system", "JP"),
        ("/api/stock/", "size_system", "JP"),
        ("/api/stock/", "sku", "ARCH\x00EU42"),  # PostgreSQL text cannot hold NUL
        ("/api/movements/", "reference", "\x00"),
    ],
)
def test_a_bad_filter_value_is_a_400_not_ignored(ops, url, parameter, value):
    _assert_400_naming(ops.get(url, {parameter: value}), parameter)


def test_boolean_filters_take_true_and_false(ops):
    assert ops.get("/api/products/", {"is_active": "true"}).json()["count"] == 4
    assert ops.get("/api/products/", {"is_active": "false"}).json()["count"] == 0
    assert ops.get("/api/skus/", {"is_active": "false"}).json()["count"] == 0
    low = ops.get("/api/stock/", {"below_reorder": "true", "page_size": 500}).json()
    high = ops.get("/api/stock/", {"below_reorder": "false", "page_size": 500}).json()
    assert low["count"] > 0 and low["count"] + high["count"] == 168
    assert ops.get("/api/orders/", {"needs_attention": "false"}).status_code == 200


# --- pagination ------------------------------------------------------------------------------

BAD_PAGE_SIZES = [
    "true",
    "1_000",
    "٣",
    " 2 ",
    "2 ",
    "1.0",
    "0",
    "-1",
    "501",
    "",
    "0x10",
    "+5",
    "99999999999999999999",
    pytest.param("9" * 5000, id="5000-digits"),
]


@pytest.mark.parametrize("value", BAD_PAGE_SIZES)
@pytest.mark.parametrize("url", LISTS)
def test_a_bad_page_size_is_a_400_on_every_list(ops, url, value):
    _assert_400_naming(ops.get(url, {"page_size": value}), "page_size")


@pytest.mark.parametrize("value", ["one", "٣", "1.0", "0", "-2", " 1"])
@pytest.mark.parametrize("url", LISTS)
def test_a_bad_page_number_is_a_400_on_every_list(ops, url, value):
    _assert_400_naming(ops.get(url, {"page": value}), "page")


def test_good_page_parameters_still_page(ops):
    page = ops.get("/api/stock/", {"page_size": "2", "page": "3"}).json()
    assert len(page["results"]) == 2 and page["count"] == 168
    assert ops.get("/api/stock/", {"page_size": "500"}).json()["count"] == 168
    last = ops.get("/api/stock/", {"page_size": "100", "page": "last"}).json()
    assert len(last["results"]) == 68
    beyond = ops.get("/api/stock/", {"page": "99"})
    assert beyond.status_code == 404 and beyond.json()["code"] == "not_found"


# --- stock commands: JSON integers only -------------------------------------------------------

NOT_JSON_INTEGERS = ["1_000", "٣", " 2 ", "2", 1.0, 2.5, True, False, None, [], {}, "1e3"]
COMMANDS = [
    ("/api/stock/receive", "quantity", {}),
    ("/api/stock/adjust", "delta", {"reason": "found"}),
    ("/api/stock/count", "counted", {}),
]


@pytest.mark.parametrize("value", NOT_JSON_INTEGERS, ids=repr)
@pytest.mark.parametrize(("url", "field", "extra"), COMMANDS)
def test_a_stock_command_takes_only_a_json_integer_and_changes_nothing(ops, url, field, extra, value):
    before = _ledger()
    payload = {"sku": "ARCH-EU42", "warehouse": "EU", field: value, **extra}
    response = ops.post(url, payload, format="json")
    _assert_400_naming(response, field)
    assert _ledger() == before


@pytest.mark.parametrize(("url", "field", "extra"), COMMANDS)
def test_a_form_encoded_stock_command_is_refused_and_changes_nothing(ops, url, field, extra):
    before = _ledger()
    response = ops.post(url, {"sku": "ARCH-EU42", "warehouse": "EU", field: "3", **extra}, format="multipart")
    assert response.status_code == 415
    assert set(response.json()) == {"detail", "code", "extra"}
    assert _ledger() == before


@pytest.mark.parametrize(
    ("url", "field", "extra", "on_hand"), [(*c, n) for c, n in zip(COMMANDS, (73, 73, 3), strict=True)]
)
def test_a_json_integer_is_booked(ops, url, field, extra, on_hand):
    response = ops.post(url, {"sku": "ARCH-EU42", "warehouse": "EU", field: 3, **extra}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["on_hand"] == on_hand


# --- values PostgreSQL cannot hold --------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/skus/A%00B/", "/api/products/A%00/", "/api/warehouses/%00/"])
def test_a_detail_code_with_a_nul_is_a_404_not_a_500(ops, url):
    response = ops.get(url)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found", "extra": {}}


@pytest.mark.parametrize("field", ["sku", "warehouse", "reference"])
def test_a_nul_in_a_stock_command_is_a_400_and_changes_nothing(ops, field):
    before = _ledger()
    payload = {"sku": "ARCH-EU42", "warehouse": "EU", "quantity": 1, "reference": "PO-1"}
    response = ops.post("/api/stock/receive", {**payload, field: payload[field] + "\x00"}, format="json")
    _assert_400_naming(response, field)
    assert _ledger() == before
