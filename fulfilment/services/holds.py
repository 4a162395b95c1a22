"""Held orders: operations fix them (``order_edit``) and release them (``order_release_hold``)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from django.db import transaction

from config.exceptions import InvalidInput, NotFound
from fulfilment import locks
from fulfilment.errors import IllegalTransition, OrderNotEditable, StillOnHold
from fulfilment.models import OrderStatus
from fulfilment.services.allocation import order_allocate
from fulfilment.services.orders import timeline_add
from fulfilment.storefronts.base import ADDRESS_LIMITS
from inventory.models import Sku

S = OrderStatus
ADDRESS_FIELDS = {**ADDRESS_LIMITS, "country_code": 2}
_COUNTRY = re.compile(r"[A-Za-z]{2}")


def address_changes_clean(changes: object) -> dict[str, str]:
    """Address fields operations may set, checked: known names, text within the label's limits,
    a two-letter country code (upper-cased). ``None`` clears a field. InvalidInput names the field."""
    if not isinstance(changes, Mapping):
        raise InvalidInput("The shipping address must be an object of fields.", field="shipping_address")
    cleaned: dict[str, str] = {}
    for name, value in changes.items():
        field = f"shipping_address.{name}"
        if name not in ADDRESS_FIELDS:
            raise InvalidInput(f"{name!r} is not an address field ({', '.join(ADDRESS_FIELDS)}).", field=field)
        value = "" if value is None else value
        if not isinstance(value, str):
            raise InvalidInput(f"{name} must be text.", field=field)
        value = value.strip()
        if len(value) > ADDRESS_FIELDS[name]:
            raise InvalidInput(f"{name} is longer than {ADDRESS_FIELDS[name]} characters.", field=field)
        if name == "country_code":
            if not _COUNTRY.fullmatch(value):
                raise InvalidInput("country_code must be an ISO 3166 two-letter code, like DE.", field=field)
            value = value.upper()
        cleaned[name] = value
    return cleaned


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
    """Fix a held order: merge address fields (checked by ``address_changes_clean``), point lines at other
    SKU codes. The order stays on hold until ``order_release_hold`` checks it again and allocates it."""
    order = locks.order_lock(order_id)
    if order.status != S.ON_HOLD:
        raise OrderNotEditable(order=order.pk, current=order.status)
    changes: dict = {}
    if shipping_address:
        address = dict(order.shipping_address or {})
        address.update(address_changes_clean(shipping_address))
        order.shipping_address, order.ship_country = address, (address.get("country_code") or "")[:2]
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
