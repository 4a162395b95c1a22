"""Tracking: courier events in (polled or pushed), one monotonic status per shipment, every change out once.

Events. Each courier event is stored once, with the courier's own code and text, its location,
reason and time: ``INSERT ... ON CONFLICT (courier, tracking_number, code, occurred_at) DO NOTHING
RETURNING`` writes the new ones of a whole batch in one statement and says which were new. A
duplicate, a replay or a re-poll therefore changes nothing, and writes no outbox row.

The status a shipment shows, from all its events (``_derive``):

1. ``delivered`` as soon as any delivered event exists: it always wins; ``delivered_at`` is the
   first delivered scan.
2. Otherwise the newest side event (``attempt_failed``, ``exception``, ``returning_to_sender``), if
   it occurred *after* the newest ranked event: a later scan of any rank means the parcel moves
   again and clears it. ``status_detail`` carries its reason (or description) while it is shown.
3. Otherwise the highest rank reached (``base.RANK``; the booking counts as ``label_created``): it
   never moves down, so an out-of-order older scan is stored and changes nothing.
   ``out_for_delivery`` and ``available_for_pickup`` share a rank: the newer one is shown.

A courier's ``cancelled`` event (a voided label) is stored and flags the order; it never sets the
status: cancelling is ours (``shipment_cancel``), and a cancelled shipment frees its order for
another.

Every status the shipment reaches is one change, in rank order, also when one poll reveals several
(``label_created`` to ``delivered`` in one answer: ``picked_up``, ``in_transit``,
``out_for_delivery``, ``delivered``), then a side state if it is shown. For each change, in the
transaction that stores the events: our webhook ``shipment.status_changed`` (and
``shipment.delivered``) keyed ``shipment:{id}:status:{status}:{occurred_at}``, and the storefront
push-back ``shipping.services.pushback.pushback_status_changed(shipment=, status=, happened_at=)``;
both write outbox rows, so each change is sent once after commit. ``delivered`` moves the order to
``delivered``; ``returning_to_sender`` flags the order for operations. ``last_event_at`` becomes
the newest scan (never later than now), which is what ``stale`` reads (``selectors.stale_q``).

Locks: orders, then their shipments (``fulfilment/locks.py``'s order), each in primary-key order.
Only the orders a batch may write are locked (its delivered, returning, cancelled, exception and
attempt_failed events': ``ORDER_WRITING``),
and only the shipments whose status, detail or times change are updated (``_record``).

Polling (``tracking_poll``): the courier's active, booked shipments not older than
``TRACKING_MAX_AGE_DAYS``, express first and the most recently scanned first, asked in the
adapter's ``capabilities.track_batch``, one call per batch; the answers of a group of calls (about
``RECORD_GROUP`` shipments) are recorded in one transaction while the next group's calls go out.
A retryable failure (timeout, 5xx, 429 or our shared rate limit)
ends this courier's run and nothing else: the limiter holds every worker back for Retry-After,
and the next beat run continues. A Redis lock per courier (with an expiry the run extends) keeps
two runs for one courier from overlapping; a run that finds it held does nothing.

Push (``tracking_push``): the courier's adapter verifies and parses the body (``parse_push``);
events for numbers we know are recorded like polled ones; others are kept as
``UnmatchedTrackingPush`` and answered 200.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, IntegerField, Value, When
from django.utils import timezone

from fulfilment.models import Order, OrderEvent, OrderStatus, ServiceLevel
from fulfilment.services.orders import TRANSITIONS, order_flag, timeline_entry
from outbox import services as outbox
from outbox.events import SHIPMENT_DELIVERED, SHIPMENT_STATUS_CHANGED
from outbox.models import WebhookSubscription
from shipping import couriers
from shipping.couriers import base
from shipping.errors import PushMalformed, PushUnsupported, PushUnverified, UnknownCourier
from shipping.models import Parcel, Shipment, ShipmentStatus, TrackingEvent, UnmatchedTrackingPush
from shipping.selectors import ACTIVE
from shipping.services.tracking_store import StoredEvent, event_row, events_insert

logger = logging.getLogger("shipping.tracking")

SHOWN_SIDE_STATES = (base.ATTEMPT_FAILED, base.EXCEPTION, base.RETURNING_TO_SENDER)
RECORD_GROUP = 100  # shipments recorded per transaction while polling (at least one adapter call's worth)
# What recording reads of a locked order (the rest loads if a hook asks for it).
ORDER_FIELDS = ("pk", "status", "needs_attention", "number", "external_id", "channel", "shop", "updated_at")


# --- Recording events ---------------------------------------------------------------------
@dataclass
class _Entry:
    shipment_id: int
    order_id: int
    events: list[base.TrackingEvent]


@dataclass
class _Derived:
    status: str
    detail: str
    cause: StoredEvent | TrackingEvent | None  # the event that makes it the status
    rank: int


def tracking_record(
    *,
    events: Sequence[base.TrackingEvent],
    shipment_id: int | None = None,
    shipment: Shipment | None = None,
) -> bool:
    """Store a shipment's courier events once each and move its status by the tracking rules (see the
    module docstring); True if the status changed."""
    if shipment is None and shipment_id is None:
        raise ValueError("name the shipment (shipment or shipment_id)")
    if shipment is None:
        shipment = Shipment.objects.only("pk", "order_id").get(pk=shipment_id)
    if not events:
        return False
    recorded = _record([_Entry(shipment.pk, shipment.order_id, list(events))])
    return shipment.pk in recorded.reached


@dataclass
class _Recorded:
    new: int = 0  # events stored now
    reached: dict[int, list[str]] = field(default_factory=dict)  # shipment id -> statuses it reached, in order


# Statuses whose events write the order or its timeline (delivered moves it; returning and cancelled
# flag it; exception and attempt_failed add a timeline entry). A timeline row's foreign key takes a
# KEY SHARE lock on the order: taken after the shipment locks, it could wait on a cancel that holds
# the order and wants the shipment (a deadlock), so those orders are locked first, as everywhere.
ORDER_WRITING = frozenset(
    {base.DELIVERED, base.RETURNING_TO_SENDER, base.CANCELLED, base.EXCEPTION, base.ATTEMPT_FAILED}
)


class _OrderNotLocked(Exception):
    """An order must be written that was not locked up front: the batch is recorded again, locking all."""


def _record(entries: list[_Entry], *, lock_every_order: bool = False) -> _Recorded:
    """Record several shipments' events in one transaction, in a fixed number of statements per batch.

    Only the orders the new events may write are locked (those of shipments with an
    ``ORDER_WRITING`` event in the batch), before their shipments; the others are read
    without a lock, and only for shipments whose status changes (the hooks read them). Should an
    order need writing that was not locked (a shipment found delivered by an older event), the
    batch is rolled back and recorded again with every order locked first.
    """
    entries = [e for e in entries if e.events]
    if not entries:
        return _Recorded()
    try:
        return _record_locked(entries, lock_every_order)
    except _OrderNotLocked:
        if lock_every_order:
            raise
        return _record_locked(entries, True)


def _record_locked(entries: list[_Entry], lock_every_order: bool) -> _Recorded:
    with transaction.atomic():
        order_ids = sorted(
            {e.order_id for e in entries if lock_every_order or any(ev.status in ORDER_WRITING for ev in e.events)}
        )
        orders = {
            o.pk: o
            for o in Order.objects.select_for_update().filter(pk__in=order_ids).only(*ORDER_FIELDS).order_by("pk")
        }
        locked = set(orders)
        shipments = {
            s.pk: s
            for s in Shipment.objects.select_for_update()
            .filter(pk__in=sorted(e.shipment_id for e in entries))
            .defer("courier_label")
            .order_by("pk")
        }
        rows = []
        for entry in entries:
            shipment = shipments.get(entry.shipment_id)
            if shipment is None or not shipment.is_booked:
                continue
            rows.extend(event_row(shipment, event) for event in entry.events)
        new_ids, touched, stored = events_insert(rows)
        if not new_ids:
            return _Recorded()
        if stored is None:  # not PostgreSQL: read them back
            stored = defaultdict(list)
            for event in TrackingEvent.objects.filter(shipment_id__in=touched).order_by("occurred_at", "pk"):
                stored[event.shipment_id].append(event)
        recorded = _Recorded(new=len(new_ids))
        moved: list[tuple[Shipment, str, list]] = []  # (shipment, previous status, changes)
        written: list[Shipment] = []  # the shipments whose row changes (a late older scan changes nothing)
        for shipment_id in sorted(touched):
            shipment = shipments[shipment_id]
            previous = shipment.status
            before = (shipment.status, shipment.status_detail, shipment.last_event_at, shipment.delivered_at)
            changes = _apply(shipment, stored[shipment_id], new_ids)
            if changes is None:
                continue
            moved.append((shipment, previous, changes))
            if changes:
                recorded.reached[shipment_id] = [status for status, _ in changes]
            if before != (shipment.status, shipment.status_detail, shipment.last_event_at, shipment.delivered_at):
                written.append(shipment)
        writes_order = {
            shipment.order_id
            for shipment, _, changes in moved
            if any(status in ORDER_WRITING for status, _ in changes)
            or any(e.status == base.CANCELLED and e.pk in new_ids for e in stored[shipment.pk])
        }
        if writes_order - locked:
            raise _OrderNotLocked
        wanted = {shipment.order_id for shipment, _, changes in moved if changes} - set(orders)
        if wanted:  # read for the hooks and the timeline: nothing here writes them
            orders.update((o.pk, o) for o in Order.objects.filter(pk__in=sorted(wanted)).only(*ORDER_FIELDS))
        _update_shipments(written)
        _orders_after(moved, orders, stored, new_ids)
        subscribed = _subscribed_event_types() if recorded.reached else set()
        for shipment, previous, changes in moved:
            if changes:
                _publish(shipment, orders.get(shipment.order_id), previous, changes, subscribed)
    return recorded


def _derive(events: list[StoredEvent | TrackingEvent], floor: str) -> _Derived:
    """The status a shipment shows from all its events (module docstring, rules 1 to 3)."""
    ranked = [e for e in events if e.status in base.RANK]
    top_rank = max([base.RANK[e.status] for e in ranked] + [base.RANK.get(floor, 0)])
    delivered = [e for e in ranked if e.status == base.DELIVERED]
    if delivered:
        return _Derived(base.DELIVERED, "", delivered[0], top_rank)  # events come in time order
    side = [e for e in events if e.status in SHOWN_SIDE_STATES]
    latest_ranked_at = max((e.occurred_at for e in ranked), default=None)
    if side:
        latest_side = side[-1]
        if latest_ranked_at is None or latest_side.occurred_at > latest_ranked_at:
            return _Derived(
                latest_side.status, (latest_side.reason or latest_side.description)[:500], latest_side, top_rank
            )
    top = [e for e in ranked if base.RANK[e.status] == top_rank]
    if top:
        return _Derived(top[-1].status, "", top[-1], top_rank)
    return _Derived(floor, "", None, top_rank)


def _apply(shipment: Shipment, events: list[StoredEvent | TrackingEvent], new_ids: set[int]) -> list | None:
    """Move one locked shipment (in memory) after new events: the changes it reached, in order, as
    (status, the event that made it); None when the shipment keeps everything (cancelled on our side)."""
    if shipment.status == ShipmentStatus.CANCELLED:
        return None  # voided on our side: its late scans are kept, its status stays
    new = [e for e in events if e.pk in new_ids]
    old = [e for e in events if e.pk not in new_ids]
    floor = shipment.status if shipment.status in base.RANK else base.LABEL_CREATED
    before = _derive(old, floor)
    after = _derive(events, floor)
    previous = shipment.status
    changes: list[tuple[str, StoredEvent | TrackingEvent]] = []
    if previous != base.DELIVERED:
        # Each ranked status newly reached, in rank order (the first scan of each).
        firsts: dict[str, TrackingEvent] = {}
        for event in new:
            if event.status in base.RANK and base.RANK[event.status] > before.rank and event.status not in firsts:
                firsts[event.status] = event
        for status, event in sorted(firsts.items(), key=lambda item: (base.RANK[item[0]], item[1].occurred_at)):
            if base.RANK[status] <= after.rank and status != previous:
                changes.append((status, event))
        if after.status != previous and (not changes or changes[-1][0] != after.status) and after.cause is not None:
            changes.append((after.status, after.cause))
        if after.status == base.DELIVERED:
            # Nothing follows delivery, whatever the scans' times.
            changes = [c for c in changes if c[0] != base.DELIVERED] + [(base.DELIVERED, after.cause)]
        shipment.status, shipment.status_detail = after.status, after.detail
    last = min(max(e.occurred_at for e in new), timezone.now())
    if shipment.last_event_at is None or last > shipment.last_event_at:
        shipment.last_event_at = last
    if shipment.status == base.DELIVERED and shipment.delivered_at is None and after.cause is not None:
        shipment.delivered_at = after.cause.occurred_at
    return changes


def _update_shipments(shipments: list[Shipment]) -> None:
    """Write the moved shipments' status, detail and times: one statement for the batch."""
    if not shipments:
        return
    now = timezone.now()
    if connection.vendor != "postgresql":
        for shipment in shipments:
            shipment.updated_at = now
        Shipment.objects.bulk_update(
            shipments, ["status", "status_detail", "last_event_at", "delivered_at", "updated_at"]
        )
        return
    table = connection.ops.quote_name(Shipment._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS s SET status = u.status, status_detail = u.detail, last_event_at = u.last, "  # noqa: S608
            "delivered_at = u.delivered, updated_at = %s "
            "FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[]) "
            "AS u(id, status, detail, last, delivered) WHERE s.id = u.id",
            [
                now,
                [s.pk for s in shipments],
                [s.status for s in shipments],
                [s.status_detail for s in shipments],
                [s.last_event_at for s in shipments],
                [s.delivered_at for s in shipments],
            ],
        )


