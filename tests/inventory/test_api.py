import json

import pytest

from inventory import services
from inventory.models import StockLevel, StockMovement
from tests.inventory.fixtures import demo  # noqa: F401  (module-scoped: seeded once for this file)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("demo")]


@pytest.fixture
def warehouse_client(client_for):
    return client_for("warehouse")


def test_anonymous_requests_get_401_with_json_error(api_client):
    for url in ["/api/stock/", "/api/products/", "/api/skus/", "/api/warehouses/", "/api/movements/", "/api/schema/"]:
        response = api_client.get(url)
        assert response.status_code == 401, url
        assert json.loads(response.content) == {
            "detail": "Authentication credentials were not provided.",
            "code": "not_authenticated",
            "extra": {},
        }
    assert api_client.get("/api/stock/", HTTP_AUTHORIZATION="Token not-a-real-token").status_code == 401


@pytest.mark.parametrize(
    ("role", "method", "url", "expected"),
    [
        ("storefront", "get", "/api/warehouses/", 403),
        ("storefront", "get", "/api/movements/", 403),
        ("storefront", "post", "/api/stock/receive", 403),
        ("warehouse", "post", "/api/stock/adjust", 403),
        ("storefront", "get", "/api/stock/", 200),
        ("storefront", "get", "/api/skus/", 200),
        ("warehouse", "get", "/api/movements/", 200),
        ("operations", "get", "/api/warehouses/", 200),
        ("admin", "get", "/api/movements/", 200),
    ],
)
def test_roles_see_only_what_they_need(client_for, role, method, url, expected):
    response = getattr(client_for(role), method)(url, {})
    assert response.status_code == expected
    if expected == 403:
        assert response.json()["code"] == "permission_denied"


def test_stock_list_filters_by_sku_and_warehouse_codes(warehouse_client):
    body = warehouse_client.get("/api/stock/", {"sku": "ARCH-EU42", "warehouse": "EU"}).json()
    assert body["count"] == 1 and body["next"] is None
    assert body["results"][0] | {"updated_at": None} == {
        "sku": "ARCH-EU42",
        "product": "ARCH",
        "size": "42",
        "size_system": "EU",
        "warehouse": "EU",
        "bin": "A08",
        "on_hand": 70,
        "reserved": 0,
        "available": 70,
        "reorder_point": 10,
        "updated_at": None,
    }


def test_stock_list_filters_by_product_size_and_low_stock(warehouse_client):
    sizes = warehouse_client.get("/api/stock/", {"product": "RUN", "warehouse": "AU", "page_size": 100}).json()
    assert [row["size"] for row in sizes["results"]] == [str(n) for n in range(35, 49)]  # natural size order
    low = warehouse_client.get("/api/stock/", {"below_reorder": "true", "page_size": 500}).json()["results"]
    assert low and all(row["available"] <= row["reorder_point"] for row in low)
    assert {row["size"] for row in low} <= {"35", "36", "47", "48"}
    by_size = warehouse_client.get("/api/stock/", {"size": "42", "size_system": "EU"}).json()
    assert by_size["count"] == 12  # 4 products x 3 warehouses


def test_stock_list_is_paginated_and_has_no_n_plus_one(warehouse_client, django_assert_max_num_queries):
    # token, the user's other tokens (knox expiry clean-up), roles, count, page: constant, whatever the page size
    with django_assert_max_num_queries(6):
        body = warehouse_client.get("/api/stock/", {"page_size": 200}).json()
    assert body["count"] == 168 and len(body["results"]) == 168
    page = warehouse_client.get("/api/stock/").json()
    assert len(page["results"]) == 50 and page["next"].endswith("page=2")


