"""Order intake, allocation, the order state machine, holds, cancellation and backorder filling.

Hot-path rule from DESIGN.md, kept here too: every transaction that reserves
stock does its bookkeeping (order, lines, timeline, inbox) first and calls
``inventory.services.reservation_create`` last, so the stock row lock is held
only from the conditional UPDATE to COMMIT. When that UPDATE comes up short
the savepoint rolls the bookkeeping back and the plan is made again from
fresh numbers.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from config.exceptions import NotFound
from config.redis import redis_client
from fulfilment.channels import get_channel, woocommerce, woocommerce_api
from fulfilment.channels.base import Address, Delivery, OrderEvent, OrderIn
from fulfilment.errors import (
    IllegalTransition,
    OrderNotEditable,
    PayloadInvalid,
    ShopMismatch,
    SignatureInvalid,
    StillOnHold,
)
from fulfilment.models import Channel, ChannelCursor, HoldReason, InboxDelivery, Order, OrderLine, OrderStatus
from fulfilment.models import OrderEvent as TimelineEvent
from inventory import services as inventory
from inventory import zones
from inventory.errors import InsufficientStock
from inventory.models import Sku, StockLevel, Warehouse, WarehouseZone

logger = logging.getLogger(__name__)

S = OrderStatus
TRANSITIONS: dict[str, frozenset[str]] = {
    S.RECEIVED: frozenset({S.RESERVED, S.BACKORDERED, S.ON_HOLD, S.CANCELLED}),
    S.ON_HOLD: frozenset({S.RESERVED, S.BACKORDERED, S.ON_HOLD, S.CANCELLED}),
    S.BACKORDERED: frozenset({S.RESERVED, S.BACKORDERED, S.ON_HOLD, S.CANCELLED}),
    S.RESERVED: frozenset({S.PICKING, S.RESERVED, S.BACKORDERED, S.ON_HOLD, S.CANCELLED}),
    S.PICKING: frozenset({S.PACKED, S.RESERVED, S.CANCELLED}),
    S.PACKED: frozenset({S.SHIPPED, S.CANCELLED}),
    S.SHIPPED: frozenset({S.DELIVERED, S.EXCEPTION, S.RETURNED}),
    S.EXCEPTION: frozenset({S.SHIPPED, S.DELIVERED, S.RETURNED}),
    S.DELIVERED: frozenset({S.RETURNED}),
    S.RETURNED: frozenset(),
    S.CANCELLED: frozenset(),
}
# Statuses in which the goods have left (or are leaving) the building.
AFTER_SHIPPING = frozenset({S.SHIPPED, S.DELIVERED, S.EXCEPTION, S.RETURNED})
# Before packing an address change is applied; from packing on it is only recorded and flagged.
ADDRESS_EDITABLE = frozenset({S.RECEIVED, S.ON_HOLD, S.BACKORDERED, S.RESERVED, S.PICKING})
# Before picking starts a change of items is applied (and the order allocated again).
LINES_EDITABLE = frozenset({S.RECEIVED, S.BACKORDERED, S.RESERVED})
ALLOCATION_ATTEMPTS = 4
# Set while a drain task is queued and has not started (see _kick); expires in case that task is lost.
INBOX_KICK_KEY = "fulfilment:inbox:kick"
INBOX_KICK_TTL = 30
INBOX_KICK_PAUSE = 10  # seconds without kicks after the broker failed (per process)
_kick_paused_until = 0.0


# --- timeline and state machine -------------------------------------------------


def _event_row(order: Order, kind: str, message: str, *, actor=None, **data) -> TimelineEvent:
    """A timeline entry, not saved yet (a new order inserts its entries in one statement)."""
    return TimelineEvent(
        order=order,
        kind=kind,
        message=message[:500],
        data=data,
        actor=actor if actor and actor.is_authenticated else None,
    )


def _event(order: Order, kind: str, message: str, *, actor=None, **data) -> None:
    _event_row(order, kind, message, actor=actor, **data).save(force_insert=True)


def _set_status(order: Order, status: str, *, hold_reason: str = "", hold_detail: str = "") -> None:
    """Move an order along its state machine (in memory; the caller saves)."""
    if status not in TRANSITIONS[order.status]:
        raise IllegalTransition(
            f"An order that is {order.status} cannot become {status}.",
            order=order.pk,
            current=order.status,
            target=status,
        )
    order.status = status
    order.hold_reason = hold_reason if status == S.ON_HOLD else ""
    order.hold_detail = hold_detail[:500] if status == S.ON_HOLD else ""


def _flag(order: Order, message: str) -> None:
    """Ask operations to look at the order; earlier reasons are kept (joined with "; ")."""
    if message in order.needs_attention:
        return
    limit = Order._meta.get_field("needs_attention").max_length
    order.needs_attention = "; ".join(filter(None, [order.needs_attention, message]))[:limit]
    order.save(update_fields=["needs_attention", "updated_at"])


@transaction.atomic
def order_transition(*, order: Order, status: str, actor=None, message: str = "") -> Order:
    """Move an order to ``status`` if the state machine allows it (pick, pack and delivery stages use this)."""
    order = _locked(order.pk)
    previous = order.status
    _set_status(order, status)
    order.save(update_fields=["status", "hold_reason", "hold_detail", "updated_at"])
    _event(order, "status", message or f"{previous} -> {status}", actor=actor, previous=previous, status=status)
    return order


@transaction.atomic
def order_ship(*, order: Order, actor=None) -> Order:
    """Mark a packed order shipped: its reserved units leave on-hand (ledger: shipment)."""
    order = order_transition(order=order, status=S.SHIPPED, actor=actor)
    inventory.reservation_commit(reference=order.reservation_reference, actor=actor)
    return order


# --- allocation -----------------------------------------------------------------


def warehouse_candidates(country_code: str) -> list[Warehouse]:
    """Active warehouses serving a destination, best zone priority first (ties: by code)."""
    keys = zones.zones_for(country_code)
    if not keys:
        return []
    ranked: dict[int, int] = {}
    warehouses: dict[int, Warehouse] = {}
    rows = WarehouseZone.objects.filter(zone__in=keys, warehouse__is_active=True).select_related("warehouse")
    for zone in rows.order_by():
        warehouses[zone.warehouse_id] = zone.warehouse
        ranked[zone.warehouse_id] = min(zone.priority, ranked.get(zone.warehouse_id, zone.priority))
    return sorted(warehouses.values(), key=lambda w: (ranked[w.pk], w.code))


def _shippable(lines: list[OrderLine]) -> list[OrderLine]:
    return [line for line in lines if line.requires_shipping]


def _hold_reason(order: Order, lines: list[OrderLine]) -> tuple[str, str, list[Warehouse]]:
    """Why this order cannot be allocated ("" if it can), and the warehouses that may serve it."""
    if not order.is_paid:
        return HoldReason.NOT_PAID, f"financial status is {order.financial_status or 'unknown'}", []
    shippable = _shippable(lines)
    if not shippable:
        return HoldReason.NOTHING_TO_SHIP, "no line requires shipping", []
    unknown = sorted({line.sku_code or "(blank)" for line in shippable if line.sku_id is None})
    if unknown:
        return HoldReason.UNKNOWN_SKU, f"unknown SKUs: {', '.join(unknown)}", []
    address = order.shipping_address or {}
    missing = [name for name in ("address1", "city", "country_code") if not (address.get(name) or "").strip()]
    if missing:
        return HoldReason.MISSING_ADDRESS, f"shipping address lacks {', '.join(missing)}", []
    candidates = warehouse_candidates(order.ship_country)
    if not candidates:
        return HoldReason.UNSERVED_COUNTRY, f"no warehouse serves {order.ship_country}", []
    return "", "", candidates


@dataclass
class _Plan:
    warehouse: Warehouse
    # warehouse -> sku_id -> units to reserve there
    reserve: dict[Warehouse, dict[int, int]] = field(default_factory=dict)

    def units(self, sku_id: int) -> int:
        return sum(per_sku.get(sku_id, 0) for per_sku in self.reserve.values())


def _available(warehouses: list[Warehouse], sku_ids: set[int]) -> dict[tuple[int, int], int]:
    # order_by(): the model's default ordering would join SKU and warehouse just to sort.
    rows = (
        StockLevel.objects.filter(warehouse__in=warehouses, sku_id__in=sku_ids)
        .order_by()
        .values_list("warehouse_id", "sku_id", "on_hand", "reserved")
    )
    return {(wh, sku): on_hand - reserved for wh, sku, on_hand, reserved in rows}


def _plan(candidates: list[Warehouse], need: Mapping[int, int]) -> _Plan:
    """One warehouse that can fill everything, best priority first; otherwise split or backorder per setting."""
    available = _available(candidates, set(need))
    for warehouse in candidates:
        if all(available.get((warehouse.pk, sku), 0) >= units for sku, units in need.items()):
            return _Plan(warehouse=warehouse, reserve={warehouse: dict(need)})
    if settings.FULFILMENT_ALLOCATION == "split":
        plan = _Plan(warehouse=candidates[0])
        for sku, units in need.items():
            for warehouse in candidates:
                take = min(units, max(available.get((warehouse.pk, sku), 0), 0))
                if take:
                    plan.reserve.setdefault(warehouse, {})[sku] = take
                    units -= take
        if plan.reserve:
            # The primary warehouse is the one shipping most units.
            plan.warehouse = max(plan.reserve, key=lambda w: (sum(plan.reserve[w].values()), -candidates.index(w)))
        return plan
    # Default: keep the order in its best warehouse, reserve what is there and backorder the rest.
    warehouse = candidates[0]
    partial = {sku: min(units, max(available.get((warehouse.pk, sku), 0), 0)) for sku, units in need.items()}
    return _Plan(warehouse=warehouse, reserve={warehouse: {sku: u for sku, u in partial.items() if u}})


def _book_plan(order: Order, lines: list[OrderLine], plan: _Plan, *, actor=None) -> TimelineEvent:
    """Book the plan on the lines and the order, in memory; returns the timeline entry to save."""
    remaining = {sku: plan.units(sku) for sku in {line.sku_id for line in lines}}
    for line in _shippable(lines):
        take = min(line.quantity, remaining.get(line.sku_id, 0))
        remaining[line.sku_id] -= take
        line.quantity_reserved, line.quantity_backordered = take, line.quantity - take
    short = {line.sku_code: line.quantity_backordered for line in lines if line.quantity_backordered}
    _set_status(order, S.BACKORDERED if short else S.RESERVED)
    order.warehouse = plan.warehouse
    where = ", ".join(f"{w.code}: {sum(units.values())}" for w, units in plan.reserve.items()) or "nothing"
    if short:
        message = f"Reserved {where}; backordered {short}"
        return _event_row(order, "backordered", message, actor=actor, backordered=short)
    return _event_row(order, "reserved", f"Reserved in {where}", actor=actor, warehouse=order.warehouse.code)


def _book_hold(order: Order, lines: list[OrderLine], reason: str, detail: str, *, actor=None) -> TimelineEvent:
    """Put the order on hold in memory (nothing reserved); returns the timeline entry to save."""
    for line in lines:
        line.quantity_reserved = line.quantity_backordered = 0
    _set_status(order, S.ON_HOLD, hold_reason=reason, hold_detail=detail)
    return _event_row(order, "on_hold", f"On hold: {reason} ({detail})", actor=actor, reason=reason)


def _apply_plan(order: Order, lines: list[OrderLine], plan: _Plan, *, actor=None) -> None:
    """Book the plan on lines, order and timeline, then reserve (the stock UPDATEs run last)."""
    entry = _book_plan(order, lines, plan, actor=actor)
    OrderLine.objects.bulk_update(lines, ["quantity_reserved", "quantity_backordered"])
    order.save(update_fields=["status", "hold_reason", "hold_detail", "warehouse", "updated_at"])
    entry.save(force_insert=True)
    _reserve_plan(order, plan, actor=actor)


def _reserve_plan(order: Order, plan: _Plan, *, actor=None) -> None:
    for warehouse, per_sku in plan.reserve.items():
        # The caller's savepoint (order_allocate, _order_create) undoes the whole plan on a short: no second one.
        inventory.reservation_create(
            warehouse=warehouse,
            items=list(per_sku.items()),
            reference=order.reservation_reference,
            actor=actor,
            savepoint=False,
        )


def _plans(candidates: list[Warehouse], need: Mapping[int, int]) -> Iterator[_Plan]:
    """A fresh plan for each attempt (a race lost at the stock UPDATE asks for the next one).

    After ALLOCATION_ATTEMPTS lost races the last plan reserves nothing: the order is
    backordered whole and receipts fill it first-paid-first. That plan cannot come up short.
    """
    for _ in range(ALLOCATION_ATTEMPTS):
        yield _plan(candidates, need)
    yield _Plan(warehouse=candidates[0])


def _need(lines: list[OrderLine]) -> dict[int, int]:
    need: dict[int, int] = defaultdict(int)
    for line in _shippable(lines):
        need[line.sku_id] += line.quantity
    return need


def order_allocate(*, order: Order, actor=None) -> Order:
    """Hold the order with a reason, or reserve it (whole, or backordered/split per setting).

    Must run inside a transaction with the order row locked and nothing reserved
    for it yet. Never oversells: a race lost at the conditional UPDATE re-plans.
    """
    lines = list(order.lines.all())
    reason, detail, candidates = _hold_reason(order, lines)
    if reason:
        entry = _book_hold(order, lines, reason, detail, actor=actor)
        OrderLine.objects.bulk_update(lines, ["quantity_reserved", "quantity_backordered"])
        order.save(update_fields=["status", "hold_reason", "hold_detail", "updated_at"])
        entry.save(force_insert=True)
        return order
    for plan in _plans(candidates, _need(lines)):
        try:
            with transaction.atomic():
                _apply_plan(order, lines, plan, actor=actor)
            return order
        except InsufficientStock:
            # Someone took the units between our read and our UPDATE: read again.
            order.refresh_from_db()
            lines = list(order.lines.all())
    raise AssertionError("unreachable: the last plan reserves nothing")  # pragma: no cover


# --- webhook intake ---------------------------------------------------------------


@dataclass(frozen=True)
class WebhookResult:
    delivery: InboxDelivery | None  # None only for a WooCommerce ping
    order: Order | None
    duplicate: bool = False


def _channel_secrets(channel: str) -> tuple[list[str], str | None]:
    if channel == "shopify":
        return list(settings.SHOPIFY_WEBHOOK_SECRETS), settings.SHOPIFY_SHOP_DOMAIN or None
    return list(settings.WOOCOMMERCE_WEBHOOK_SECRETS), woocommerce.shop_host(settings.WOOCOMMERCE_URL) or None


def webhook_receive(*, channel: str, headers: Mapping[str, str], body: bytes) -> WebhookResult:
    """Verify, store and process one storefront webhook; a paid order is never lost or doubled.

    Bad signature: SignatureInvalid (401), nothing stored. Signed but unreadable:
    stored as rejected, PayloadInvalid (400). Otherwise the delivery is stored as
    pending in one transaction and processed by a task queued after commit; a
    replay of the same event id is answered with the stored outcome.
    """
    module = get_channel(channel)
    secrets, shop_domain = _channel_secrets(channel)
    try:
        delivery = module.verify(headers=headers, body=body, secrets=secrets, shop_domain=shop_domain)
    except (SignatureInvalid, ShopMismatch) as exc:
        logger.warning("webhook refused: channel=%s code=%s detail=%s", channel, exc.code, exc.detail)
        raise
    except PayloadInvalid as exc:
        # The signature was good (it is checked first), so keep what was sent for diagnosis.
        _store_rejected(channel=channel, headers=headers, body=body, error=exc)
        raise
    try:
        event = module.parse(delivery)
    except PayloadInvalid as exc:
        _store_rejected(channel=channel, headers=headers, body=body, error=exc, event_id=delivery.event_id)
        raise
    if delivery.topic == "ping":
        # WooCommerce's unsigned ping when a webhook is saved: answer 200, store nothing
        # (an unsigned request must not be able to write rows).
        return WebhookResult(delivery=None, order=None)
    return _receive(delivery=delivery, event=event)


def _store_rejected(
    *, channel: str, headers: Mapping[str, str], body: bytes, error: PayloadInvalid, event_id: str = ""
) -> None:
    event_id = event_id or f"sha256:{hashlib.sha256(body).hexdigest()}"
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    topic = lowered.get("x-shopify-topic") or lowered.get("x-wc-webhook-topic") or ""
    with transaction.atomic():
        delivery, created = InboxDelivery.objects.get_or_create(
            channel=channel,
            event_id=event_id[:255],
            defaults={
                "topic": topic[:64],
                "body": body,
                "status": InboxDelivery.Status.REJECTED,
                "error": f"{error.detail} {error.extra}"[:5000],
                "processed_at": timezone.now(),
                "headers": {
                    k: v
                    for k, v in lowered.items()
                    if k.startswith(("x-shopify-", "x-wc-")) and "hmac" not in k and "signature" not in k
                },
            },
        )
        if not created:
            InboxDelivery.objects.filter(pk=delivery.pk).update(attempts=F("attempts") + 1)


def _receive(*, delivery, event: OrderEvent | None) -> WebhookResult:
    result = _accept(delivery=delivery, event=event)
    if result.duplicate or result.delivery.status != InboxDelivery.Status.PENDING:
        return result
    if settings.CELERY_TASK_ALWAYS_EAGER:
        # In-process tasks processed the delivery when it was accepted: report that.
        inbox = InboxDelivery.objects.select_related("order").get(pk=result.delivery.pk)
        return WebhookResult(delivery=inbox, order=inbox.order)
    return result


def _accept(*, delivery, event: OrderEvent | None) -> WebhookResult:
    """Store the delivery as pending and queue its processing once that is committed.

    Outside a transaction the INSERT is one statement and commits by itself: the
    storefront's answer costs one round trip to the database.
    """
    status = InboxDelivery.Status.PENDING if event else InboxDelivery.Status.IGNORED
    fields = {
        "channel": delivery.channel,
        "topic": delivery.topic[:64],
        "event_id": delivery.event_id[:255],
        "shop": delivery.shop[:255],
        "body": delivery.body,
        "headers": delivery.headers,
        "status": status,
        "processed_at": None if event else timezone.now(),
    }
    try:
        if connection.in_atomic_block:
            with transaction.atomic():  # a savepoint, so a duplicate does not break the caller's transaction
                inbox = InboxDelivery.objects.create(**fields)
        else:
            inbox = InboxDelivery.objects.create(**fields)
    except IntegrityError:
        return _accept_again(delivery)
    if status == InboxDelivery.Status.PENDING:
        transaction.on_commit(functools.partial(_enqueue, inbox.pk))
    return WebhookResult(delivery=inbox, order=None)


@transaction.atomic
def _accept_again(delivery) -> WebhookResult:
    """The same event id again: a retry, or a concurrent duplicate that committed first."""
    inbox = InboxDelivery.objects.select_for_update().get(channel=delivery.channel, event_id=delivery.event_id[:255])
    inbox.attempts += 1
    if inbox.status != InboxDelivery.Status.FAILED:
        inbox.save(update_fields=["attempts"])
        if inbox.status == InboxDelivery.Status.PENDING and not settings.CELERY_TASK_ALWAYS_EAGER:
            # A drain may have skipped the row while we held its lock: make sure one looks again.
            transaction.on_commit(_kick)
        return WebhookResult(delivery=inbox, order=inbox.order, duplicate=True)
    # It failed before: the storefront's retry is our replay.
    inbox.status, inbox.error = InboxDelivery.Status.PENDING, ""
    inbox.save(update_fields=["attempts", "status", "error"])
    transaction.on_commit(functools.partial(_enqueue, inbox.pk))
    return WebhookResult(delivery=inbox, order=None)


def _enqueue(delivery_id: int) -> None:
    """Hand a committed delivery to the workers; if the broker is down the sweeper picks it up later.

    With in-process tasks (no broker) the delivery is processed right here. With a broker the
    delivery is not sent itself: a drain task is kicked, at most once until a worker starts it
    (``SET NX`` on a Redis key the drain deletes before it looks for work). Under a burst of
    webhooks the web process then publishes almost nothing, and the workers take the pending
    deliveries in arrival order, many per task.
    """
    from fulfilment.tasks import inbox_process_task

    if settings.CELERY_TASK_ALWAYS_EAGER:
        inbox_process_task.delay(delivery_id)
        return
    _kick()


def _kick(*, force: bool = False) -> bool:
    """Queue one drain task unless one is queued and not yet started; False if nothing could be queued.

    After a failure this process stops trying for ``INBOX_KICK_PAUSE`` seconds, so a Redis
    outage costs the storefront's requests one timeout, not one each; what arrives meanwhile
    stays pending, and the beat sweeper drains it once Redis is back.
    """
    from fulfilment.tasks import inbox_drain_task

    global _kick_paused_until
    if not force and time.monotonic() < _kick_paused_until:
        return False
    client = redis_client()
    claimed = False
    try:
        if not force and client is not None:
            claimed = bool(client.set(INBOX_KICK_KEY, "1", nx=True, ex=INBOX_KICK_TTL))
            if not claimed:
                return True  # a drain is queued; it has not looked for work yet, so it will see this delivery
        inbox_drain_task.delay()
    except (OperationalError, RedisError) as exc:
        logger.warning("broker unreachable (%s); pending deliveries wait for the sweeper", exc)
        _kick_paused_until = time.monotonic() + INBOX_KICK_PAUSE
        if claimed:
            _kick_taken()  # no drain was queued: let the next delivery try again
        return False
    _kick_paused_until = 0.0
    return True


def _kick_taken() -> None:
    """A drain is starting: the next delivery committed from now on must kick another one."""
    client = redis_client()
    if client is not None:
        try:
            client.delete(INBOX_KICK_KEY)
        except RedisError as exc:  # the key expires by itself; the sweeper covers the gap
            logger.warning("could not clear the inbox kick: %s", exc)


def inbox_process(*, delivery_id: int) -> WebhookResult | None:
    """Process one pending delivery (upsert the order, allocate); None if another run already did it.

    The row lock waits rather than skips: a duplicate webhook briefly locks the row to count
    its attempt, and skipping then would leave the delivery pending until the sweeper.
    """
    pending = InboxDelivery.objects.select_for_update().filter(pk=delivery_id, status=InboxDelivery.Status.PENDING)
    return _process_claimed(pending.first)


def _process_claimed(claim: Callable[[], InboxDelivery | None]) -> WebhookResult | None:
    """Claim a delivery (lock its row) and process it in one transaction; None if there was none to claim.

    The durability boundary: an error while processing must not lose the paid order. The
    transaction rolls back and the delivery is kept as failed, with its error, for
    ``replay_inbox`` or the storefront's next retry (unless another run processed it meanwhile).
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
        logger.exception("webhook processing failed: %s %s", claimed.channel, claimed.event_id)
        InboxDelivery.objects.filter(pk=claimed.pk, status=seen).update(
            status=InboxDelivery.Status.FAILED, error=repr(exc)[:5000], order=None, attempts=claimed.attempts
        )
        claimed.refresh_from_db()
        return WebhookResult(delivery=claimed, order=None)


