"""Webhook subscriptions over the API (admin role) and who may see the outbox."""

from __future__ import annotations

import pytest

from outbox.models import Message, WebhookSubscription

pytestmark = pytest.mark.django_db


def test_an_admin_subscribes_and_sees_the_secret_once(client_for):
    admin = client_for("admin")
    created = admin.post(
        "/api/webhook-subscriptions/",
        {"url": "https://ops.example.com/hooks", "events": ["stock.recovered", "stock.low"]},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 30
    assert body["events"] == ["stock.low", "stock.recovered"]
    assert body["active"] is True
    listed = admin.get("/api/webhook-subscriptions/").json()
    assert listed["count"] == 1
    assert "secret" not in listed["results"][0]
    detail = admin.get(f"/api/webhook-subscriptions/{body['id']}/").json()
    assert "secret" not in detail and detail["url"] == "https://ops.example.com/hooks"
    assert admin.delete(f"/api/webhook-subscriptions/{body['id']}/").status_code == 204
    assert admin.delete(f"/api/webhook-subscriptions/{body['id']}/").status_code == 404
    assert WebhookSubscription.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "https://x.example/h", "events": ["stock.lowish"]}, None),
        ({"url": "https://x.example/h", "events": []}, "events"),
        ({"url": "ftp://x.example/h", "events": ["stock.low"]}, "url"),
        ({"url": "not a url", "events": ["stock.low"]}, "url"),
        ({"events": ["stock.low"]}, "url"),
        ({"url": "https://x.example/h", "events": "stock.low"}, "events"),
    ],
)
def test_a_bad_subscription_is_a_400_and_creates_nothing(client_for, body, field):
    answer = client_for("admin").post("/api/webhook-subscriptions/", body, format="json")
    assert answer.status_code == 400, answer.content
    error = answer.json()
    assert "code" in error and "detail" in error
    if field is None:
        assert error["code"] == "unknown_event_type"
        assert error["extra"]["unknown"] == ["stock.lowish"]
        assert "stock.low" in error["extra"]["allowed"]
    assert WebhookSubscription.objects.count() == 0


@pytest.mark.parametrize("role", ["operations", "warehouse", "storefront"])
def test_only_admins_manage_subscriptions(client_for, role):
    client = client_for(role)
    assert client.get("/api/webhook-subscriptions/").status_code == 403
    answer = client.post(
        "/api/webhook-subscriptions/", {"url": "https://x.example/h", "events": ["stock.low"]}, format="json"
    )
    assert answer.status_code == 403
    assert WebhookSubscription.objects.count() == 0


@pytest.mark.parametrize(("role", "allowed"), [("operations", True), ("warehouse", False), ("storefront", False)])
def test_operations_see_the_outbox_others_do_not(client_for, role, allowed):
    message = Message.objects.create(
        kind="webhook", key="k", destination="1", status="dead", dead_at="2026-12-01T00:00Z"
    )
    client = client_for(role)
    assert client.get("/api/outbox/").status_code == (200 if allowed else 403)
    assert client.post(f"/api/outbox/{message.pk}/retry").status_code in ((200,) if allowed else (403,))


def test_anonymous_gets_401(api_client):
    assert api_client.get("/api/outbox/").status_code == 401
    assert api_client.get("/api/webhook-subscriptions/").status_code == 401


def test_a_bad_status_filter_is_a_400(client_for):
    answer = client_for("operations").get("/api/outbox/?status=zombie")
    assert answer.status_code == 400
    assert answer.json()["code"]
