"""Courier choice: the rules table, then the warehouse's default."""

from __future__ import annotations

from django.db.models import Q

from inventory.models import Warehouse
from inventory.zones import zones_for
from shipping.errors import NoCourierRule
from shipping.models import DOMESTIC, CourierDefault, CourierRule


def courier_choose(*, warehouse: Warehouse, country: str, service: str, weight_g: int) -> tuple[str, str]:
    """The courier and product code for a shipment: the first matching active rule (lowest priority
    first), else the warehouse's default courier; 409 ``no_courier_rule`` when neither exists."""
    zones = set(zones_for(country))
    rules = CourierRule.objects.filter(Q(warehouse__isnull=True) | Q(warehouse=warehouse), active=True).order_by(
        "priority", "pk"
    )
    for rule in rules:
        if rule.service_level and rule.service_level != service:
            continue
        if rule.destination:
            if rule.destination == DOMESTIC:
                if country != warehouse.country:
                    continue
            elif rule.destination not in zones:
                continue
        if rule.min_weight_g is not None and weight_g < rule.min_weight_g:
            continue
        if rule.max_weight_g is not None and weight_g > rule.max_weight_g:
            continue
        return rule.courier, rule.product_code
    default = CourierDefault.objects.filter(warehouse=warehouse).first()
    if default is not None:
        return default.courier, default.product_code
    raise NoCourierRule(warehouse=warehouse.code, country=country, service=service, weight_g=weight_g)
