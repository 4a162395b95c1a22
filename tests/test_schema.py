"""The served OpenAPI schema: valid OpenAPI 3, errors documented per operation, examples and real answers valid.

Real answers are validated against the schema the server serves (not a copy), with
RFC 3339 formats: a ``format: time`` value must carry an offset, which ``"14:00:00"``
does not, so the schema must declare what is actually served.
"""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator, oas30_format_checker
from openapi_spec_validator import validate as validate_spec

from inventory import services
from inventory.models import STOCK_LEVEL_MAX, Sku, Warehouse
from tests.inventory.fixtures import demo  # noqa: F401  (module-scoped demo catalogue)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("demo")]

# OpenAPI 3.0's own formats, plus RFC 3339 ``time`` (full-time, with its offset) as JSON Schema defines it.
FORMATS = copy.deepcopy(oas30_format_checker)
FORMATS.checkers["time"] = jsonschema.Draft7Validator.FORMAT_CHECKER.checkers["time"]
ERROR = {"$ref": "#/components/schemas/Error"}
METHODS = {"get", "post", "put", "patch", "delete"}
# Operations refused by the state of things, with the codes they answer 409 with.
CONFLICTS = {
    ("post", "/api/stock/receive"): {"stock_limit"},
    ("post", "/api/stock/adjust"): {"below_reserved", "stock_limit"},
    ("post", "/api/stock/count"): {"below_reserved", "stock_limit"},
    ("post", "/api/stock/receipts"): {"receipt_conflict", "stock_limit"},
    ("post", "/api/orders/{id}/cancel"): {"illegal_transition"},
    ("post", "/api/orders/{id}/release-hold"): {"illegal_transition", "still_on_hold"},
    ("patch", "/api/orders/{id}/edit"): {"order_not_editable"},
    ("post", "/api/orders/{id}/pack"): {"pack_mismatch", "illegal_transition"},
    ("post", "/api/orders/{id}/short-pick"): {"illegal_transition"},
    ("get", "/api/orders/{id}/packing-slip.pdf"): {"not_allocated"},
    ("post", "/api/pick-waves/"): {"nothing_to_pick"},
    ("post", "/api/pick-waves/{id}/cancel"): {"wave_not_open"},
    ("post", "/api/pick-waves/{id}/close"): {"wave_not_open"},
    ("get", "/api/pick-waves/{id}/pick-list.pdf"): {"wave_not_open"},
    ("post", "/api/outbox/{id}/retry"): {"outbox_not_retryable"},
    ("post", "/api/orders/{id}/ship"): {"illegal_transition", "courier_not_configured", "no_courier_rule"},
    ("post", "/api/shipments/{id}/cancel"): {"shipment_not_cancellable"},
    ("get", "/api/shipments/{id}/label.pdf"): {"not_booked"},
    ("get", "/api/shipments/{id}/label.zpl"): {"not_booked"},
    ("get", "/api/shipments/{id}/commercial-invoice.pdf"): {"not_booked"},
    ("post", "/api/labels/batch"): {"not_booked"},
}


@pytest.fixture(scope="module")
def schema(django_db_blocker, demo):  # noqa: F811
    from rest_framework.test import APIClient

    from config.auth import token_issue

    with django_db_blocker.unblock():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(username='schema-reader', role='operations')}")
        response = client.get("/api/schema/")
    assert response.status_code == 200
    return json.loads(response.content)