def _orders_after(moved, orders: dict[int, Order], stored, new_ids: set[int]) -> None:
    """The orders' side: delivered ones move (one UPDATE for the batch), returns and cancels are flagged."""
    delivered: list[Order] = []
    entries = []
    for shipment, _, changes in moved:
        order = orders.get(shipment.order_id)
        if order is None:
            continue
        label = f"{shipment.courier} {shipment.tracking_number}"
        for status, event in changes:
            if status == base.DELIVERED and order.status != OrderStatus.DELIVERED:
                if OrderStatus.DELIVERED in TRANSITIONS[order.status]:
                    entries.append(
                        timeline_entry(
                            order,
                            "status",
                            f"Delivered ({label})",
                            previous=order.status,
                            status=OrderStatus.DELIVERED,
                        )
                    )
                    order.status = OrderStatus.DELIVERED
                    delivered.append(order)
                else:
                    order_flag(order, f"Shipment {label} was delivered while the order is {order.status}")
            elif status == base.RETURNING_TO_SENDER:
                order_flag(order, f"Shipment {label} is returning to sender: expect the return")
                entries.append(timeline_entry(order, "shipment_returning", f"{label} is returning to sender"))
            elif status in (base.EXCEPTION, base.ATTEMPT_FAILED):
                entries.append(
                    timeline_entry(order, f"shipment_{status}", f"{label}: {event.reason or event.description}")
                )
        if any(e.status == base.CANCELLED and e.pk in new_ids for e in stored[shipment.pk]):
            order_flag(order, f"The courier reports shipment {label} cancelled")
    if delivered:
        Order.objects.filter(pk__in=[o.pk for o in delivered]).update(
            status=OrderStatus.DELIVERED, hold_reason="", hold_detail="", updated_at=timezone.now()
        )
    if entries:
        OrderEvent.objects.bulk_create(entries)


