"""Reservations: reserve, release, write off and commit the units held for a reference (an order).

The reservation hot path follows DESIGN.md: insert the reservation and ledger
rows first, then one conditional ``UPDATE ... WHERE on_hand - reserved >= q``
per stock row in ascending id order, as the last statements before COMMIT.
The row lock is held only from that UPDATE to COMMIT, a fixed lock order means
no deadlocks, and a row count of 0 means short (the transaction rolls back,
taking the inserts with it)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Iterable

from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from inventory.errors import InsufficientStock
from inventory.models import (
    STOCK_LEVEL_MAX,
    MovementKind,
    Reservation,
    Sku,
    StockLevel,
    StockMovement,
    Warehouse,
)
from inventory.services.levels import (
    Actor,
    _actor,
    _positive,
    _stock_became_available,
    _stock_changed,
)
from inventory.services.stock import stock_adjust


def _merge(items: Iterable[tuple[int, int]]) -> dict[int, int]:
    merged: dict[int, int] = defaultdict(int)
    for sku_id, quantity in items:
        merged[sku_id] += _positive(quantity)
    return dict(merged)


# SQLSTATE that inventory_reserve (migration 0003) raises for a missing or short stock row.
_SHORT_SQLSTATE = "IV001"
_RESERVE_SQL = (
    "SELECT reservation_id, stock_id, quantity, created_at"
    " FROM inventory_reserve(%s::bigint, %s::text, %s::integer, %s::bigint[], %s::integer[])"
)


def reservation_create(
    *,
    warehouse: Warehouse,
    items: Iterable[tuple[int, int]],
    reference: str,
    actor: Actor = None,
    savepoint: bool = True,
) -> list[Reservation]:
    """Reserve all ``(sku_id, quantity)`` items in one warehouse, or none of them (InsufficientStock).

    ``savepoint=False`` is for callers whose own ``atomic()`` block rolls back on the error anyway.
    """
    wanted = _merge(items)
    if not wanted:
        return []
    beyond = next((sku_id for sku_id, quantity in wanted.items() if quantity > STOCK_LEVEL_MAX), None)
    if beyond is not None:
        # More than any level can hold (lines of one SKU add up): short, before PostgreSQL's integer overflow.
        level = StockLevel.objects.filter(warehouse=warehouse, sku_id=beyond).first()
        raise InsufficientStock(
            sku=Sku.objects.get(pk=beyond).code,
            warehouse=warehouse.code,
            requested=wanted[beyond],
            available=level.available if level else 0,
        )
    kwargs = {"warehouse": warehouse, "wanted": wanted, "reference": reference, "actor": actor}
    if connection.vendor == "postgresql" and (not connection.in_atomic_block or not savepoint):
        # Outside a transaction the one function call is a transaction by itself: no BEGIN and
        # COMMIT round trips, and the row lock ends with the statement.
        reservations = _reserve_in_database(**kwargs)
    else:
        # Inside the caller's transaction a savepoint keeps a short reservation from aborting it.
        with transaction.atomic():
            if connection.vendor == "postgresql":
                reservations = _reserve_in_database(**kwargs)
            else:
                reservations = _reserve_with_orm(**kwargs)
    # Registered once the reservation stands: a short one (raised above) checks nothing; outside a
    # transaction the hook runs now, the reservation being committed already.
    _stock_changed(reservation.stock_id for reservation in reservations)
    return reservations


def _reserve_in_database(
    *, warehouse: Warehouse, wanted: dict[int, int], reference: str, actor: Actor
) -> list[Reservation]:
    """PostgreSQL: the whole hot path is one round trip to ``inventory_reserve`` (migration 0003).

    Per ORM statement this path used to cost 0.2-0.5 ms of Python, serialised by the GIL
    (bench/README.md); the function does the same statements in the same order server-side.
    """
    user = _actor(actor)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                _RESERVE_SQL,
                [warehouse.pk, reference, user.pk if user else None, list(wanted), list(wanted.values())],
            )
            rows = cursor.fetchall()
    except DatabaseError as exc:
        short = _short_detail(exc)
        if short is None:
            raise
        # The transaction is aborted now, so everything the error needs came in its DETAIL.
        raise InsufficientStock(
            sku=short["sku"], warehouse=warehouse.code, requested=short["requested"], available=short["available"]
        ) from exc
    names = [field.attname for field in Reservation._meta.concrete_fields]
    reservations = []
    for pk, stock_id, quantity, created_at in rows:
        values = {
            "id": pk,
            "stock_id": stock_id,
            "reference": reference,
            "quantity": quantity,
            "status": Reservation.Status.ACTIVE,
            "created_at": created_at,
            "closed_at": None,
        }
        # A KeyError here means Reservation gained a column that inventory_reserve does not set yet.
        reservations.append(Reservation.from_db(connection.alias, names, [values[name] for name in names]))
    return reservations


def _short_detail(exc: DatabaseError) -> dict | None:
    """The JSON DETAIL of inventory_reserve's "short" error (sku, requested, available), or None for other errors."""
    cause = exc.__cause__
    if getattr(cause, "sqlstate", None) != _SHORT_SQLSTATE:
        return None
    return json.loads(cause.diag.message_detail)


