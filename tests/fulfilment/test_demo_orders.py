"""manage.py demo_orders: signed demo orders through the real intake, for trying the floor."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from fulfilment.models import InboxDelivery, Order
from inventory.demo import demo_seed

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_orders_go_through_the_signed_intake_and_are_reserved(settings):
    settings.SHOPIFY_WEBHOOK_SECRETS = ["demo-shopify-secret"]
    settings.SHOPIFY_SHOP_DOMAIN = "demo-insoles.myshopify.com"
    demo_seed()
    out = io.StringIO()
    call_command("demo_orders", "8", "--seed", "3", stdout=out)
    assert out.getvalue().strip() == "8 demo orders posted: 8 reserved"
    assert InboxDelivery.objects.filter(status="processed").count() == 8
    orders = Order.objects.all()
    assert {o.status for o in orders} == {"reserved"} and {o.shop for o in orders} == {"demo-insoles.myshopify.com"}
    assert all(o.warehouse_id and o.lines.exists() for o in orders)
    # The same seed again: the same events, answered as duplicates, no new orders.
    call_command("demo_orders", "8", "--seed", "3", stdout=io.StringIO())
    assert Order.objects.count() == 8


def test_demo_orders_need_the_webhook_secret(settings):
    settings.SHOPIFY_WEBHOOK_SECRETS = []
    with pytest.raises(CommandError, match="SHOPIFY_WEBHOOK_SECRET"):
        call_command("demo_orders", "1")
