"""Demo courier rules and warehouse defaults (``make run`` loads them; idempotent)."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from inventory.models import Warehouse
from shipping.models import DOMESTIC, CourierDefault, CourierRule, ShipperDetails

# (warehouse, destination, service, courier): domestic with the national post or ground courier,
# international express with an express integrator.
DEMO_RULES = [
    ("AU", DOMESTIC, "", "auspost"),
    ("AU", "*", "express", "dhl_express"),
    ("EU", "*", "", "dhl_express"),
    ("US", DOMESTIC, "", "ups"),
    ("US", "*", "", "fedex"),
]
DEMO_DEFAULTS = {"AU": "auspost", "EU": "dhl_express", "US": "fedex"}
DEMO_SHIPPERS = {
    "AU": ("Dispatch Sydney", "+61 2 9000 0000", "NSW"),
    "EU": ("Dispatch Rotterdam", "+31 10 000 0000", ""),
    "US": ("Dispatch Los Angeles", "+1 213 000 0000", "CA"),
}


class Command(BaseCommand):
    help = (
        "Load the demo courier rules (AU: Australia Post at home, DHL abroad; EU: DHL; US: UPS at home, FedEx abroad)."
    )

    @transaction.atomic
    def handle(self, *args, **options):
        warehouses = {w.code: w for w in Warehouse.objects.filter(code__in=DEMO_DEFAULTS)}
        if CourierRule.objects.exists():
            self.stdout.write("Courier rules already present; left as they are.")
        else:
            for priority, (code, destination, service, courier) in enumerate(DEMO_RULES, start=1):
                if code in warehouses:
                    CourierRule.objects.create(
                        priority=priority * 10,
                        warehouse=warehouses[code],
                        destination=destination,
                        service_level=service,
                        courier=courier,
                    )
        for code, courier in DEMO_DEFAULTS.items():
            if code in warehouses:
                CourierDefault.objects.get_or_create(warehouse=warehouses[code], defaults={"courier": courier})
        for code, (contact, phone, state) in DEMO_SHIPPERS.items():
            if code in warehouses:
                ShipperDetails.objects.get_or_create(
                    warehouse=warehouses[code], defaults={"contact_name": contact, "phone": phone, "state": state}
                )
        self.stdout.write(f"Courier rules: {CourierRule.objects.count()}, defaults: {CourierDefault.objects.count()}.")
