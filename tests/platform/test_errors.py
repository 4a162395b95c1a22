"""Every answer, also Django's own errors outside DRF, is JSON ``{"detail", "code", "extra"}`` (DEBUG off)."""

from __future__ import annotations

import json

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

ERROR_KEYS = {"detail", "code", "extra"}


def error_of(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    body = json.loads(response.content)
    assert set(body) == ERROR_KEYS and isinstance(body["extra"], dict), body
    return body


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=10, WEBHOOK_MAX_BODY_BYTES=1000)
def test_a_body_over_the_upload_limit_is_a_json_413(client):
    # Webhooks have their own, larger limit (a paid order with many lines must not be refused).
    response = client.post("/webhooks/shopify", data=b"{" + b" " * 1000 + b"}", content_type="application/json")
    body = error_of(response, 413)
    assert body["code"] == "request_too_large"
    assert body["extra"] == {"max_bytes": 1000}


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_an_api_body_over_the_upload_limit_is_a_json_413_before_any_parsing(client_for):
    # Through DRF's parsers too (DRF 3.18 reads request.body, where Django checks the limit).
    payload = {"sku": "X", "warehouse": "AU", "quantity": 1, "reference": "r" * 1000}
    response = client_for("operations").post("/api/stock/receive", payload, format="json")
    body = error_of(response, 413)
    assert body == {
        "detail": "The request body is too large.",
        "code": "request_too_large",
        "extra": {"max_bytes": 1000},
    }


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_body_within_the_upload_limit_is_served(client_for):
    response = client_for("operations").post("/api/stock/receive", {"sku": "NOPE"}, format="json")
    assert response.status_code == 400 and response.json()["code"] != "request_too_large"


@override_settings(DATA_UPLOAD_MAX_NUMBER_FIELDS=10)
def test_too_many_fields_is_a_json_400(client_for):
    query = "&".join(f"status=s{n}" for n in range(11))
    response = client_for("operations").get(f"/api/orders/?{query}")
    body = error_of(response, 400)
    assert body["code"] == "too_many_fields"
    assert body["extra"] == {"max_fields": 10}


def test_a_host_not_allowed_is_a_json_400(client):
    body = error_of(client.get("/healthz", HTTP_HOST="evil.example"), 400)
    assert body["code"] == "disallowed_host"
    # The bad host is not echoed back into the answer.
    assert "evil.example" not in json.dumps(body)


def test_a_csrf_failure_on_the_api_is_a_json_403(django_user_model):
    from config.auth import token_issue

    token_issue(username="ops", role="operations")  # creates the user and the role
    user = django_user_model.objects.get(username="ops")
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    body = error_of(client.post("/api/orders/1/cancel", {}, format="json"), 403)
    assert body["code"] == "csrf_failed"


def test_a_csrf_failure_outside_drf_is_a_json_403():
    client = Client(enforce_csrf_checks=True)
    body = error_of(client.post("/admin/login/", {"username": "a", "password": "b"}), 403)
    assert body["code"] == "csrf_failed"
    assert "CSRF" in body["detail"]


def test_unknown_url_is_a_json_404(client):
    body = error_of(client.get("/nope"), 404)
    assert body == {"detail": "Not found.", "code": "not_found", "extra": {}}


@pytest.mark.urls("tests.platform.urls_errors")
def test_an_unexpected_error_is_a_json_500():
    client = Client(raise_request_exception=False)
    body = error_of(client.get("/test-errors/boom"), 500)
    assert body == {"detail": "Internal server error.", "code": "server_error", "extra": {}}


@pytest.mark.urls("tests.platform.urls_errors")
def test_a_body_the_client_stopped_sending_is_a_json_408():
    client = Client(raise_request_exception=False)
    body = error_of(client.get("/test-errors/body-timed-out"), 408)
    assert body["code"] == "request_timeout"


@pytest.mark.urls("tests.platform.urls_errors")
def test_a_body_cut_off_by_the_client_is_a_json_400():
    client = Client(raise_request_exception=False)
    body = error_of(client.get("/test-errors/body-cut-off"), 400)
    assert body["code"] == "incomplete_body"


@pytest.mark.urls("tests.platform.urls_errors")
def test_permission_denied_outside_drf_is_a_json_403(client):
    body = error_of(client.get("/test-errors/forbidden"), 403)
    assert body["code"] == "permission_denied"


@pytest.mark.urls("tests.platform.urls_errors")
def test_a_suspicious_request_outside_drf_is_a_json_400(client):
    body = error_of(client.get("/test-errors/suspicious"), 400)
    assert body["code"] == "bad_request"


@pytest.mark.parametrize("method", ["get", "head"])
def test_a_collection_without_its_slash_is_a_json_301(client_for, method):
    response = getattr(client_for("operations"), method)("/api/orders?status=reserved")
    assert response.status_code == 301
    assert response["Location"] == "/api/orders/?status=reserved"
    assert response["Content-Type"] == "application/json"
    if method == "get":  # a HEAD answer has no body
        assert json.loads(response.content) == {
            "detail": "This URL ends in a slash: /api/orders/?status=reserved",
            "code": "trailing_slash",
            "extra": {"location": "/api/orders/?status=reserved"},
        }


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_an_unsafe_request_without_the_slash_is_a_method_preserving_308(client_for, method):
    response = getattr(client_for("operations"), method)("/api/orders", {}, format="json")
    body = error_of(response, 308)
    assert response["Location"] == "/api/orders/"
    assert body["code"] == "trailing_slash" and body["extra"] == {"location": "/api/orders/"}


@pytest.mark.django_db(transaction=True)  # the webhook is processed after its acceptance commits
@pytest.mark.parametrize("path", ["/webhooks/shopify/", "/webhooks/woocommerce/"])
def test_webhooks_accept_a_trailing_slash(client, path):
    from tests.fulfilment.helpers import make_world, post_shopify, post_woo

    make_world()
    post = post_shopify if "shopify" in path else post_woo
    # The helpers post to the slash-less URL; send the same signed delivery to the pasted one.
    response = post(_RedirectingClient(client, path))
    assert response.status_code == 200, response.content[:300]
    assert response.json()["order"]["status"] == "reserved"


class _RedirectingClient:
    """Posts wherever the helper posts, but to ``path`` instead."""

    def __init__(self, client: Client, path: str) -> None:
        self.client, self.path = client, path

    def post(self, _path: str, **kwargs):
        return self.client.post(self.path, **kwargs)


def test_a_webhook_without_a_signature_is_a_json_401_on_both_spellings(client):
    for path in ("/webhooks/shopify", "/webhooks/shopify/"):
        body = error_of(client.post(path, data=b"{}", content_type="application/json"), 401)
        assert body["code"] == "invalid_signature"


@override_settings(SECURE_SSL_REDIRECT=True)
@pytest.mark.parametrize(("method", "status"), [("get", 301), ("post", 308)])
def test_the_https_redirect_is_json_and_keeps_unsafe_methods(client, method, status):
    response = getattr(client, method)("/api/orders/?status=reserved")
    assert response.status_code == status
    assert response["Location"] == "https://testserver/api/orders/?status=reserved"
    assert json.loads(response.content) == {
        "detail": "This service is served over HTTPS: https://testserver/api/orders/?status=reserved",
        "code": "https_required",
        "extra": {"location": "https://testserver/api/orders/?status=reserved"},
    }
