from django import forms
from django.contrib import admin, messages

from config.admin_base import ReadOnlyAdmin, ReadOnlyTabularInline
from config.exceptions import DomainError
from fulfilment.models import (
    ChannelCursor,
    InboxDelivery,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    PickWave,
    PickWaveOrder,
)
from fulfilment.services import inbox_replay, order_attention_set, order_edit
from fulfilment.services.holds import address_changes_clean


def _held(order: Order | None) -> bool:
    return order is not None and order.status == OrderStatus.ON_HOLD


class OrderLineInline(admin.TabularInline):
    """Lines are read-only, except a held order's SKU code, which is saved through ``order_edit``."""

    model = OrderLine
    extra = 0
    fields = ["sku_code", "sku", "title", "quantity", "quantity_reserved", "quantity_backordered", "requires_shipping"]

    def get_readonly_fields(self, request, obj=None):
        return [name for name in self.fields if not (_held(obj) and name == "sku_code")]

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OrderEventInline(ReadOnlyTabularInline):
    model = OrderEvent
    fields = ["created_at", "kind", "message", "actor"]


class OrderForm(forms.ModelForm):
    class Meta:
        model = Order
        fields = ["shipping_address", "needs_attention"]

    def clean_shipping_address(self):
        """The same rules as the API's edit; a field deleted from the JSON is cleared, not kept."""
        address = self.cleaned_data.get("shipping_address")
        if address is None:
            address = {}
        if isinstance(address, dict):
            removed = set(self.instance.shipping_address or {}) - set(address)
            address = {**dict.fromkeys(removed, ""), **address}
        try:
            return address_changes_clean(address)
        except DomainError as exc:
            raise forms.ValidationError(exc.detail) from exc


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """Every write goes through the services, with their rules and the timeline: a held order's address
    and line SKUs through ``order_edit`` (the hold stays until released), the attention note through
    ``order_attention_set``. Everything else is read-only here; status moves through the API."""

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
    form = OrderForm
    inlines = [OrderLineInline, OrderEventInline]

    def get_readonly_fields(self, request, obj=None):
        editable = {"needs_attention", "shipping_address"} if _held(obj) else {"needs_attention"}
        return [field.name for field in Order._meta.fields if field.name not in editable]

    def save_model(self, request, obj, form, change):
        try:
            if "shipping_address" in form.changed_data:
                address = form.cleaned_data["shipping_address"] or {}
                order_edit(order_id=obj.pk, shipping_address=address, actor=request.user)
            if "needs_attention" in form.changed_data:
                order_attention_set(order_id=obj.pk, note=form.cleaned_data["needs_attention"], actor=request.user)
        except DomainError as exc:
            self.message_user(request, f"Not saved: {exc.detail}", messages.ERROR)

    def save_formset(self, request, form, formset, change):
        if formset.model is not OrderLine:
            return super().save_formset(request, form, formset, change)
        line_skus = {
            line_form.instance.pk: line_form.cleaned_data["sku_code"]
            for line_form in formset.forms
            if "sku_code" in line_form.changed_data
        }
        # The admin's change message reads what formset.save() would have recorded; nothing is saved here.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        if line_skus:
            try:
                order_edit(order_id=form.instance.pk, line_skus=line_skus, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"Lines not saved: {exc.detail}", messages.ERROR)

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


class PickWaveOrderInline(ReadOnlyTabularInline):
    model = PickWaveOrder
    fields = ["position", "order", "late", "active", "left_at"]
    ordering = ["position"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order")


@admin.register(PickWave)
class PickWaveAdmin(ReadOnlyAdmin):
    """Waves are started, cancelled and closed on the floor, through the API; here they are read."""

    list_display = ["id", "warehouse", "status", "picker", "service_level", "created_at", "ended_at"]
    list_filter = ["status", "warehouse", "service_level"]
    list_select_related = ["warehouse", "picker"]
    fields = ["warehouse", "status", "picker", "service_level", "created_at", "ended_at"]
    readonly_fields = fields
    inlines = [PickWaveOrderInline]
