from django.contrib import admin

from config.admin_base import ReadOnlyAdmin, ReadOnlyTabularInline
from shipping.models import (
    CourierDefault,
    CourierRule,
    LabelPrint,
    Manifest,
    Parcel,
    Shipment,
    ShipperDetails,
    StorefrontFulfillment,
    TrackingEvent,
)


class ParcelInline(ReadOnlyTabularInline):
    model = Parcel
    fields = ["sequence", "tracking_number", "weight_g", "length_cm", "width_cm", "height_cm"]


class EventInline(ReadOnlyTabularInline):
    model = TrackingEvent
    fields = ["occurred_at", "status", "code", "description", "location", "reason"]


class PrintInline(ReadOnlyTabularInline):
    model = LabelPrint
    fields = ["printed_at", "format", "reprint", "batch", "printed_by"]


@admin.register(Shipment)
class ShipmentAdmin(ReadOnlyAdmin):
    list_display = ["id", "order", "courier", "service", "status", "tracking_number", "booked_at", "warehouse"]
    list_filter = ["status", "courier", "service", "warehouse"]
    search_fields = ["tracking_number", "order__number", "order__external_id"]
    list_select_related = ["order", "warehouse"]
    inlines = [ParcelInline, EventInline, PrintInline]
    exclude = ["courier_label"]


@admin.register(CourierRule)
class CourierRuleAdmin(admin.ModelAdmin):
    list_display = [
        "priority",
        "warehouse",
        "destination",
        "service_level",
        "min_weight_g",
        "max_weight_g",
        "courier",
        "product_code",
        "active",
    ]
    list_editable = ["active"]
    list_filter = ["courier", "warehouse", "active"]
    list_select_related = ["warehouse"]


@admin.register(CourierDefault)
class CourierDefaultAdmin(admin.ModelAdmin):
    list_display = ["warehouse", "courier", "product_code"]
    list_select_related = ["warehouse"]


@admin.register(Manifest)
class ManifestAdmin(ReadOnlyAdmin):
    list_display = ["id", "courier", "warehouse", "reference", "created_at"]
    list_filter = ["courier", "warehouse"]
    exclude = ["document"]


@admin.register(ShipperDetails)
class ShipperDetailsAdmin(admin.ModelAdmin):
    list_display = ["warehouse", "contact_name", "phone", "email", "state"]
    list_select_related = ["warehouse"]


@admin.register(StorefrontFulfillment)
class StorefrontFulfillmentAdmin(ReadOnlyAdmin):
    """What each shipment became in its storefront (push-back); failed pushes are outbox dead letters."""

    list_display = ["shipment", "channel", "outcome", "external_fulfillment_id", "created_at", "cancelled_at"]
    list_filter = ["channel", "outcome"]
    search_fields = ["external_fulfillment_id", "shipment__tracking_number", "shipment__order__external_id"]
    list_select_related = ["shipment"]