def _reserve_with_orm(
    *, warehouse: Warehouse, wanted: dict[int, int], reference: str, actor: Actor
) -> list[Reservation]:
    """SQLite (no stored functions): the same statements in the same order, through the ORM."""
    rows = StockLevel.objects.filter(warehouse=warehouse, sku_id__in=wanted).only("id", "sku_id")
    levels = {level.sku_id: level for level in rows}
    missing = sorted(set(wanted) - set(levels))
    if missing:
        raise InsufficientStock(
            sku=Sku.objects.get(pk=missing[0]).code, warehouse=warehouse.code, requested=wanted[missing[0]], available=0
        )
    by_stock = sorted((levels[sku_id].pk, sku_id, quantity) for sku_id, quantity in wanted.items())
    user = _actor(actor)
    reservations = Reservation.objects.bulk_create(
        [Reservation(stock_id=stock_id, reference=reference, quantity=quantity) for stock_id, _, quantity in by_stock]
    )
    StockMovement.objects.bulk_create(
        [
            StockMovement(
                kind=MovementKind.RESERVATION,
                quantity=quantity,
                sku_id=sku_id,
                warehouse=warehouse,
                reference=reference,
                actor=user,
            )
            for _, sku_id, quantity in by_stock
        ]
    )
    # Last statements before COMMIT, ascending stock id: short lock, fixed order, no deadlock.
    for stock_id, _sku_id, quantity in by_stock:
        updated = StockLevel.objects.filter(pk=stock_id, on_hand__gte=F("reserved") + quantity).update(
            reserved=F("reserved") + quantity
        )
        if updated == 0:
            level = StockLevel.objects.select_related("sku").get(pk=stock_id)
            raise InsufficientStock(
                sku=level.sku.code, warehouse=warehouse.code, requested=quantity, available=level.available
            )
    return reservations


def _close_reservations(
    *, reference: str, status: str, kind: str, actor: Actor, sku_ids: Collection[int] | None
) -> dict[int, int]:
    """Close the active reservations of a reference; returns units per stock id that were closed."""
    active = Reservation.objects.select_for_update().filter(reference=reference, status=Reservation.Status.ACTIVE)
    if sku_ids is not None:
        active = active.filter(stock__sku_id__in=sku_ids)
    rows = list(active.order_by("pk").values_list("pk", "stock_id", "stock__sku_id", "stock__warehouse_id", "quantity"))
    if not rows:
        return {}
    Reservation.objects.filter(pk__in=[row[0] for row in rows]).update(status=status, closed_at=timezone.now())
    per_stock: dict[int, list] = {}
    for _, stock_id, sku_id, warehouse_id, quantity in rows:
        entry = per_stock.setdefault(stock_id, [sku_id, warehouse_id, 0])
        entry[2] += quantity
    user = _actor(actor)
    StockMovement.objects.bulk_create(
        [
            StockMovement(
                kind=kind, quantity=-units, sku_id=sku_id, warehouse_id=warehouse_id, reference=reference, actor=user
            )
            for sku_id, warehouse_id, units in per_stock.values()
        ]
    )
    return {stock_id: entry[2] for stock_id, entry in per_stock.items()}


@transaction.atomic
def reservation_release(*, reference: str, actor: Actor = None, sku_ids: Collection[int] | None = None) -> int:
    """Give back the units held for a reference (cancellation, reallocation); releasing twice releases nothing."""
    per_stock = _close_reservations(
        reference=reference, status=Reservation.Status.RELEASED, kind=MovementKind.RELEASE, actor=actor, sku_ids=sku_ids
    )
    for stock_id in sorted(per_stock):
        StockLevel.objects.filter(pk=stock_id).update(reserved=F("reserved") - per_stock[stock_id])
    _stock_became_available(per_stock)
    _stock_changed(per_stock)
    return sum(per_stock.values())


