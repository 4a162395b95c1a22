"""Inventory's domain errors; each carries its own code and HTTP status."""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from config.exceptions import Conflict, DomainError, InvalidInput, NotFound


class InsufficientStock(Conflict):
    code = "insufficient_stock"
    default_detail = "Not enough available stock."


# Fulfilment reserves an order's units under this reference (fulfilment.models.Order.reservation_reference).
ORDER_REFERENCE = re.compile(r"order:([0-9]+)")


class BelowReserved(Conflict):
    """On hand would drop below what is reserved; names who holds the stock.

    ``reservations`` lists the active reservations on the level (reference and units, oldest
    first, at most ``HOLDERS_LISTED``), ``references`` their references and ``orders`` the ids
    of the orders among them; ``reservation_count`` counts them all.
    """

    code = "below_reserved"
    default_detail = "On hand cannot go below the reserved quantity."
    HOLDERS_LISTED = 100

    def __init__(
        self,
        detail: str | None = None,
        *,
        sku: str,
        warehouse: str,
        reserved: int,
        holders: Sequence[tuple[str, int]] = (),
        **numbers: int,
    ) -> None:
        listed = list(holders)[: self.HOLDERS_LISTED]
        references = [reference for reference, _ in listed]
        super().__init__(
            detail,
            sku=sku,
            warehouse=warehouse,
            reserved=reserved,
            **numbers,
            references=references,
            orders=[int(match[1]) for ref in references if (match := ORDER_REFERENCE.fullmatch(ref))],
            reservations=[{"reference": reference, "quantity": units} for reference, units in listed],
            reservation_count=len(holders),
        )


class StockLimit(Conflict):
    """The level would pass the largest number its column holds; ``change`` is the refused change."""

    code = "stock_limit"
    default_detail = "The stock level would pass the largest number a level can hold."

    def __init__(self, *, sku: str, warehouse: str, on_hand: int, change: int, limit: int) -> None:
        super().__init__(sku=sku, warehouse=warehouse, on_hand=on_hand, change=change, limit=limit)


class InvalidQuantity(InvalidInput):
    code = "invalid_quantity"
    default_detail = "Quantity must be a positive whole number."


class ReasonRequired(InvalidInput):
    """No reason code given; ``allowed`` lists the codes."""

    code = "reason_required"
    default_detail = "An adjustment needs a reason code."

    def __init__(self, *, allowed: list[str]) -> None:
        super().__init__(allowed=allowed)


class UnknownReason(InvalidInput):
    """A reason that is not one of the adjustment reason codes; ``allowed`` lists them."""

    code = "unknown_reason"
    default_detail = "Not an adjustment reason code."

    def __init__(self, *, reason: str, allowed: list[str]) -> None:
        super().__init__(
            f"{reason!r} is not a reason code; use one of: {', '.join(allowed)}.", reason=reason, allowed=allowed
        )


class NoteRequired(InvalidInput):
    """The reason code (``other``) says nothing by itself: the adjustment needs a note."""

    code = "note_required"
    default_detail = "This reason needs a note saying what happened."

    def __init__(self, *, reason: str) -> None:
        super().__init__(reason=reason)


class NoteTooLong(InvalidInput):
    code = "note_too_long"
    default_detail = "The note is too long."

    def __init__(self, *, max_length: int) -> None:
        super().__init__(f"A note has at most {max_length} characters.", max_length=max_length)


class UnknownProduct(NotFound):
    code = "unknown_product"
    default_detail = "No such product."


class UnknownSku(NotFound):
    code = "unknown_sku"
    default_detail = "No such SKU."


class UnknownWarehouse(NotFound):
    code = "unknown_warehouse"
    default_detail = "No such warehouse."


class UnknownBin(NotFound):
    code = "unknown_bin"
    default_detail = "No such bin in this warehouse."


class CatalogueImportError(DomainError):
    """A catalogue file had bad rows; nothing of it was applied."""

    code = "catalogue_invalid"
    status = 400
    default_detail = "The catalogue file has errors; nothing was applied."

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        self.errors = errors
        super().__init__(errors=[{"line": line, "error": message} for line, message in errors])


@dataclass(frozen=True)
class LineError:
    """What is wrong with one line of a multi-line command: its index in ``lines`` (from 0) and field."""

    line: int
    field: str | None  # None: the line as a whole (not an object, or a second line of the same SKU)
    detail: str


class ReceiptLinesInvalid(InvalidInput):
    """Lines of a receipt are bad; nothing was booked. ``line`` and ``field`` name the first, ``lines`` all of them."""

    code = "invalid_receipt_line"
    default_detail = "A receipt line is bad; nothing was booked."

    def __init__(self, errors: Sequence[LineError]) -> None:
        first = errors[0]
        where = f"line {first.line}" + (f", {first.field}" if first.field else "")
        super().__init__(
            f"Receipt {where}: {first.detail} Nothing was booked.",
            line=first.line,
            field=first.field,
            lines=[{"line": e.line, "field": e.field, "detail": e.detail} for e in errors],
        )


class ReceiptConflict(Conflict):
    """The warehouse already booked a receipt under this reference, with other lines."""

    code = "receipt_conflict"
    default_detail = "This warehouse already booked a receipt with this reference, with other lines."

    def __init__(self, *, warehouse: str, reference: str, receipt: int) -> None:
        super().__init__(warehouse=warehouse, reference=reference, receipt=receipt)


class ReferenceRequired(InvalidInput):
    code = "reference_required"
    default_detail = "A receipt needs the supplier's reference."
