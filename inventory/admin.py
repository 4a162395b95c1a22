from django.contrib import admin

from config.admin_base import ReadOnlyAdmin, ReadOnlyTabularInline
from inventory.models import (
    Bin,
    Product,
    Reservation,
    Size,
    Sku,
    StockAlert,
    StockLevel,
    StockMovement,
    StockReceipt,
    StockReceiptLine,
    Warehouse,
    WarehouseZone,
)


class SkuInline(admin.TabularInline):
    model = Sku
    extra = 0
    fields = ["code", "size", "barcode", "hs_code", "weight_g", "lead_time_days", "is_active"]
    autocomplete_fields = ["size"]
    ordering = ["size__sort_order", "code"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "is_active"]
    search_fields = ["code", "name"]
    inlines = [SkuInline]


@admin.register(Size)
class SizeAdmin(admin.ModelAdmin):
    list_display = ["system", "label", "sort_order"]
    list_filter = ["system"]
    search_fields = ["label"]
    filter_horizontal = ["equivalents"]


@admin.register(Sku)
class SkuAdmin(admin.ModelAdmin):
    list_display = ["code", "product", "size", "barcode", "hs_code", "weight_g", "lead_time_days", "is_active"]
    list_filter = ["product", "size__system", "is_active"]
    search_fields = ["code", "barcode", "product__name"]
    list_select_related = ["product", "size"]
    autocomplete_fields = ["product", "size"]
    ordering = ["product__code", "size__sort_order", "code"]


class ZoneInline(admin.TabularInline):
    model = WarehouseZone
    extra = 0
    ordering = ["priority", "zone"]


class BinInline(admin.TabularInline):
    model = Bin
    extra = 0
    ordering = ["walk_sequence", "code"]


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "country", "express_cutoff", "timezone", "is_active"]
    search_fields = ["code", "name"]
    inlines = [ZoneInline, BinInline]


@admin.register(StockLevel)
class StockLevelAdmin(admin.ModelAdmin):
    """Numbers are read-only here: stock changes only through the services (API or commands), which write the ledger."""

    list_display = ["sku", "warehouse", "bin", "on_hand", "reserved", "available", "reorder_point"]
    list_filter = ["warehouse"]
    search_fields = ["sku__code"]
    list_select_related = ["sku", "warehouse", "bin"]
    ordering = ["warehouse__code", "sku__code"]
    readonly_fields = ["sku", "warehouse", "on_hand", "reserved", "updated_at"]
    fields = ["sku", "warehouse", "bin", "on_hand", "reserved", "reorder_point", "updated_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdmin):
    """The ledger is append-only: the admin can read and search it, never edit or delete."""

    list_display = ["created_at", "kind", "quantity", "sku", "warehouse", "reference", "reason", "note", "actor"]
    list_filter = ["kind", "reason", "warehouse"]
    search_fields = ["sku__code", "reference", "note"]
    list_select_related = ["sku", "warehouse", "actor"]
    date_hierarchy = "created_at"


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = ["reference", "stock", "quantity", "status", "created_at", "closed_at"]
    list_filter = ["status"]
    search_fields = ["reference"]
    list_select_related = ["stock__sku", "stock__warehouse"]


class StockReceiptLineInline(ReadOnlyTabularInline):
    model = StockReceiptLine
    fields = ["sku", "quantity", "bin"]


@admin.register(StockReceipt)
class StockReceiptAdmin(ReadOnlyAdmin):
    """Receipts are booked over the API (POST /api/stock/receipts), all lines or none; here they are read."""

    list_display = ["received_at", "reference", "warehouse", "actor"]
    list_filter = ["warehouse"]
    search_fields = ["reference", "lines__sku__code"]
    list_select_related = ["warehouse", "actor"]
    date_hierarchy = "received_at"
    inlines = [StockReceiptLineInline]


@admin.register(StockAlert)
class StockAlertAdmin(ReadOnlyAdmin):
    """Alerts open and close from the stock (inventory.alerts); they are looked at here, never edited."""

    list_display = ["opened_at", "kind", "sku", "warehouse", "available", "reorder_point", "days_of_cover", "closed_at"]
    list_filter = [("closed_at", admin.EmptyFieldListFilter), "kind", "warehouse"]
    list_select_related = ["sku", "warehouse"]
    search_fields = ["sku__code"]
    date_hierarchy = "opened_at"
    ordering = ["-opened_at", "-pk"]
