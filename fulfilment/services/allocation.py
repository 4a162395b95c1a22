"""Allocation: which warehouses may serve an order, the plan of what to reserve where, and booking it.

``plan()`` is pure: warehouses, the units needed and the stock numbers in, a plan out. The
rest reads stock, books the plan on the order and reserves. Hot-path rule from DESIGN.md:
every transaction that reserves stock does its bookkeeping (order, lines, timeline, inbox)
first and calls ``inventory.services.reservation_create`` last, so the stock row lock is held
only from the conditional UPDATE to COMMIT. When that UPDATE comes up short the savepoint
rolls the bookkeeping back and the plan is made again from fresh numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from fulfilment.models import HoldReason, Order, OrderLine, OrderStatus
from fulfilment.models import OrderEvent as TimelineEvent
from fulfilment.services.orders import status_set, timeline_entry
from inventory import services as inventory
from inventory import zones
from inventory.errors import InsufficientStock
from inventory.models import StockLevel, Warehouse, WarehouseZone

S = OrderStatus
ALLOCATION_ATTEMPTS = 4
SPLIT, BACKORDER = "split", "backorder"  # FULFILMENT_ALLOCATION


def warehouse_candidates(country_code: str) -> list[Warehouse]:
    """Active warehouses serving a destination, best zone priority first (ties: by code)."""
    keys = zones.zones_for(country_code)
    if not keys:
        return []
    ranked: dict[int, int] = {}
    warehouses: dict[int, Warehouse] = {}
    rows = WarehouseZone.objects.filter(zone__in=keys, warehouse__is_active=True).select_related("warehouse")
    for zone in rows:
        warehouses[zone.warehouse_id] = zone.warehouse
        ranked[zone.warehouse_id] = min(zone.priority, ranked.get(zone.warehouse_id, zone.priority))
    return sorted(warehouses.values(), key=lambda w: (ranked[w.pk], w.code))


def shippable(lines: list[OrderLine]) -> list[OrderLine]:
    return [line for line in lines if line.requires_shipping]


# Plausibility limits: settings (defaults and reasons in config/settings.py), read when used so a
# change applies to the next release-hold. The names are recorded on an issue to re-check it.
MAX_LINE_QUANTITY_SETTING = "FULFILMENT_MAX_LINE_QUANTITY"
MAX_LINES_SETTING = "FULFILMENT_MAX_LINES"
# When several causes stand, the hold names the one that most needs a person first.
_ISSUE_RANK = {
    reason: rank
    for rank, reason in enumerate(
        (
            HoldReason.TOPIC_MISMATCH,
            HoldReason.IMPLAUSIBLE_QUANTITY,
            HoldReason.IMPLAUSIBLE_AMOUNT,
            HoldReason.TOO_MANY_LINES,
            HoldReason.TEXT_TOO_LONG,
        )
    )
}


def max_line_quantity() -> int:
    return settings.FULFILMENT_MAX_LINE_QUANTITY


def max_lines() -> int:
    return settings.FULFILMENT_MAX_LINES


def standing_issues(order: Order) -> list[dict]:
    """The order's intake issues whose cause is still there.

    Most last until the storefront sends a version without them (what was sent is not stored,
    so only that can fix it). Two are re-checked: a quantity over the *setting* against the
    setting now, and a shortened address field against the address now (operations may have
    corrected it with order_edit).
    """
    standing = []
    address = order.shipping_address or {}
    for issue in order.intake_issues or []:
        if issue.get("setting") == MAX_LINE_QUANTITY_SETTING and issue.get("value", 0) <= max_line_quantity():
            continue
        if "stored" in issue and address.get(issue["field"].removeprefix("shipping_address.")) != issue["stored"]:
            continue
        standing.append(issue)
    return standing


def hold_reason(order: Order, lines: list[OrderLine]) -> tuple[str, str, list[Warehouse]]:
    """Why this order cannot be allocated ("" if it can), and the warehouses that may serve it.

    Values that cannot be right come first: they need a person whatever else is true, and the
    storefront's next version (or a fix by operations) is what clears them.
    """
    issues = standing_issues(order)
    if issues:
        ranked = sorted(issues, key=lambda issue: _ISSUE_RANK.get(issue["reason"], len(_ISSUE_RANK)))
        return ranked[0]["reason"], "; ".join(issue["detail"] for issue in ranked), []
    if not order.is_paid:
        return HoldReason.NOT_PAID, f"financial status is {order.financial_status or 'unknown'}", []
    to_ship = shippable(lines)
    if not to_ship:
        return HoldReason.NOTHING_TO_SHIP, "no line requires shipping", []
    unknown = sorted({line.sku_code or "(blank)" for line in to_ship if line.sku_id is None})
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
class Plan:
    warehouse: Warehouse
    # warehouse -> sku_id -> units to reserve there
    reserve: dict[Warehouse, dict[int, int]] = field(default_factory=dict)

    def units(self, sku_id: int) -> int:
        return sum(per_sku.get(sku_id, 0) for per_sku in self.reserve.values())


def plan(
    candidates: list[Warehouse],
    need: Mapping[int, int],
    available: Mapping[tuple[int, int], int],
    *,
    mode: str = BACKORDER,
) -> Plan:
    """What to reserve where: one warehouse that can fill everything, best priority first;
    otherwise split across warehouses (``mode="split"``) or keep the order in its best
    warehouse and backorder what it lacks.

    ``need`` is {sku id: units}; ``available`` is {(warehouse id, sku id): units available}
    (missing means none). Pure: no database, no settings.
    """
    for warehouse in candidates:
        if all(available.get((warehouse.pk, sku), 0) >= units for sku, units in need.items()):
            return Plan(warehouse=warehouse, reserve={warehouse: dict(need)})
    if mode == SPLIT:
        result = Plan(warehouse=candidates[0])
        for sku, units in need.items():
            for warehouse in candidates:
                take = min(units, max(available.get((warehouse.pk, sku), 0), 0))
                if take:
                    result.reserve.setdefault(warehouse, {})[sku] = take
                    units -= take
        if result.reserve:
            # The primary warehouse is the one shipping most units.
            result.warehouse = max(
                result.reserve, key=lambda w: (sum(result.reserve[w].values()), -candidates.index(w))
            )
        return result
    warehouse = candidates[0]
    partial = {sku: min(units, max(available.get((warehouse.pk, sku), 0), 0)) for sku, units in need.items()}
    return Plan(warehouse=warehouse, reserve={warehouse: {sku: u for sku, u in partial.items() if u}})


def stock_available(warehouses: list[Warehouse], sku_ids: set[int]) -> dict[tuple[int, int], int]:
    """{(warehouse id, sku id): on_hand - reserved} for these warehouses and SKUs, read now."""
    rows = StockLevel.objects.filter(warehouse__in=warehouses, sku_id__in=sku_ids).values_list(
        "warehouse_id", "sku_id", "on_hand", "reserved"
    )
    return {(wh, sku): on_hand - reserved for wh, sku, on_hand, reserved in rows}


def plans(candidates: list[Warehouse], need: Mapping[int, int]) -> Iterator[Plan]:
    """A fresh plan for each attempt (a race lost at the stock UPDATE asks for the next one).

    After ALLOCATION_ATTEMPTS lost races the last plan reserves nothing: the order is
    backordered whole and receipts fill it first-paid-first. That plan cannot come up short.
    """
    for _ in range(ALLOCATION_ATTEMPTS):
        available = stock_available(candidates, set(need))
        yield plan(candidates, need, available, mode=settings.FULFILMENT_ALLOCATION)
    yield Plan(warehouse=candidates[0])


def need_of(lines: list[OrderLine]) -> dict[int, int]:
    """Units to reserve per SKU id for the lines that ship."""
    need: dict[int, int] = defaultdict(int)
    for line in shippable(lines):
        need[line.sku_id] += line.quantity
    return need


SPLIT_NOTE = "Reserved across warehouses"


def _split_note(order: Order, codes: list[str]) -> None:
    """Flag an order reserved in several warehouses (in memory): pick waves take an order from one
    warehouse only, so operations move the stock or ship the parts by hand. A new plan replaces it."""
    notes = [n for n in order.needs_attention.split("; ") if n and not n.startswith(SPLIT_NOTE)]
    if codes:
        notes.append(f"{SPLIT_NOTE} {', '.join(codes)}: pick waves take an order from one warehouse only")
    limit = Order._meta.get_field("needs_attention").max_length
    order.needs_attention = "; ".join(notes)[:limit]


def plan_book(order: Order, lines: list[OrderLine], chosen: Plan, *, actor=None) -> TimelineEvent:
    """Book the plan on the lines and the order, in memory; returns the timeline entry to save."""
    remaining = {sku: chosen.units(sku) for sku in {line.sku_id for line in lines}}
    for line in shippable(lines):
        take = min(line.quantity, remaining.get(line.sku_id, 0))
        remaining[line.sku_id] -= take
        line.quantity_reserved, line.quantity_backordered = take, line.quantity - take
    short = {line.sku_code: line.quantity_backordered for line in lines if line.quantity_backordered}
    status_set(order, S.BACKORDERED if short else S.RESERVED)
    order.warehouse = chosen.warehouse
    _split_note(order, sorted(w.code for w in chosen.reserve) if len(chosen.reserve) > 1 else [])
    where = ", ".join(f"{w.code}: {sum(units.values())}" for w, units in chosen.reserve.items()) or "nothing"
    if short:
        message = f"Reserved {where}; backordered {short}"
        return timeline_entry(order, "backordered", message, actor=actor, backordered=short)
    return timeline_entry(order, "reserved", f"Reserved in {where}", actor=actor, warehouse=order.warehouse.code)


def hold_book(order: Order, lines: list[OrderLine], reason: str, detail: str, *, actor=None) -> TimelineEvent:
    """Put the order on hold in memory (nothing reserved); returns the timeline entry to save."""
    for line in lines:
        line.quantity_reserved = line.quantity_backordered = 0
    status_set(order, S.ON_HOLD, hold_reason=reason, hold_detail=detail)
    return timeline_entry(order, "on_hold", f"On hold: {reason} ({detail})", actor=actor, reason=reason)


def hold_apply(order: Order, lines: list[OrderLine], reason: str, detail: str, *, actor=None) -> None:
    """Put a saved order (nothing reserved for it any more) on hold: lines, order and timeline."""
    entry = hold_book(order, lines, reason, detail, actor=actor)
    OrderLine.objects.bulk_update(lines, ["quantity_reserved", "quantity_backordered"])
    order.save(update_fields=["status", "hold_reason", "hold_detail", "updated_at"])
    entry.save(force_insert=True)


def plan_reserve(order: Order, chosen: Plan, *, actor=None) -> None:
    """Reserve the plan's units (the stock UPDATEs: last statements of the caller's transaction)."""
    # Warehouses in one fixed order (by id), so two split reservations never lock each other's
    # stock rows in opposite orders. (Within a warehouse the rows go in ascending id order; across
    # warehouses a release, which locks in global id order, can still meet a split reservation the
    # other way round: PostgreSQL then aborts one, and the inbox retries it as transient.)
    for warehouse, per_sku in sorted(chosen.reserve.items(), key=lambda item: item[0].pk):
        # The caller's savepoint (order_allocate, order creation) undoes the whole plan on a short.
        inventory.reservation_create(
            warehouse=warehouse,
            items=list(per_sku.items()),
            reference=order.reservation_reference,
            actor=actor,
            savepoint=False,
        )


def _plan_apply(order: Order, lines: list[OrderLine], chosen: Plan, *, actor=None) -> None:
    entry = plan_book(order, lines, chosen, actor=actor)
    OrderLine.objects.bulk_update(lines, ["quantity_reserved", "quantity_backordered"])
    order.save(update_fields=["status", "hold_reason", "hold_detail", "warehouse", "needs_attention", "updated_at"])
    entry.save(force_insert=True)
    plan_reserve(order, chosen, actor=actor)


def order_allocate(*, order: Order, actor=None) -> Order:
    """Hold the order with a reason, or reserve it (whole, or backordered/split per setting).

    Must run inside a transaction with the order row locked and nothing reserved
    for it yet. Never oversells: a race lost at the conditional UPDATE re-plans.
    """
    lines = list(order.lines.all())
    reason, detail, candidates = hold_reason(order, lines)
    if reason:
        hold_apply(order, lines, reason, detail, actor=actor)
        return order
    for chosen in plans(candidates, need_of(lines)):
        try:
            with transaction.atomic():
                _plan_apply(order, lines, chosen, actor=actor)
            return order
        except InsufficientStock:
            # Someone took the units between our read and our UPDATE: read again.
            order.refresh_from_db()
            lines = list(order.lines.all())
    raise AssertionError("unreachable: the last plan reserves nothing")  # pragma: no cover
