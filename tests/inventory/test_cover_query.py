"""cover_list's one statement (a GROUP BY over the window) gives what with_demand's per-level subqueries give."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.utils import timezone

from inventory import selectors
from inventory.models import StockLevel
from tests.factories import ProductFactory, SizeFactory, SkuFactory, WarehouseFactory
from tests.inventory.fixtures import ledger_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def history():
    rng = random.Random(7)
    now = timezone.now()
    products = [ProductFactory(code="ARCH"), ProductFactory(code="RUN")]
    skus = [SkuFactory(product=p, size=SizeFactory(label=label)) for p in products for label in ("40", "41")]
    warehouses = [WarehouseFactory(code="AU"), WarehouseFactory(code="EU")]
    for sku in skus:
        for warehouse in warehouses:
            StockLevel.objects.create(sku=sku, warehouse=warehouse, on_hand=rng.randint(0, 60), reserved=0)
            for _ in range(rng.randint(0, 25)):
                kind = rng.choice(["reservation", "reservation", "release", "shipment", "receipt"])
                quantity = rng.randint(1, 4) * (-1 if kind in ("release", "shipment") else 1)
                at = now - dt.timedelta(days=rng.uniform(0, 130))
                ledger_row(kind=kind, quantity=quantity, sku=sku, warehouse=warehouse, at=at)
    return now


@pytest.mark.parametrize(
    "filters", [{}, {"warehouse": "EU"}, {"product": "RUN"}, {"warehouse": "AU", "product": "ARCH"}]
)
def test_cover_list_matches_the_per_level_demand(history, filters):
    now = history
    rows = selectors.cover_list(now=now, **filters)
    demand = selectors.demand_by_level(now=now)
    levels = {
        (level.sku.code, level.warehouse.code): level for level in StockLevel.objects.select_related("sku", "warehouse")
    }
    expected = {
        key
        for key, level in levels.items()
        if filters.get("warehouse", key[1]) == key[1]
        and filters.get("product", key[0].split("-")[0]) == key[0].split("-")[0]
    }
    assert {(row.sku, row.warehouse) for row in rows} == expected
    for row in rows:
        level = levels[(row.sku, row.warehouse)]
        want = selectors._level_cover(
            available=level.available,
            demand=demand[(level.sku_id, level.warehouse_id)],
            lead_time_days=level.sku.lead_time_days,
            today=timezone.localdate(now),
        )
        assert row.cover == want, (row.sku, row.warehouse)
