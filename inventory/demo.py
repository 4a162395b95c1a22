"""The demo catalogue: insole models in EU 35-48 with UK/US equivalents, three warehouses."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from inventory.catalogue import CatalogueRow
from inventory.models import Size, SizeSystem, Warehouse, WarehouseZone
from inventory.services import CatalogueImportResult, catalogue_import, size_sort_order

# EU size -> (UK, US men, US women): the conversion printed on the brand's size chart.
SIZE_CHART = {
    "35": ("2.5", "3.5", "5"),
    "36": ("3.5", "4.5", "6"),
    "37": ("4", "5", "6.5"),
    "38": ("5", "6", "7.5"),
    "39": ("6", "7", "8.5"),
    "40": ("6.5", "7.5", "9"),
    "41": ("7", "8", "9.5"),
    "42": ("8", "9", "10.5"),
    "43": ("9", "10", "11.5"),
    "44": ("9.5", "10.5", "12"),
    "45": ("10.5", "11.5", "13"),
    "46": ("11", "12", "13.5"),
    "47": ("12", "13", "14.5"),
    "48": ("13", "14", "15.5"),
}

PRODUCTS = [
    ("ARCH", "ArchPro Support Insole", 70),
    ("RUN", "RunGel Cushion Insole", 60),
    ("WORK", "WorkMax All-Day Insole", 85),
    ("THERMO", "Thermo Wool Winter Insole", 55),
]

WAREHOUSES = [
    {
        "code": "AU",
        "name": "Sydney",
        "country": "AU",
        "city": "Sydney",
        "postcode": "2015",
        "address_line1": "12 Bourke Road, Alexandria",
        "timezone": "Australia/Sydney",
        "express_cutoff": dt.time(14, 0),
        "zones": {"R:OC": 1, "R:AS": 1, "*": 9},
    },
    {
        "code": "EU",
        "name": "Rotterdam",
        "country": "NL",
        "city": "Rotterdam",
        "postcode": "3089 JB",
        "address_line1": "Waalhaven Zuidzijde 21",
        "timezone": "Europe/Amsterdam",
        "express_cutoff": dt.time(15, 0),
        "zones": {"R:EU": 1, "R:AF": 1, "R:ME": 1, "*": 9},
    },
    {
        "code": "US",
        "name": "Los Angeles",
        "country": "US",
        "city": "Los Angeles",
        "postcode": "90058",
        "address_line1": "2400 E 37th St",
        "timezone": "America/Los_Angeles",
        "express_cutoff": dt.time(15, 0),
        "zones": {"R:NA": 1, "R:SA": 1, "*": 9},
    },
]
STOCK_FACTOR = {"AU": 0.6, "EU": 1.0, "US": 1.2}


def gtin13(body12: str) -> str:
    """Append the EAN-13 check digit to 12 digits."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


def demo_rows() -> list[CatalogueRow]:
    rows = []
    line = 1
    for p_index, (code, name, base_stock) in enumerate(PRODUCTS):
        for s_index, eu in enumerate(SIZE_CHART):
            for warehouse in WAREHOUSES:
                line += 1
                # Middle sizes sell most; the smallest and largest run thin, so alerts show up in the demo.
                on_hand = max(2, int((base_stock - 7 * abs(int(eu) - 42)) * STOCK_FACTOR[warehouse["code"]]))
                rows.append(
                    CatalogueRow(
                        line=line,
                        product_code=code,
                        product_name=name,
                        size_system=SizeSystem.EU,
                        size=eu,
                        sku=f"{code}-EU{eu}",
                        barcode=gtin13(f"94{p_index + 1:02d}0000{eu}00"),
                        warehouse=warehouse["code"],
                        bin=f"{'ABCD'[p_index]}{s_index + 1:02d}",
                        on_hand=on_hand,
                        reorder_point=10,
                        hs_code="6406.90",
                        weight_g=60 + 3 * s_index,
                    )
                )
    return rows


@transaction.atomic
def demo_seed() -> CatalogueImportResult:
    """Load sizes, warehouses and the demo catalogue; running it again changes nothing (stock is only set once)."""
    for warehouse in WAREHOUSES:
        fields = {k: v for k, v in warehouse.items() if k not in ("code", "zones")}
        wh, _ = Warehouse.objects.update_or_create(code=warehouse["code"], defaults=fields)
        for zone, priority in warehouse["zones"].items():
            WarehouseZone.objects.update_or_create(warehouse=wh, zone=zone, defaults={"priority": priority})
    for eu, others in SIZE_CHART.items():
        eu_size, _ = Size.objects.get_or_create(
            system=SizeSystem.EU, label=eu, defaults={"sort_order": size_sort_order(eu)}
        )
        for system, label in zip((SizeSystem.UK, SizeSystem.US_M, SizeSystem.US_W), others, strict=True):
            other, _ = Size.objects.get_or_create(
                system=system, label=label, defaults={"sort_order": size_sort_order(label)}
            )
            eu_size.equivalents.add(other)
    return catalogue_import(rows=demo_rows(), reference="seed_demo", only_new_stock=True)
