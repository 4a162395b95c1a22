"""Webhook inbox, worker side: process a delivery, drain the pending ones, sweep, replay.

The durability rules: a delivery is processed in one transaction (order upsert, allocation,
the delivery marked processed). A *transient* failure (deadlock, serialization failure, lock
or statement timeout, a lost connection) leaves it pending and it is tried again with capped
exponential backoff; only a *permanent* error marks it failed, and then the paid order is
still kept: as an order on hold (``processing_failed``) for operations, with the delivery
linked for replay.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from config.exceptions import NotFound
from fulfilment import locks
from fulfilment.errors import PayloadInvalid
from fulfilment.models import HoldReason, InboxDelivery, Order, OrderStatus
from fulfilment.models import OrderEvent as TimelineEvent
from fulfilment.services import dispatch
from fulfilment.services.allocation import hold_apply
from fulfilment.services.intake import WebhookResult, storefront_shop
from fulfilment.services.order_sync import order_fields, order_key, order_upsert
from fulfilment.services.orders import LINES_EDITABLE, order_flag, timeline_add, timeline_entry
from fulfilment.storefronts import Delivery, IncomingOrder, get_storefront
from fulfilment.storefronts.base import ACTION_CANCEL
from inventory import services as inventory

logger = logging.getLogger(__name__)
S = OrderStatus
Status = InboxDelivery.Status


def error_is_transient(exc: BaseException) -> bool:
    """Would the same work succeed if tried again later? Deadlocks, serialization failures, lock and
    statement timeouts, a lost or refused connection (all ``OperationalError``/``InterfaceError``
    in Django's wrapping, also SQLite's "database is locked"). Data errors, integrity errors and
    bugs are permanent: trying again gives the same answer."""
    return isinstance(exc, OperationalError | InterfaceError)


def retry_delay(failures: int) -> float:
    """Seconds before the next try after ``failures`` transient failures: 2, 4, 8 ... capped."""
    return float(min(settings.INBOX_RETRY_MAX_DELAY_SECONDS, 2**failures))


def delivery_as_storefront_sent(inbox: InboxDelivery) -> Delivery:
    """The stored delivery as verify() made it; the shop from configuration, as verify() does (a
    rejected delivery, or one stored before the shop came from configuration, has another)."""
    return Delivery(
        channel=inbox.channel,
        topic=inbox.topic,
        event_id=inbox.event_id,
        shop=storefront_shop(inbox.channel),
        body=bytes(inbox.body),
        headers=dict(inbox.headers),
    )


def inbox_process(*, delivery_id: int) -> WebhookResult | None:
    """Process one pending delivery (upsert the order, allocate); None if another run already did it.

    The row lock waits rather than skips: a duplicate webhook briefly locks the row to count
    its attempt, and skipping then would leave the delivery pending until the sweeper.
    """
    # A retry queued with its countdown arrives when due; one capped by the visibility timeout
    # (or a duplicate task) arriving earlier leaves it to the drain or the sweeper.
    return _process_claimed(lambda: locks.delivery_lock(delivery_id, status=Status.PENDING, due=_due(slack=5)))


def inbox_replay(*, delivery_id: int) -> WebhookResult:
    """Process a stored delivery again, now (after a fix); the order upsert makes this safe to repeat."""

    def claim() -> InboxDelivery:
        inbox = locks.delivery_lock(delivery_id)
        if inbox is None:
            raise NotFound("No such delivery.", delivery=delivery_id)
        inbox.attempts += 1
        if inbox.status != Status.PENDING:
            # Tried again by hand: a fresh series of transient retries.
            inbox.failures, inbox.retry_at = 0, None
            inbox.save(update_fields=["failures", "retry_at"])
        return inbox

    return _process_claimed(claim)


def _due(slack: float = 0) -> Q:
    """Pending deliveries not waiting for a retry (``slack`` seconds early counts as due)."""
    return Q(retry_at__isnull=True) | Q(retry_at__lte=timezone.now() + timedelta(seconds=slack))


def inbox_drain(*, max_seconds: float | None = None) -> int:
    """Process pending deliveries oldest first, one transaction each, until none is left; returns how many.

    Several drains run side by side (one per worker process): each claims the next delivery
    with ``SKIP LOCKED``. A delivery skipped because a duplicate webhook was counting its
    attempt is not stranded: the duplicate kicks another drain once it commits. After
    ``max_seconds`` (``INBOX_DRAIN_SECONDS``) the drain hands over to a fresh task, so no task
    runs for long. Deliveries waiting for a retry after a transient failure are left until due.
    """
    dispatch.drain_started()
    budget = settings.INBOX_DRAIN_SECONDS if max_seconds is None else max_seconds
    deadline = time.monotonic() + budget
    done = 0
    while True:
        pending = InboxDelivery.objects.filter(_due(), status=Status.PENDING).order_by("received_at")
        if time.monotonic() >= deadline:
            if pending.exists():
                dispatch.drain_kick(force=True)
            return done
        if _process_claimed(locks.delivery_claim_next(pending)) is None:
            return done
        done += 1


def inbox_sweep(*, older_than_seconds: int = 60) -> int:
    """Beat: if deliveries are still pending after a while (broker outage, a worker killed mid-task,
    a retry whose task was lost), drain. Returns how many were waiting.

    With in-process tasks they are processed here and now.
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stale = InboxDelivery.objects.filter(_due(), status=Status.PENDING, received_at__lt=cutoff)
    if dispatch.tasks_inline():
        ids = list(stale.order_by("received_at").values_list("pk", flat=True)[:1000])
        for delivery_id in ids:
            dispatch.delivery_enqueue(delivery_id)
        return len(ids)
    waiting = stale.count()
    if waiting:
        dispatch.drain_kick(force=True)  # the kick key may be left over from a lost task: do not trust it
    return waiting