@transaction.atomic
def reservation_write_off(
    *,
    reference: str,
    sku: Sku,
    warehouse: Warehouse,
    quantity: int,
    actor: Actor = None,
    reason: str = "short_pick",
    note: str = "",
) -> StockLevel:
    """Write off ``quantity`` units a reference holds of one SKU in one warehouse: they are not there.

    A short pick: the picker found the bin short. The held units are released (ledger ``release``,
    the newest reservations shrinking first; a row that reaches zero is closed as released) and
    written off on-hand (ledger ``adjustment`` with ``reason``). Available stock is unchanged, so
    no stock-available hook runs. Refuses (409 ``insufficient_stock``) to write off more than the
    reference holds there.
    """
    _positive(quantity)
    active = list(
        Reservation.objects.select_for_update(of=("self",))  # the stock row is locked last, by the UPDATE
        .filter(reference=reference, status=Reservation.Status.ACTIVE, stock__sku=sku, stock__warehouse=warehouse)
        .order_by("-pk")
    )
    held = sum(row.quantity for row in active)
    if held < quantity:
        raise InsufficientStock(
            "The reference holds fewer units of this SKU here than that.",
            sku=sku.code,
            warehouse=warehouse.code,
            reference=reference,
            held=held,
            requested=quantity,
        )
    left, now = quantity, timezone.now()
    for row in active:
        take = min(row.quantity, left)
        if take == row.quantity:
            Reservation.objects.filter(pk=row.pk).update(status=Reservation.Status.RELEASED, closed_at=now)
        else:
            Reservation.objects.filter(pk=row.pk).update(quantity=F("quantity") - take)
        left -= take
        if not left:
            break
    stock_id = active[0].stock_id  # one level per SKU and warehouse
    StockMovement.objects.create(
        kind=MovementKind.RELEASE,
        quantity=-quantity,
        sku=sku,
        warehouse=warehouse,
        reference=reference,
        reason=reason[:255],
        actor=_actor(actor),
    )
    StockLevel.objects.filter(pk=stock_id).update(reserved=F("reserved") - quantity, updated_at=now)
    return stock_adjust(
        sku=sku, warehouse=warehouse, delta=-quantity, reason=reason, actor=actor, reference=reference, note=note
    )


@transaction.atomic
def reservation_commit(*, reference: str, actor: Actor = None, sku_ids: Collection[int] | None = None) -> int:
    """Ship the units held for a reference: on-hand and reserved both drop; committing twice ships nothing."""
    per_stock = _close_reservations(
        reference=reference,
        status=Reservation.Status.COMMITTED,
        kind=MovementKind.SHIPMENT,
        actor=actor,
        sku_ids=sku_ids,
    )
    for stock_id in sorted(per_stock):
        units = per_stock[stock_id]
        StockLevel.objects.filter(pk=stock_id).update(
            on_hand=F("on_hand") - units, reserved=F("reserved") - units, updated_at=timezone.now()
        )
    _stock_changed(per_stock)
    return sum(per_stock.values())


@transaction.atomic
def reservation_uncommit(*, reference: str, actor: Actor = None, reason: str = "shipment_cancelled") -> int:
    """Undo a commit whose goods never left (a shipment voided before pickup): the units are on hand
    and held for the reference again. Ledger, per SKU: a ``return`` (on hand back, with ``reason``)
    and a ``reservation`` (held again); the ``shipment`` rows stay, the history is not rewritten.

    Returns the units restored; a reference with nothing committed restores nothing.
    """
    committed = Reservation.objects.select_for_update(of=("self",)).filter(
        reference=reference, status=Reservation.Status.COMMITTED
    )
    rows = list(
        committed.order_by("pk").values_list("pk", "stock_id", "stock__sku_id", "stock__warehouse_id", "quantity")
    )
    if not rows:
        return 0
    Reservation.objects.filter(pk__in=[row[0] for row in rows]).update(status=Reservation.Status.ACTIVE, closed_at=None)
    per_stock: dict[int, list] = {}
    for _, stock_id, sku_id, warehouse_id, quantity in rows:
        per_stock.setdefault(stock_id, [sku_id, warehouse_id, 0])[2] += quantity
    user = _actor(actor)
    StockMovement.objects.bulk_create(
        [
            StockMovement(
                kind=kind,
                quantity=units,
                sku_id=sku_id,
                warehouse_id=warehouse_id,
                reference=reference,
                reason=reason[:255],
                actor=user,
            )
            for sku_id, warehouse_id, units in per_stock.values()
            for kind in (MovementKind.RETURN, MovementKind.RESERVATION)
        ]
    )
    for stock_id in sorted(per_stock):
        units = per_stock[stock_id][2]
        StockLevel.objects.filter(pk=stock_id).update(
            on_hand=F("on_hand") + units, reserved=F("reserved") + units, updated_at=timezone.now()
        )
    _stock_changed(per_stock)
    return sum(entry[2] for entry in per_stock.values())