def inbox_drain(*, max_seconds: float | None = None) -> int:
    """Process pending deliveries oldest first, one transaction each, until none is left; returns how many.

    Several drains run side by side (one per worker process): each claims the next delivery
    with ``SKIP LOCKED``. A delivery skipped because a duplicate webhook was counting its
    attempt is not stranded: the duplicate kicks another drain once it commits. After
    ``max_seconds`` (``INBOX_DRAIN_SECONDS``) the drain hands over to a fresh task, so no task
    runs for long.
    """
    _kick_taken()
    budget = settings.INBOX_DRAIN_SECONDS if max_seconds is None else max_seconds
    deadline = time.monotonic() + budget
    done = 0
    pending = InboxDelivery.objects.filter(status=InboxDelivery.Status.PENDING).order_by("received_at")
    claim = pending.select_for_update(skip_locked=True).first
    while True:
        if time.monotonic() >= deadline:
            if pending.exists():
                _kick(force=True)
            return done
        if _process_claimed(claim) is None:
            return done
        done += 1


def _process_stored(inbox: InboxDelivery) -> WebhookResult:
    delivery = Delivery(
        channel=inbox.channel,
        topic=inbox.topic,
        event_id=inbox.event_id,
        shop=inbox.shop,
        body=bytes(inbox.body),
        headers=dict(inbox.headers),
    )
    try:
        event = get_channel(inbox.channel).parse(delivery)
    except PayloadInvalid as exc:
        inbox.status, inbox.error = InboxDelivery.Status.REJECTED, f"{exc.detail} {exc.extra}"[:5000]
        inbox.processed_at = timezone.now()
        inbox.save(update_fields=["status", "error", "processed_at", "attempts"])
        return WebhookResult(delivery=inbox, order=None)
    if event is None:
        inbox.status, inbox.processed_at = InboxDelivery.Status.IGNORED, timezone.now()
        inbox.save(update_fields=["status", "processed_at", "attempts"])
        return WebhookResult(delivery=inbox, order=None)
    return _process(inbox=inbox, event=event)


