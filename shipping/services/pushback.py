"""Push-back to the storefront: a booked shipment and each status it reaches, once (DESIGN.md "Storefront contract").

The hooks run inside the transaction of the change and only write outbox messages, so a push
exists if and only if the change committed; the outbox sends it after commit, retries it with
backoff and makes it a dead letter operations see and retry. Every push for one order shares the
group ``order:{id}:push``: they go out in the order they were written (the fulfillment before
its events, events in the order they happened, a cancelled shipment's cancel before the
fulfillment of the shipment that replaces it).

Shopify (GraphQL Admin API, ``shipping.storefronts.shopify``):

- ``shopify_fulfillment`` (key ``shipment:{id}:fulfillment:{tracking number}``): read the order's
  ``fulfillmentOrders``, then one ``fulfillmentCreate`` with ``lineItemsByFulfillmentOrder`` for
  the line items this shipment carries (the units it ships, matched by Shopify line item id, then
  by SKU; a partial shipment fulfils only its units), ``trackingInfo {number, company, url}`` and
  ``notifyCustomer: true``. The fulfillment id is kept in ``StorefrontFulfillment``.
  Exactly one fulfillment per shipment: when an earlier try may have reached Shopify
  (``message.attempts > 1``, or an earlier error on the message, which survives a dead letter's
  retry), the order's fulfillments are read first and the one carrying our tracking number is
  adopted instead of creating a second.
  Fulfillment orders already closed (fulfilled by hand in Shopify) are recorded (``closed``,
  a note on the order's timeline) and never retried; on hold or scheduled ones are a dead letter
  saying so; so are lines spread over several Shopify locations (one fulfillment cannot span them).
- ``shopify_fulfillment_event`` (key ``shipment:{id}:event:{status}:{happened_at}``, so a re-poll
  of the same scan is the same message): one ``fulfillmentEventCreate`` with the matching
  ``FulfillmentEventStatus`` (``SHOPIFY_EVENT_STATUS``; statuses without one are not pushed). On a
  retry the fulfillment's events are read first, so Shopify sees each event once.

- ``shopify_fulfillment_cancel`` (key ``shipment:{id}:fulfillment-cancel``): a booked shipment was
  cancelled (voided with the courier, the order packed again). ``fulfillmentCancel`` on the
  fulfillment we created or adopted, so Shopify reopens its line items and the replacement
  shipment can fulfil them; nothing when no fulfillment was made (skipped, closed by hand). On a
  retry the order's fulfillments are read first: one already ``CANCELLED`` is not cancelled again.

WooCommerce (REST v3, ``shipping.storefronts.woocommerce``):

- ``woocommerce_complete`` (key ``shipment:{id}:complete:{tracking number}``): one customer note
  with the courier, the tracking number and link, then ``PUT status=completed``. On a retry the
  notes and the order's status are read first, so neither is done twice.
- ``woocommerce_reopen`` (key ``shipment:{id}:reopen``): a completed shipment was cancelled: a
  private note saying its tracking number is void, then ``processing`` again (only from
  ``completed``: a status the merchant set since is kept). On a retry the notes are read first.
- Nothing per tracking status: WooCommerce core has no shipment tracking, and a customer note
  per scan would email the customer each time; ``completed`` is its last state.

Not configured (no ``SHOPIFY_ADMIN_URL`` or ``SHOPIFY_ACCESS_TOKEN``; no ``WOOCOMMERCE_URL``,
key or secret): nothing is queued; the booking's timeline says the push-back was skipped, so the
demo without credentials fills no dead letters. A message queued while configured whose settings
are gone when it is sent is marked sent with the same note.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from fulfilment.models import Channel
from fulfilment.services.orders import timeline_add
from outbox import services as outbox
from outbox.errors import DeliveryFailed, DeliveryRetry
from outbox.models import MessageStatus
from shipping import couriers
from shipping.models import PushbackOutcome, Shipment, ShipmentStatus, StorefrontFulfillment
from shipping.storefronts.errors import StorefrontRefused
from shipping.storefronts.shopify import ShopifyAdmin, api_version, gid_tail, graphql_endpoint
from shipping.storefronts.woocommerce import WooCommerceShop

logger = logging.getLogger("shipping.pushback")

SHOPIFY_FULFILLMENT = "shopify_fulfillment"
SHOPIFY_EVENT = "shopify_fulfillment_event"
WOOCOMMERCE_COMPLETE = "woocommerce_complete"
SHOPIFY_CANCEL = "shopify_fulfillment_cancel"
WOOCOMMERCE_REOPEN = "woocommerce_reopen"

# Shopify's names for the couriers (its supported-carrier list: the exact spelling gives tracking links).
SHOPIFY_COMPANY = {"dhl_express": "DHL Express", "auspost": "Australia Post", "fedex": "FedEx", "ups": "UPS"}

# Our tracking status -> Shopify's FulfillmentEventStatus (Admin API 2025-10). Not here: not pushed
# (returning_to_sender has no value before the unstable API; booking, cancelled are not scans).
SHOPIFY_EVENT_STATUS = {
    ShipmentStatus.LABEL_CREATED: "LABEL_PURCHASED",
    ShipmentStatus.PICKED_UP: "CARRIER_PICKED_UP",  # new in 2025-10; not pushed to older versions
    ShipmentStatus.IN_TRANSIT: "IN_TRANSIT",
    ShipmentStatus.OUT_FOR_DELIVERY: "OUT_FOR_DELIVERY",
    ShipmentStatus.AVAILABLE_FOR_PICKUP: "READY_FOR_PICKUP",
    ShipmentStatus.DELIVERED: "DELIVERED",
    ShipmentStatus.ATTEMPT_FAILED: "ATTEMPTED_DELIVERY",
    ShipmentStatus.EXCEPTION: "FAILURE",
}
_SINCE = {"CARRIER_PICKED_UP": "2025-10"}

FULFILLABLE = ("OPEN", "IN_PROGRESS")
WAITING = ("ON_HOLD", "SCHEDULED")  # not fulfillable until someone acts in Shopify
ADOPTABLE = ("SUCCESS", "OPEN", "PENDING")  # a cancelled or failed fulfillment is not ours to keep


# --- Configuration --------------------------------------------------------------------------
def shopify_client() -> ShopifyAdmin | None:
    """The Admin API client from settings, or None when push-back to Shopify is not configured."""
    if not (settings.SHOPIFY_ADMIN_URL and settings.SHOPIFY_ACCESS_TOKEN):
        return None
    return ShopifyAdmin(
        endpoint=graphql_endpoint(settings.SHOPIFY_ADMIN_URL, settings.SHOPIFY_API_VERSION),
        token=settings.SHOPIFY_ACCESS_TOKEN,
        connect_timeout=settings.HTTP_CONNECT_TIMEOUT,
        read_timeout=settings.HTTP_READ_TIMEOUT,
    )


def woocommerce_client() -> WooCommerceShop | None:
    """The REST client from settings, or None when push-back to WooCommerce is not configured."""
    if not (settings.WOOCOMMERCE_URL and settings.WOOCOMMERCE_CONSUMER_KEY and settings.WOOCOMMERCE_CONSUMER_SECRET):
        return None
    return WooCommerceShop(
        base_url=settings.WOOCOMMERCE_URL,
        key=settings.WOOCOMMERCE_CONSUMER_KEY,
        secret=settings.WOOCOMMERCE_CONSUMER_SECRET,
        connect_timeout=settings.HTTP_CONNECT_TIMEOUT,
        read_timeout=settings.HTTP_READ_TIMEOUT,
    )


_MISSING = {
    Channel.SHOPIFY: "SHOPIFY_ADMIN_URL and SHOPIFY_ACCESS_TOKEN",
    Channel.WOOCOMMERCE: "WOOCOMMERCE_URL, WOOCOMMERCE_CONSUMER_KEY and WOOCOMMERCE_CONSUMER_SECRET",
}


def shopify_event_status(status: str) -> str | None:
    """Shopify's FulfillmentEventStatus for one of ours in the configured API version; None: not pushed."""
    value = SHOPIFY_EVENT_STATUS.get(status)
    if value is None:
        return None
    since = _SINCE.get(value)
    # The version requests really go to: SHOPIFY_ADMIN_URL's own when it names one.
    version = api_version(settings.SHOPIFY_ADMIN_URL, settings.SHOPIFY_API_VERSION)
    if since and version != "unstable" and version < since:
        return None
    return value


