"""GET /api/stock/cover/: demand from the ledger, days of cover, stock-out date and reorder per SKU x warehouse.

The ledger history is built with known dates (``ledger_row``); the numbers follow from
``inventory.forecast`` with the default settings (30 days of target cover, 14 days of lead time).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from inventory import selectors
from inventory.models import StockLevel, StockMovement
from tests.factories import ProductFactory, SizeFactory, SkuFactory, WarehouseFactory
from tests.inventory.fixtures import ledger_row

pytestmark = pytest.mark.django_db

ROW_FIELDS = {
    "sku",
    "warehouse",
    "available",
    "demand_7d",
    "demand_28d",
    "demand_90d",
    "daily_demand",
    "days_of_cover",
    "stockout_date",
    "suggested_reorder",
}


@pytest.fixture
def ops(client_for):
    return client_for("operations")


@pytest.fixture
def world():
    """FLEX in EU 40-42 and OTHER in EU 42, in AU and EU, with a ledger history of known dates."""
    now = timezone.now()

    def ago(days: float) -> dt.datetime:
        return now - dt.timedelta(days=days)

    au, eu = WarehouseFactory(code="AU"), WarehouseFactory(code="EU")
    flex, other = ProductFactory(code="FLEX"), ProductFactory(code="OTHER")
    sizes = {label: SizeFactory(label=label, sort_order=int(label) * 10) for label in ("40", "41", "42")}
    skus = {label: SkuFactory(product=flex, size=size, code=f"FLEX-EU{label}") for label, size in sizes.items()}
    skus["OTHER"] = SkuFactory(product=other, size=sizes["42"], code="OTHER-EU42")

    def level(sku, warehouse, on_hand, reserved=0):
        StockLevel.objects.create(sku=skus[sku], warehouse=warehouse, on_hand=on_hand, reserved=reserved)

    def row(kind, quantity, sku, warehouse, days):
        ledger_row(kind=kind, quantity=quantity, sku=skus[sku], warehouse=warehouse, at=ago(days))

    # FLEX-EU42 @ AU: on sale for months, net 7 / 28 / 90 units in the windows: 1 a day.
    level("42", au, on_hand=35, reserved=5)
    row("receipt", 100, "42", au, 120)
    row("reservation", 50, "42", au, 100)  # older than every window
    row("reservation", 62, "42", au, 60)
    row("reservation", 21, "42", au, 20)
    row("receipt", 100, "42", au, 5)  # not demand
    row("reservation", 9, "42", au, 3)
    row("release", -2, "42", au, 2)  # a cancellation nets out
    row("shipment", -5, "42", au, 1)  # shipped units were counted when reserved
    # FLEX-EU41 @ AU: first ledger row 3.5 days ago (4 days of history), 8 reserved: 2 a day.
    level("41", au, on_hand=10)
    row("receipt", 20, "41", au, 3.5)
    row("reservation", 8, "41", au, 1)
    # FLEX-EU42 @ EU: a long history and demand only in the last week.
    level("42", eu, on_hand=4, reserved=2)
    row("receipt", 50, "42", eu, 200)
    row("reservation", 7, "42", eu, 1)
    # FLEX-EU40 @ EU: received, never ordered. FLEX-EU40 @ AU: no ledger at all.
    level("40", eu, on_hand=12)
    row("receipt", 12, "40", eu, 10)
    level("40", au, on_hand=0)
    # OTHER-EU42 @ AU: another product, 1 a day.
    level("OTHER", au, on_hand=3)
    row("receipt", 40, "OTHER", au, 100)
    row("reservation", 90, "OTHER", au, 50)
    row("reservation", 21, "OTHER", au, 14)
    row("reservation", 7, "OTHER", au, 3)
    # More released than reserved in a window (an older order cancelled): 0, not negative.
    row("release", -50, "OTHER", au, 0.5)
    return {"now": now, "skus": skus, "au": au, "eu": eu}


def cover(client, **params) -> dict:
    response = client.get("/api/stock/cover/", params)
    assert response.status_code == 200, response.content
    return response.json()


def by_pair(body) -> dict[tuple[str, str], dict]:
    return {(r["sku"], r["warehouse"]): r for r in body["results"]}


def days(n: int) -> str:
    return (timezone.localdate() + dt.timedelta(days=n)).isoformat()


def test_cover_rows_follow_from_the_ledger_history(ops, world):
    body = cover(ops)
    assert body["count"] == 6 and all(set(r) == ROW_FIELDS for r in body["results"])
    rows = by_pair(body)
    assert rows[("FLEX-EU42", "AU")] == {
        "sku": "FLEX-EU42",
        "warehouse": "AU",
        "available": 30,
        "demand_7d": 7,
        "demand_28d": 28,
        "demand_90d": 90,
        "daily_demand": 1.0,
        "days_of_cover": 30.0,
        "stockout_date": days(30),
        "suggested_reorder": 14,  # 1/day x (14 + 30) - 30
    }
    young = rows[("FLEX-EU41", "AU")]
    assert (young["demand_7d"], young["demand_28d"], young["demand_90d"]) == (8, 8, 8)
    assert (young["daily_demand"], young["days_of_cover"], young["stockout_date"]) == (2.0, 5.0, days(5))
    assert young["suggested_reorder"] == 2 * 44 - 10
    recent = rows[("FLEX-EU42", "EU")]
    daily = 0.5 * 7 / 7 + 0.3 * 7 / 28 + 0.2 * 7 / 90
    assert (recent["demand_7d"], recent["demand_28d"], recent["demand_90d"]) == (7, 7, 7)
    assert recent["daily_demand"] == round(daily, 3) == 0.591
    assert recent["days_of_cover"] == round(2 / daily, 1) == 3.4
    assert recent["stockout_date"] == days(3)
    assert recent["suggested_reorder"] == 24  # 0.5906 x 44 = 25.98 - 2, rounded up
    other = rows[("OTHER-EU42", "AU")]
    assert (other["demand_7d"], other["demand_28d"], other["demand_90d"]) == (0, 0, 68)
    assert other["daily_demand"] == round(0.2 * 68 / 90, 3)
    for pair in [("FLEX-EU40", "EU"), ("FLEX-EU40", "AU")]:
        assert rows[pair] | {"available": 0} == {
            "sku": pair[0],
            "warehouse": pair[1],
            "available": 0,
            "demand_7d": 0,
            "demand_28d": 0,
            "demand_90d": 0,
            "daily_demand": 0.0,
            "days_of_cover": None,
            "stockout_date": None,
            "suggested_reorder": 0,
        }
    assert rows[("FLEX-EU40", "EU")]["available"] == 12


def test_rows_go_least_cover_first_and_no_demand_last(ops, world):
    order = [(r["sku"], r["warehouse"], r["days_of_cover"]) for r in cover(ops)["results"]]
    assert order == [
        ("FLEX-EU42", "EU", 3.4),
        ("FLEX-EU41", "AU", 5.0),
        ("OTHER-EU42", "AU", 19.9),  # 3 / 0.151
        ("FLEX-EU42", "AU", 30.0),
        # No demand: last, in the stock list's order (warehouse, product, size).
        ("FLEX-EU40", "AU", None),
        ("FLEX-EU40", "EU", None),
    ]


def test_a_sku_lead_time_overrides_the_setting_and_settings_drive_the_reorder(ops, world, settings):
    world["skus"]["41"].lead_time_days = 6
    world["skus"]["41"].save()
    assert by_pair(cover(ops))[("FLEX-EU41", "AU")]["suggested_reorder"] == 2 * (6 + 30) - 10
    settings.STOCK_TARGET_COVER_DAYS = 10
    settings.STOCK_LEAD_TIME_DAYS = 0
    rows = by_pair(cover(ops))
    assert rows[("FLEX-EU41", "AU")]["suggested_reorder"] == 2 * (6 + 10) - 10
    assert rows[("FLEX-EU42", "AU")]["suggested_reorder"] == 0  # 10 needed, 30 available


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"warehouse": "EU"}, [("FLEX-EU42", "EU"), ("FLEX-EU40", "EU")]),
        ({"product": "OTHER"}, [("OTHER-EU42", "AU")]),
        ({"product": "FLEX", "warehouse": "AU"}, [("FLEX-EU41", "AU"), ("FLEX-EU42", "AU"), ("FLEX-EU40", "AU")]),
        ({"below_days": "5"}, [("FLEX-EU42", "EU")]),  # strictly below: 5.0 is not
        ({"below_days": "6"}, [("FLEX-EU42", "EU"), ("FLEX-EU41", "AU")]),
        ({"below_days": "31", "warehouse": "AU"}, [("FLEX-EU41", "AU"), ("OTHER-EU42", "AU"), ("FLEX-EU42", "AU")]),
        ({"below_days": "1"}, []),
        ({"warehouse": "NOPE"}, []),
        ({"product": "flex"}, []),
        # Empty means "do not filter", as for the other filters.
        (
            {"below_days": ""},
            [
                ("FLEX-EU42", "EU"),
                ("FLEX-EU41", "AU"),
                ("OTHER-EU42", "AU"),
                ("FLEX-EU42", "AU"),
                ("FLEX-EU40", "AU"),
                ("FLEX-EU40", "EU"),
            ],
        ),
    ],
)
def test_filters(ops, world, params, expected):
    body = cover(ops, **params)
    assert [(r["sku"], r["warehouse"]) for r in body["results"]] == expected
    assert body["count"] == len(expected)


def test_pages_count_every_matching_row(ops, world):
    first = cover(ops, page_size=2)
    assert first["count"] == 6 and len(first["results"]) == 2 and first["next"]
    third = cover(ops, page_size=2, page=3)
    assert [r["sku"] for r in third["results"]] == ["FLEX-EU40", "FLEX-EU40"] and third["next"] is None
    below = cover(ops, below_days=31, page_size=3, page=2)
    assert below["count"] == 4 and [r["sku"] for r in below["results"]] == ["FLEX-EU42"]
    assert ops.get("/api/stock/cover/", {"page": 4, "page_size": 2}).status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"below_days": "abc"}, "below_days"),
        ({"below_days": "5.5"}, "below_days"),
        ({"below_days": "0"}, "below_days"),
        ({"below_days": "-3"}, "below_days"),
        ({"below_days": " 5"}, "below_days"),
        ({"below_days": "\u0663"}, "below_days"),  # an Arabic-Indic three
        ({"below_days": "true"}, "below_days"),
        ({"below_days": "99999999999999999999999"}, "below_days"),
        ({"below_days": "36501"}, "below_days"),
        ({"warehouse": "W" * 17}, "warehouse"),
        ({"page_size": "lots"}, "page_size"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it_and_changes_nothing(ops, world, params, field):
    before = (StockMovement.objects.count(), list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved")))
    response = ops.get("/api/stock/cover/", params)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid" and set(body) == {"detail", "code", "extra"}
    assert list(body["extra"]["fields"]) == [field]
    after = (StockMovement.objects.count(), list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved")))
    assert after == before


def test_cover_takes_a_constant_number_of_queries(ops, world, django_assert_num_queries):
    # token, knox clean-up, roles, levels with their demand
    with django_assert_num_queries(4):
        small = cover(ops)
    warehouse = WarehouseFactory(code="US")
    for n in range(30):
        sku = SkuFactory(product=ProductFactory(code=f"MORE{n}"), size=SizeFactory(label="42"))
        StockLevel.objects.create(sku=sku, warehouse=warehouse, on_hand=n)
        ledger_row(kind="reservation", quantity=n + 1, sku=sku, warehouse=warehouse, at=timezone.now())
    with django_assert_num_queries(4):
        big = cover(ops, page_size=100)
    assert (small["count"], big["count"]) == (6, 36)
    with django_assert_num_queries(4):
        cover(ops, product="FLEX", warehouse="AU", below_days=10)


def test_the_grid_shows_the_same_days_of_cover(ops, world):
    rows = by_pair(cover(ops, product="FLEX"))
    response = ops.get("/api/stock/grid/", {"product": "FLEX"})
    assert response.status_code == 200
    cells = {(c["sku"], c["warehouse"]): c["days_of_cover"] for c in response.json()["cells"]}
    assert cells == {pair: row["days_of_cover"] for pair, row in rows.items()} | {("FLEX-EU41", "EU"): None}
    assert cells[("FLEX-EU42", "EU")] == 3.4 and cells[("FLEX-EU42", "AU")] == 30.0


def test_demand_by_level_gives_the_levels_asked_for_with_their_whole_history(world):
    skus, au = world["skus"], world["au"]
    demand = selectors.demand_by_level(now=timezone.now(), sku_ids=[skus["42"].pk], warehouse_ids=[au.pk])
    assert list(demand) == [(skus["42"].pk, au.pk)]
    assert demand[(skus["42"].pk, au.pk)].history_days == 121  # its first row, 120 days and a moment ago
    assert (
        selectors.demand_by_level(now=timezone.now(), sku_ids=[skus["41"].pk])[(skus["41"].pk, au.pk)].history_days == 4
    )
    # Seen from 30 days ago, only what was booked by then counts.
    past = selectors.demand_by_level(now=timezone.now() - dt.timedelta(days=30), sku_ids=[skus["42"].pk])
    assert past[(skus["42"].pk, au.pk)].units_7d == 0
    assert past[(skus["42"].pk, au.pk)].units_90d == 62 + 50  # the reservation of 100 days ago is in its quarter


def test_cover_is_for_staff(client_for, world):
    refused = client_for("storefront").get("/api/stock/cover/")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    assert client_for("warehouse").get("/api/stock/cover/").status_code == 200
    assert APIClient().get("/api/stock/cover/").status_code == 401


def test_all_levels_come_in_one_page_of_up_to_10000(ops, world):
    """Every page computes every level's cover, so "all SKUs" is one large page rather than many."""
    page = ops.get("/api/stock/cover/", {"page_size": 10_000}).json()
    assert page["count"] == len(page["results"]) and page["next"] is None
    too_many = ops.get("/api/stock/cover/", {"page_size": 10_001})
    assert too_many.status_code == 400 and "page_size" in too_many.json()["extra"]["fields"]
    assert ops.get("/api/stock/", {"page_size": 501}).status_code == 400  # the other lists keep 500
