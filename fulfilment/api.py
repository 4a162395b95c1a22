"""Storefront webhooks and the staff order API: parse, call one service, render."""

from __future__ import annotations

import django_filters
from django.conf import settings
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.exceptions import BodyTooLarge
from config.fields import (
    DETAIL_ERRORS,
    LIST_ERRORS,
    StrictBooleanFilter,
    StrictFilterSet,
    StrictIntegerField,
    StrictIsoDateTimeFilter,
    error_responses,
)
from config.permissions import OPERATIONS, STOREFRONT, WAREHOUSE, roles
from config.renderers import DocumentView, document_response
from fulfilment import selectors, services
from fulfilment.errors import (
    IllegalTransition,
    NotAllocated,
    NothingToPick,
    NotInOrder,
    OrderNotEditable,
    PackMismatch,
    StillOnHold,
    WarehouseForbidden,
    WaveNotOpen,
)
from fulfilment.models import Channel, Order, OrderEvent, OrderLine, OrderStatus, PickWave, ServiceLevel
from inventory.errors import InvalidQuantity
from labels.packing_slip import render_packing_slip_pdf
from labels.picklist import render_pick_list_pdf

# --- Output ------------------------------------------------------------------------


class OrderLineOut(serializers.ModelSerializer):
    sku = serializers.CharField(source="sku_code")

    class Meta:
        model = OrderLine
        fields = [
            "id",
            "sku",
            "title",
            "quantity",
            "quantity_reserved",
            "quantity_backordered",
            "requires_shipping",
            "unit_price",
            "sku_edited",
        ]


class OrderOut(serializers.ModelSerializer):
    warehouse = serializers.CharField(source="warehouse.code", allow_null=True, default=None)
    packed_by = serializers.CharField(source="packed_by.username", allow_null=True, default=None)
    parcel_dimensions_cm = serializers.ListField(
        child=serializers.IntegerField(), allow_null=True, help_text="[length, width, height] of the packed parcel."
    )
    lines = OrderLineOut(many=True, read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "channel",
            "shop",
            "external_id",
            "number",
            "status",
            "hold_reason",
            "hold_detail",
            "needs_attention",
            "warehouse",
            "service_level",
            "shipping_method",
            "email",
            "customer_name",
            "ship_country",
            "shipping_address",
            "currency",
            "total_price",
            "total_weight_g",
            "financial_status",
            "paid_at",
            "packed_at",
            "packed_by",
            "parcel_weight_g",
            "parcel_dimensions_cm",
            "created_at",
            "updated_at",
            "lines",
        ]


