"""What the pick list and the packing slip print: walk order, natural sizes, the customer's size
system, and a number of queries that does not grow with the wave."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fulfilment import services
from fulfilment.models import Order, OrderLine, OrderStatus
from fulfilment.services.documents import (
    PickRow,
    customer_size,
    customer_size_system,
    order_address,
    pick_lines,
)
from inventory import services as inventory
from inventory.models import Bin, Size, SizeSystem
from tests.factories import ProductFactory, SizeFactory, SkuFactory, WarehouseFactory


def _row(tote, sku, product, label, order, bin_code, walk, quantity=1, system="EU"):
    return PickRow(tote, sku, "", product, product.title(), system, label, order, quantity, bin_code, walk)


def test_pick_lines_walk_bins_by_walk_sequence_then_product_then_natural_size():
    rows = [
        _row(1, "GEL-EU100", "GEL", "100", 1000, "A-10", 30),
        _row(2, "GEL-EU36", "GEL", "36", 360, "A-10", 30, quantity=2),
        _row(1, "ARCH-EU40", "ARCH", "40", 400, "A-10", 30),
        _row(3, "RUN-EU40", "RUN", "40", 400, "A-9", 20),
        _row(1, "LOOSE-EU41", "LOOSE", "41", 410, "", None),
        _row(2, "GEL-EU40", "GEL", "40", 400, "B-2", 10),
        _row(3, "GEL-EU36", "GEL", "36", 360, "A-10", 30),
    ]
    lines = pick_lines(rows)
    # String order would be, B-2 and EU 100 < EU 36 < EU 40; walk and natural order are not.
    assert [(line.bin, line.sku) for line in lines] == [
        ("B-2", "GEL-EU40"),
        ("A-9", "RUN-EU40"),
        ("A-10", "ARCH-EU40"),
        ("A-10", "GEL-EU36"),
        ("A-10", "GEL-EU100"),
        ("", "LOOSE-EU41"),
    ]
    gel36 = lines[3]
    assert (gel36.quantity, gel36.totes, gel36.size) == (3, ((2, 2), (3, 1)), "EU 36")


@pytest.mark.parametrize(
    ("title", "country", "system"),
    [
        ("Gel insoles - UK 8", "DE", "UK"),
        ("Gel insoles - US W 10.5", "GB", "US-W"),
        ("Gel insoles - US-M 9", "GB", "US-M"),
        ("Gel insoles, US Men's 9", "GB", "US-M"),
        ("Gel insoles (US Womens: 8)", "GB", "US-W"),
        ("Gel insoles - UK8", "US", "UK"),
        ("Gel insoles / us 9", "DE", "US"),
        ("Gel insoles - EU 42", "US", "EU"),
        ("Gel insoles", "US", "US"),
        ("Gel insoles", "CA", "US"),
        ("Gel insoles", "GB", "UK"),
        ("Gel insoles", "IE", "UK"),
        ("Gel insoles", "JP", "EU"),
        ("Gel insoles", "", "EU"),
        ("Europe 2000 edition", "GB", "UK"),  # "Europe" is not a size
    ],
)
def test_the_customer_s_size_system_comes_from_the_line_title_else_their_country(title, country, system):
    assert customer_size_system(title=title, country=country) == system


EU42 = [("UK", "8"), ("US-M", "9"), ("US-W", "10.5")]


@pytest.mark.parametrize(
    ("wanted", "equivalents", "expected"),
    [
        ("UK", EU42, ("UK 8", "EU 42")),
        ("US", EU42, ("US M 9 / W 10.5", "EU 42")),
        ("US-W", EU42, ("US W 10.5", "EU 42")),
        ("US", [("US-M", "9")], ("US M 9", "EU 42")),
        ("EU", EU42, ("EU 42", "")),
        ("UK", [], ("EU 42", "")),  # no equivalent: the stock's own size, once
    ],
)
def test_sizes_print_in_the_customer_s_system_with_the_stock_size_beside(wanted, equivalents, expected):
    assert customer_size(system="EU", label="42", equivalents=equivalents, wanted=wanted) == expected


def test_order_address_puts_the_province_after_the_city_and_keeps_the_script():
    order = Order(
        customer_name="山田 太郎",
        ship_country="JP",
        shipping_address={"address1": "神南1-2-3", "city": "渋谷区", "province": "東京都", "postcode": "150-0041"},
    )
    address = order_address(order)
    assert (address.name, address.lines, address.city, address.country) == (
        "山田 太郎",
        ("神南1-2-3",),
        "渋谷区 東京都",
        "JP",
    )


# --- Read from the database ------------------------------------------------------------------


@pytest.fixture
def wave_world(db):
    warehouse = WarehouseFactory(code="AU", name="Sydney DC", country="AU", timezone="Australia/Sydney")
    warehouse.express_cutoff = dt.time(14, 0)
    warehouse.save()
    bins = {
        code: Bin.objects.create(warehouse=warehouse, code=code, walk_sequence=walk)
        for code, walk in (("B-2", 10), ("A-9", 20), ("A-10", 30))
    }
    skus = {}
    for product, label, bin_code in (("GEL", "100", "A-10"), ("GEL", "36", "A-10"), ("RUN", "40", "B-2")):
        size = SizeFactory(system=SizeSystem.EU, label=label, sort_order=int(label) * 10)
        sku = SkuFactory(product=ProductFactory(code=product), size=size, barcode=f"0931234{len(skus):06d}")
        inventory.stock_receive(sku=sku, warehouse=warehouse, quantity=10_000, bin=bins[bin_code])
        skus[sku.code] = sku
    return warehouse, skus


def _reserved_orders(warehouse, skus, n, start=0):
    for i in range(start, start + n):
        order = Order.objects.create(
            channel="shopify",
            shop="s",
            external_id=str(i),
            number=f"#{1000 + i}",
            customer_name=f"Customer {i}",
            ship_country="AU",
            status=OrderStatus.RESERVED,
            warehouse=warehouse,
            paid_at=dt.datetime(2026, 11, 30, tzinfo=dt.UTC) + dt.timedelta(minutes=i),
        )
        items = [(sku, 1 + (i + j) % 2) for j, sku in enumerate(skus.values())]
        OrderLine.objects.bulk_create(
            OrderLine(order=order, sku=sku, sku_code=sku.code, quantity=q, quantity_reserved=q) for sku, q in items
        )
        inventory.reservation_create(
            warehouse=warehouse, items=[(sku.pk, q) for sku, q in items], reference=order.reservation_reference
        )


def _pick_list_queries(wave_id, user):
    with CaptureQueriesContext(connection) as queries:
        data = services.pick_list_data(wave_id=wave_id, user=user)
    return data, len(queries)


def test_pick_list_data_reads_a_wave_in_the_same_few_queries_however_many_orders_it_has(wave_world, django_user_model):
    warehouse, skus = wave_world
    picker = django_user_model.objects.create_user("picker-1", first_name="Mia", last_name="Chen")
    _reserved_orders(warehouse, skus, 3)
    small = services.wave_create(warehouse_code="AU", actor=picker)
    _reserved_orders(warehouse, skus, 60, start=3)
    big = services.wave_create(warehouse_code="AU", actor=picker, max_orders=60)
    small_data, small_queries = _pick_list_queries(small.pk, picker)
    big_data, big_queries = _pick_list_queries(big.pk, picker)
    assert small_queries == big_queries == 5  # the user's warehouses, wave, entries, lines, bins
    assert (len(small_data.totes), len(big_data.totes)) == (3, 60)
    assert [line.bin for line in big_data.lines] == ["B-2", "A-10", "A-10"]
    assert [line.sku for line in big_data.lines] == ["RUN-EU40", "GEL-EU36", "GEL-EU100"]
    assert sum(line.quantity for line in big_data.lines) == sum(
        item.quantity for tote in big_data.totes for item in tote.items
    )
    assert (small_data.picker, small_data.warehouse_name, small_data.timezone) == (
        "Mia Chen",
        "Sydney DC",
        "Australia/Sydney",
    )
    first = small_data.totes[0]
    assert (first.number, first.order_reference, first.customer, first.destination) == (1, "#1000", "Customer 0", "AU")
    assert [item.bin for item in first.items] == ["B-2", "A-10", "A-10"]


def test_a_pick_list_leaves_out_orders_packed_or_gone_and_refuses_an_ended_wave(wave_world, django_user_model):
    from fulfilment.errors import WaveNotOpen

    warehouse, skus = wave_world
    picker = django_user_model.objects.create_user("picker-1")
    _reserved_orders(warehouse, skus, 3)
    wave = services.wave_create(warehouse_code="AU", actor=picker)
    packed = Order.objects.get(external_id="0")
    services.order_transition(order=packed, status=OrderStatus.PACKED)
    data = services.pick_list_data(wave_id=wave.pk, user=picker)
    assert [tote.order_reference for tote in data.totes] == ["#1001", "#1002"]
    assert [tote.number for tote in data.totes] == [2, 3]  # tote numbers stay the wave positions
    services.wave_close(wave_id=wave.pk, actor=picker)
    with pytest.raises(WaveNotOpen):
        services.pick_list_data(wave_id=wave.pk, user=picker)


def test_packing_slip_data_prints_sizes_in_the_customer_s_system(db, django_user_model):
    warehouse = WarehouseFactory(code="EU", name="Rotterdam DC", country="NL", timezone="Europe/Amsterdam")
    eu42 = SizeFactory(system=SizeSystem.EU, label="42", sort_order=420)
    for system, label in (("UK", "8"), ("US-M", "9"), ("US-W", "10.5")):
        eu42.equivalents.add(Size.objects.create(system=system, label=label, sort_order=int(float(label) * 10)))
    sku = SkuFactory(product=ProductFactory(code="GEL", name="Gel insoles"), size=eu42)
    order = Order.objects.create(
        channel="shopify",
        shop="s",
        external_id="1",
        number="#1042",
        customer_name="Jane Doe",
        ship_country="GB",
        shipping_address={"name": "Jane Doe", "address1": "1 High St", "city": "Leeds", "country_code": "GB"},
        status=OrderStatus.PICKING,
        warehouse=warehouse,
        paid_at=dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.UTC),
    )
    line = {"order": order, "sku": sku, "sku_code": sku.code}
    OrderLine.objects.create(**line, title="Gel insoles", quantity=2, quantity_reserved=2)
    OrderLine.objects.create(**line, title="Gel insoles - US Women's 10.5", quantity=3, quantity_reserved=1)
    # A line not reserved at all (backordered) is not in this parcel.
    OrderLine.objects.create(**line, title="Gel insoles", quantity=1, quantity_backordered=1)
    packer = django_user_model.objects.create_user("packer")
    with CaptureQueriesContext(connection) as queries:
        slip = services.packing_slip_data(order_id=order.pk, user=packer)
    assert len(queries) == 4  # order, lines with SKU/product/size, size equivalents, staff warehouses
    assert [(line.size, line.stock_size, line.quantity) for line in slip.lines] == [
        ("UK 8", "EU 42", 2),
        ("US W 10.5", "EU 42", 1),
    ]
    assert (slip.order_reference, slip.order_date, slip.recipient.name) == ("#1042", dt.date(2026, 12, 1), "Jane Doe")
    assert (slip.return_address.company, slip.return_address.country, slip.page_size) == ("Rotterdam DC", "NL", "A5")
