"""Courier choice: the rules table, then the warehouse's default, then a built-in preference
among the couriers that are configured (so a fresh install with credentials ships at once)."""

from __future__ import annotations

from django.db.models import Q

from inventory.models import Warehouse
from inventory.zones import zones_for
from shipping import couriers
from shipping.errors import NoCourierRule
from shipping.models import DOMESTIC, CourierDefault, CourierRule

# When operations have set neither a rule nor a default for the warehouse: the national post or a
# ground courier at home, an express integrator abroad; the first of these that is configured.
BUILT_IN_DOMESTIC = {"AU": ("auspost", "dhl_express"), "US": ("ups", "fedex")}
BUILT_IN_ABROAD = ("dhl_express", "fedex", "ups", "auspost")


def courier_choose(*, warehouse: Warehouse, country: str, service: str, weight_g: int) -> tuple[str, str]:
    """The courier and product code for a shipment: the first matching active rule (lowest priority
    first), else the warehouse's default courier, else the built-in preference's first configured
    courier; 409 ``no_courier_rule`` when none of these gives one."""
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
    if country == warehouse.country:
        preference = BUILT_IN_DOMESTIC.get(country, ("dhl_express", "fedex", "ups"))
    else:
        preference = BUILT_IN_ABROAD
    for courier in preference:
        if couriers.courier_config(courier).configured:
            return courier, ""
    raise NoCourierRule(warehouse=warehouse.code, country=country, service=service, weight_g=weight_g)
