"""A storefront's version of an order applied to ours: create it allocated, update it, cancel it.

Called by the inbox (worker side) inside the delivery's transaction, with the locks taken in
``fulfilment.locks`` order: delivery, then order, then lines; stock last.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from django.db import IntegrityError, transaction

from fulfilment import locks
from fulfilment.models import HoldReason, Order, OrderLine, OrderStatus
from fulfilment.models import OrderEvent as TimelineEvent
from fulfilment.services import allocation
from fulfilment.services.orders import (
    ADDRESS_EDITABLE,
    LINES_EDITABLE,
    order_cancel_locked,
    order_flag,
    status_set,
    timeline_add,
    timeline_entry,
)
from fulfilment.storefronts.base import ACTION_CANCEL, Address, Issue, LineIn, OrderIn
from inventory import services as inventory
from inventory.errors import InsufficientStock
from inventory.models import Sku

S = OrderStatus


def address_dict(address: Address | None) -> dict | None:
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


def intake_issues(incoming: OrderIn) -> list[dict]:
    """What cannot be right in the storefront's version: the parser's issues (the columns' limits, the
    topic against the body) and the limits that are settings (quantity per line, lines per order).

    Stored on the order: what was sent is not (a value that fits was stored instead), so the
    issues are what keeps it held until a version without them comes (``allocation.hold_reason``).
    """
    issues = [_issue_dict(issue) for issue in incoming.issues]
    flagged = {issue["field"] for issue in issues}
    limit, cap = allocation.max_line_quantity(), allocation.max_lines()
    for index, line in enumerate(incoming.lines[:cap]):
        field = f"line_items[{index}].quantity"
        if line.quantity > limit and field not in flagged:
            detail = f"{field} is {line.quantity}, more than {allocation.MAX_LINE_QUANTITY_SETTING} ({limit})"
            issues.append(
                {
                    "reason": HoldReason.IMPLAUSIBLE_QUANTITY,
                    "field": field,
                    "detail": detail,
                    # Judged again against the setting on release: operations may raise it for one B2B order.
                    "setting": allocation.MAX_LINE_QUANTITY_SETTING,
                    "value": line.quantity,
                }
            )
    if len(incoming.lines) > cap:
        detail = (
            f"line_items has {len(incoming.lines)} lines, more than {allocation.MAX_LINES_SETTING} ({cap}); "
            f"stored the first {cap}"
        )
        issues.append({"reason": HoldReason.TOO_MANY_LINES, "field": "line_items", "detail": detail})
    return issues


def _issue_dict(issue: Issue) -> dict:
    data = {"reason": issue.reason, "field": issue.field, "detail": issue.detail}
    if issue.stored:
        data["stored"] = issue.stored
    return data


def lines_in(incoming: OrderIn) -> tuple[LineIn, ...]:
    """The storefront's lines that are stored: at most ``FULFILMENT_MAX_LINES`` (more hold the order)."""
    return incoming.lines[: allocation.max_lines()]


def order_fields(incoming: OrderIn) -> dict:
    """The order's columns from the storefront's version (bounded to the columns' sizes)."""
    address = address_dict(incoming.shipping_address)
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
        "intake_issues": intake_issues(incoming),
    }


def order_key(incoming: OrderIn, *, channel: str, shop: str) -> dict[str, str]:
    return {"channel": channel, "shop": shop[:255], "external_id": incoming.external_id[:64]}


def _to_ship(line) -> int:
    # Shopify's fulfillable_quantity excludes refunded (removed) units; WooCommerce has none.
    return line.quantity if line.fulfillable_quantity is None else min(line.quantity, line.fulfillable_quantity)


def _new_lines(order: Order, incoming: OrderIn) -> list[OrderLine]:
    """The storefront's lines with something left to ship, SKUs matched by code (unsaved)."""
    lines = lines_in(incoming)
    codes = {line.sku for line in lines if line.sku}
    skus = {sku.code: sku for sku in Sku.objects.filter(code__in=codes)} if codes else {}
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
        for line in lines
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


