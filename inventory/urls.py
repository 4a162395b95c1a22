from django.urls import path

from inventory import api

urlpatterns = [
    path("products/", api.ProductList.as_view(), name="product-list"),
    path("products/<str:code>/", api.ProductDetail.as_view(), name="product-detail"),
    path("skus/", api.SkuList.as_view(), name="sku-list"),
    path("skus/<str:code>/", api.SkuDetail.as_view(), name="sku-detail"),
    path("warehouses/", api.WarehouseList.as_view(), name="warehouse-list"),
    path("warehouses/<str:code>/", api.WarehouseDetail.as_view(), name="warehouse-detail"),
    path("stock/", api.StockList.as_view(), name="stock-list"),
    path("stock/grid/", api.StockGrid.as_view(), name="stock-grid"),
    path("stock/cover/", api.StockCover.as_view(), name="stock-cover"),
    path("stock/alerts/", api.StockAlertList.as_view(), name="stock-alert-list"),
    path("stock/receive", api.StockReceive.as_view(), name="stock-receive"),
    path("stock/adjust", api.StockAdjust.as_view(), name="stock-adjust"),
    path("stock/count", api.StockCount.as_view(), name="stock-count"),
    path("stock/receipts", api.StockReceiptCreate.as_view(), name="stock-receipt-create"),
    path("stock/receipts/", api.StockReceiptList.as_view(), name="stock-receipt-list"),
    path("stock/receipts/<int:pk>/", api.StockReceiptDetail.as_view(), name="stock-receipt-detail"),
    path("movements/", api.MovementList.as_view(), name="movement-list"),
]