def inbox_sweep(*, older_than_seconds: int = 60) -> int:
    """Beat: if deliveries are still pending after a while (broker outage, a worker killed mid-task), drain.

    Returns how many were waiting. With in-process tasks they are processed here and now.
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stale = InboxDelivery.objects.filter(status=InboxDelivery.Status.PENDING, received_at__lt=cutoff)
    if settings.CELERY_TASK_ALWAYS_EAGER:
        ids = list(stale.order_by("received_at").values_list("pk", flat=True)[:1000])
        for delivery_id in ids:
            _enqueue(delivery_id)
        return len(ids)
    waiting = stale.count()
    if waiting:
        _kick(force=True)  # the kick key may be left over from a lost task: do not trust it
    return waiting


def _process(*, inbox: InboxDelivery, event: OrderEvent, actor=None) -> WebhookResult:
    """Upsert the delivery's order and mark the delivery processed (inside the caller's transaction)."""

    def processed(order: Order) -> None:
        inbox.order, inbox.status, inbox.error = order, InboxDelivery.Status.PROCESSED, ""
        inbox.processed_at = timezone.now()
        inbox.save(update_fields=["order", "status", "error", "processed_at", "attempts"])

    incoming = event.order
    key = _order_key(incoming, channel=event.delivery.channel, shop=event.delivery.shop)
    order = Order.objects.select_for_update().filter(**key).first()
    if order is None:
        order = _order_create(incoming, key=key, action=event.action, before_reserve=processed, actor=actor)
        if order is not None:
            return WebhookResult(delivery=inbox, order=order)
        # A concurrent delivery of the same order committed first (we waited for it): update that one.
        order = Order.objects.select_for_update().get(**key)
    processed(order)
    _order_apply(order=order, incoming=incoming, action=event.action, actor=actor)
    return WebhookResult(delivery=inbox, order=order)


def _address_dict(address: Address | None) -> dict | None:
    if address is None:
        return None
    return {
        "name": address.name,
        "company": address.company,
        "address1": address.address1,
        "address2": address.address2,
        "city": address.city,
        "province": address.province,
        "province_code": address.province_code,
        "postcode": address.postcode,
        "country_code": address.country_code,
        "phone": address.phone,
        "email": address.email,
    }


def _order_fields(incoming: OrderIn) -> dict:
    address = _address_dict(incoming.shipping_address)
    return {
        "number": incoming.number[:64],
        "email": incoming.email[:254],
        "customer_name": incoming.customer_name[:255],
        "shipping_address": address,
        "ship_country": (address or {}).get("country_code", "")[:2],
        "service_level": incoming.service_level,
        "shipping_method": incoming.shipping_method[:255],
        "currency": incoming.currency[:3],
        "total_price": incoming.total_price,
        "total_weight_g": incoming.total_weight_g,
        "financial_status": incoming.financial_status[:32],
        "is_paid": incoming.is_paid,
        "paid_at": incoming.paid_at,
        "external_updated_at": incoming.updated_at,
    }


def _to_ship(line) -> int:
    # Shopify's fulfillable_quantity excludes refunded (removed) units; WooCommerce has none.
    return line.quantity if line.fulfillable_quantity is None else min(line.quantity, line.fulfillable_quantity)


def _new_lines(order: Order, incoming: OrderIn) -> list[OrderLine]:
    """The storefront's lines with something left to ship, SKUs matched by code (unsaved)."""
    codes = {line.sku for line in incoming.lines if line.sku}
    skus = {sku.code: sku for sku in Sku.objects.filter(code__in=codes).order_by()} if codes else {}
    return [
        OrderLine(
            order=order,
            external_id=line.external_id[:64],
            sku=skus.get(line.sku),
            sku_code=line.sku[:64],
            title=line.title[:255],
            quantity=_to_ship(line),
            unit_price=line.unit_price,
            requires_shipping=line.requires_shipping,
        )
        for line in incoming.lines
        if _to_ship(line) > 0
    ]