def _process_claimed(claim: Callable[[], InboxDelivery | None]) -> WebhookResult | None:
    """Claim a delivery (lock its row) and process it in one transaction; None if there was none to claim.

    The durability boundary: the transaction rolls back on any error. A transient one leaves
    the delivery pending, to be tried again after a backoff; a permanent one keeps it as
    failed, with its error, for ``replay_inbox`` or the storefront's next retry, and keeps
    the paid order as an order on hold (unless another run processed the delivery meanwhile).
    """
    claimed: InboxDelivery | None = None
    try:
        with transaction.atomic():
            claimed = claim()
            if claimed is None:
                return None
            seen = claimed.status
            return _process_stored(claimed)
    except Exception as exc:
        if claimed is None:
            raise
        transient = error_is_transient(exc)
        if transient:
            connection.close_if_unusable_or_obsolete()  # a lost connection: reconnect for the bookkeeping
        if transient and claimed.failures < settings.INBOX_RETRY_LIMIT:
            return _retry_later(claimed, seen, exc)
        logger.exception("webhook processing failed: %s %s", claimed.channel, claimed.event_id)
        order = _hold_unprocessable(claimed, exc)
        InboxDelivery.objects.filter(pk=claimed.pk, status=seen).update(
            status=Status.FAILED,
            error=repr(exc)[:5000],
            order=order,
            attempts=claimed.attempts,
            failures=claimed.failures + 1,
            retry_at=None,
        )
        claimed.refresh_from_db()
        return WebhookResult(delivery=claimed, order=None)


def _retry_later(claimed: InboxDelivery, seen: str, exc: Exception) -> WebhookResult:
    failures = claimed.failures + 1
    delay = retry_delay(failures)
    logger.warning(
        "webhook processing hit a transient error (try %s, again in %ss): %s %s: %r",
        failures,
        delay,
        claimed.channel,
        claimed.event_id,
        exc,
    )
    InboxDelivery.objects.filter(pk=claimed.pk, status=seen).update(
        status=Status.PENDING,
        error=f"transient: {exc!r}"[:5000],
        attempts=claimed.attempts,
        failures=failures,
        retry_at=timezone.now() + timedelta(seconds=delay),
    )
    # Queued after the row says when: a task that arrives early finds it not due yet, and the
    # drain or the sweeper takes it once it is.
    dispatch.delivery_retry_later(claimed.pk, countdown=delay)
    claimed.refresh_from_db()
    return WebhookResult(delivery=claimed, order=None)


def _process_stored(inbox: InboxDelivery) -> WebhookResult:
    delivery = delivery_as_storefront_sent(inbox)
    try:
        incoming = get_storefront(inbox.channel).parse(delivery)
    except PayloadInvalid as exc:
        inbox.status, inbox.error = Status.REJECTED, f"{exc.detail} {exc.extra}"[:5000]
        inbox.processed_at = timezone.now()
        inbox.save(update_fields=["status", "error", "processed_at", "attempts"])
        return WebhookResult(delivery=inbox, order=None)
    if incoming is None:
        inbox.status, inbox.processed_at = Status.IGNORED, timezone.now()
        inbox.save(update_fields=["status", "processed_at", "attempts"])
        return WebhookResult(delivery=inbox, order=None)
    return _process(inbox=inbox, incoming=incoming)


