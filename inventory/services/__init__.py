"""Every change of stock goes through these functions; each writes the ledger in the same transaction.

One module per sub-domain, the public names re-exported here:

- ``levels``: argument checks, the level of a SKU in a warehouse, the after-commit stock-available hooks
- ``stock``: receipts (single and multi-line), adjustments with reason codes, counts
- ``reservations``: the reservation hot path (reserve, release, write off, commit)
- ``verify``: every level recomputed from the ledger and active reservations
- ``imports``: catalogue and bin imports
"""

from inventory.services.imports import CatalogueImportResult, bins_import, catalogue_import, size_sort_order
from inventory.services.levels import stock_level_get
from inventory.services.reservations import (
    reservation_commit,
    reservation_create,
    reservation_release,
    reservation_uncommit,
    reservation_write_off,
)
from inventory.services.stock import (
    RECEIPT_LINES_MAX,
    ReceiptLine,
    stock_adjust,
    stock_count,
    stock_receipt_create,
    stock_receive,
)
from inventory.services.verify import StockMismatch, stock_verify

__all__ = [
    "RECEIPT_LINES_MAX",
    "CatalogueImportResult",
    "ReceiptLine",
    "StockMismatch",
    "bins_import",
    "catalogue_import",
    "reservation_commit",
    "reservation_create",
    "reservation_release",
    "reservation_uncommit",
    "reservation_write_off",
    "size_sort_order",
    "stock_adjust",
    "stock_count",
    "stock_level_get",
    "stock_receipt_create",
    "stock_receive",
    "stock_verify",
]
