"""Every change of stock goes through these functions; each writes the ledger in the same transaction.

The reservation hot path follows DESIGN.md: insert the reservation and ledger
rows first, then one conditional ``UPDATE ... WHERE on_hand - reserved >= q``
per stock row in ascending id order, as the last statements before COMMIT.
The row lock is held only from that UPDATE to COMMIT, a fixed lock order means
no deadlocks, and a row count of 0 means short (the transaction rolls back,
taking the inserts with it).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Case, F, IntegerField, Min, Sum, Value, When
from django.utils import timezone
from django.utils.module_loading import import_string

from inventory.bins import BinRow
from inventory.catalogue import CatalogueRow
from inventory.errors import (
    BelowReserved,
    CatalogueImportError,
    InsufficientStock,
    InvalidQuantity,
    LineError,
    NoteRequired,
    NoteTooLong,
    ReasonRequired,
    ReceiptConflict,
    ReceiptLinesInvalid,
    ReferenceRequired,
    StockLimit,
    UnknownBin,
    UnknownReason,
)
from inventory.models import (
    NOTE_MAX_LENGTH,
    NOTE_REQUIRED_REASONS,
    ON_HAND_KINDS,
    RESERVED_KINDS,
    STOCK_LEVEL_MAX,
    AdjustmentReason,
    Bin,
    MovementKind,
    Product,
    Reservation,
    Size,
    Sku,
    StockLevel,
    StockMovement,
    StockReceipt,
    StockReceiptLine,
    Warehouse,
)

logger = logging.getLogger(__name__)

Actor = AbstractBaseUser | None


def _positive(quantity: int, *, field: str = "quantity") -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise InvalidQuantity(field=field, value=str(quantity))
    return quantity


def _actor(actor: Actor) -> AbstractBaseUser | None:
    return actor if actor is not None and actor.is_authenticated else None


def _stock_became_available(stock_ids: Iterable[int]) -> None:
    """After commit, tell interested apps (backorder filling) that units became available.

    Inventory may not import the apps that depend on it, so they register
    dotted paths in ``INVENTORY_STOCK_AVAILABLE_HOOKS``. Each hook gets
    ``stock_ids=(...)`` and runs once the stock change is committed.
    """
    ids = tuple(sorted(set(stock_ids)))
    if not ids:
        return
    for path in getattr(settings, "INVENTORY_STOCK_AVAILABLE_HOOKS", ()):
        transaction.on_commit(_AfterCommitHook(path=path, stock_ids=ids))


@dataclass(frozen=True)
class _AfterCommitHook:
    """One stock-available hook, run after COMMIT; a failure is logged, never raised.

    By the time it runs the write is committed: raising would turn a booked
    receipt into a 500, and the client's retry would book it twice. The beat
    sweeper (``backorders_sweep_task``) fills what a failed hook left undone.
    """

    path: str
    stock_ids: tuple[int, ...]

    def __call__(self) -> None:
        try:
            import_string(self.path)(stock_ids=self.stock_ids)
        except Exception:  # the after-commit boundary: the sweeper is this hook's retry
            logger.exception(
                "stock-available hook %s failed for stock ids %s; the committed change stands "
                "and the backorder sweeper will catch up",
                self.path,
                self.stock_ids,
            )


def _stock_limit(*, sku: Sku, warehouse: Warehouse, level: StockLevel, change: int) -> StockLimit:
    level.refresh_from_db(fields=["on_hand"])
    return StockLimit(
        sku=sku.code, warehouse=warehouse.code, on_hand=level.on_hand, change=change, limit=STOCK_LEVEL_MAX
    )


def _holders(level: StockLevel) -> list[tuple[str, int]]:
    """Who holds a level's reserved units: (reference, units) per active reservation reference, oldest first."""
    rows = (
        Reservation.objects.filter(stock_id=level.pk, status=Reservation.Status.ACTIVE)
        .order_by()
        .values("reference")
        .annotate(units=Sum("quantity"), first=Min("pk"))
        .order_by("first")
        .values_list("reference", "units")
    )
    return list(rows)


def stock_level_get(*, sku: Sku, warehouse: Warehouse) -> StockLevel:
    """The level of a SKU in a warehouse, created at zero if it does not exist yet (safe under races)."""
    level, _ = StockLevel.objects.get_or_create(sku=sku, warehouse=warehouse)
    return level


