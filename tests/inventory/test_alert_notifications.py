"""Alert notifications go through the outbox: an email to OPS_ALERT_EMAILS and stock.low / stock.recovered webhooks."""

from __future__ import annotations

import json

import pytest
from django.core import mail
from django.db import transaction
from standardwebhooks import Webhook

from inventory import services
from inventory.models import StockAlert, StockLevel
from outbox import services as outbox
from outbox.models import Message, MessageStatus
from tests.factories import SkuFactory, WarehouseFactory

# Transactional: the check and the outbox run after COMMIT, as in production (Celery eager in tests).
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def level(settings):
    settings.OPS_ALERT_EMAILS = ["ops@example.com", "buyer@example.com"]
    sku = SkuFactory(lead_time_days=0)
    warehouse = WarehouseFactory(code="AU")
    services.stock_receive(sku=sku, warehouse=warehouse, quantity=20)
    StockLevel.objects.filter(sku=sku, warehouse=warehouse).update(reorder_point=5)
    mail.outbox.clear()
    return StockLevel.objects.select_related("sku", "warehouse").get(sku=sku, warehouse=warehouse)


@pytest.fixture
def subscription(httpserver):
    httpserver.expect_request("/hooks", method="POST").respond_with_data("", status=204)
    return outbox.subscription_create(url=httpserver.url_for("/hooks"), events=["stock.low", "stock.recovered"])


def _received(httpserver):
    return [(request, json.loads(request.get_data())) for request, _ in httpserver.log]


def test_opening_emails_ops_and_sends_a_signed_stock_low_webhook(level, subscription, httpserver):
    services.stock_adjust(sku=level.sku, warehouse=level.warehouse, delta=-17, reason="damaged")
    alert = StockAlert.objects.get()
    (email,) = mail.outbox
    assert email.to == ["ops@example.com", "buyer@example.com"]
    assert level.sku.code in email.subject and "AU" in email.subject
    assert "Available: 3" in email.body and "Reorder point: 5" in email.body
    [(request, body)] = _received(httpserver)
    assert Webhook(subscription.secret).verify(request.get_data(), dict(request.headers)) == body
    assert body["type"] == "stock.low"
    data = body["data"]
    assert (data["sku"], data["warehouse"], data["kind"], data["status"]) == (level.sku.code, "AU", "low_stock", "open")
    assert (data["alert_id"], data["available"], data["reorder_point"], data["closed_at"]) == (alert.pk, 3, 5, None)
    assert set(Message.objects.values_list("kind", "status")) == {("ops_email", "sent"), ("webhook", "sent")}

    # More movements while it stays low: nothing more is sent.
    services.stock_adjust(sku=level.sku, warehouse=level.warehouse, delta=-1, reason="damaged")
    assert len(mail.outbox) == 1 and len(httpserver.log) == 1

    services.stock_receive(sku=level.sku, warehouse=level.warehouse, quantity=30)
    assert len(mail.outbox) == 2
    assert "Recovered" in mail.outbox[1].subject and level.sku.code in mail.outbox[1].subject
    [_, (_, recovered)] = _received(httpserver)
    assert recovered["type"] == "stock.recovered"
    assert recovered["data"]["alert_id"] == alert.pk and recovered["data"]["closed_available"] == 32
    assert Message.objects.filter(status=MessageStatus.SENT).count() == 4


def test_a_rolled_back_movement_writes_no_alert_and_sends_nothing(level, subscription, httpserver):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.stock_adjust(sku=level.sku, warehouse=level.warehouse, delta=-17, reason="damaged")
        raise RuntimeError("rolled back")
    assert StockAlert.objects.count() == 0
    assert Message.objects.count() == 0 and mail.outbox == [] and httpserver.log == []


def test_without_addresses_no_email_is_queued_but_the_webhook_goes(level, subscription, httpserver, settings):
    settings.OPS_ALERT_EMAILS = []
    services.reservation_create(warehouse=level.warehouse, items=[(level.sku_id, 16)], reference="order:1")
    assert StockAlert.objects.filter(closed_at__isnull=True).count() == 1
    assert mail.outbox == []
    assert [body["type"] for _, body in _received(httpserver)] == ["stock.low"]


def test_a_down_mail_server_is_retried_by_the_outbox(level, settings, monkeypatch):
    import smtplib

    from outbox.models import Message

    def refuse(self, *args, **kwargs):
        raise smtplib.SMTPServerDisconnected("mail server went away")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", refuse)
    services.stock_adjust(sku=level.sku, warehouse=level.warehouse, delta=-17, reason="damaged")
    message = Message.objects.get(kind="ops_email")
    assert message.status == MessageStatus.PENDING and message.attempts == 1
    assert "SMTPServerDisconnected" in message.last_error
    monkeypatch.undo()
    Message.objects.filter(pk=message.pk).update(next_attempt_at=None)
    assert outbox.outbox_drain_due() == 1
    assert len(mail.outbox) == 1