def _subscribed_event_types() -> set[str]:
    """Event types some active subscription wants: without one, nothing is published (one query per batch)."""
    wanted: set[str] = set()
    for events in WebhookSubscription.objects.filter(active=True).values_list("events", flat=True):
        wanted.update(events or [])
    return wanted


def _publish(shipment: Shipment, order: Order | None, previous: str, changes, subscribed: set[str]) -> None:
    from shipping.services.booking import shipment_event_data

    if order is not None:
        shipment.order = order  # the locked row: hooks reading shipment.order need no query
    pushback = _pushback_hook()
    data = shipment_event_data(shipment, order) if order is not None and subscribed else {}
    for status, event in changes:
        at = event.occurred_at.isoformat()
        if SHIPMENT_STATUS_CHANGED in subscribed or (status == base.DELIVERED and SHIPMENT_DELIVERED in subscribed):
            change = {
                **data,
                "status": status,
                "previous_status": previous,
                "status_detail": shipment.status_detail if status == shipment.status else "",
                "occurred_at": at,
                "event": {"code": event.code, "description": event.description, "location": event.location},
            }
            if SHIPMENT_STATUS_CHANGED in subscribed:
                outbox.event_publish(
                    event_type=SHIPMENT_STATUS_CHANGED, data=change, key=f"shipment:{shipment.pk}:status:{status}:{at}"
                )
            if status == base.DELIVERED and SHIPMENT_DELIVERED in subscribed:
                outbox.event_publish(
                    event_type=SHIPMENT_DELIVERED,
                    data={**change, "delivered_at": at},
                    key=f"shipment:{shipment.pk}:delivered",
                )
        if pushback is not None:
            pushback(shipment=shipment, status=status, happened_at=event.occurred_at)
        previous = status


