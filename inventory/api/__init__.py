"""Inventory HTTP API, one module per sub-domain; the views and serializers re-exported here.

- ``stock``: catalogue, stock levels, the ledger, grid, cover and the stock commands
- ``receipts``: multi-line receipts
- ``alerts``: stock alerts
"""

from inventory.api.alerts import StockAlertList, StockAlertOut
from inventory.api.receipts import ReceiptOut, StockReceiptCreate, StockReceiptDetail, StockReceiptList
from inventory.api.stock import (
    CATALOGUE_READERS,
    QUANTITY_MAX,
    STAFF_READERS,
    CoverOut,
    MovementList,
    MovementOut,
    ProductDetail,
    ProductList,
    ProductOut,
    SkuDetail,
    SkuList,
    SkuOut,
    StockAdjust,
    StockCount,
    StockCover,
    StockGrid,
    StockGridOut,
    StockLevelOut,
    StockList,
    StockReceive,
    WarehouseDetail,
    WarehouseList,
    WarehouseOut,
)

__all__ = [
    "CATALOGUE_READERS",
    "QUANTITY_MAX",
    "STAFF_READERS",
    "CoverOut",
    "MovementList",
    "MovementOut",
    "ProductDetail",
    "ProductList",
    "ProductOut",
    "ReceiptOut",
    "SkuDetail",
    "SkuList",
    "SkuOut",
    "StockAdjust",
    "StockAlertList",
    "StockAlertOut",
    "StockCount",
    "StockCover",
    "StockGrid",
    "StockGridOut",
    "StockLevelOut",
    "StockList",
    "StockReceiptCreate",
    "StockReceiptDetail",
    "StockReceiptList",
    "StockReceive",
    "WarehouseDetail",
    "WarehouseList",
    "WarehouseOut",
]