def _replace_lines(order: Order, incoming: OrderIn, current: list[OrderLine] | None = None) -> None:
    """The storefront's lines replace ours (``current``, if already read); a line whose SKU operations
    changed (order_edit) keeps it."""
    current = list(order.lines.all()) if current is None else current
    edited = {line.external_id: line for line in current if line.external_id and line.sku_edited}
    order.lines.all().delete()
    lines = _new_lines(order, incoming)
    for line in lines:
        if (old := edited.get(line.external_id)) is not None:
            line.sku, line.sku_code, line.sku_edited = old.sku, old.sku_code, True
    OrderLine.objects.bulk_create(lines)


def _order_key(incoming: OrderIn, *, channel: str, shop: str) -> dict[str, str]:
    return {"channel": channel, "shop": shop[:255], "external_id": incoming.external_id[:64]}


def _order_create(
    incoming: OrderIn, *, key: dict[str, str], action: str, before_reserve=None, actor=None
) -> Order | None:
    """Insert a new order already allocated (or held, or cancelled); None if it exists by now.

    Everything is decided in memory first, so the order, its lines and its timeline are each
    one INSERT and nothing is updated afterwards; ``before_reserve(order)`` then does the
    caller's bookkeeping, and the reservation comes last (DESIGN.md's hot-path order). A race
    lost at the stock UPDATE rolls the savepoint back and plans again from fresh numbers; an
    INSERT that collides with a concurrent delivery of the same order returns None, and the
    caller applies this delivery to that order instead.
    """
    order = Order(**key, **_order_fields(incoming))
    lines = _new_lines(order, incoming)
    received = f"Order {order.number or order.external_id} received from {key['channel']}"
    reason, detail, candidates = ("", "", []) if action == "cancel" else _hold_reason(order, lines)
    allocating = action != "cancel" and not reason
    for plan in _plans(candidates, _need(lines)) if allocating else [None]:
        order.pk, order._state.adding = None, True  # again unsaved (a lost race rolled the INSERT back)
        order.status = S.RECEIVED
        if action == "cancel":
            # First news of this order is its cancellation: record it, reserve nothing.
            _set_status(order, S.CANCELLED)
            entry = _event_row(order, "cancelled", "Cancelled by the storefront before it was allocated")
        elif reason:
            entry = _book_hold(order, lines, reason, detail, actor=actor)
        else:
            entry = _book_plan(order, lines, plan, actor=actor)
        try:
            with transaction.atomic():
                order.save(force_insert=True)
                for line in lines:
                    line.pk, line.order = None, order
                OrderLine.objects.bulk_create(lines)
                entry.order = order
                TimelineEvent.objects.bulk_create([_event_row(order, "received", received), entry])
                if before_reserve is not None:
                    before_reserve(order)
                if plan is not None:
                    _reserve_plan(order, plan, actor=actor)
            return order
        except IntegrityError:
            if not Order.objects.filter(**key).exists():
                raise  # not the concurrent insert of this order: a real error
            return None
        except InsufficientStock:
            continue  # someone took the units between our read and our UPDATE: plan again
    raise AssertionError("unreachable: the last plan reserves nothing")  # pragma: no cover