def _process(*, inbox: InboxDelivery, incoming: IncomingOrder, actor=None) -> WebhookResult:
    """Upsert the delivery's order and mark the delivery processed (inside the caller's transaction)."""

    def processed(order: Order) -> None:
        inbox.order, inbox.status, inbox.error = order, Status.PROCESSED, ""
        inbox.processed_at, inbox.retry_at = timezone.now(), None
        inbox.save(update_fields=["order", "status", "error", "processed_at", "attempts", "retry_at"])

    order = order_upsert(
        incoming.order,
        channel=incoming.delivery.channel,
        shop=incoming.delivery.shop,
        action=incoming.action,
        on_order=processed,
        actor=actor,
    )
    return WebhookResult(delivery=inbox, order=order)


def _hold_unprocessable(inbox: InboxDelivery, exc: Exception) -> Order | None:
    """Keep what a delivery that cannot be processed was about in front of operations; returns the order.

    Its own transaction, after the failed one rolled back. What the storefront sent is unknown
    to us now (it may be a cancellation, another address, other items), so nothing goes on as if
    it had not come:
    - no order yet: a new one is inserted on hold (``processing_failed``, no lines), or cancelled
      if the delivery is a cancellation;
    - an order not yet being picked: its reservations are released and it is held
      (``processing_failed``) until a replay applies the storefront's version;
    - an order being picked or later: it is flagged, with a timeline entry naming the delivery.
    A replay (or the storefront's retry) that succeeds later applies the storefront's version
    like any update of a held order: lines replaced, allocated again. Returns None if the body
    cannot be read at all.
    """
    try:
        incoming = get_storefront(inbox.channel).parse(delivery_as_storefront_sent(inbox))
    except PayloadInvalid:
        return None
    if incoming is None:
        return None
    key = order_key(incoming.order, channel=inbox.channel, shop=storefront_shop(inbox.channel))
    detail = f"processing failed: {exc!r}; delivery {inbox.pk} kept for replay"[:500]
    fields = order_fields(incoming.order)
    fallbacks = [fields, {**fields, "total_price": 0, "total_weight_g": 0, "external_updated_at": None}]
    for attempt in fallbacks:
        try:
            with transaction.atomic():
                existing = locks.order_lock_by_key(key)
                if existing is not None:
                    _hold_or_flag_existing(existing, inbox, detail)
                    return existing
                return _insert_unprocessable(key, attempt, incoming, inbox, detail)
        except IntegrityError:
            return Order.objects.filter(**key).first()
        except DatabaseError:
            logger.exception("could not keep the order of delivery %s in front of operations", inbox.pk)
    return None


def _insert_unprocessable(key: dict, fields: dict, incoming: IncomingOrder, inbox: InboxDelivery, detail: str):
    order = Order(**key, **fields)
    order.external_updated_at = None  # any later version of the storefront's applies
    cancel = incoming.action == ACTION_CANCEL
    if cancel:
        # First news of the order is its cancellation: nothing to ship, nothing to hold.
        order.status = S.CANCELLED
        entry = timeline_entry(order, "cancelled", f"Cancelled by the storefront ({detail})", delivery=inbox.pk)
    else:
        order.status, order.hold_reason, order.hold_detail = S.ON_HOLD, HoldReason.PROCESSING_FAILED, detail
        entry = timeline_entry(
            order, "on_hold", f"On hold: processing_failed ({detail})", reason=HoldReason.PROCESSING_FAILED
        )
    order.save(force_insert=True)
    received = f"Order {order.number or order.external_id} received from {inbox.channel}"
    entry.order = order
    TimelineEvent.objects.bulk_create([timeline_entry(order, "received", received), entry])
    return order


def _hold_or_flag_existing(order: Order, inbox: InboxDelivery, detail: str) -> None:
    if order.status in LINES_EDITABLE or order.status == S.ON_HOLD:
        inventory.reservation_release(reference=order.reservation_reference)
        lines = locks.lines_lock(order)
        hold_apply(order, lines, HoldReason.PROCESSING_FAILED, detail)
        return
    message = f"A storefront delivery ({inbox.pk}) could not be processed while {order.status}; check it"
    order_flag(order, message)
    timeline_add(order, "processing_failed", f"{message}: {detail}", delivery=inbox.pk)
