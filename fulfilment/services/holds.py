"""Held orders: operations fix them (``order_edit``) and release them (``order_release_hold``)."""

from __future__ import annotations

from collections.abc import Mapping

from django.db import transaction

from config.exceptions import NotFound
from fulfilment import locks
from fulfilment.errors import IllegalTransition, OrderNotEditable, StillOnHold
from fulfilment.models import OrderStatus
from fulfilment.services.allocation import order_allocate
from fulfilment.services.orders import timeline_add
from inventory.models import Sku

S = OrderStatus


def order_release_hold(*, order_id: int, actor=None):
    """Re-check a held order after operations fixed it, and allocate it; 409 if it still cannot ship."""
    with transaction.atomic():
        order = locks.order_lock(order_id)
        if order.status != S.ON_HOLD:
            raise IllegalTransition("Only an order on hold can be released.", order=order.pk, current=order.status)
        message = "Hold released; checking again"
        timeline_add(order, "hold_released", message, actor=actor, previous_reason=order.hold_reason)
        # Operations may have created the missing SKU since: resolve the codes again.
        for line in order.lines.filter(sku__isnull=True).exclude(sku_code=""):
            line.sku = Sku.objects.filter(code=line.sku_code).first()
            if line.sku:
                line.save(update_fields=["sku"])
        order_allocate(order=order, actor=actor)
    if order.status == S.ON_HOLD:
        raise StillOnHold(order=order.pk, hold_reason=order.hold_reason, hold_detail=order.hold_detail)
    return order


@transaction.atomic
def order_edit(
    *, order_id: int, shipping_address: Mapping | None = None, line_skus: Mapping[int, str] | None = None, actor=None
):
    """Fix a held order: merge address fields, point lines at other SKU codes. The order stays on hold
    until ``order_release_hold`` checks it again and allocates it."""
    order = locks.order_lock(order_id)
    if order.status != S.ON_HOLD:
        raise OrderNotEditable(order=order.pk, current=order.status)
    changes: dict = {}
    if shipping_address:
        address = dict(order.shipping_address or {})
        address.update({k: str(v) for k, v in shipping_address.items()})
        address["country_code"] = address.get("country_code", "").upper()
        order.shipping_address, order.ship_country = address, address["country_code"][:2]
        order.save(update_fields=["shipping_address", "ship_country", "updated_at"])
        changes["shipping_address"] = address
    for line_id, code in (line_skus or {}).items():
        line = order.lines.filter(pk=line_id).first()
        if line is None:
            raise NotFound("No such line on this order.", line=line_id)
        line.sku_code, line.sku, line.sku_edited = code, Sku.objects.filter(code=code).first(), True
        line.save(update_fields=["sku_code", "sku", "sku_edited"])
        changes.setdefault("lines", {})[str(line_id)] = code
    timeline_add(order, "edited", "Order edited by operations", actor=actor, **changes)
    return order
