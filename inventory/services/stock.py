"""Receipts, adjustments and counts: on-hand changes, each writing the ledger in the same transaction."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from inventory.errors import (
    BelowReserved,
    InvalidQuantity,
    LineError,
    NoteRequired,
    NoteTooLong,
    ReasonRequired,
    ReceiptConflict,
    ReceiptLinesInvalid,
    ReferenceRequired,
    UnknownBin,
    UnknownReason,
)
from inventory.models import (
    NOTE_MAX_LENGTH,
    NOTE_REQUIRED_REASONS,
    STOCK_LEVEL_MAX,
    AdjustmentReason,
    Bin,
    MovementKind,
    Sku,
    StockLevel,
    StockMovement,
    StockReceipt,
    StockReceiptLine,
    Warehouse,
)
from inventory.services.levels import (
    Actor,
    _actor,
    _holders,
    _positive,
    _stock_became_available,
    _stock_changed,
    _stock_limit,
    stock_level_get,
)


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
    _stock_changed([level.pk for level in levels])
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
    _stock_changed([level.pk])
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
    _stock_changed([level.pk])
    level.refresh_from_db()
    return level