@transaction.atomic
def stock_receive(
    *, sku: Sku, warehouse: Warehouse, quantity: int, actor: Actor = None, reference: str = "", bin: Bin | None = None
) -> StockLevel:
    """Add received units (a delivery from the factory, a transfer in); backorders are filled after commit."""
    _positive(quantity)
    if bin is not None and bin.warehouse_id != warehouse.pk:
        raise UnknownBin(bin=bin.code, warehouse=warehouse.code)
    (level,) = _receive(warehouse=warehouse, lines=[(sku, quantity, bin)], actor=actor, reference=reference)
    level.refresh_from_db()
    return level


def _receive(
    *, warehouse: Warehouse, lines: Sequence[tuple[Sku, int, Bin | None]], actor: Actor, reference: str
) -> list[StockLevel]:
    """Book checked (sku, quantity, bin) lines, one SKU each: ledger rows first, then the level UPDATEs.

    The UPDATEs are conditional, like the reservation UPDATE: a level that would pass the
    column's maximum is refused here (the caller's transaction rolls back the ledger rows)
    rather than by PostgreSQL; and they run in ascending level id order as the last statements,
    so two receipts touching the same levels never deadlock. Missing levels are created in SKU
    id order for the same reason (a second creator waits on the first one's unique index entry).
    """
    skus = sorted((sku for sku, _, _ in lines), key=lambda sku: sku.pk)
    by_sku = {sku.pk: stock_level_get(sku=sku, warehouse=warehouse) for sku in skus}
    levels = [by_sku[sku.pk] for sku, _, _ in lines]
    for (sku, quantity, _), level in zip(lines, levels, strict=True):
        if quantity > STOCK_LEVEL_MAX:  # the ledger row could not even hold it
            raise _stock_limit(sku=sku, warehouse=warehouse, level=level, change=quantity)
    user = _actor(actor)
    StockMovement.objects.bulk_create(
        [
            StockMovement(
                kind=MovementKind.RECEIPT,
                quantity=quantity,
                sku=sku,
                warehouse=warehouse,
                reference=reference,
                actor=user,
            )
            for sku, quantity, _ in lines
        ]
    )
    now = timezone.now()
    for level, (sku, quantity, bin) in sorted(zip(levels, lines, strict=True), key=lambda pair: pair[0].pk):
        changes: dict = {"on_hand": F("on_hand") + quantity, "updated_at": now}
        if bin is not None:
            changes["bin"] = bin
        if not StockLevel.objects.filter(pk=level.pk, on_hand__lte=STOCK_LEVEL_MAX - quantity).update(**changes):
            raise _stock_limit(sku=sku, warehouse=warehouse, level=level, change=quantity)
    _stock_became_available([level.pk for level in levels])
    return levels


# --- Receipts: a delivery of several lines -------------------------------------------------------

# The most lines one receipt takes (a purchase order for every size of a range fits many times over).
RECEIPT_LINES_MAX = 1000


@dataclass(frozen=True)
class ReceiptLine:
    """A line as the client sent it, by codes; ``stock_receipt_create`` checks and resolves it."""

    sku: str
    quantity: int
    bin: str = ""