def order_create(
    incoming: OrderIn,
    *,
    key: dict[str, str],
    action: str,
    before_reserve: Callable[[Order], None] | None = None,
    actor=None,
) -> Order | None:
    """Insert a new order already allocated (or held, or cancelled); None if it exists by now.

    Everything is decided in memory first, so the order, its lines and its timeline are each
    one INSERT and nothing is updated afterwards; ``before_reserve(order)`` then does the
    caller's bookkeeping, and the reservation comes last (DESIGN.md's hot-path order). A race
    lost at the stock UPDATE rolls the savepoint back and plans again from fresh numbers; an
    INSERT that collides with a concurrent delivery of the same order returns None, and the
    caller applies this delivery to that order instead.
    """
    order = Order(**key, **order_fields(incoming))
    lines = _new_lines(order, incoming)
    received = f"Order {order.number or order.external_id} received from {key['channel']}"
    cancel = action == ACTION_CANCEL
    reason, detail, candidates = ("", "", []) if cancel else allocation.hold_reason(order, lines)
    allocating = not cancel and not reason
    for chosen in allocation.plans(candidates, allocation.need_of(lines)) if allocating else [None]:
        order.pk, order._state.adding = None, True  # again unsaved (a lost race rolled the INSERT back)
        order.status = S.RECEIVED
        if cancel:
            # First news of this order is its cancellation: record it, reserve nothing.
            status_set(order, S.CANCELLED)
            entry = timeline_entry(order, "cancelled", "Cancelled by the storefront before it was allocated")
        elif reason:
            entry = allocation.hold_book(order, lines, reason, detail, actor=actor)
        else:
            entry = allocation.plan_book(order, lines, chosen, actor=actor)
        try:
            with transaction.atomic():
                order.save(force_insert=True)
                for line in lines:
                    line.pk, line.order = None, order
                OrderLine.objects.bulk_create(lines)
                entry.order = order
                TimelineEvent.objects.bulk_create([timeline_entry(order, "received", received), entry])
                if before_reserve is not None:
                    before_reserve(order)
                if chosen is not None:
                    allocation.plan_reserve(order, chosen, actor=actor)
            return order
        except IntegrityError:
            if not Order.objects.filter(**key).exists():
                raise  # not the concurrent insert of this order: a real error
            return None
        except InsufficientStock:
            continue  # someone took the units between our read and our UPDATE: plan again
    raise AssertionError("unreachable: the last plan reserves nothing")  # pragma: no cover


def order_upsert(
    incoming: OrderIn, *, channel: str, shop: str, action: str, on_order: Callable[[Order], None], actor=None
) -> Order:
    """Create the order, or apply this version to the existing one; ``on_order(order)`` runs before
    any reservation (the inbox marks its delivery processed there)."""
    key = order_key(incoming, channel=channel, shop=shop)
    order = locks.order_lock_by_key(key)
    if order is None:
        order = order_create(incoming, key=key, action=action, before_reserve=on_order, actor=actor)
        if order is not None:
            return order
        # A concurrent delivery of the same order committed first (we waited for it): update that one.
        order = locks.order_lock_by_key(key)
    on_order(order)
    order_apply(order=order, incoming=incoming, action=action, actor=actor)
    return order


def order_apply(*, order: Order, incoming: OrderIn, action: str, actor=None) -> None:
    """Apply a later delivery (update or cancellation) to an existing, locked order.

    A delivery whose unsigned topic disagrees with its signed body is never applied: it could
    cancel, un-reserve or wipe the order on a word anyone can change. It is flagged instead.
    """
    mismatch = [issue for issue in incoming.issues if issue.reason == HoldReason.TOPIC_MISMATCH]
    if mismatch:
        details = "; ".join(issue.detail for issue in mismatch)
        order_flag(order, "A storefront delivery's topic disagreed with its body; not applied")
        timeline_add(
            order, "topic_mismatch", f"Not applied: {details}", actor=actor, issues=[_issue_dict(i) for i in mismatch]
        )
        return
    if (
        incoming.updated_at
        and order.external_updated_at
        and incoming.updated_at < order.external_updated_at
        and action != ACTION_CANCEL
    ):
        timeline_add(
            order,
            "stale_update",
            "Ignored an update older than the one already applied",
            incoming_updated_at=incoming.updated_at.isoformat(),
        )
        return
    if action == ACTION_CANCEL:
        order_cancel_locked(order, actor=actor, source="storefront")
        return
    _order_update(order, incoming, actor=actor)


