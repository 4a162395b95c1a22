from pathlib import Path

from django.core.management.base import BaseCommand

from inventory.catalogue import catalogue_parse
from inventory.management.csv_import import csv_import
from inventory.services import catalogue_import


class Command(BaseCommand):
    help = "Import or update the catalogue and stock from a CSV file; all rows apply or none do."

    def add_arguments(self, parser):
        parser.add_argument(
            "file",
            type=Path,
            help="CSV with columns product_code, product_name, size_system, "
            "size, sku, barcode, warehouse, bin, on_hand, reorder_point, hs_code, weight_g",
        )

    def handle(self, *args, file: Path, **options):
        reference = f"import:{file.name}"
        csv_import(
            self, file, parse=catalogue_parse, apply=lambda rows: catalogue_import(rows=rows, reference=reference)
        )
