"""Bin files: ``warehouse, bin, walk_sequence`` rows, parsed strictly (pure: text in, rows out)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from inventory.catalogue import csv_records
from inventory.errors import CatalogueImportError

COLUMNS = ("warehouse", "bin", "walk_sequence")
_WHOLE = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True)
class BinRow:
    line: int
    warehouse: str
    bin: str
    walk_sequence: int


def bins_parse(lines: Iterable[str]) -> list[BinRow]:
    """Parse a bin CSV (header row first); raises CatalogueImportError listing every bad line."""
    rows: list[BinRow] = []
    errors: list[tuple[int, str]] = []
    seen: dict[tuple[str, str], int] = {}
    for line, raw in csv_records(lines, COLUMNS, errors):
        warehouse = (raw.get("warehouse") or "").strip().upper()
        code = (raw.get("bin") or "").strip()
        sequence = (raw.get("walk_sequence") or "").strip()
        problem = None
        if not warehouse or len(warehouse) > 16:
            problem = "warehouse is required (a warehouse code, at most 16 characters)"
        elif not code or len(code) > 32:
            problem = "bin is required (at most 32 characters)"
        elif not _WHOLE.fullmatch(sequence):
            problem = f"walk_sequence must be a whole number (ASCII digits), got {sequence!r}"
        elif (warehouse, code) in seen:
            problem = f"bin {warehouse}/{code} is also on line {seen[warehouse, code]}"
        if problem:
            errors.append((line, problem))
            continue
        seen[warehouse, code] = line
        rows.append(BinRow(line=line, warehouse=warehouse, bin=code, walk_sequence=int(sequence)))
    if errors:
        raise CatalogueImportError(errors)
    return rows