def _deref(node, spec):
    """The schema with every ``$ref`` replaced by its target (the API's schemas are not recursive)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return _deref(target, spec)
        return {key: _deref(value, spec) for key, value in node.items()}
    if isinstance(node, list):
        return [_deref(item, spec) for item in node]
    return node


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method, path, operation


def _response_schema(spec, path, method, status):
    content = spec["paths"][path][method]["responses"][str(status)]["content"]["application/json"]
    return _deref(content["schema"], spec)


def _request_schema(spec, path, method="post"):
    return _deref(spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"], spec)


def assert_valid_answer(spec, path, method, response):
    schema = _response_schema(spec, path, method, response.status_code)
    errors = [e.message for e in OAS30ReadValidator(schema, format_checker=FORMATS).iter_errors(response.json())]
    assert errors == [], (method, path, response.status_code, errors[:5])


def test_the_served_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.0")
    validate_spec(schema)


def test_the_error_shape_is_a_component(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["type"] == "object"
    assert set(error["required"]) == {"detail", "code", "extra"}
    assert error["properties"]["extra"]["type"] == "object"


def test_every_operation_lists_the_errors_it_gives(schema):
    missing = []
    for method, path, operation in _operations(schema):
        responses = operation["responses"]
        params = operation.get("parameters", [])
        security = operation.get("security", schema.get("security", []))
        needs_token = bool(security) and {} not in security  # {}: anonymous access allowed
        expected = set()
        if needs_token:
            expected |= {"401", "403"}
        if any(p["in"] == "query" for p in params) or "requestBody" in operation:
            expected.add("400")
        if any(p["in"] == "path" for p in params) or any(p["name"] == "page" for p in params):
            expected.add("404")  # a named resource that is not there, or a page past the last
        if (method, path) in CONFLICTS:
            expected.add("409")
        for status in sorted(expected - set(responses)):
            missing.append(f"{method.upper()} {path}: {status}")
        if needs_token:
            for status in sorted(expected & set(responses)):
                if responses[status]["content"]["application/json"]["schema"] != ERROR:
                    missing.append(f"{method.upper()} {path}: {status} is not the Error shape")
    assert missing == []


@pytest.mark.parametrize(("method", "path"), sorted(CONFLICTS))
def test_each_conflict_names_its_codes(schema, method, path):
    description = schema["paths"][path][method]["responses"]["409"]["description"]
    for code in CONFLICTS[(method, path)]:
        assert f"`{code}`" in description


def test_every_example_validates_against_its_schema(schema):
    checked = 0
    for method, path, operation in _operations(schema):
        bodies = [("request", c) for c in operation.get("requestBody", {}).get("content", {}).values()]
        for status, response in operation["responses"].items():
            bodies += [(status, c) for c in response.get("content", {}).values()]
        for where, content in bodies:
            validator_class = OAS30WriteValidator if where == "request" else OAS30ReadValidator
            examples = [e["value"] for e in content.get("examples", {}).values()]
            if "example" in content:
                examples.append(content["example"])
            for value in examples:
                validator = validator_class(_deref(content["schema"], schema), format_checker=FORMATS)
                errors = [e.message for e in validator.iter_errors(value)]
                assert errors == [], (method, path, where, value, errors)
                checked += 1
    assert checked >= 40  # every error answer of every operation carries one


def test_express_cutoff_is_declared_as_served(schema, client_for):
    field = _response_schema(schema, "/api/warehouses/{code}/", "get", 200)["properties"]["express_cutoff"]
    assert "format" not in field
    assert field["pattern"] == r"^\d{2}:\d{2}(:\d{2})?$"
    assert "local time" in field["description"]
    served = client_for("operations").get("/api/warehouses/AU/").json()["express_cutoff"]
    assert served == "14:00:00"
    assert OAS30ReadValidator(field, format_checker=FORMATS).is_valid(served)


def test_a_zero_delta_is_schema_invalid_as_it_is_refused(schema, client_for):
    body = _request_schema(schema, "/api/stock/adjust")
    validator = OAS30WriteValidator(body, format_checker=FORMATS)
    base = {"sku": "ARCH-EU42", "warehouse": "EU", "reason": "found"}
    assert validator.is_valid({**base, "delta": 3}) and validator.is_valid({**base, "delta": -3})
    assert not validator.is_valid({**base, "delta": 0})
    assert not validator.is_valid({**base, "delta": 1_000_001})
    refused = client_for("operations").post("/api/stock/adjust", {**base, "delta": 0}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_quantity"


def test_the_per_request_cap_is_in_the_schema(schema):
    assert _request_schema(schema, "/api/stock/receive")["properties"]["quantity"]["maximum"] == 1_000_000
    assert _request_schema(schema, "/api/stock/count")["properties"]["counted"]["maximum"] == 1_000_000
    page_size = next(p for p in schema["paths"]["/api/stock/"]["get"]["parameters"] if p["name"] == "page_size")
    assert page_size["schema"] == {"type": "integer", "minimum": 1, "maximum": 500}


@pytest.mark.parametrize(
    ("method", "path", "url", "params"),
    [
        ("get", "/api/products/", "/api/products/", {"page_size": 2}),
        ("get", "/api/products/{code}/", "/api/products/ARCH/", {}),
        ("get", "/api/skus/", "/api/skus/", {"product": "RUN"}),
        ("get", "/api/skus/{code}/", "/api/skus/RUN-EU40/", {}),
        ("get", "/api/warehouses/", "/api/warehouses/", {}),
        ("get", "/api/warehouses/{code}/", "/api/warehouses/EU/", {}),
        ("get", "/api/stock/", "/api/stock/", {"warehouse": "EU"}),
        ("get", "/api/movements/", "/api/movements/", {"kind": "count", "page_size": 5}),
        ("get", "/api/orders/", "/api/orders/", {}),
        ("get", "/api/stock/", "/api/stock/", {"page_size": "many"}),
        ("get", "/api/orders/", "/api/orders/", {"paid_after": "2026-01-01T00:00:00+20:00"}),
        ("get", "/api/skus/{code}/", "/api/skus/NOPE/", {}),
        ("get", "/api/stock/", "/api/stock/", {"page": 99}),
        ("get", "/api/stock/", "/api/stock/", {"out_of_stock": "false", "below_reorder": "true"}),
        ("get", "/api/stock/", "/api/stock/", {"out_of_stock": "maybe"}),
        ("get", "/api/movements/", "/api/movements/", {"since": "2000-01-01T00:00:00Z", "until": "2100-01-01"}),
        ("get", "/api/stock/grid/", "/api/stock/grid/", {"product": "ARCH"}),
        ("get", "/api/stock/grid/", "/api/stock/grid/", {"product": "NOPE"}),
        ("get", "/api/stock/grid/", "/api/stock/grid/", {}),
        ("get", "/api/stock/receipts/", "/api/stock/receipts/", {"warehouse": "EU"}),
        ("get", "/api/stock/receipts/{id}/", "/api/stock/receipts/999/", {}),
    ],
)
def test_real_answers_validate_against_their_declared_schemas(schema, client_for, method, path, url, params):
    response = getattr(client_for("operations"), method)(url, params)
    assert str(response.status_code) in schema["paths"][path][method]["responses"]
    assert_valid_answer(schema, path, method, response)


@pytest.mark.parametrize(
    ("path", "payload", "status"),
    [
        ("/api/stock/receive", {"sku": "ARCH-EU42", "warehouse": "EU", "quantity": 5, "bin": "A08"}, 200),
        ("/api/stock/receive", {"sku": "ARCH-EU42", "warehouse": "EU", "quantity": "5"}, 400),
        ("/api/stock/receive", {"sku": "NOPE", "warehouse": "EU", "quantity": 5}, 404),
        ("/api/stock/receive", {"sku": "ARCH-EU42", "warehouse": "EU", "quantity": 10}, 409),
        ("/api/stock/adjust", {"sku": "ARCH-EU42", "warehouse": "EU", "delta": -5, "reason": "damaged"}, 200),
        ("/api/stock/adjust", {"sku": "ARCH-EU42", "warehouse": "EU", "delta": -999, "reason": "lost"}, 409),
        ("/api/stock/count", {"sku": "ARCH-EU42", "warehouse": "EU", "counted": 12}, 200),
        (
            "/api/stock/receipts",
            {"warehouse": "EU", "reference": "PO-S", "lines": [{"sku": "ARCH-EU42", "quantity": 2}]},
            201,
        ),
        (
            "/api/stock/receipts",
            {"warehouse": "EU", "reference": "PO-S", "lines": [{"sku": "ARCH-EU42", "quantity": "2"}]},
            400,
        ),
        (
            "/api/stock/receipts",
            {"warehouse": "MARS", "reference": "PO-S", "lines": [{"sku": "ARCH-EU42", "quantity": 2}]},
            404,
        ),
    ],
)
def test_stock_command_answers_validate_against_their_declared_schemas(schema, client_for, path, payload, status):
    if status == 409 and path.endswith("receive"):
        level_sku, level_warehouse = Sku.objects.get(code="ARCH-EU42"), Warehouse.objects.get(code="EU")
        services.stock_count(sku=level_sku, warehouse=level_warehouse, counted=STOCK_LEVEL_MAX - 1)
    request_schema = _request_schema(schema, path)
    assert OAS30WriteValidator(request_schema, format_checker=FORMATS).is_valid(payload) == (status != 400)
    response = client_for("operations").post(path, payload, format="json")
    assert response.status_code == status, response.content
    assert_valid_answer(schema, path, "post", response)


def test_anonymous_and_wrong_role_answers_validate(schema, api_client, client_for):
    assert_valid_answer(schema, "/api/stock/", "get", api_client.get("/api/stock/"))
    forbidden = client_for("storefront").post("/api/stock/adjust", {}, format="json")
    assert forbidden.status_code == 403
    assert_valid_answer(schema, "/api/stock/adjust", "post", forbidden)
