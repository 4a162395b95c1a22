"""Data the dashboard tests share: users by role, an order on hold, a dead letter."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from fulfilment.models import Order
from outbox.models import Message, MessageStatus

PASSWORD = "correct-horse-battery"


def staff_user(username: str, *roles: str):
    user = get_user_model().objects.create_user(username=username, password=PASSWORD)
    for role in roles:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def order_on_hold(external_id: str = "5001", reason: str = "unknown_sku") -> Order:
    return Order.objects.create(
        channel="shopify",
        shop="insoles-test.myshopify.com",
        external_id=external_id,
        number=f"#{external_id}",
        status="on_hold",
        hold_reason=reason,
        hold_detail="SKU NOPE-EU99 is not in the catalogue",
        paid_at=timezone.now(),
    )


def dead_letter(key: str = "stock.low:1:open") -> Message:
    return Message.objects.create(
        kind="webhook",
        destination="1",
        key=key,
        status=MessageStatus.DEAD,
        dead_at=timezone.now(),
        attempts=15,
        last_error="ConnectionError: subscriber down",
    )
