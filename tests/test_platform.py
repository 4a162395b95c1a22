"""Health, readiness, metrics, OpenAPI, error shapes, Celery configuration."""

import datetime as dt
import json

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from config.celery import app as celery_app

pytestmark = pytest.mark.django_db


def test_healthz_needs_no_token(api_client):
    assert api_client.get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_database_and_broker(api_client):
    response = api_client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "in-process"}


@pytest.mark.redis
def test_readyz_pings_the_real_broker(api_client):
    with override_settings(CELERY_TASK_ALWAYS_EAGER=False):
        response = api_client.get("/readyz")
    assert response.status_code == 200 and response.json()["broker"] == "ok"


def test_readyz_is_503_when_the_broker_is_down(api_client):
    with override_settings(CELERY_TASK_ALWAYS_EAGER=False, REDIS_URL="redis://127.0.0.1:1/0"):
        response = api_client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable" and response.json()["broker"].startswith("unreachable")


def test_metrics_are_exposed_for_prometheus(api_client):
    api_client.get("/healthz")
    body = api_client.get("/metrics").content.decode()
    assert "django_http_requests_total_by_method_total" in body


@pytest.mark.django_db(transaction=True)
def test_metrics_show_the_intake_backlog(api_client, settings, monkeypatch):
    from fulfilment.models import InboxDelivery, Order
    from fulfilment.services import dispatch
    from tests.fulfilment.helpers import make_world, post_shopify
    from tests.fulfilment.payloads import shopify_line, shopify_order

    make_world()
    post_shopify(api_client, shopify_order(id=1, line_items=[shopify_line(sku="NOPE-EU42")]))  # held: unknown SKU
    Order.objects.update(needs_attention="check")
    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setattr(dispatch, "drain_kick", lambda **kwargs: True)  # no worker: they wait
    for n in (2, 3):
        post_shopify(api_client, shopify_order(id=n))
    InboxDelivery.objects.filter(status="pending").update(received_at=timezone.now() - dt.timedelta(minutes=5))

    body = api_client.get("/metrics").content.decode()

    metrics = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in body.splitlines()
        if line.startswith("insoles_")
    }
    assert metrics['insoles_inbox_deliveries{status="pending"}'] == 2
    assert metrics['insoles_inbox_deliveries{status="failed"}'] == 0
    assert 300 <= metrics["insoles_inbox_oldest_pending_seconds"] < 400
    assert metrics['insoles_orders_on_hold{reason="unknown_sku"}'] == 1
    assert metrics["insoles_orders_needing_attention"] == 1


def test_openapi_schema_and_docs_are_served_offline(client_for):
    client = client_for("operations")
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    paths = json.loads(schema.content)["paths"]
    assert {"/api/stock/", "/api/stock/receive", "/api/skus/{code}/"} <= set(paths)
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html and "cdn.jsdelivr" not in html and "unpkg" not in html


@override_settings(DEBUG=False)
def test_unknown_url_is_a_json_404(api_client):
    response = api_client.get("/nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found", "extra": {}}


def test_celery_is_configured_for_at_least_once_delivery():
    conf = celery_app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["visibility_timeout"] == settings.CELERY_VISIBILITY_TIMEOUT
    assert "verify-stock-nightly" in conf.beat_schedule


def test_stock_verify_task_runs_and_counts_mismatches():
    from inventory.tasks import stock_verify_task

    assert stock_verify_task.delay().get() == 0


def test_openapi_schema_is_valid_and_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    text = target.read_text()
    assert "/webhooks/shopify:" in text and "/api/orders/{id}/release-hold:" in text


@pytest.mark.django_db(transaction=True)  # the webhook is processed after its acceptance commits
def test_every_admin_list_and_change_page_renders(client, django_user_model):
    """The operations fallback UI: each registered model's list and the change page of a row answer 200."""
    from django.contrib import admin
    from django.urls import reverse

    from tests.fulfilment.helpers import make_world, post_shopify

    make_world()
    # An order, its lines, timeline, inbox delivery, reservations and ledger rows.
    assert post_shopify(client).json()["order"]["status"] == "reserved"
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        changelist = client.get(reverse("admin:{}_{}_changelist".format(*info)))
        assert changelist.status_code == 200, info
        first = model._default_manager.first()
        assert first is not None or model._meta.model_name not in ("order", "inboxdelivery", "reservation"), info
        if first is not None:
            assert client.get(reverse("admin:{}_{}_change".format(*info), args=[first.pk])).status_code == 200, info