def _order_apply(*, order: Order, incoming: OrderIn, action: str, actor=None) -> None:
    """Apply a later delivery (update or cancellation) to an existing, locked order."""
    if (
        incoming.updated_at
        and order.external_updated_at
        and incoming.updated_at < order.external_updated_at
        and action != "cancel"
    ):
        _event(
            order,
            "stale_update",
            "Ignored an update older than the one already applied",
            incoming_updated_at=incoming.updated_at.isoformat(),
        )
        return
    if action == "cancel":
        _order_cancel_locked(order, actor=actor, source="storefront")
        return
    _order_update(order, incoming, actor=actor)


def _order_update(order: Order, incoming: OrderIn, *, actor=None) -> None:
    """Apply a storefront update: never moves the order backwards; late address or item changes are flagged."""
    fields = _order_fields(incoming)
    if order.status == S.ON_HOLD:
        # Nothing is reserved for a held order: take the storefront's version whole and try again.
        for name, value in fields.items():
            setattr(order, name, value)
        order.save()
        _replace_lines(order, incoming)
        _event(order, "updated", "Storefront update applied to held order", actor=actor)
        order_allocate(order=order, actor=actor)
        return
    # Bookkeeping fields that never change what is shipped.
    for name in ("financial_status", "email", "customer_name", "external_updated_at", "total_price"):
        setattr(order, name, fields[name])
    order.save()
    reallocate = _update_address(order, fields, actor=actor)
    reallocate = _update_lines(order, incoming, actor=actor) or reallocate
    if reallocate:
        # Other items, or another country that another warehouse may serve: allocate again.
        inventory.reservation_release(reference=order.reservation_reference, actor=actor)
        order_allocate(order=order, actor=actor)


