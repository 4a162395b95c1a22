"""Prometheus metrics of shipping and the outbox, served on ``/metrics`` with the others.

Courier calls (measured in ``base.Courier.http``, in the process that makes them):

- ``insoles_courier_request_seconds{courier,outcome}`` (histogram) and
  ``insoles_courier_request_errors_total{courier,outcome}``; ``outcome`` is one of ``OUTCOMES``.

These live in process memory, like django-prometheus's own request metrics: the project runs
prometheus_client without its multiprocess mode, so each gunicorn worker and each Celery worker
process counts its own calls and ``/metrics`` shows the answering web process's. Polls run in
Celery workers, so their calls are not on the web's ``/metrics``; what must be right whichever
process answers is computed from the database at scrape time instead (``TrackingCollector``):

- ``insoles_shipments{courier,status}``: shipments still moving (the polled statuses);
  ``insoles_shipments_stale{courier}``: of which stale (no scan within the service's window);
- ``insoles_tracking_events{courier,status}``: tracking events stored;
- ``insoles_tracking_unmatched_pushes{courier}``: pushed events for numbers we do not know;
- ``insoles_outbox_messages{kind,status}``: outbound messages pending (the backlog) and dead letters;
  ``insoles_outbox_oldest_pending_seconds{kind}``: age of the oldest pending one.

Alert on dead letters, on a growing backlog or oldest-pending age (workers down, a storefront
refusing), on courier error rates and on stale shipments.
"""

from __future__ import annotations

import logging

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)

OUTCOMES = ("ok", "client_error", "rate_limited", "server_error", "timeout", "connection_error")

COURIER_REQUEST_SECONDS = Histogram(
    "insoles_courier_request_seconds",
    "Courier API calls, by courier and outcome",
    ["courier", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0),
)
COURIER_REQUEST_ERRORS = Counter(
    "insoles_courier_request_errors", "Courier API calls that failed, by courier and outcome", ["courier", "outcome"]
)


def courier_request_observe(courier: str, outcome: str, seconds: float) -> None:
    """One courier call: its latency, and an error count unless it succeeded (a 2xx or an expected 4xx)."""
    if outcome not in OUTCOMES:
        outcome = "client_error"
    COURIER_REQUEST_SECONDS.labels(courier, outcome).observe(seconds)
    if outcome != "ok":
        COURIER_REQUEST_ERRORS.labels(courier, outcome).inc()


class TrackingCollector:
    def describe(self):
        # Describing without values keeps the registry from querying the database at start-up.
        return list(self._families())

    def collect(self):
        from django.db import DatabaseError

        try:
            values = _values()
        except DatabaseError as exc:  # a scrape must not fail because the database is briefly away
            logger.warning("shipping metrics unavailable: %s", exc)
            return []
        shipments, stale, events, unmatched, messages, oldest = families = self._families()
        for (courier, status), count in sorted(values["shipments"].items()):
            shipments.add_metric([courier, status], count)
        for courier, count in sorted(values["stale"].items()):
            stale.add_metric([courier], count)
        for (courier, status), count in sorted(values["events"].items()):
            events.add_metric([courier, status], count)
        for courier, count in sorted(values["unmatched"].items()):
            unmatched.add_metric([courier], count)
        for (kind, status), count in sorted(values["messages"].items()):
            messages.add_metric([kind, status], count)
        for kind, seconds in sorted(values["oldest"].items()):
            oldest.add_metric([kind], seconds)
        return list(families)

    @staticmethod
    def _families():
        return (
            GaugeMetricFamily(
                "insoles_shipments", "Shipments still moving, by courier and status", labels=["courier", "status"]
            ),
            GaugeMetricFamily(
                "insoles_shipments_stale", "Moving shipments without a scan within their window", labels=["courier"]
            ),
            GaugeMetricFamily("insoles_tracking_events", "Tracking events stored", labels=["courier", "status"]),
            GaugeMetricFamily(
                "insoles_tracking_unmatched_pushes", "Pushed events for numbers we do not know", labels=["courier"]
            ),
            GaugeMetricFamily(
                "insoles_outbox_messages",
                "Outbound messages pending (backlog) and dead letters",
                labels=["kind", "status"],
            ),
            GaugeMetricFamily(
                "insoles_outbox_oldest_pending_seconds", "Age of the oldest pending message", labels=["kind"]
            ),
        )


def _values() -> dict:
    from django.db.models import Count, Min
    from django.utils import timezone

    from outbox.models import Message, MessageStatus
    from shipping.models import Shipment, TrackingEvent, UnmatchedTrackingPush
    from shipping.selectors import ACTIVE, stale_q

    moving = Shipment.objects.filter(status__in=ACTIVE, booked_at__isnull=False)
    now = timezone.now()
    waiting = Message.objects.filter(status__in=[MessageStatus.PENDING, MessageStatus.DEAD])
    oldest = Message.objects.filter(status=MessageStatus.PENDING).values("kind").annotate(first=Min("created_at"))
    return {
        "shipments": {
            (r["courier"], r["status"]): r["n"] for r in moving.values("courier", "status").annotate(n=Count("pk"))
        },
        "stale": {r["courier"]: r["n"] for r in moving.filter(stale_q()).values("courier").annotate(n=Count("pk"))},
        "events": {
            (r["courier"], r["status"]): r["n"]
            for r in TrackingEvent.objects.order_by().values("courier", "status").annotate(n=Count("pk"))
        },
        "unmatched": {
            r["courier"]: r["n"]
            for r in UnmatchedTrackingPush.objects.order_by().values("courier").annotate(n=Count("pk"))
        },
        "messages": {
            (r["kind"], r["status"]): r["n"]
            for r in waiting.order_by().values("kind", "status").annotate(n=Count("pk"))
        },
        "oldest": {r["kind"]: max(0.0, (now - r["first"]).total_seconds()) for r in oldest.order_by()},
    }


_registered: TrackingCollector | None = None


def register() -> None:
    """Add the shipping and outbox gauges to the default registry, once per process."""
    global _registered
    if _registered is None:
        from prometheus_client import REGISTRY

        _registered = TrackingCollector()
        REGISTRY.register(_registered)
