"""Prometheus gauges for intake, computed from the database at scrape time (so every process agrees).

Registered by ``FulfilmentConfig.ready``; served on ``/metrics`` with django-prometheus's own metrics.
Alert on ``insoles_inbox_oldest_pending_seconds`` (workers down or behind) and on failed deliveries.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)


class IntakeCollector:
    def describe(self):
        # Describing without values keeps the registry from querying the database at start-up.
        return list(self._families())

    def collect(self):
        from fulfilment.selectors import intake_backlog

        try:
            backlog = intake_backlog()
        except DatabaseError as exc:  # a scrape must not fail because the database is briefly away
            logger.warning("intake metrics unavailable: %s", exc)
            return []
        deliveries, oldest, held, attention = self._families()
        deliveries.add_metric(["pending"], backlog["pending"])
        deliveries.add_metric(["failed"], backlog["failed"])
        oldest.add_metric([], backlog["oldest_pending_seconds"])
        for reason, count in sorted(backlog["on_hold"].items()):
            held.add_metric([reason], count)
        attention.add_metric([], backlog["needs_attention"])
        return [deliveries, oldest, held, attention]

    @staticmethod
    def _families():
        return (
            GaugeMetricFamily(
                "insoles_inbox_deliveries", "Webhook deliveries waiting (pending) or failed", labels=["status"]
            ),
            GaugeMetricFamily("insoles_inbox_oldest_pending_seconds", "Age of the oldest pending delivery; 0 if none"),
            GaugeMetricFamily("insoles_orders_on_hold", "Orders on hold, by reason", labels=["reason"]),
            GaugeMetricFamily("insoles_orders_needing_attention", "Orders flagged for a person to look at"),
        )


_registered: IntakeCollector | None = None


def register() -> None:
    """Add the intake gauges to the default registry, once per process."""
    global _registered
    if _registered is None:
        from prometheus_client import REGISTRY

        _registered = IntakeCollector()
        REGISTRY.register(_registered)