def _receipt_fingerprint(lines: Sequence[ReceiptLine]) -> str:
    """The same lines in any order give the same fingerprint (one line per SKU, so sorting is by SKU)."""
    canonical = json.dumps(sorted((line.sku, line.quantity, line.bin) for line in lines), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _receipt_lines_check(*, warehouse: Warehouse, lines: Sequence[ReceiptLine]) -> list[tuple[Sku, int, Bin | None]]:
    """Every line resolved, or ReceiptLinesInvalid naming each bad one (two queries, whatever the count)."""
    skus = {sku.code: sku for sku in Sku.objects.filter(code__in={line.sku for line in lines})}
    bin_codes = {line.bin for line in lines if line.bin}
    bins = {b.code: b for b in Bin.objects.filter(warehouse=warehouse, code__in=bin_codes)} if bin_codes else {}
    errors: list[LineError] = []
    seen: dict[str, int] = {}
    for index, line in enumerate(lines):
        if isinstance(line.quantity, bool) or not isinstance(line.quantity, int) or line.quantity <= 0:
            errors.append(LineError(index, "quantity", "Quantity must be a positive whole number."))
        if line.sku not in skus:
            errors.append(LineError(index, "sku", f"No such SKU: {line.sku!r}."))
        elif line.sku in seen:
            errors.append(LineError(index, "sku", f"SKU {line.sku} is on line {seen[line.sku]} already."))
        seen.setdefault(line.sku, index)
        if line.bin and line.bin not in bins:
            errors.append(LineError(index, "bin", f"No bin {line.bin!r} in warehouse {warehouse.code}."))
    if errors:
        raise ReceiptLinesInvalid(errors)
    return [(skus[line.sku], line.quantity, bins[line.bin] if line.bin else None) for line in lines]


def _receipt_repeat(receipt: StockReceipt, fingerprint: str) -> tuple[StockReceipt, bool]:
    if receipt.fingerprint != fingerprint:
        raise ReceiptConflict(warehouse=receipt.warehouse.code, reference=receipt.reference, receipt=receipt.pk)
    return receipt, False


@transaction.atomic
def stock_receipt_create(
    *, warehouse: Warehouse, reference: str, lines: Sequence[ReceiptLine], actor: Actor = None
) -> tuple[StockReceipt, bool]:
    """Book a delivery's lines into one warehouse, all or none; backorders are filled first-paid-first after commit.

    The supplier reference is the idempotency key per warehouse: the same lines again return
    the first receipt (``created`` False) and book nothing; other lines under the same
    reference are refused (409 ``receipt_conflict``). Returns ``(receipt, created)``.
    """
    if not reference or not reference.strip():
        raise ReferenceRequired()
    if not lines:
        raise ReceiptLinesInvalid([LineError(0, None, "A receipt needs at least one line.")])
    if len(lines) > RECEIPT_LINES_MAX:
        raise ReceiptLinesInvalid([LineError(RECEIPT_LINES_MAX, None, f"At most {RECEIPT_LINES_MAX} lines.")])
    resolved = _receipt_lines_check(warehouse=warehouse, lines=lines)
    fingerprint = _receipt_fingerprint(lines)
    existing = StockReceipt.objects.select_related("warehouse").filter(warehouse=warehouse, reference=reference).first()
    if existing is not None:
        return _receipt_repeat(existing, fingerprint)
    try:
        # The unique (warehouse, reference) index decides between two requests racing here: the
        # second INSERT waits for the first transaction, then fails once it has committed.
        with transaction.atomic():
            receipt = StockReceipt.objects.create(
                warehouse=warehouse, reference=reference, fingerprint=fingerprint, actor=_actor(actor)
            )
    except IntegrityError:
        existing = StockReceipt.objects.select_related("warehouse").get(warehouse=warehouse, reference=reference)
        return _receipt_repeat(existing, fingerprint)
    StockReceiptLine.objects.bulk_create(
        [
            StockReceiptLine(receipt=receipt, sku=sku, quantity=quantity, bin=bin.code if bin else "")
            for sku, quantity, bin in resolved
        ]
    )
    _receive(warehouse=warehouse, lines=resolved, actor=actor, reference=reference)
    return receipt, True


def _adjustment_reason(reason: str, note: str) -> tuple[str, str]:
    """A known reason code (``AdjustmentReason``) and its note, which ``other`` cannot do without."""
    code = reason or ""
    if not code.strip():
        raise ReasonRequired(allowed=list(AdjustmentReason.values))
    # Codes are exact: " lost" or "Lost" is refused rather than guessed at.
    if code not in AdjustmentReason.values:
        raise UnknownReason(reason=code[:64], allowed=list(AdjustmentReason.values))
    note = (note or "").strip()
    if code in NOTE_REQUIRED_REASONS and not note:
        raise NoteRequired(reason=code)
    if len(note) > NOTE_MAX_LENGTH:
        raise NoteTooLong(max_length=NOTE_MAX_LENGTH)
    return code, note


@transaction.atomic
def stock_adjust(
    *,
    sku: Sku,
    warehouse: Warehouse,
    delta: int,
    reason: str,
    actor: Actor = None,
    reference: str = "",
    note: str = "",
) -> StockLevel:
    """Correct on-hand by a signed delta with a reason code (``other`` needs a note); never goes below reserved."""
    if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
        raise InvalidQuantity("Delta must be a non-zero whole number.", field="delta", value=str(delta))
    reason, note = _adjustment_reason(reason, note)
    level = stock_level_get(sku=sku, warehouse=warehouse)
    if delta > STOCK_LEVEL_MAX:  # the ledger row could not even hold it
        raise _stock_limit(sku=sku, warehouse=warehouse, level=level, change=delta)
    if delta < -STOCK_LEVEL_MAX:  # more than any level holds
        level.refresh_from_db()
        raise BelowReserved(
            sku=sku.code,
            warehouse=warehouse.code,
            on_hand=level.on_hand,
            reserved=level.reserved,
            delta=delta,
            holders=_holders(level),
        )
    StockMovement.objects.create(
        kind=MovementKind.ADJUSTMENT,
        quantity=delta,
        sku=sku,
        warehouse=warehouse,
        reference=reference,
        reason=reason,
        note=note,
        actor=_actor(actor),
    )
    updated = StockLevel.objects.filter(
        pk=level.pk, on_hand__gte=F("reserved") - delta, on_hand__lte=STOCK_LEVEL_MAX - delta
    ).update(on_hand=F("on_hand") + delta, updated_at=timezone.now())
    if updated == 0:
        level.refresh_from_db()
        if level.on_hand + delta > STOCK_LEVEL_MAX:
            raise _stock_limit(sku=sku, warehouse=warehouse, level=level, change=delta)
        raise BelowReserved(
            sku=sku.code,
            warehouse=warehouse.code,
            on_hand=level.on_hand,
            reserved=level.reserved,
            delta=delta,
            holders=_holders(level),
        )
    if delta > 0:
        _stock_became_available([level.pk])
    level.refresh_from_db()
    return level


@transaction.atomic
def stock_count(
    *, sku: Sku, warehouse: Warehouse, counted: int, actor: Actor = None, reference: str = ""
) -> StockLevel:
    """Set on-hand to a physical count, recording the difference; refuses a count below what is reserved."""
    if isinstance(counted, bool) or not isinstance(counted, int) or counted < 0:
        raise InvalidQuantity("A count must be a whole number, zero or more.", field="counted", value=str(counted))
    if counted > STOCK_LEVEL_MAX:
        level = stock_level_get(sku=sku, warehouse=warehouse)
        raise _stock_limit(sku=sku, warehouse=warehouse, level=level, change=counted - level.on_hand)
    stock_level_get(sku=sku, warehouse=warehouse)
    # A count is rare and reads then writes, so a plain row lock is the right tool here.
    level = StockLevel.objects.select_for_update().get(sku=sku, warehouse=warehouse)
    if counted < level.reserved:
        holders = _holders(level)
        orders = ", ".join(reference for reference, _ in holders[:10])
        raise BelowReserved(
            f"Counted fewer units than are reserved; release or reallocate these orders first: {orders}.",
            sku=sku.code,
            warehouse=warehouse.code,
            counted=counted,
            reserved=level.reserved,
            holders=holders,
        )
    difference = counted - level.on_hand
    StockMovement.objects.create(
        kind=MovementKind.COUNT,
        quantity=difference,
        sku=sku,
        warehouse=warehouse,
        reference=reference,
        actor=_actor(actor),
    )
    StockLevel.objects.filter(pk=level.pk).update(on_hand=counted, updated_at=timezone.now())
    if difference > 0:
        _stock_became_available([level.pk])
    level.refresh_from_db()
    return level


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
        return _reserve_in_database(**kwargs)
    # Inside the caller's transaction a savepoint keeps a short reservation from aborting it.
    with transaction.atomic():
        if connection.vendor == "postgresql":
            return _reserve_in_database(**kwargs)
        return _reserve_with_orm(**kwargs)


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
        Reservation.objects.select_for_update()
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
    return sum(per_stock.values())


@dataclass(frozen=True)
class StockMismatch:
    sku: str
    warehouse: str
    field: str
    level: int
    expected: int
    source: str

    def __str__(self) -> str:
        return f"{self.sku}@{self.warehouse}: {self.field} is {self.level} but the {self.source} says {self.expected}"


def _signed_sum(kinds: Iterable[str]) -> Sum:
    return Sum(Case(When(kind__in=list(kinds), then=F("quantity")), default=Value(0), output_field=IntegerField()))


def stock_verify() -> list[StockMismatch]:
    """Recompute every level from the ledger (and reserved from active reservations); list what disagrees."""
    ledger = {
        (row["sku_id"], row["warehouse_id"]): row
        for row in StockMovement.objects.order_by()
        .values("sku_id", "warehouse_id")
        .annotate(on_hand=_signed_sum(ON_HAND_KINDS), reserved=_signed_sum(RESERVED_KINDS))
    }
    held = {
        row["stock_id"]: row["units"]
        for row in Reservation.objects.filter(status=Reservation.Status.ACTIVE)
        .order_by()
        .values("stock_id")
        .annotate(units=Sum("quantity"))
    }
    mismatches: list[StockMismatch] = []
    seen: set[tuple[int, int]] = set()
    levels = (
        StockLevel.objects.select_related("sku", "warehouse")
        .only("id", "on_hand", "reserved", "sku__code", "warehouse__code", "sku_id", "warehouse_id")
        .order_by("pk")
    )
    for level in levels.iterator(chunk_size=2000):
        key = (level.sku_id, level.warehouse_id)
        seen.add(key)
        row = ledger.get(key, {"on_hand": 0, "reserved": 0})
        sku, wh = level.sku.code, level.warehouse.code
        if level.on_hand != row["on_hand"]:
            mismatches.append(StockMismatch(sku, wh, "on_hand", level.on_hand, row["on_hand"], "ledger"))
        if level.reserved != row["reserved"]:
            mismatches.append(StockMismatch(sku, wh, "reserved", level.reserved, row["reserved"], "ledger"))
        if level.reserved != held.get(level.pk, 0):
            mismatches.append(
                StockMismatch(sku, wh, "reserved", level.reserved, held.get(level.pk, 0), "active reservations")
            )
    orphans = set(ledger) - seen
    if orphans:
        skus = dict(Sku.objects.filter(pk__in={s for s, _ in orphans}).values_list("pk", "code"))
        warehouses = dict(Warehouse.objects.filter(pk__in={w for _, w in orphans}).values_list("pk", "code"))
        for sku_id, warehouse_id in sorted(orphans):
            row = ledger[(sku_id, warehouse_id)]
            mismatches.append(
                StockMismatch(skus[sku_id], warehouses[warehouse_id], "on_hand", 0, row["on_hand"], "ledger (no level)")
            )
    return mismatches


# --- Catalogue import ------------------------------------------------------------


@dataclass
class CatalogueImportResult:
    rows: int = 0
    products_created: int = 0
    skus_created: int = 0
    skus_updated: int = 0
    levels_created: int = 0
    stock_counted: int = 0

    def __str__(self) -> str:
        return (
            f"{self.rows} rows: {self.products_created} products and {self.skus_created} SKUs created, "
            f"{self.skus_updated} SKUs updated, {self.levels_created} stock levels created, "
            f"{self.stock_counted} stock levels set"
        )


def size_sort_order(label: str) -> int:
    """Natural order of a size label: numeric labels by value (EU 35 < EU 35.5 < EU 36), others last."""
    try:
        return round(float(label.replace(",", ".")) * 10)
    except ValueError:
        return 100_000


@transaction.atomic
def catalogue_import(
    *, rows: list[CatalogueRow], actor: Actor = None, reference: str = "catalogue-import", only_new_stock: bool = False
) -> CatalogueImportResult:
    """Create or update products, SKUs, bins and stock from parsed rows; all or nothing.

    Stock is set like a physical count (ledger kind ``count``), so re-importing the
    same file changes nothing. With ``only_new_stock`` levels that already exist
    keep their numbers (the demo seed uses this so it never resets live stock).
    """
    result = CatalogueImportResult(rows=len(rows))
    errors: list[tuple[int, str]] = []
    warehouses = {w.code: w for w in Warehouse.objects.filter(code__in={r.warehouse for r in rows})}
    existing_skus = {
        s.code: s for s in Sku.objects.select_related("product", "size").filter(code__in={r.sku for r in rows})
    }
    barcode_owner = dict(
        Sku.objects.filter(barcode__in={r.barcode for r in rows if r.barcode}).values_list("barcode", "code")
    )
    for row in rows:
        if row.warehouse not in warehouses:
            errors.append((row.line, f"unknown warehouse {row.warehouse!r}"))
        sku = existing_skus.get(row.sku)
        if sku is not None and (sku.product.code, sku.size.system, sku.size.label) != (
            row.product_code,
            row.size_system,
            row.size,
        ):
            errors.append(
                (row.line, f"sku {row.sku} already exists as {sku.product.code}/{sku.size.system}/{sku.size.label}")
            )
        owner = barcode_owner.get(row.barcode) if row.barcode else None
        if owner is not None and owner != row.sku:
            errors.append((row.line, f"barcode {row.barcode} already belongs to sku {owner}"))
    if errors:
        raise CatalogueImportError(errors)

    products: dict[str, Product] = {}
    sizes: dict[tuple[str, str], Size] = {}
    for row in rows:
        product = products.get(row.product_code)
        if product is None:
            product, created = Product.objects.update_or_create(
                code=row.product_code, defaults={"name": row.product_name}
            )
            products[row.product_code] = product
            result.products_created += created
        size = sizes.get((row.size_system, row.size))
        if size is None:
            size, _ = Size.objects.get_or_create(
                system=row.size_system, label=row.size, defaults={"sort_order": size_sort_order(row.size)}
            )
            sizes[(row.size_system, row.size)] = size
        fields = {
            "product": product,
            "size": size,
            "barcode": row.barcode,
            "hs_code": row.hs_code,
            "weight_g": row.weight_g,
        }
        sku = existing_skus.get(row.sku)
        if sku is None:
            sku = Sku.objects.create(code=row.sku, **fields)
            existing_skus[row.sku] = sku
            result.skus_created += 1
        elif any(getattr(sku, name) != value for name, value in fields.items()):
            for name, value in fields.items():
                setattr(sku, name, value)
            sku.save(update_fields=list(fields))
            result.skus_updated += 1

        warehouse = warehouses[row.warehouse]
        level, created = StockLevel.objects.get_or_create(sku=sku, warehouse=warehouse)
        result.levels_created += created
        changes: dict = {}
        if row.bin:
            bin, _ = Bin.objects.get_or_create(
                warehouse=warehouse,
                code=row.bin,
                defaults={"walk_sequence": (Bin.objects.filter(warehouse=warehouse).count() + 1) * 10},
            )
            if level.bin_id != bin.pk:
                changes["bin"] = bin
        if row.reorder_point is not None and level.reorder_point != row.reorder_point:
            changes["reorder_point"] = row.reorder_point
        if changes:
            StockLevel.objects.filter(pk=level.pk).update(**changes)
        if row.on_hand is not None and row.on_hand != level.on_hand and (created or not only_new_stock):
            if row.on_hand < level.reserved:
                errors.append((row.line, f"on_hand {row.on_hand} is below the {level.reserved} units reserved"))
                continue
            if row.on_hand > STOCK_LEVEL_MAX:
                errors.append((row.line, f"on_hand {row.on_hand} is more than a level can hold ({STOCK_LEVEL_MAX})"))
                continue
            stock_count(sku=sku, warehouse=warehouse, counted=row.on_hand, actor=actor, reference=reference)
            result.stock_counted += 1
    if errors:
        raise CatalogueImportError(errors)
    return result


@transaction.atomic
def bins_import(*, rows: Iterable[BinRow]) -> dict[str, int]:
    """Create or update bins and their walk order; all rows or none (an unknown warehouse is a bad row)."""
    rows = list(rows)
    warehouses = {w.code: w for w in Warehouse.objects.filter(code__in={row.warehouse for row in rows})}
    errors = [(row.line, f"unknown warehouse {row.warehouse!r}") for row in rows if row.warehouse not in warehouses]
    if errors:
        raise CatalogueImportError(errors)
    existing = {(b.warehouse_id, b.code): b for b in Bin.objects.filter(warehouse__in=warehouses.values())}
    created, updated = [], []
    for row in rows:
        warehouse = warehouses[row.warehouse]
        current = existing.get((warehouse.pk, row.bin))
        if current is None:
            created.append(Bin(warehouse=warehouse, code=row.bin, walk_sequence=row.walk_sequence))
        elif current.walk_sequence != row.walk_sequence:
            current.walk_sequence = row.walk_sequence
            updated.append(current)
    Bin.objects.bulk_create(created)
    Bin.objects.bulk_update(updated, ["walk_sequence"])
    return {"created": len(created), "updated": len(updated), "unchanged": len(rows) - len(created) - len(updated)}