class OrderEventOut(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", allow_null=True, default=None)

    class Meta:
        model = OrderEvent
        fields = ["kind", "message", "data", "actor", "created_at"]


class ReservationOut(serializers.Serializer):
    sku = serializers.CharField(source="stock.sku.code")
    warehouse = serializers.CharField(source="stock.warehouse.code")
    quantity = serializers.IntegerField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()


class OrderDetailOut(OrderOut):
    timeline = OrderEventOut(source="events", many=True, read_only=True)
    reservations = serializers.SerializerMethodField()

    class Meta(OrderOut.Meta):
        fields = [*OrderOut.Meta.fields, "reservations", "timeline"]

    @extend_schema_field(ReservationOut(many=True))
    def get_reservations(self, order: Order) -> list:
        return ReservationOut(selectors.order_reservations(order), many=True).data


# --- Webhooks ----------------------------------------------------------------------


class RawBodyParser(BaseParser):
    """Keep the exact bytes: the HMAC is over the raw body, and re-serialised JSON must not verify."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read()


def webhook_body(request) -> bytes:
    """The raw body of a storefront webhook, up to WEBHOOK_MAX_BODY_BYTES (a JSON 413 beyond).

    Not ``request.body``: Django refuses bodies over DATA_UPLOAD_MAX_MEMORY_SIZE there, and a paid
    order with many lines may be larger than any API request; it must be stored (and held), not lost.
    """
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise BodyTooLarge(max_bytes=limit)
    body = request._request.read(limit + 1)
    if len(body) > limit:
        raise BodyTooLarge(max_bytes=limit)
    return body


class _Webhook(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [RawBodyParser]
    channel: str = ""

    @extend_schema(
        request={"application/json": dict},
        responses={
            200: inline_serializer(
                "WebhookAccepted",
                {
                    "delivery": serializers.IntegerField(allow_null=True),
                    "status": serializers.CharField(),
                    "duplicate": serializers.BooleanField(),
                    "order": OrderOut(allow_null=True),
                },
            ),
            400: OpenApiResponse(description="Signed but unreadable body (stored as rejected)"),
            401: OpenApiResponse(description="Missing or wrong signature, or unknown shop (nothing stored)"),
            413: OpenApiResponse(description="Body over WEBHOOK_MAX_BODY_BYTES (nothing stored)"),
        },
    )
    def post(self, request):
        result = services.webhook_receive(channel=self.channel, headers=request.headers, body=webhook_body(request))
        order = result.order
        body = {
            "delivery": result.delivery.pk if result.delivery else None,
            "status": result.delivery.status if result.delivery else "ignored",
            "duplicate": result.duplicate,
            "order": OrderOut(order).data if order is not None else None,
        }
        return Response(body, status=status.HTTP_200_OK)


class ShopifyWebhook(_Webhook):
    """Shopify orders/paid, orders/updated, orders/cancelled (HMAC in X-Shopify-Hmac-Sha256)."""

    channel = Channel.SHOPIFY


class WooCommerceWebhook(_Webhook):
    """WooCommerce order.created / order.updated (HMAC in X-WC-Webhook-Signature)."""

    channel = Channel.WOOCOMMERCE


# --- Staff order API -------------------------------------------------------------------


class OrderFilter(StrictFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=OrderStatus.choices)
    warehouse = django_filters.CharFilter(field_name="warehouse__code")
    service_level = django_filters.ChoiceFilter(choices=ServiceLevel.choices)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    external_id = django_filters.CharFilter()
    hold_reason = django_filters.CharFilter()
    paid_after = StrictIsoDateTimeFilter(field_name="paid_at", lookup_expr="gte")
    paid_before = StrictIsoDateTimeFilter(field_name="paid_at", lookup_expr="lt")
    needs_attention = StrictBooleanFilter(method="filter_attention")
    search = django_filters.CharFilter(method="filter_search", label="Order number or customer email")

    class Meta:
        model = Order
        fields = ["status", "warehouse", "service_level", "channel", "external_id", "hold_reason"]

    def filter_search(self, queryset, name, value):
        value = value.strip().lstrip("#")
        return queryset.filter(Q(number__icontains=value) | Q(email__iexact=value) | Q(external_id=value))

    def filter_attention(self, queryset, name, value):
        return queryset.exclude(needs_attention="") if value else queryset.filter(needs_attention="")


ORDER_READERS = roles(STOREFRONT, WAREHOUSE, OPERATIONS)


def _order_response(order_id: int) -> Response:
    """An order after a command, rendered with its lines like the list."""
    return Response(OrderOut(selectors.order_list().get(pk=order_id)).data)


@extend_schema_view(get=extend_schema(responses={200: OrderOut, **error_responses(*LIST_ERRORS)}))
class OrderList(generics.ListAPIView):
    """Orders, newest paid first; filter by status, warehouse, service level, paid dates, search."""

    permission_classes = [ORDER_READERS]
    serializer_class = OrderOut
    queryset = selectors.order_list()
    filterset_class = OrderFilter


@extend_schema_view(get=extend_schema(responses={200: OrderDetailOut, **error_responses(*DETAIL_ERRORS)}))
class OrderDetail(generics.RetrieveAPIView):
    """One order with its lines, reservations and timeline."""

    permission_classes = [ORDER_READERS]
    serializer_class = OrderDetailOut
    queryset = selectors.order_detail()


class OrderCancel(APIView):
    """Cancel an order and release its stock; refused (409) once shipped, and flagged for a return."""

    permission_classes = [roles(OPERATIONS, STOREFRONT)]

    @extend_schema(
        request=None,
        responses={200: OrderOut, **error_responses(*DETAIL_ERRORS, 409, codes={409: (IllegalTransition,)})},
    )
    def post(self, request, pk: int):
        order = services.order_cancel(order_id=pk, actor=request.user, source=request.user.get_username())
        return _order_response(order.pk)


class OrderReleaseHold(APIView):
    """Re-check a held order after a fix and allocate it (409 ``still_on_hold`` with the new reason if not)."""

    permission_classes = [roles(OPERATIONS)]

    @extend_schema(
        request=None,
        responses={
            200: OrderOut,
            **error_responses(*DETAIL_ERRORS, 409, codes={409: (IllegalTransition, StillOnHold)}),
        },
    )
    def post(self, request, pk: int):
        order = services.order_release_hold(order_id=pk, actor=request.user)
        return _order_response(order.pk)


class OrderEdit(APIView):
    """Fix a held order: shipping address fields and/or the SKU code of lines. It stays on hold: release it
    with POST ./release-hold, which checks it again and allocates it."""

    permission_classes = [roles(OPERATIONS)]

    class OrderEditIn(serializers.Serializer):
        class OrderAddressIn(serializers.Serializer):
            name = serializers.CharField(max_length=255, required=False, allow_blank=True)
            company = serializers.CharField(max_length=255, required=False, allow_blank=True)
            address1 = serializers.CharField(max_length=255, required=False, allow_blank=True)
            address2 = serializers.CharField(max_length=255, required=False, allow_blank=True)
            city = serializers.CharField(max_length=255, required=False, allow_blank=True)
            province = serializers.CharField(max_length=255, required=False, allow_blank=True)
            province_code = serializers.CharField(max_length=16, required=False, allow_blank=True)
            postcode = serializers.CharField(max_length=32, required=False, allow_blank=True)
            country_code = serializers.RegexField(r"^[A-Za-z]{2}$", required=False)
            phone = serializers.CharField(max_length=64, required=False, allow_blank=True)

        class OrderLineEditIn(serializers.Serializer):
            id = StrictIntegerField(min_value=1)
            sku = serializers.CharField(max_length=64)

        shipping_address = OrderAddressIn(required=False)
        lines = OrderLineEditIn(many=True, required=False)

    @extend_schema(
        request=OrderEditIn,
        responses={
            200: OrderOut,
            **error_responses(400, *DETAIL_ERRORS, 409, codes={400: ("parse_error",), 409: (OrderNotEditable,)}),
        },
    )
    def patch(self, request, pk: int):
        data = self.OrderEditIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.order_edit(
            order_id=pk,
            shipping_address=data.validated_data.get("shipping_address"),
            line_skus={line["id"]: line["sku"] for line in data.validated_data.get("lines", [])},
            actor=request.user,
        )
        return _order_response(pk)


# --- Warehouse floor: pick waves -------------------------------------------------------


class PickWaveOut(serializers.ModelSerializer):
    warehouse = serializers.CharField(source="warehouse.code")
    picker = serializers.CharField(source="picker.username", allow_null=True, default=None)
    orders = serializers.SerializerMethodField(help_text="Order ids in pick order (express first, then oldest paid).")
    late_orders = serializers.SerializerMethodField(help_text="Express orders whose cut-off had passed.")
    left_orders = serializers.SerializerMethodField(
        help_text="Orders that left the wave before it ended (a short pick backordered them, or they were cancelled)."
    )

    class Meta:
        model = PickWave
        fields = ["id", "warehouse", "status", "service_level", "picker", "orders", "late_orders", "left_orders"]
        fields += ["created_at", "ended_at"]

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_orders(self, wave: PickWave) -> list[int]:
        return [entry.order_id for entry in wave.entries.all() if entry.left_at is None]

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_late_orders(self, wave: PickWave) -> list[int]:
        return [entry.order_id for entry in wave.entries.all() if entry.late and entry.left_at is None]

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_left_orders(self, wave: PickWave) -> list[int]:
        return [entry.order_id for entry in wave.entries.all() if entry.left_at is not None]


def _wave_response(wave_id: int, status_code: int = 200) -> Response:
    return Response(PickWaveOut(selectors.wave_list().get(pk=wave_id)).data, status=status_code)


class _FloorView:
    """Warehouse staff act; operations may read."""

    def get_permissions(self):
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            return [roles(WAREHOUSE, OPERATIONS)()]
        return [roles(WAREHOUSE)()]


@extend_schema_view(get=extend_schema(responses={200: PickWaveOut, **error_responses(*LIST_ERRORS)}))
class PickWaveList(_FloorView, generics.ListAPIView):
    """Pick waves, newest first; ``POST`` claims reserved orders of a warehouse into a new wave."""

    serializer_class = PickWaveOut
    filterset_fields = ["status"]

    class PickWaveIn(serializers.Serializer):
        warehouse = serializers.CharField(max_length=16)
        max_orders = StrictIntegerField(min_value=1, max_value=500, required=False)
        service_level = serializers.ChoiceField(choices=ServiceLevel.choices, required=False)

    def get_queryset(self):
        return selectors.wave_list(user=self.request.user)

    @extend_schema(
        request=PickWaveIn,
        responses={
            201: PickWaveOut,
            **error_responses(400, 401, 403, 404, 409, codes={403: (WarehouseForbidden,), 409: (NothingToPick,)}),
        },
    )
    def post(self, request):
        data = self.PickWaveIn(data=request.data)
        data.is_valid(raise_exception=True)
        wave = services.wave_create(
            warehouse_code=data.validated_data["warehouse"],
            max_orders=data.validated_data.get("max_orders"),
            service_level=data.validated_data.get("service_level"),
            actor=request.user,
        )
        return _wave_response(wave.pk, status.HTTP_201_CREATED)


@extend_schema_view(get=extend_schema(responses={200: PickWaveOut, **error_responses(*DETAIL_ERRORS)}))
class PickWaveDetail(_FloorView, generics.RetrieveAPIView):
    """One pick wave with its orders in pick order."""

    serializer_class = PickWaveOut

    def get_queryset(self):
        return selectors.wave_list(user=self.request.user)


class _PickWaveEnd(_FloorView, APIView):
    """Cancel or close: subclasses name the service as ``end``."""

    @extend_schema(
        request=None,
        responses={
            200: PickWaveOut,
            **error_responses(*DETAIL_ERRORS, 409, codes={403: (WarehouseForbidden,), 409: (WaveNotOpen,)}),
        },
    )
    def post(self, request, pk: int):
        wave = self.end(wave_id=pk, actor=request.user)
        return _wave_response(wave.pk)


class PickWaveCancel(_PickWaveEnd):
    """Cancel an open wave: its orders not packed yet go back to ``reserved``."""

    end = staticmethod(services.wave_cancel)


class PickWaveClose(_PickWaveEnd):
    """End an open wave: packed orders stay packed, any still ``picking`` go back to ``reserved``."""

    end = staticmethod(services.wave_close)


class PickListPdf(_FloorView, DocumentView):
    """The wave's A4 pick list: one walk in bin order (walk sequence, product, natural size), then one
    block per tote for the pack bench. Only orders still being picked are on it."""

    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            **error_responses(400, *DETAIL_ERRORS, 409, codes={409: (WaveNotOpen,)}),
        }
    )
    def get(self, request, pk: int):
        pdf = render_pick_list_pdf(services.pick_list_data(wave_id=pk, user=request.user))
        return document_response(pdf, content_type="application/pdf", filename=f"pick-list-wave-{pk}.pdf")


# --- Warehouse floor: the pack bench ------------------------------------------------------


class OrderPack(_FloorView, APIView):
    """Pack a picked order: the scans (GTIN barcodes or SKU codes with quantities) must match what the
    order holds, else 409 ``pack_mismatch`` lists ``missing`` and ``unexpected`` and nothing changes.
    Without ``weight_g`` the parcel weighs what its units weigh."""

    class PackIn(serializers.Serializer):
        class ScanIn(serializers.Serializer):
            barcode = serializers.CharField(max_length=64, required=False)
            sku = serializers.CharField(max_length=64, required=False)
            quantity = StrictIntegerField(min_value=1, max_value=10_000, required=False, default=1)

            def validate(self, attrs):
                if ("barcode" in attrs) == ("sku" in attrs):
                    raise serializers.ValidationError("Give either a barcode or a sku.")
                return attrs

        items = ScanIn(many=True, max_length=1000)
        weight_g = StrictIntegerField(min_value=1, max_value=70_000, required=False)
        dimensions_cm = serializers.ListField(
            child=StrictIntegerField(min_value=1, max_value=300), min_length=3, max_length=3, required=False
        )

    @extend_schema(
        request=PackIn,
        responses={
            200: OrderOut,
            **error_responses(
                400,
                *DETAIL_ERRORS,
                409,
                codes={403: (WarehouseForbidden,), 409: (PackMismatch, IllegalTransition)},
            ),
        },
    )
    def post(self, request, pk: int):
        data = self.PackIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        dimensions = values.get("dimensions_cm")
        services.order_pack(
            order_id=pk,
            scans=[services.Scan(**scan) for scan in values["items"]],
            weight_g=values.get("weight_g"),
            dimensions_cm=tuple(dimensions) if dimensions else None,
            actor=request.user,
        )
        return _order_response(pk)


class OrderShortPick(_FloorView, APIView):
    """Report units the picker could not find: written off (ledger adjustment, reason ``short_pick``),
    the line backordered, and the order out of its wave until stock arrives."""

    class ShortPickIn(serializers.Serializer):
        sku = serializers.CharField(max_length=64)
        quantity = StrictIntegerField(min_value=1, max_value=10_000)

    @extend_schema(
        request=ShortPickIn,
        responses={
            200: OrderOut,
            **error_responses(
                400,
                *DETAIL_ERRORS,
                409,
                codes={400: (NotInOrder, InvalidQuantity), 403: (WarehouseForbidden,), 409: (IllegalTransition,)},
            ),
        },
    )
    def post(self, request, pk: int):
        data = self.ShortPickIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.order_short_pick(
            order_id=pk,
            sku_code=data.validated_data["sku"],
            quantity=data.validated_data["quantity"],
            actor=request.user,
        )
        return _order_response(pk)


class OrderPackingSlipPdf(_FloorView, DocumentView):
    """The customer's packing slip (A5, or A4 with PACKING_SLIP_PAGE_SIZE): items with sizes in the
    customer's size system, return instructions, the address in the customer's own script."""

    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            **error_responses(400, *DETAIL_ERRORS, 409, codes={403: (WarehouseForbidden,), 409: (NotAllocated,)}),
        }
    )
    def get(self, request, pk: int):
        pdf = render_packing_slip_pdf(services.packing_slip_data(order_id=pk, user=request.user))
        return document_response(pdf, content_type="application/pdf", filename=f"packing-slip-{pk}.pdf")
