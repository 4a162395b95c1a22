"""End-of-day manifest for one courier and warehouse: ``python manage.py manifest --courier auspost --warehouse AU``."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from config.exceptions import DomainError
from shipping import services
from shipping.couriers import COURIER_CODES
from shipping.couriers.base import CourierError


class Command(BaseCommand):
    help = "Close the day's booked shipments of a courier and warehouse with the courier (manifest)."

    def add_arguments(self, parser):
        parser.add_argument("--courier", required=True, choices=COURIER_CODES)
        parser.add_argument("--warehouse", required=True, help="Warehouse code, e.g. AU")

    def handle(self, *args, courier, warehouse, **options):
        try:
            manifest = services.manifest_create(courier=courier, warehouse_code=warehouse)
        except (DomainError, CourierError) as exc:
            raise CommandError(str(exc)) from exc
        if manifest is None:
            self.stdout.write(f"No booked {courier} shipments from {warehouse.upper()} waiting for a manifest.")
            return
        count = manifest.shipments.count()
        self.stdout.write(self.style.SUCCESS(f"Manifest {manifest.reference}: {count} shipment(s) with {courier}."))