def _update_address(order: Order, fields: dict, *, actor=None) -> bool:
    """Apply a changed address before packing (flag it after); True if the order must be allocated again."""
    old_address, new_address = order.shipping_address, fields["shipping_address"]
    if new_address == old_address or new_address is None:
        return False
    if order.status not in ADDRESS_EDITABLE:
        message = "Storefront changed the address after packing; not applied"
        _flag(order, message)
        _event(order, "address_change_refused", message, actor=actor, address=new_address)
        return False
    country_changed = (new_address or {}).get("country_code") != (old_address or {}).get("country_code")
    order.shipping_address, order.ship_country = new_address, fields["ship_country"]
    order.save(update_fields=["shipping_address", "ship_country", "updated_at"])
    _event(order, "address_changed", "Shipping address updated by the storefront", actor=actor, address=new_address)
    if country_changed and order.status == S.PICKING:
        _flag(order, "Destination country changed while picking; check the warehouse")
    return country_changed and order.status in LINES_EDITABLE


def _line_summary(lines: Iterable[tuple[str, str, int]]) -> dict[str, int]:
    """What is to be shipped, by the storefront's line id: {line id: quantity} (the SKU code if no id)."""
    summary: dict[str, int] = defaultdict(int)
    for external_id, sku_code, quantity in lines:
        if quantity > 0:
            summary[external_id[:64] or f"sku:{sku_code}"] += quantity
    return dict(summary)