def test_catalogue_lists_have_no_n_plus_one(warehouse_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(7):
        products = warehouse_client.get("/api/products/").json()
    assert [p["code"] for p in products["results"]] == ["ARCH", "RUN", "THERMO", "WORK"]
    assert [s["size"]["label"] for s in products["results"][0]["skus"]] == [str(n) for n in range(35, 49)]
    with django_assert_max_num_queries(7):
        skus = warehouse_client.get("/api/skus/", {"page_size": 100}).json()
    assert skus["count"] == 56
    eu42 = next(s for s in skus["results"] if s["code"] == "ARCH-EU42")
    assert {(e["system"], e["label"]) for e in eu42["size"]["equivalents"]} == {
        ("UK", "8"),
        ("US-M", "9"),
        ("US-W", "10.5"),
    }
    with django_assert_max_num_queries(6):
        warehouses = warehouse_client.get("/api/warehouses/").json()
    assert [w["code"] for w in warehouses["results"]] == ["AU", "EU", "US"]


def test_detail_endpoints_look_up_by_code(warehouse_client):
    assert warehouse_client.get("/api/skus/RUN-EU40/").json()["barcode"] == "9402000040009"
    assert warehouse_client.get("/api/products/THERMO/").json()["name"] == "Thermo Wool Winter Insole"
    assert warehouse_client.get("/api/warehouses/EU/").json()["country"] == "NL"
    missing = warehouse_client.get("/api/skus/NOPE/")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_receive_count_and_adjust_through_the_api(client_for):
    staff = client_for("warehouse")
    ops = client_for("operations")
    response = staff.post(
        "/api/stock/receive", {"sku": "ARCH-EU42", "warehouse": "EU", "quantity": 5, "reference": "PO-9", "bin": "A08"}
    )
    assert response.status_code == 200 and response.json()["on_hand"] == 75
    assert (
        staff.post("/api/stock/count", {"sku": "ARCH-EU42", "warehouse": "EU", "counted": 74}).json()["on_hand"] == 74
    )
    adjusted = ops.post("/api/stock/adjust", {"sku": "ARCH-EU42", "warehouse": "EU", "delta": -4, "reason": "damaged"})
    assert adjusted.json()["on_hand"] == 70
    kinds = list(
        StockMovement.objects.filter(reference__in=["PO-9", ""])
        .filter(sku__code="ARCH-EU42", warehouse__code="EU")
        .order_by("pk")
        .values_list("kind", "quantity")
    )
    assert kinds == [("receipt", 5), ("count", -1), ("adjustment", -4)]
    movement = staff.get("/api/movements/", {"sku": "ARCH-EU42", "warehouse": "EU", "kind": "receipt"}).json()[
        "results"
    ][0]
    assert (movement["quantity"], movement["reference"], movement["actor"]) == (5, "PO-9", "warehouse-user")
    assert services.stock_verify() == []


@pytest.mark.parametrize(
    ("url", "payload", "status", "code"),
    [
        ("/api/stock/receive", {"sku": "ARCH-EU42", "warehouse": "EU", "quantity": 0}, 400, "invalid"),
        ("/api/stock/receive", {"sku": "ARCH-EU42", "warehouse": "EU", "quantity": "many"}, 400, "invalid"),
        ("/api/stock/receive", {"sku": "NOPE", "warehouse": "EU", "quantity": 1}, 404, "unknown_sku"),
        ("/api/stock/receive", {"sku": "ARCH-EU42", "warehouse": "MARS", "quantity": 1}, 404, "unknown_warehouse"),
        (
            "/api/stock/receive",
            {"sku": "ARCH-EU42", "warehouse": "EU", "quantity": 1, "bin": "Z99"},
            404,
            "unknown_bin",
        ),
        ("/api/stock/count", {"sku": "ARCH-EU42", "warehouse": "EU", "counted": -1}, 400, "invalid"),
        ("/api/stock/adjust", {"sku": "ARCH-EU42", "warehouse": "EU", "delta": -1, "reason": ""}, 400, "invalid"),
        (
            "/api/stock/adjust",
            {"sku": "ARCH-EU42", "warehouse": "EU", "delta": 0, "reason": "x"},
            400,
            "invalid_quantity",
        ),
        (
            "/api/stock/adjust",
            {"sku": "ARCH-EU42", "warehouse": "EU", "delta": -71, "reason": "lost"},
            409,
            "below_reserved",
        ),
    ],
)
def test_bad_input_gets_a_json_4xx_and_changes_nothing(client_for, url, payload, status, code):
    before = (StockMovement.objects.count(), list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved")))
    response = client_for("operations").post(url, payload, format="json")
    assert response.status_code == status
    body = response.json()
    assert body["code"] == code and set(body) == {"detail", "code", "extra"}
    assert (
        StockMovement.objects.count(),
        list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved")),
    ) == before


def test_malformed_json_is_a_400(client_for):
    response = client_for("warehouse").post("/api/stock/receive", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_writes_of_earlier_tests_are_rolled_back_before_the_next():
    # test_receive_count_and_adjust_through_the_api booked PO-9 on the shared, module-wide catalogue.
    level = StockLevel.objects.get(sku__code="ARCH-EU42", warehouse__code="EU")
    assert (level.on_hand, level.reserved) == (70, 0)
    assert not StockMovement.objects.filter(reference="PO-9").exists()
    assert services.stock_verify() == []
