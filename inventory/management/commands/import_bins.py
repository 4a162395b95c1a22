from pathlib import Path

from django.core.management.base import BaseCommand

from inventory.bins import bins_parse
from inventory.management.csv_import import csv_import
from inventory.services import bins_import


class Command(BaseCommand):
    help = "Create or update bins and their walk order from a CSV file; all rows apply or none do."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="CSV with columns warehouse, bin, walk_sequence")

    def handle(self, *args, file: Path, **options):
        csv_import(self, file, parse=bins_parse, apply=lambda rows: bins_import(rows=rows))
