from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from inventory.catalogue import catalogue_parse
from inventory.errors import CatalogueImportError
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
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        try:
            with file.open(newline="", encoding="utf-8-sig") as handle:
                rows = catalogue_parse(handle)
            result = catalogue_import(rows=rows, reference=f"import:{file.name}")
        except CatalogueImportError as exc:
            for line, message in exc.errors:
                self.stderr.write(f"{file}:{line}: {message}")
            raise CommandError(f"{len(exc.errors)} bad rows; nothing was imported") from None
        except UnicodeDecodeError as exc:
            raise CommandError(f"{file}: not UTF-8 text ({exc.reason}); nothing was imported") from None
        self.stdout.write(self.style.SUCCESS(f"Imported {file}: {result}"))