def _group(shipment: Shipment) -> str:
    # Per order, not per shipment: a cancelled shipment's fulfillment is cancelled in Shopify
    # before the shipment that replaces it is fulfilled (one live shipment per order).
    return f"order:{shipment.order_id}:push"


def _stamp(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("happened_at must be timezone-aware")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tracking(shipment: Shipment) -> tuple[str, str]:
    """Shopify's company name and the courier's public tracking URL."""
    url = couriers.get_courier(shipment.courier).tracking_url(shipment.tracking_number)
    return SHOPIFY_COMPANY.get(shipment.courier, shipment.courier), url


def _shipped_lines(shipment: Shipment) -> list[dict[str, Any]]:
    """What this shipment carries: each order line with its storefront id, SKU and the units committed to it."""
    lines = shipment.order.lines.filter(requires_shipping=True, sku__isnull=False, quantity_reserved__gt=0)
    return [
        {"line_item": line.external_id, "sku": line.sku_code, "quantity": line.quantity_reserved}
        for line in lines.order_by("pk")
    ]


# --- Hooks (inside the transaction of the change) --------------------------------------------
def pushback_shipment_booked(*, shipment: Shipment) -> None:
    """A shipment was booked: queue its fulfillment (Shopify) or its note and completion (WooCommerce)."""
    order = shipment.order
    if order.channel not in _MISSING:
        return
    configured = shopify_client() if order.channel == Channel.SHOPIFY else woocommerce_client()
    if configured is None:
        _note_skipped(order, shipment, f"not configured: set {_MISSING[order.channel]}")
        return
    company, url = _tracking(shipment)
    payload = {
        "shipment": shipment.pk,
        "order": order.external_id,
        "courier": shipment.courier,
        "company": company,
        "tracking_number": shipment.tracking_number,
        "tracking_url": url,
    }
    if order.channel == Channel.SHOPIFY:
        outbox.message_enqueue(
            kind=SHOPIFY_FULFILLMENT,
            key=f"shipment:{shipment.pk}:fulfillment:{shipment.tracking_number}",
            payload={**payload, "lines": _shipped_lines(shipment)},
            group=_group(shipment),
        )
    else:
        note = f"Your order has shipped with {company}. Tracking number {shipment.tracking_number}: {url}"
        outbox.message_enqueue(
            kind=WOOCOMMERCE_COMPLETE,
            key=f"shipment:{shipment.pk}:complete:{shipment.tracking_number}",
            payload={**payload, "note": note},
            group=_group(shipment),
        )


def pushback_status_changed(*, shipment: Shipment, status: str, happened_at: dt.datetime) -> None:
    """A shipment reached a tracking status: queue one Shopify fulfillment event for it (once per
    status and moment); WooCommerce gets nothing per status."""
    order = shipment.order
    if order.channel != Channel.SHOPIFY or not shipment.tracking_number:
        return
    shopify_status = shopify_event_status(status)
    if shopify_status is None or shopify_client() is None:
        return
    stamp = _stamp(happened_at)
    outbox.message_enqueue(
        kind=SHOPIFY_EVENT,
        key=f"shipment:{shipment.pk}:event:{status}:{stamp}",
        payload={"shipment": shipment.pk, "order": order.external_id, "status": shopify_status, "happened_at": stamp},
        group=_group(shipment),
    )


def pushback_shipment_cancelled(*, shipment: Shipment) -> None:
    """A booked shipment was cancelled: queue the cancel of its Shopify fulfillment, or the reopening
    of its WooCommerce order. Sent after any push still pending for the order (same group), so a
    fulfillment being created is cancelled once it exists."""
    order = shipment.order
    if not shipment.tracking_number or order.channel not in _MISSING:
        return
    payload = {"shipment": shipment.pk, "order": order.external_id, "tracking_number": shipment.tracking_number}
    if order.channel == Channel.SHOPIFY:
        if shopify_client() is None:
            return
        kind, key = SHOPIFY_CANCEL, f"shipment:{shipment.pk}:fulfillment-cancel"
    else:
        if woocommerce_client() is None:
            return
        company, _ = _tracking(shipment)
        payload["note"] = (
            f"Shipment {shipment.tracking_number} with {company} was cancelled: that tracking number is void."
        )
        kind, key = WOOCOMMERCE_REOPEN, f"shipment:{shipment.pk}:reopen"
    outbox.message_enqueue(kind=kind, key=key, payload=payload, group=_group(shipment))


# --- Handlers (outbox, after commit) ----------------------------------------------------------
def _shipment(message) -> Shipment:
    # Not the courier's label (a document of tens of kilobytes): nothing here needs it.
    found = Shipment.objects.select_related("order").defer("courier_label")
    shipment = found.filter(pk=message.payload["shipment"]).first()
    if shipment is None:
        raise DeliveryFailed(f"shipment {message.payload['shipment']} no longer exists")
    return shipment


def _suspect(message) -> bool:
    """An earlier try of this message may have reached the storefront (also after a dead letter's retry)."""
    return message.attempts > 1 or bool(message.last_error)


def _note_skipped(order, shipment: Shipment, why: str) -> None:
    logger.info("push-back of shipment %s to %s skipped: %s", shipment.pk, order.channel, why)
    timeline_add(order, "pushback_skipped", f"Not pushed to {order.channel}: {why}"[:500], shipment=shipment.pk)


def _record(shipment: Shipment, *, outcome: str, external_id: str = "", detail: str = "") -> StorefrontFulfillment:
    """Keep what the shipment became in its storefront (once) and say so on the order's timeline."""
    order = shipment.order
    try:
        with transaction.atomic():
            record = StorefrontFulfillment.objects.create(
                shipment=shipment,
                channel=order.channel,
                external_fulfillment_id=external_id,
                outcome=outcome,
                detail=detail[:500],
            )
            text = {
                PushbackOutcome.CREATED: f"Fulfilled in Shopify ({external_id}), customer notified",
                PushbackOutcome.ADOPTED: f"Fulfillment found in Shopify ({external_id}) and kept",
                PushbackOutcome.CLOSED: f"Not fulfilled in Shopify: {detail}",
                PushbackOutcome.COMPLETED: f"Tracking note added and order completed in WooCommerce. {detail}",
            }[outcome]
            timeline_add(order, f"pushback_{outcome}", text[:500], shipment=shipment.pk, fulfillment=external_id)
    except IntegrityError:
        # Another worker recorded it meanwhile (its lease ran out while it was waiting for the storefront).
        record = StorefrontFulfillment.objects.get(shipment=shipment)
    return record


def shopify_fulfillment_push(message) -> None:
    """Outbox handler for ``shopify_fulfillment``: one fulfillment per shipment (see the module docstring)."""
    payload = message.payload
    shipment = _shipment(message)
    if StorefrontFulfillment.objects.filter(shipment=shipment).exists():
        return  # done by an earlier try
    if shipment.status == ShipmentStatus.CANCELLED:
        _note_skipped(shipment.order, shipment, "the shipment was cancelled before its fulfillment was pushed")
        return
    client = shopify_client()
    if client is None:
        _note_skipped(shipment.order, shipment, f"not configured: set {_MISSING[Channel.SHOPIFY]}")
        return
    number = payload["tracking_number"]
    if _suspect(message):
        existing = client.fulfillments(payload["order"]) or []
        found = next((f for f in existing if _carries(f, number)), None)
        if found is not None:
            logger.info(
                "shipment %s: adopted Shopify fulfillment %s found by tracking number", shipment.pk, found["id"]
            )
            _record(shipment, outcome=PushbackOutcome.ADOPTED, external_id=found["id"])
            return
    order = client.fulfillment_orders(payload["order"])
    if order is None:
        raise StorefrontRefused(f"Shopify has no order {payload['order']} (gid://shopify/Order/{payload['order']})")
    plan = fulfillment_plan((order.get("fulfillmentOrders") or {}).get("nodes") or [], payload["lines"])
    if plan.closed:
        _record(shipment, outcome=PushbackOutcome.CLOSED, detail=plan.detail)
        return
    created = client.fulfillment_create(
        {
            "lineItemsByFulfillmentOrder": plan.line_items,
            "trackingInfo": {"number": number, "company": payload["company"], "url": payload["tracking_url"]},
            "notifyCustomer": True,
        }
    )
    _record(shipment, outcome=PushbackOutcome.CREATED, external_id=created["id"], detail=plan.detail)


def _carries(fulfillment: dict[str, Any], number: str) -> bool:
    if str(fulfillment.get("status") or "SUCCESS").upper() not in ADOPTABLE:
        return False
    info = fulfillment.get("trackingInfo") or []
    if isinstance(info, dict):
        info = [info]
    return any(isinstance(t, dict) and t.get("number") == number for t in info)


@dataclass
class Plan:
    line_items: list[dict[str, Any]] = field(default_factory=list)  # lineItemsByFulfillmentOrder
    closed: bool = False  # nothing of ours is left to fulfil: done in Shopify already
    detail: str = ""


def fulfillment_plan(fulfillment_orders: list[dict[str, Any]], lines: list[dict[str, Any]]) -> Plan:
    """Which fulfillment order line items carry our units: by Shopify line item id, then by SKU.

    Raises StorefrontRefused when our units wait in fulfillment orders on hold or scheduled, sit at
    several Shopify locations, or are nowhere in the order's fulfillment orders.
    """
    wanted = [dict(line, left=int(line["quantity"])) for line in lines]
    open_items, waiting, seen = [], [], set()
    for fo in fulfillment_orders:
        status = str(fo.get("status") or "").upper()
        for item in (fo.get("lineItems") or {}).get("nodes") or []:
            line_item = item.get("lineItem") or {}
            seen.add(("id", gid_tail(line_item.get("id"))))
            seen.add(("sku", line_item.get("sku") or ""))
            remaining = int(item.get("remainingQuantity") or 0)
            if remaining <= 0:
                continue
            if status in FULFILLABLE:
                open_items.append({"fo": fo, "item": item, "left": remaining})
            elif status in WAITING:
                waiting.append((fo, item))
    chosen: dict[str, dict[str, int]] = {}  # fulfillment order id -> its line item id -> quantity
    locations: dict[str, str] = {}

    def take(match) -> None:
        for want in wanted:
            for candidate in open_items:
                if want["left"] <= 0:
                    break
                if candidate["left"] <= 0 or not match(want, candidate["item"].get("lineItem") or {}):
                    continue
                units = min(want["left"], candidate["left"])
                want["left"] -= units
                candidate["left"] -= units
                fo = candidate["fo"]
                items = chosen.setdefault(fo["id"], {})
                items[candidate["item"]["id"]] = items.get(candidate["item"]["id"], 0) + units
                place = ((fo.get("assignedLocation") or {}).get("location") or {}).get("id") or ""
                locations[fo["id"]] = place

    take(lambda want, li: bool(want["line_item"]) and gid_tail(li.get("id")) == str(want["line_item"]))
    take(lambda want, li: bool(want["sku"]) and li.get("sku") == want["sku"])
    short = sum(want["left"] for want in wanted)
    if not chosen:
        ours = any(("id", str(w["line_item"])) in seen or ("sku", w["sku"]) in seen for w in wanted)
        if waiting and ours:
            states = ", ".join(sorted({f"{fo['id']} {fo.get('status')}" for fo, _ in waiting}))
            raise StorefrontRefused(
                f"Shopify cannot fulfil the shipped lines now: fulfillment orders {states}; "
                "release the hold in Shopify, then retry this message"
            )
        if open_items and not ours:
            ids = ", ".join(str(w["line_item"] or w["sku"]) for w in wanted)
            raise StorefrontRefused(f"none of the shipped line items ({ids}) is in the order's fulfillment orders")
        return Plan(closed=True, detail="its fulfillment orders are closed or fulfilled already (by hand in Shopify?)")
    if len(set(locations.values())) > 1:
        raise StorefrontRefused(
            "the shipped lines are in fulfillment orders at several Shopify locations "
            f"({', '.join(sorted(set(locations.values())))}); one fulfillment cannot span them: "
            "move them to one location in Shopify, then retry this message"
        )
    detail = f"{short} shipped units were fulfilled in Shopify already" if short else ""
    return Plan(
        line_items=[
            {
                "fulfillmentOrderId": fo_id,
                "fulfillmentOrderLineItems": [{"id": item, "quantity": q} for item, q in items.items()],
            }
            for fo_id, items in chosen.items()
        ],
        detail=detail,
    )


def shopify_fulfillment_event_push(message) -> None:
    """Outbox handler for ``shopify_fulfillment_event``: one ``fulfillmentEventCreate`` on our fulfillment."""
    payload = message.payload
    # The hot path (every scan of every shipment): one query for the fulfillment id, no shipment row.
    record = (
        StorefrontFulfillment.objects.filter(shipment_id=payload["shipment"])
        .values_list("external_fulfillment_id", "outcome")
        .first()
    )
    if record is None:
        _wait_for_fulfillment(message, _shipment(message))
        return
    fulfillment_id, outcome = record
    if not fulfillment_id:
        logger.info(
            "shipment %s: no Shopify fulfillment (%s); %s not pushed", payload["shipment"], outcome, message.key
        )
        return
    client = shopify_client()
    if client is None:
        logger.info("shipment %s: Shopify not configured; %s not pushed", payload["shipment"], message.key)
        return
    if _suspect(message) and _has_event(client.fulfillment_events(fulfillment_id), payload):
        return  # an earlier try created it
    client.fulfillment_event_create(
        {"fulfillmentId": fulfillment_id, "status": payload["status"], "happenedAt": payload["happened_at"]}
    )


def _wait_for_fulfillment(message, shipment: Shipment) -> None:
    """An event for a shipment without a fulfillment yet: wait for it, or say why it will not come."""
    from outbox.models import Message

    # This shipment's own fulfillment push (the group is the order's: a cancelled shipment's is there too).
    creating = (
        Message.objects.filter(kind=SHOPIFY_FULFILLMENT, key__startswith=f"shipment:{shipment.pk}:fulfillment:")
        .order_by("pk")
        .first()
    )
    if creating is None or creating.status == MessageStatus.SENT:
        # The fulfillment push was skipped (not configured at booking, shipment cancelled): nothing to attach to.
        logger.info("shipment %s: no Shopify fulfillment; event %s not pushed", shipment.pk, message.key)
        return
    if creating.status == MessageStatus.DEAD:
        raise DeliveryFailed(
            f"the shipment's fulfillment (outbox message {creating.pk}) is a dead letter: retry it first, then this one"
        )
    raise DeliveryRetry(f"waiting for the shipment's fulfillment (outbox message {creating.pk})")


def _has_event(events: list[dict[str, Any]], payload: dict[str, Any]) -> bool:
    wanted = parse_datetime(payload["happened_at"])
    for event in events:
        if str(event.get("status")) != payload["status"]:
            continue
        happened = parse_datetime(str(event.get("happenedAt") or ""))
        if happened is not None and wanted is not None and abs((happened - wanted).total_seconds()) < 1:
            return True
    return False


def woocommerce_complete_push(message) -> None:
    """Outbox handler for ``woocommerce_complete``: the tracking note, then ``completed``; each once."""
    payload = message.payload
    shipment = _shipment(message)
    if StorefrontFulfillment.objects.filter(shipment=shipment).exists():
        return
    if shipment.status == ShipmentStatus.CANCELLED:
        _note_skipped(shipment.order, shipment, "the shipment was cancelled before it was pushed")
        return
    client = woocommerce_client()
    if client is None:
        _note_skipped(shipment.order, shipment, f"not configured: set {_MISSING[Channel.WOOCOMMERCE]}")
        return
    order_id, number = payload["order"], payload["tracking_number"]
    suspect = _suspect(message)
    noted = suspect and any(number in str(n.get("note") or "") for n in client.notes(order_id))
    if not noted:
        client.note_create(order_id, payload["note"], customer_note=True)
    completed = suspect and str(client.order(order_id).get("status")) == "completed"
    if not completed:
        client.order_update(order_id, {"status": "completed"})
    _record(shipment, outcome=PushbackOutcome.COMPLETED, detail=payload["note"])


# --- A booked shipment cancelled after its push ------------------------------------------------
def _pushed(message) -> tuple[Shipment, StorefrontFulfillment] | None:
    """The shipment and what it became in its storefront, or None when there is nothing to undo."""
    shipment = _shipment(message)
    record = StorefrontFulfillment.objects.filter(shipment=shipment).first()
    if record is None:
        # The push was skipped (the shipment was cancelled first, or not configured) or is a dead letter
        # (retried later, it sees the shipment cancelled and skips): nothing reached the storefront.
        logger.info(
            "shipment %s: nothing was pushed to the storefront; %s has nothing to undo", shipment.pk, message.key
        )
        return None
    if record.cancelled_at is not None:
        return None  # done by an earlier try
    return shipment, record


def _mark_cancelled(shipment: Shipment, record: StorefrontFulfillment, text: str) -> None:
    with transaction.atomic():
        updated = StorefrontFulfillment.objects.filter(pk=record.pk, cancelled_at__isnull=True).update(
            cancelled_at=timezone.now()
        )
        if updated:
            timeline_add(
                shipment.order,
                "pushback_cancelled",
                text[:500],
                shipment=shipment.pk,
                fulfillment=record.external_fulfillment_id,
            )


def shopify_fulfillment_cancel_push(message) -> None:
    """Outbox handler for ``shopify_fulfillment_cancel``: ``fulfillmentCancel`` once (see the module docstring)."""
    found = _pushed(message)
    if found is None:
        return
    shipment, record = found
    if not record.external_fulfillment_id:
        return  # closed by hand in Shopify: we made no fulfillment
    client = shopify_client()
    if client is None:
        _note_skipped(shipment.order, shipment, "the cancel was not pushed: Shopify is no longer configured")
        return
    fulfillment_id = record.external_fulfillment_id
    if _suspect(message):
        existing = client.fulfillments(message.payload["order"]) or []
        ours = next((f for f in existing if gid_tail(f.get("id")) == gid_tail(fulfillment_id)), None)
        if ours is not None and str(ours.get("status") or "").upper() == "CANCELLED":
            _mark_cancelled(shipment, record, f"Fulfillment {fulfillment_id} cancelled in Shopify (found cancelled)")
            return
    client.fulfillment_cancel(fulfillment_id)
    _mark_cancelled(
        shipment, record, f"Fulfillment {fulfillment_id} cancelled in Shopify; its line items are open again"
    )


def woocommerce_reopen_push(message) -> None:
    """Outbox handler for ``woocommerce_reopen``: a private note, then ``processing`` if still ``completed``."""
    found = _pushed(message)
    if found is None:
        return
    shipment, record = found
    client = woocommerce_client()
    if client is None:
        _note_skipped(shipment.order, shipment, "the cancel was not pushed: WooCommerce is no longer configured")
        return
    order_id, number = message.payload["order"], message.payload["tracking_number"]
    noted = _suspect(message) and any(
        number in str(n.get("note") or "") and "cancelled" in str(n.get("note") or "") for n in client.notes(order_id)
    )
    if not noted:
        client.note_create(order_id, message.payload["note"], customer_note=False)
    status = str(client.order(order_id).get("status"))
    if status == "completed":
        client.order_update(order_id, {"status": "processing"})
        text = f"Shipment {number} cancelled: WooCommerce order back to processing"
    else:
        text = f"Shipment {number} cancelled: noted in WooCommerce; its status {status} was kept"
    _mark_cancelled(shipment, record, text)