def _order_update(order: Order, incoming: OrderIn, *, actor=None) -> None:
    """Apply a storefront update: never moves the order backwards; late address or item changes are flagged."""
    fields = order_fields(incoming)
    if order.status == S.ON_HOLD:
        # Nothing is reserved for a held order: take the storefront's version whole and try again.
        for name, value in fields.items():
            setattr(order, name, value)
        order.save()
        _replace_lines(order, incoming)
        timeline_add(order, "updated", "Storefront update applied to held order", actor=actor)
        allocation.order_allocate(order=order, actor=actor)
        return
    known_issues = order.intake_issues
    # Bookkeeping fields that never change what is shipped.
    for name in ("financial_status", "email", "customer_name", "external_updated_at", "total_price", "intake_issues"):
        setattr(order, name, fields[name])
    order.save()
    reallocate = _update_address(order, fields, actor=actor)
    reallocate = _update_lines(order, incoming, actor=actor) or reallocate
    if order.intake_issues and order.intake_issues != known_issues:
        # New values that cannot be right: before picking, allocating again puts the order on hold
        # (and releases its stock); later a person has to look.
        if order.status in LINES_EDITABLE:
            reallocate = True
        else:
            message = f"Storefront sent values that cannot be right while the order was {order.status}"
            order_flag(order, message)
            timeline_add(order, "implausible_update", message, actor=actor, issues=order.intake_issues)
    if reallocate:
        # Other items, or another country that another warehouse may serve: allocate again.
        inventory.reservation_release(reference=order.reservation_reference, actor=actor)
        allocation.order_allocate(order=order, actor=actor)


def _update_address(order: Order, fields: dict, *, actor=None) -> bool:
    """Apply a changed address before packing (flag it after); True if the order must be allocated again."""
    old_address, new_address = order.shipping_address, fields["shipping_address"]
    if new_address == old_address or new_address is None:
        return False
    if order.status not in ADDRESS_EDITABLE:
        message = "Storefront changed the address after packing; not applied"
        order_flag(order, message)
        timeline_add(order, "address_change_refused", message, actor=actor, address=new_address)
        return False
    country_changed = (new_address or {}).get("country_code") != (old_address or {}).get("country_code")
    order.shipping_address, order.ship_country = new_address, fields["ship_country"]
    order.save(update_fields=["shipping_address", "ship_country", "updated_at"])
    message = "Shipping address updated by the storefront"
    timeline_add(order, "address_changed", message, actor=actor, address=new_address)
    if country_changed and order.status == S.PICKING:
        order_flag(order, "Destination country changed while picking; check the warehouse")
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
    after = _line_summary((line.external_id, line.sku[:64], _to_ship(line)) for line in lines_in(incoming))
    if before == after:
        return False
    if order.status in LINES_EDITABLE:
        _replace_lines(order, incoming, current)
        timeline_add(order, "lines_changed", "Items changed by the storefront", actor=actor, before=before, after=after)
        return True
    if order.status in (S.PICKING, S.PACKED):
        message = f"Storefront changed the items while the order was {order.status}; not applied"
        order_flag(order, message)
        timeline_add(order, "lines_change_refused", message, actor=actor, before=before, after=after)
        return False
    message = f"Storefront changed the items of a {order.status} order; nothing to do"
    timeline_add(order, "lines_change_recorded", message, actor=actor, before=before, after=after)
    return False