def _update_lines(order: Order, incoming: OrderIn, *, actor=None) -> bool:
    """Apply changed items (an order edit, a refund) before picking; flag them while picking or packed.

    Returns True if the order must be allocated again. After shipping, or once cancelled, the
    change is only recorded: the goods have left, or nothing is to be shipped.
    """
    current = list(order.lines.all())
    before = _line_summary((line.external_id, line.sku_code, line.quantity) for line in current)
    after = _line_summary((line.external_id, line.sku[:64], _to_ship(line)) for line in incoming.lines)
    if before == after:
        return False
    if order.status in LINES_EDITABLE:
        _replace_lines(order, incoming, current)
        _event(order, "lines_changed", "Items changed by the storefront", actor=actor, before=before, after=after)
        return True
    if order.status in (S.PICKING, S.PACKED):
        message = f"Storefront changed the items while the order was {order.status}; not applied"
        _flag(order, message)
        _event(order, "lines_change_refused", message, actor=actor, before=before, after=after)
        return False
    message = f"Storefront changed the items of a {order.status} order; nothing to do"
    _event(order, "lines_change_recorded", message, actor=actor, before=before, after=after)
    return False


# --- cancellation, holds and edits --------------------------------------------------


def _order_cancel_locked(order: Order, *, actor=None, source: str) -> bool:
    """Cancel a locked order; after shipping refuse and flag for a return. Returns whether it cancelled."""
    if order.status == S.CANCELLED:
        return True
    if order.status in AFTER_SHIPPING:
        message = f"Cancellation requested by {source} after shipping: arrange a return"
        _flag(order, message)
        _event(order, "cancel_refused", message, actor=actor, source=source)
        return False
    released = inventory.reservation_release(reference=order.reservation_reference, actor=actor)
    _set_status(order, S.CANCELLED)
    order.save(update_fields=["status", "hold_reason", "hold_detail", "updated_at"])
    OrderLine.objects.filter(order=order).update(quantity_reserved=0, quantity_backordered=0)
    _event(order, "cancelled", f"Cancelled by {source}; released {released} units", actor=actor, released=released)
    return True


def order_cancel(*, order_id: int, actor=None, source: str = "staff") -> Order:
    """Cancel an order and release its stock; after shipping it is refused (409) and flagged for a return."""
    with transaction.atomic():
        order = _locked(order_id)
        cancelled = _order_cancel_locked(order, actor=actor, source=source)
    if not cancelled:
        # Raised after commit so the flag and the timeline entry are kept.
        raise IllegalTransition(
            "The order has shipped and cannot be cancelled; it is flagged for a return.",
            order=order.pk,
            current=order.status,
            target=S.CANCELLED,
        )
    return order


def _locked(order_id: int) -> Order:
    order = Order.objects.select_for_update().filter(pk=order_id).first()
    if order is None:
        raise NotFound("No such order.", order=order_id)
    return order


def order_release_hold(*, order_id: int, actor=None) -> Order:
    """Re-check a held order after operations fixed it, and allocate it; 409 if it still cannot ship."""
    with transaction.atomic():
        order = _locked(order_id)
        if order.status != S.ON_HOLD:
            raise IllegalTransition("Only an order on hold can be released.", order=order.pk, current=order.status)
        _event(order, "hold_released", "Hold released; checking again", actor=actor, previous_reason=order.hold_reason)
        # Operations may have created the missing SKU since: resolve the codes again.
        for line in order.lines.filter(sku__isnull=True).exclude(sku_code=""):
            line.sku = Sku.objects.filter(code=line.sku_code).first()
            if line.sku:
                line.save(update_fields=["sku"])
        order_allocate(order=order, actor=actor)
    if order.status == S.ON_HOLD:
        raise StillOnHold(order=order.pk, hold_reason=order.hold_reason, hold_detail=order.hold_detail)
    return order


@transaction.atomic
def order_edit(
    *, order_id: int, shipping_address: Mapping | None = None, line_skus: Mapping[int, str] | None = None, actor=None
) -> Order:
    """Fix a held order: merge address fields, point lines at other SKU codes. Then release the hold."""
    order = _locked(order_id)
    if order.status != S.ON_HOLD:
        raise OrderNotEditable(order=order.pk, current=order.status)
    changes: dict = {}
    if shipping_address:
        address = dict(order.shipping_address or {})
        address.update({k: str(v) for k, v in shipping_address.items()})
        address["country_code"] = address.get("country_code", "").upper()
        order.shipping_address, order.ship_country = address, address["country_code"][:2]
        order.save(update_fields=["shipping_address", "ship_country", "updated_at"])
        changes["shipping_address"] = address
    for line_id, code in (line_skus or {}).items():
        line = order.lines.filter(pk=line_id).first()
        if line is None:
            raise NotFound("No such line on this order.", line=line_id)
        line.sku_code, line.sku, line.sku_edited = code, Sku.objects.filter(code=code).first(), True
        line.save(update_fields=["sku_code", "sku", "sku_edited"])
        changes.setdefault("lines", {})[str(line_id)] = code
    _event(order, "edited", "Order edited by operations", actor=actor, **changes)
    return order


# --- backorders -------------------------------------------------------------------


def backorders_fill(*, stock_ids: tuple[int, ...] | list[int]) -> int:
    """Give newly available units to backordered lines, first paid first; returns units reserved.

    Registered in INVENTORY_STOCK_AVAILABLE_HOOKS, so every receipt, positive
    adjustment, count and release calls it after commit; the beat sweeper calls
    it too, in case a process died in between.
    """
    filled = 0
    for level in StockLevel.objects.filter(pk__in=stock_ids).order_by("pk"):
        waiting = (
            OrderLine.objects.filter(
                sku_id=level.sku_id,
                quantity_backordered__gt=0,
                order__status=S.BACKORDERED,
                order__warehouse_id=level.warehouse_id,
            )
            .order_by(F("order__paid_at").asc(nulls_last=True), "order_id")
            .values_list("order_id", flat=True)
        )
        for order_id in dict.fromkeys(waiting):
            units = _backorder_fill_order(order_id=order_id, sku_id=level.sku_id, warehouse=level.warehouse)
            if units is None:
                break  # nothing left in this warehouse
            filled += units
    return filled


