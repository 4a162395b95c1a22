from django.contrib import admin, messages

from fulfilment.models import ChannelCursor, InboxDelivery, Order, OrderEvent, OrderLine
from fulfilment.services import inbox_replay


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    fields = ["sku_code", "sku", "title", "quantity", "quantity_reserved", "quantity_backordered", "requires_shipping"]
    readonly_fields = ["quantity_reserved", "quantity_backordered"]
    raw_id_fields = ["sku"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    fields = ["created_at", "kind", "message", "actor"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """Status moves only through the services (API actions); the admin edits addresses of held orders."""

    list_display = [
        "number",
        "channel",
        "status",
        "hold_reason",
        "warehouse",
        "service_level",
        "ship_country",
        "paid_at",
        "needs_attention",
    ]
    list_filter = ["status", "hold_reason", "channel", "service_level", "warehouse"]
    search_fields = ["number", "email", "external_id"]
    list_select_related = ["warehouse"]
    readonly_fields = [
        "channel",
        "shop",
        "external_id",
        "status",
        "hold_reason",
        "hold_detail",
        "warehouse",
        "financial_status",
        "is_paid",
        "paid_at",
        "external_updated_at",
        "created_at",
        "updated_at",
    ]
    inlines = [OrderLineInline, OrderEventInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(InboxDelivery)
class InboxDeliveryAdmin(admin.ModelAdmin):
    list_display = ["received_at", "channel", "topic", "event_id", "status", "attempts", "order"]
    list_filter = ["status", "channel", "topic"]
    search_fields = ["event_id"]
    list_select_related = ["order"]
    readonly_fields = [
        "channel",
        "topic",
        "event_id",
        "shop",
        "headers",
        "status",
        "error",
        "attempts",
        "order",
        "received_at",
        "processed_at",
        "body_text",
    ]
    exclude = ["body"]
    actions = ["replay"]

    @admin.display(description="body")
    def body_text(self, obj):
        return bytes(obj.body).decode("utf-8", "replace")

    @admin.action(description="Replay selected deliveries")
    def replay(self, request, queryset):
        for delivery_id in queryset.values_list("pk", flat=True):
            result = inbox_replay(delivery_id=delivery_id)
            level = messages.SUCCESS if result.delivery.status != "failed" else messages.ERROR
            self.message_user(request, f"Delivery {delivery_id}: {result.delivery.status}", level)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ChannelCursor)
class ChannelCursorAdmin(admin.ModelAdmin):
    """Where reconciliation reads from next; move it back to read a period again (duplicates are skipped)."""

    list_display = ["channel", "position", "updated_at"]
    readonly_fields = ["updated_at"]