def _pushback_hook():
    """The storefront push-back (shipping.services.pushback), once that module exists."""
    try:
        from shipping.services import pushback
    except ImportError:
        return None
    return pushback.pushback_status_changed if hasattr(pushback, "pushback_status_changed") else None


# --- Polling ------------------------------------------------------------------------------
@dataclass
class PollStats:
    courier: str
    shipments: int = 0  # active shipments asked about
    calls: int = 0  # tracking calls made
    events: int = 0  # new events stored
    changed: int = 0  # shipments whose status changed
    not_found: int = 0  # numbers the courier did not know
    errors: int = 0  # batches refused for good (their numbers are asked again next run)
    stopped: str = ""  # why the run ended early: the courier's error code (429, read_timeout, rate_limited...)
    retry_after: float | None = None
    skipped: str = ""  # "locked" (another run holds the courier), "not_configured"
    seconds: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)  # statuses reached, counted

    def as_dict(self) -> dict:
        return asdict(self)


def poll_candidates(*, courier: str, limit: int | None = None) -> list[tuple[int, int, str]]:
    """(shipment id, order id, tracking number) to poll, express first, the most recently scanned first."""
    since = timezone.now() - dt.timedelta(days=settings.TRACKING_MAX_AGE_DAYS)
    rows = (
        Shipment.objects.filter(courier=courier, status__in=ACTIVE, booked_at__gte=since)
        .exclude(tracking_number="")
        .annotate(
            express=Case(
                When(service=ServiceLevel.EXPRESS, then=Value(0)), default=Value(1), output_field=IntegerField()
            )
        )
        .order_by("express", F("last_event_at").desc(nulls_last=True), "pk")
        .values_list("pk", "order_id", "tracking_number")
    )
    return list(rows[:limit] if limit else rows)