def _backorder_fill_order(*, order_id: int, sku_id: int, warehouse: Warehouse) -> int | None:
    """Reserve what is available for one order's backordered lines of one SKU; None when stock ran out."""
    for _ in range(ALLOCATION_ATTEMPTS):
        available = _available([warehouse], {sku_id}).get((warehouse.pk, sku_id), 0)
        if available <= 0:
            return None
        try:
            with transaction.atomic():
                order = _locked(order_id)
                if order.status != S.BACKORDERED or order.warehouse_id != warehouse.pk:
                    return 0
                lines = list(order.lines.select_for_update().order_by("pk"))
                take_total = 0
                for line in lines:
                    if line.sku_id == sku_id and line.quantity_backordered and available > take_total:
                        take = min(line.quantity_backordered, available - take_total)
                        line.quantity_reserved += take
                        line.quantity_backordered -= take
                        take_total += take
                if not take_total:
                    return 0
                OrderLine.objects.bulk_update(lines, ["quantity_reserved", "quantity_backordered"])
                complete = not any(line.quantity_backordered for line in lines)
                if complete:
                    _set_status(order, S.RESERVED)
                    order.save(update_fields=["status", "updated_at"])
                _event(
                    order,
                    "backorder_filled",
                    f"Reserved {take_total} backordered units in {warehouse.code}",
                    units=take_total,
                    complete=complete,
                )
                inventory.reservation_create(
                    warehouse=warehouse,
                    items=[(sku_id, take_total)],
                    reference=order.reservation_reference,
                    savepoint=False,  # the atomic block above is the savepoint
                )
                return take_total
        except InsufficientStock:
            continue
    return None


def backorders_sweep() -> int:
    """Fill every backorder for which stock is available now (beat safety net for the after-commit hook)."""
    stock_ids = (
        StockLevel.objects.filter(
            on_hand__gt=F("reserved"),
            sku__order_lines__quantity_backordered__gt=0,
            sku__order_lines__order__status=S.BACKORDERED,
            sku__order_lines__order__warehouse_id=F("warehouse_id"),
        )
        .values_list("pk", flat=True)
        .distinct()
    )
    return backorders_fill(stock_ids=list(stock_ids))


# --- replay -------------------------------------------------------------------------


def inbox_replay(*, delivery_id: int) -> WebhookResult:
    """Process a stored delivery again, now (after a fix); the order upsert makes this safe to repeat."""

    def claim() -> InboxDelivery:
        inbox = InboxDelivery.objects.select_for_update().filter(pk=delivery_id).first()
        if inbox is None:
            raise NotFound("No such delivery.", delivery=delivery_id)
        inbox.attempts += 1
        return inbox

    return _process_claimed(claim)


# --- WooCommerce reconciliation -------------------------------------------------------


@dataclass(frozen=True)
class ReconcileResult:
    read: int = 0  # orders read from the API
    accepted: int = 0  # versions the inbox had not seen, or had seen fail: (re)processed
    duplicates: int = 0  # versions a webhook (or an earlier run) had already delivered and processed
    rejected: int = 0  # orders that could not be read (stored as rejected, with the error)
    position: datetime | None = None  # the cursor after this run
    configured: bool = True


def woocommerce_reconcile(*, since: datetime | None = None, session=None) -> ReconcileResult:
    """Read the WooCommerce orders modified since the last run into the inbox (WooCommerce never retries).

    Starts ``WOOCOMMERCE_RECONCILE_LOOKBACK_SECONDS`` before the stored cursor (a day back on
    the first run, or at ``since``), so orders saved while the previous run read are not missed;
    versions seen before are duplicates in the inbox. The cursor is saved after every page, so
    a failure part-way (ChannelUnavailable) keeps what was read. Not configured (no URL or
    credentials): does nothing.
    """
    if not (settings.WOOCOMMERCE_URL and settings.WOOCOMMERCE_CONSUMER_KEY and settings.WOOCOMMERCE_CONSUMER_SECRET):
        return ReconcileResult(configured=False)
    cursor = ChannelCursor.objects.filter(channel=Channel.WOOCOMMERCE).first()
    if since is None:
        lookback = timedelta(seconds=settings.WOOCOMMERCE_RECONCILE_LOOKBACK_SECONDS)
        since = cursor.position - lookback if cursor else timezone.now() - timedelta(days=1)
    position = cursor.position if cursor else None
    # The cursor never passes the moment this run started: one order dated in the future (a bad
    # import, a wrong clock) must not make the next runs skip every real change before that date.
    started = timezone.now()
    shop = woocommerce.shop_host(settings.WOOCOMMERCE_URL)
    counts: dict[str, int] = defaultdict(int)
    pages = woocommerce_api.orders_modified_after(
        base_url=settings.WOOCOMMERCE_URL,
        key=settings.WOOCOMMERCE_CONSUMER_KEY,
        secret=settings.WOOCOMMERCE_CONSUMER_SECRET,
        after=since,
        timeout=(settings.HTTP_CONNECT_TIMEOUT, settings.HTTP_READ_TIMEOUT),
        session=session,
    )
    for page in pages:
        for data in page.orders:
            counts["read"] += 1
            counts[_reconcile_one(data, shop=shop)] += 1
        newest = min(page.newest, started) if page.newest is not None else None
        if newest is not None and (position is None or newest > position):
            position = newest
            ChannelCursor.objects.update_or_create(channel=Channel.WOOCOMMERCE, defaults={"position": position})
    logger.info("woocommerce reconciliation from %s: %s", since.isoformat(), dict(counts))
    return ReconcileResult(
        read=counts["read"],
        accepted=counts["accepted"],
        duplicates=counts["duplicates"],
        rejected=counts["rejected"],
        position=position,
    )


def _reconcile_one(data: dict, *, shop: str) -> str:
    """Put one order read from the API through the inbox; returns how it went."""
    try:
        delivery = woocommerce.reconciled_delivery(data, shop=shop)
        event = woocommerce.parse(delivery)
    except PayloadInvalid as exc:
        body, headers = woocommerce.reconciled_body(data), woocommerce.RECONCILED_HEADERS
        _store_rejected(channel=Channel.WOOCOMMERCE, headers=headers, body=body, error=exc)
        logger.warning("woocommerce reconciliation: unreadable order %r: %s", data.get("id"), exc.detail)
        return "rejected"
    result = _accept(delivery=delivery, event=event)
    return "duplicates" if result.duplicate else "accepted"
