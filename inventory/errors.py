"""Inventory's domain errors; each carries its own code and HTTP status."""

from config.exceptions import Conflict, DomainError, InvalidInput, NotFound


class InsufficientStock(Conflict):
    code = "insufficient_stock"
    default_detail = "Not enough available stock."


class BelowReserved(Conflict):
    code = "below_reserved"
    default_detail = "On hand cannot go below the reserved quantity."


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
