"""Parsing of catalogue CSV files (no database access): every bad row is reported with its line number."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from inventory.errors import CatalogueImportError
from inventory.models import STOCK_LEVEL_MAX, SizeSystem

COLUMNS = (
    "product_code",
    "product_name",
    "size_system",
    "size",
    "sku",
    "barcode",
    "warehouse",
    "bin",
    "on_hand",
    "reorder_point",
    "hs_code",
    "weight_g",
)
_WHOLE = re.compile(r"-?[0-9]+")
_HS_CODE = re.compile(r"^\d{4}(\.?\d{2}){1,3}$")
_SYSTEMS = {choice.upper(): choice for choice in SizeSystem.values}


@dataclass(frozen=True)
class CatalogueRow:
    line: int
    product_code: str
    product_name: str
    size_system: str
    size: str
    sku: str
    barcode: str | None
    warehouse: str
    bin: str
    on_hand: int | None  # None: leave the stock as it is
    reorder_point: int | None
    hs_code: str
    weight_g: int


def gtin_is_valid(code: str) -> bool:
    """GTIN-8/12/13/14 with a correct check digit (mod 10, weights 3 and 1 from the right)."""
    if not code.isdigit() or len(code) not in (8, 12, 13, 14):
        return False
    digits = [int(d) for d in code]
    body, check = digits[:-1], digits[-1]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def _whole(value: str, field: str, *, minimum: int, blank_ok: bool) -> int | None:
    value = value.strip()
    if value == "":
        if blank_ok:
            return None
        raise ValueError(f"{field} is required")
    # ASCII digits only: int() would also take "1_000" and other scripts' digits ("٣").
    if not _WHOLE.fullmatch(value):
        raise ValueError(f"{field} must be a whole number, got {value!r}")
    # Long digit strings are out of range anyway; int() of thousands of digits is refused by Python.
    number = int(value) if len(value) <= 20 else (-1 if value.startswith("-") else 1) * (STOCK_LEVEL_MAX + 1)
    if number > STOCK_LEVEL_MAX:
        raise ValueError(f"{field} must be at most {STOCK_LEVEL_MAX}, got {value}")
    if number < minimum:
        raise ValueError(f"{field} must be at least {minimum}, got {number}")
    return number


def _row(line: int, raw: dict[str, str]) -> CatalogueRow:
    def text(name: str, required: bool = True, limit: int = 64) -> str:
        value = (raw.get(name) or "").strip()
        if required and not value:
            raise ValueError(f"{name} is required")
        if len(value) > limit:
            raise ValueError(f"{name} is longer than {limit} characters")
        return value

    system = _SYSTEMS.get(text("size_system").upper())
    if system is None:
        raise ValueError(
            f"size_system must be one of {', '.join(SizeSystem.values)}, got {raw['size_system'].strip()!r}"
        )
    barcode = text("barcode", required=False, limit=14) or None
    if barcode is not None and not gtin_is_valid(barcode):
        raise ValueError(f"barcode {barcode!r} is not a valid GTIN-8/12/13/14")
    hs_code = text("hs_code", required=False, limit=16)
    if hs_code and not _HS_CODE.match(hs_code):
        raise ValueError(f"hs_code {hs_code!r} must be 6 to 10 digits (dots allowed), e.g. 6406.90")
    return CatalogueRow(
        line=line,
        product_code=text("product_code"),
        product_name=text("product_name", limit=200),
        size_system=system,
        size=text("size", limit=16),
        sku=text("sku"),
        barcode=barcode,
        warehouse=text("warehouse", limit=16).upper(),
        bin=text("bin", required=False, limit=32),
        on_hand=_whole(raw.get("on_hand") or "", "on_hand", minimum=0, blank_ok=True),
        reorder_point=_whole(raw.get("reorder_point") or "", "reorder_point", minimum=0, blank_ok=True),
        hs_code=hs_code,
        weight_g=_whole(raw.get("weight_g") or "", "weight_g", minimum=1, blank_ok=False),
    )


def csv_records(
    lines: Iterable[str], columns: Iterable[str], errors: list[tuple[int, str]]
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each data row of a CSV whose header names ``columns`` (in any order,
    padded with spaces or not). A missing column is CatalogueImportError at once; a row with more
    fields than columns is added to ``errors`` and skipped."""
    reader = csv.DictReader(lines)
    header = [name.strip() for name in (reader.fieldnames or [])]
    missing = [name for name in columns if name not in header]
    if missing:
        raise CatalogueImportError([(1, f"missing columns: {', '.join(missing)}")])
    reader.fieldnames = header
    for raw in reader:
        if None in raw:
            errors.append((reader.line_num, "more fields than columns"))
            continue
        yield reader.line_num, raw


def catalogue_parse(lines: Iterable[str]) -> list[CatalogueRow]:
    """Parse a catalogue CSV (header row first); raises CatalogueImportError listing every bad line."""
    rows: list[CatalogueRow] = []
    errors: list[tuple[int, str]] = []
    seen_levels: dict[tuple[str, str], int] = {}
    sku_identity: dict[str, tuple[str, str, str, int]] = {}
    barcodes: dict[str, tuple[str, int]] = {}
    sku_attributes: dict[str, tuple[dict, int]] = {}
    for line, raw in csv_records(lines, COLUMNS, errors):
        if not any((value or "").strip() for value in raw.values()):
            continue
        try:
            row = _row(line, raw)
        except ValueError as exc:
            errors.append((line, str(exc)))
            continue
        key = (row.sku, row.warehouse)
        if key in seen_levels:
            errors.append(
                (line, f"sku {row.sku} in warehouse {row.warehouse} already given on line {seen_levels[key]}")
            )
            continue
        seen_levels[key] = line
        identity = (row.product_code, row.size_system, row.size)
        first = sku_identity.setdefault(row.sku, (*identity, line))
        if first[:3] != identity:
            errors.append(
                (line, f"sku {row.sku} is {'/'.join(first[:3])} on line {first[3]} but {'/'.join(identity)} here")
            )
            continue
        attributes = {
            "product_name": row.product_name,
            "barcode": row.barcode,
            "hs_code": row.hs_code,
            "weight_g": row.weight_g,
        }
        first_attributes = sku_attributes.setdefault(row.sku, (attributes, line))
        clash = next((name for name, value in attributes.items() if first_attributes[0][name] != value), None)
        if clash:
            errors.append(
                (line, f"sku {row.sku} has {clash} {first_attributes[0][clash]} on line {first_attributes[1]}")
            )
            continue
        if row.barcode:
            owner = barcodes.setdefault(row.barcode, (row.sku, line))
            if owner[0] != row.sku:
                errors.append((line, f"barcode {row.barcode} already belongs to sku {owner[0]} (line {owner[1]})"))
                continue
        rows.append(row)
    if errors:
        raise CatalogueImportError(errors)
    return rows