def tracking_poll(*, courier: str, limit: int | None = None) -> PollStats:
    """Ask one courier about its active shipments and record what changed (see the module docstring)."""
    if courier not in couriers.COURIER_CODES:
        raise UnknownCourier(courier=courier, allowed=list(couriers.COURIER_CODES))
    stats = PollStats(courier=courier)
    started = time.monotonic()
    adapter = couriers.get_courier(courier)
    if not adapter.config.configured:
        stats.skipped = "not_configured"
        return stats
    with poll_lock(courier) as lock:
        if lock is None:
            stats.skipped = "locked"
            return stats
        rows = poll_candidates(courier=courier, limit=limit)
        stats.shipments = len(rows)
        batch = max(1, adapter.capabilities.track_batch)
        group = batch * max(1, -(-RECORD_GROUP // batch))
        threads = min(settings.TRACKING_FETCH_CONCURRENCY, group // batch)
        groups = [rows[start : start + group] for start in range(0, len(rows), group)]
        with contextlib.ExitStack() as stack:
            pool = stack.enter_context(ThreadPoolExecutor(threads, "tracking-fetch")) if threads > 1 else None
            # The next group's calls go out while this one is recorded (adapters do HTTP only, no ORM).
            ahead = stack.enter_context(ThreadPoolExecutor(1, "tracking-ahead"))

            def fetch(wanted):
                return ahead.submit(_fetch, adapter, [number for _, _, number in wanted], batch, stats, pool)

            pending = fetch(groups[0]) if groups else None
            for index, wanted in enumerate(groups):
                lock.keep()
                snapshots = pending.result()
                # Only this group's calls were in flight: a stop here is this group's, recorded, then the end.
                last = bool(stats.stopped) or index + 1 == len(groups)
                pending = None if last else fetch(groups[index + 1])
                _record_snapshots(courier, wanted, snapshots, stats)
                if last:
                    break
    stats.seconds = round(time.monotonic() - started, 3)
    logger.info("tracking poll %s: %s", courier, stats.as_dict())
    return stats


def _fetch(
    adapter: base.Courier, numbers: list[str], batch: int, stats: PollStats, pool
) -> list[base.TrackingSnapshot]:
    """The group's tracking calls, a few at a time on ``pool`` (the shared limiter paces them); stops at a
    retryable failure, keeping what the other calls brought."""
    chunks = [numbers[start : start + batch] for start in range(0, len(numbers), batch)]
    if pool is None or len(chunks) == 1:
        results = (_call(adapter, chunk) for chunk in chunks)
    else:
        results = (future.result() for future in [pool.submit(_call, adapter, chunk) for chunk in chunks])
    snapshots: list[base.TrackingSnapshot] = []
    for found, error in results:
        stats.calls += 1
        snapshots.extend(found)
        if error is None or stats.stopped:
            continue
        if isinstance(error, base.RetryableError):
            # This courier is slow, down or limiting us: stop here; the limiter holds every worker back
            # for its Retry-After, and the next beat run carries on.
            stats.stopped, stats.retry_after = error.code or error.__class__.__name__, error.retry_after
            logger.warning("tracking poll %s stopped: %s", adapter.code, error)
        elif isinstance(error, base.AuthError | base.NotConfigured):
            stats.stopped = error.code or "auth"
            logger.error("tracking poll %s stopped: %s", adapter.code, error)
        else:
            stats.errors += 1
            logger.error("tracking poll %s: batch refused: %s", adapter.code, error)
        if stats.stopped and pool is None:
            break
    return snapshots


def _call(adapter: base.Courier, numbers: list[str]) -> tuple[list[base.TrackingSnapshot], base.CourierError | None]:
    try:
        return adapter.track(numbers), None
    except base.CourierError as error:
        return [], error


def _record_snapshots(courier: str, wanted, snapshots: list[base.TrackingSnapshot], stats: PollStats) -> None:
    by_number = {number: (shipment_id, order_id) for shipment_id, order_id, number in wanted}
    stats.not_found += sum(1 for s in snapshots if not s.found)
    found = [s for s in snapshots if s.found and s.events and s.tracking_number in by_number]
    if not found:
        return
    # What is already stored is skipped before any lock is taken: a re-poll writes nothing.
    # A plain fetch (a group's few hundred rows), not .iterator(): outside a transaction that is a
    # WITH HOLD server cursor, materialised at its commit and three round trips.
    stored = set(
        TrackingEvent.objects.filter(
            courier=courier, tracking_number__in=[s.tracking_number for s in found]
        ).values_list("tracking_number", "code", "occurred_at")
    )
    entries = []
    for snapshot in found:
        fresh = [
            e for e in snapshot.events if (snapshot.tracking_number, e.code[:64], _aware(e.occurred_at)) not in stored
        ]
        if fresh:
            shipment_id, order_id = by_number[snapshot.tracking_number]
            entries.append(_Entry(shipment_id, order_id, fresh))
    recorded = _record(entries)
    stats.events += recorded.new
    stats.changed += len(recorded.reached)
    for statuses in recorded.reached.values():
        for status in statuses:
            stats.statuses[status] = stats.statuses.get(status, 0) + 1


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


# --- The per-courier run lock -------------------------------------------------------------
class _HeldLock:
    """A held run lock; ``keep`` pushes its expiry out while the run goes on."""

    def __init__(self, lock, timeout: float):
        self.lock, self.timeout, self.kept_at = lock, timeout, time.monotonic()

    def keep(self) -> None:
        if self.lock is None or time.monotonic() - self.kept_at < self.timeout / 3:
            return
        import redis

        try:
            self.lock.reacquire()
            self.kept_at = time.monotonic()
        except redis.RedisError as exc:  # expired meanwhile: another run may start; ours finishes its group
            logger.warning("tracking poll lock could not be extended: %s", exc)


_local_locks: dict[str, threading.Lock] = defaultdict(threading.Lock)


@contextlib.contextmanager
def poll_lock(courier: str) -> Iterator[_HeldLock | None]:
    """Hold the courier's run lock (Redis, expiring; this process's without Redis); None if another run has it."""
    import redis

    from config.redis import redis_client

    client = redis_client()
    timeout = settings.TRACKING_POLL_LOCK_SECONDS
    if client is None:
        local = _local_locks[courier]
        if not local.acquire(blocking=False):
            yield None
            return
        try:
            yield _HeldLock(None, timeout)
        finally:
            local.release()
        return
    lock = client.lock(f"shipping:tracking-poll:{courier}", timeout=timeout, blocking=False)
    try:
        acquired = lock.acquire()
    except redis.RedisError as exc:
        logger.warning("tracking poll %s skipped: Redis unavailable for its lock (%s)", courier, exc)
        acquired = False
    if not acquired:
        yield None
        return
    try:
        yield _HeldLock(lock, timeout)
    finally:
        with contextlib.suppress(redis.RedisError):  # expired already: nothing to release
            lock.release()


# --- Push in ------------------------------------------------------------------------------
@dataclass
class PushResult:
    courier: str
    events: int  # events in the push
    new: int  # of which not seen before
    matched: list[str]  # tracking numbers of ours
    unmatched: list[str]  # numbers we do not know: kept, not retried

    def as_dict(self) -> dict:
        return asdict(self)


def tracking_push(*, courier: str, headers: Mapping[str, str], body: bytes) -> PushResult:
    """A courier's tracking push: verified and parsed by its adapter, recorded like a poll; unknown numbers kept."""
    if courier not in couriers.COURIER_CODES:
        raise PushUnsupported(courier=courier)
    adapter = couriers.get_courier(courier)
    if not adapter.capabilities.push:
        raise PushUnsupported(f"{adapter.name} does not push tracking here.", courier=courier)
    try:
        events = adapter.parse_push(headers, body)
    except base.AuthError as exc:
        logger.warning("tracking push %s refused: %s", courier, exc)
        raise PushUnverified(courier=courier) from exc
    except base.PermanentError as exc:
        if exc.code == "push_unsupported":
            raise PushUnsupported(courier=courier) from exc
        raise PushMalformed(exc.message, courier=courier) from exc
    numbers = sorted({e.tracking_number for e in events})
    known = {
        number: (pk, order_id)
        for pk, order_id, number in Shipment.objects.filter(courier=courier, tracking_number__in=numbers).values_list(
            "pk", "order_id", "tracking_number"
        )
    }
    rest = [n for n in numbers if n not in known]
    if rest:  # a piece number of a multi-parcel shipment
        for pk, order_id, number in Parcel.objects.filter(
            shipment__courier=courier, tracking_number__in=rest
        ).values_list("shipment_id", "shipment__order_id", "tracking_number"):
            known.setdefault(number, (pk, order_id))
    per_shipment: dict[tuple[int, int], list[base.TrackingEvent]] = defaultdict(list)
    unmatched = []
    for event in events:
        if event.tracking_number in known:
            per_shipment[known[event.tracking_number]].append(event)
        else:
            unmatched.append(event)
    recorded = _record([_Entry(pk, order_id, found) for (pk, order_id), found in per_shipment.items()])
    if unmatched:
        UnmatchedTrackingPush.objects.bulk_create(
            [
                UnmatchedTrackingPush(
                    courier=courier,
                    tracking_number=e.tracking_number[:64],
                    code=e.code[:64],
                    status=e.status if e.status in base.EVENT_STATUSES else base.IN_TRANSIT,
                    description=e.description[:500],
                    location=e.location[:255],
                    occurred_at=_aware(e.occurred_at),
                )
                for e in unmatched
            ],
            ignore_conflicts=True,
        )
        logger.info("tracking push %s: %d events for unknown numbers kept", courier, len(unmatched))
    return PushResult(
        courier=courier,
        events=len(events),
        new=recorded.new,
        matched=sorted({e.tracking_number for found in per_shipment.values() for e in found}),
        unmatched=sorted({e.tracking_number for e in unmatched}),
    )
