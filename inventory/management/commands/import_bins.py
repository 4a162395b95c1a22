from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from inventory.bins import bins_parse
from inventory.errors import CatalogueImportError
from inventory.services import bins_import


class Command(BaseCommand):
    help = "Create or update bins and their walk order from a CSV file; all rows apply or none do."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="CSV with columns warehouse, bin, walk_sequence")

    def handle(self, *args, file: Path, **options):
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        try:
            with file.open(newline="", encoding="utf-8-sig") as handle:
                rows = bins_parse(handle)
            result = bins_import(rows=rows)
        except CatalogueImportError as exc:
            for line, message in exc.errors:
                self.stderr.write(f"{file}:{line}: {message}")
            raise CommandError(f"{len(exc.errors)} bad rows; nothing was imported") from None
        except UnicodeDecodeError as exc:
            raise CommandError(f"{file}: not UTF-8 text ({exc.reason}); nothing was imported") from None
        self.stdout.write(self.style.SUCCESS(f"Imported {file}: {result}"))
