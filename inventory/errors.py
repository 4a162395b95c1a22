"""Inventory's domain errors; each carries its own code and HTTP status."""

from config.exceptions import Conflict, DomainError, InvalidInput, NotFound


class InsufficientStock(Conflict):
    code = "insufficient_stock"
    default_detail = "Not enough available stock."


class BelowReserved(Conflict):
    code = "below_reserved"
    default_detail = "On hand cannot go below the reserved quantity."


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
    code = "reason_required"
    default_detail = "An adjustment needs a reason."


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
