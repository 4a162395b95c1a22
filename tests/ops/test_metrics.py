"""/metrics: order and stock series read from the database at scrape time, per-SKU gauges only for SKUs in alert."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fulfilment.models import Order, OrderEvent, OrderLine
from inventory import alerts
from inventory.models import Sku, StockLevel, Warehouse
from tests.inventory.fixtures import demo  # noqa: F401  (module-scoped demo catalogue)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("demo")]


def _samples(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _order(channel: str, external_id: str, status: str = "reserved") -> Order:
    return Order.objects.create(channel=channel, shop="shop", external_id=external_id, status=status)


def test_orders_refusals_backorders_and_alerts_have_their_series(client):
    for n in range(3):
        _order("shopify", f"s{n}")
    _order("woocommerce", "w1")
    backordered = _order("shopify", "s-back", status="backordered")
    OrderLine.objects.create(
        order=backordered, sku=Sku.objects.get(code="RUN-EU40"), sku_code="RUN-EU40", quantity=5, quantity_backordered=4
    )
    OrderEvent.objects.create(order=backordered, kind="backordered", message="Reserved EU: 1; backordered {...}")
    OrderEvent.objects.create(order=backordered, kind="reserved", message="not a refusal")
    # Exactly one SKU x warehouse in alert.
    StockLevel.objects.update(reorder_point=0)
    StockLevel.objects.filter(sku__code="ARCH-EU42", warehouse__code="AU").update(reorder_point=1000)
    alerts.stock_alerts_sweep()
    level = StockLevel.objects.get(sku__code="ARCH-EU42", warehouse__code="AU")

    samples = _samples(client)
    assert samples[("insoles_orders_received_total", (("channel", "shopify"),))] == 4
    assert samples[("insoles_orders_received_total", (("channel", "woocommerce"),))] == 1
    assert samples[("insoles_reservations_refused_total", ())] == 1
    assert samples[("insoles_backorders_open", ())] == 1
    assert samples[("insoles_backordered_units", ())] == 4
    assert samples[("insoles_stock_alerts_open", (("kind", "low_stock"),))] == 1
    assert samples[("insoles_stock_alerts_open", (("kind", "stockout_risk"),))] == 0
    low = {labels: value for (name, labels), value in samples.items() if name == "insoles_stock_low_available"}
    assert low == {(("kind", "low_stock"), ("sku", "ARCH-EU42"), ("warehouse", "AU")): level.available}


def test_no_per_sku_series_without_alerts_and_the_gauge_follows_the_stock(client, django_capture_on_commit_callbacks):
    from inventory import services

    StockLevel.objects.update(reorder_point=0)
    alerts.stock_alerts_sweep()
    samples = _samples(client)
    assert not [key for key in samples if key[0] == "insoles_stock_low_available"]
    assert samples[("insoles_stock_alerts_open", (("kind", "low_stock"),))] == 0
    sku, au = Sku.objects.get(code="THERMO-EU35"), Warehouse.objects.get(code="AU")
    StockLevel.objects.filter(sku=sku, warehouse=au).update(reorder_point=50)
    with django_capture_on_commit_callbacks(execute=True):
        services.stock_adjust(sku=sku, warehouse=au, delta=1, reason="found")
    available = StockLevel.objects.get(sku=sku, warehouse=au).available
    samples = _samples(client)
    key = ("insoles_stock_low_available", (("kind", "low_stock"), ("sku", "THERMO-EU35"), ("warehouse", "AU")))
    assert samples[key] == available
    assert len([k for k in samples if k[0] == "insoles_stock_low_available"]) == 1


def test_a_scrape_takes_a_fixed_number_of_queries(client, django_assert_max_num_queries):
    StockLevel.objects.update(reorder_point=1000)  # every level in alert
    alerts.stock_alerts_sweep()
    # Stock, orders and alerts (12), shipping and tracking, outbox (4): however many rows there are.
    with django_assert_max_num_queries(16):
        samples = _samples(client)
    assert len([k for k in samples if k[0] == "insoles_stock_low_available"]) == 168
