"""What every CSV import command does around its parse and apply: the file checks, ``FILE:LINE: message``
for each bad row, and nothing applied unless every row is good."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from inventory.errors import CatalogueImportError


def csv_import(command: BaseCommand, file: Path, *, parse: Callable, apply: Callable) -> None:
    """``parse(open file) -> rows``, then ``apply(rows) -> summary``; bad rows are reported and nothing is applied."""
    if not file.is_file():
        raise CommandError(f"{file}: no such file")
    try:
        with file.open(newline="", encoding="utf-8-sig") as handle:
            rows = parse(handle)
        result = apply(rows)
    except CatalogueImportError as exc:
        for line, message in exc.errors:
            command.stderr.write(f"{file}:{line}: {message}")
        raise CommandError(f"{len(exc.errors)} bad rows; nothing was imported") from None
    except UnicodeDecodeError as exc:
        raise CommandError(f"{file}: not UTF-8 text ({exc.reason}); nothing was imported") from None
    command.stdout.write(command.style.SUCCESS(f"Imported {file}: {result}"))
