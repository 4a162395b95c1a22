"""Shipping's services, one module per sub-domain; the public names are re-exported here.

- ``choice``: courier rules, warehouse defaults, the built-in preference
- ``build``: what a shipment looks like to a courier, a label and a commercial invoice (reads only)
- ``booking``: shipping an order, booking exactly once, orphans
- ``cancel``: voiding a shipment, the order packed again
- ``documents``: labels, batches in pick order with reprints, invoices
- ``manifest``: end-of-day close per courier and warehouse
- ``tracking``: courier events in (polled, pushed), one monotonic status per shipment, every change out once
- ``tracking_store``: a batch of events into the database in one statement, deduplicated
- ``dispatch``: the only place shipping hands work to Celery
- ``pushback``: the storefront hears of a booked shipment and each status it reaches, once
"""

from shipping.services.booking import booking_record, shipment_book, shipment_book_message, shipment_create
from shipping.services.cancel import shipment_cancel
from shipping.services.choice import courier_choose
from shipping.services.documents import labels_batch, shipment_invoice, shipment_label
from shipping.services.manifest import manifest_create
from shipping.services.pushback import (
    pushback_shipment_booked,
    pushback_shipment_cancelled,
    pushback_status_changed,
)
from shipping.services.tracking import PollStats, PushResult, tracking_poll, tracking_push, tracking_record

__all__ = [
    "PollStats",
    "PushResult",
    "booking_record",
    "courier_choose",
    "labels_batch",
    "manifest_create",
    "pushback_shipment_booked",
    "pushback_shipment_cancelled",
    "pushback_status_changed",
    "shipment_book",
    "shipment_book_message",
    "shipment_cancel",
    "shipment_create",
    "shipment_invoice",
    "shipment_label",
    "tracking_poll",
    "tracking_push",
    "tracking_record",
]
