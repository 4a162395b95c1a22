"""Prometheus series for orders and stock, read from the database at scrape time (every process agrees).

Registered by ``OpsConfig.ready`` next to the intake gauges (``fulfilment.metrics``). Each scrape
runs a few aggregate queries; none is per SKU, and the per-SKU gauge covers only SKUs in an open
alert (at most ``LOW_STOCK_SERIES_MAX`` series), so the cardinality stays bounded:

- ``insoles_orders_received_total{channel}``: orders received (counter; rows are never deleted)
- ``insoles_reservations_refused_total``: allocations that could not reserve the whole order from
  stock and backordered the rest (counter; the order timeline's ``backordered`` entries)
- ``insoles_backorders_open``: orders waiting for stock; ``insoles_backordered_units``: their units
- ``insoles_stock_alerts_open{kind}``: open stock alerts
- ``insoles_stock_low_available{sku,warehouse,kind}``: available units of each SKU x warehouse in alert
"""

from __future__ import annotations

import logging

from django.db import DatabaseError
from django.db.models import Count, F, OuterRef, Subquery, Sum
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

logger = logging.getLogger(__name__)

# The most per-SKU low-stock series one scrape returns (the lowest available first).
LOW_STOCK_SERIES_MAX = 500


def stock_metrics() -> dict:
    """The numbers behind the series: six queries, each an aggregate or bounded by the open alerts."""
    from fulfilment.models import Channel, Order, OrderEvent, OrderLine, OrderStatus
    from inventory.models import AlertKind, StockAlert, StockLevel

    received = dict(Order.objects.order_by().values_list("channel").annotate(n=Count("pk")))
    refused = OrderEvent.objects.filter(kind="backordered").count()
    backorders = Order.objects.filter(status=OrderStatus.BACKORDERED).count()
    units = (
        OrderLine.objects.filter(quantity_backordered__gt=0, order__status=OrderStatus.BACKORDERED)
        .aggregate(units=Sum("quantity_backordered"))
        .get("units")
    )
    open_alerts = StockAlert.objects.filter(closed_at__isnull=True)
    per_kind = dict(open_alerts.order_by().values_list("kind").annotate(n=Count("pk")))
    # The level of each SKU x warehouse with an open alert (the partial unique index finds the alerts).
    level = StockLevel.objects.filter(sku_id=OuterRef("sku_id"), warehouse_id=OuterRef("warehouse_id")).order_by()
    low = (
        open_alerts.annotate(available_now=Subquery(level.annotate(a=F("on_hand") - F("reserved")).values("a")[:1]))
        .order_by("available_now", "sku__code", "warehouse__code", "kind")
        .values_list("sku__code", "warehouse__code", "kind", "available_now")[:LOW_STOCK_SERIES_MAX]
    )
    return {
        "received": {channel: received.get(channel, 0) for channel in Channel.values},
        "refused": refused,
        "backorders": backorders,
        "backordered_units": units or 0,
        "alerts": {kind: per_kind.get(kind, 0) for kind in AlertKind.values},
        "low": list(low),
    }


class StockCollector:
    def describe(self):
        # Describing without values keeps the registry from querying the database at start-up.
        return list(self._families())

    def collect(self):
        try:
            numbers = stock_metrics()
        except DatabaseError as exc:  # a scrape must not fail because the database is briefly away
            logger.warning("stock metrics unavailable: %s", exc)
            return []
        received, refused, backorders, units, alerts, low = self._families()
        for channel, count in sorted(numbers["received"].items()):
            received.add_metric([channel], count)
        refused.add_metric([], numbers["refused"])
        backorders.add_metric([], numbers["backorders"])
        units.add_metric([], numbers["backordered_units"])
        for kind, count in sorted(numbers["alerts"].items()):
            alerts.add_metric([kind], count)
        for sku, warehouse, kind, available in numbers["low"]:
            low.add_metric([sku, warehouse, kind], available)
        return [received, refused, backorders, units, alerts, low]

    @staticmethod
    def _families():
        return (
            CounterMetricFamily("insoles_orders_received", "Orders received from the storefronts", labels=["channel"]),
            CounterMetricFamily(
                "insoles_reservations_refused", "Allocations that could not reserve an order in full and backordered"
            ),
            GaugeMetricFamily("insoles_backorders_open", "Orders waiting for stock (backordered)"),
            GaugeMetricFamily("insoles_backordered_units", "Units on backordered orders waiting for stock"),
            GaugeMetricFamily("insoles_stock_alerts_open", "Open stock alerts, by kind", labels=["kind"]),
            GaugeMetricFamily(
                "insoles_stock_low_available",
                f"Available units of each SKU x warehouse in an open stock alert (at most {LOW_STOCK_SERIES_MAX})",
                labels=["sku", "warehouse", "kind"],
            ),
        )


_registered: StockCollector | None = None


def register() -> None:
    """Add the stock and order series to the default registry, once per process."""
    global _registered
    if _registered is None:
        from prometheus_client import REGISTRY

        _registered = StockCollector()
        REGISTRY.register(_registered)
