"""Shipping HTTP API: ship an order, shipments, labels, invoices, cancel; couriers' tracking pushes."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from config.fields import (
    DETAIL_ERRORS,
    LIST_ERRORS,
    StrictBooleanFilter,
    StrictFilterSet,
    StrictIntegerField,
    error_responses,
)
from config.permissions import OPERATIONS, WAREHOUSE, roles
from config.renderers import DocumentView, FileRenderer, PdfRenderer, document_response
from fulfilment.api import RawBodyParser, webhook_body
from fulfilment.errors import IllegalTransition, WarehouseForbidden
from fulfilment.models import ServiceLevel
from inventory.selectors import staff_warehouse_ids
from shipping import couriers, selectors, services
from shipping.errors import (
    CourierNotConfigured,
    InvalidParcels,
    NoCourierRule,
    NotBooked,
    NotCancellable,
    NotInternational,
    PushMalformed,
    PushUnsupported,
    PushUnverified,
    UnknownCourier,
)
from shipping.models import Parcel, Shipment, ShipmentStatus, TrackingEvent


class ParcelOut(serializers.ModelSerializer):
    dimensions_cm = serializers.ListField(child=serializers.IntegerField(), allow_null=True)

    class Meta:
        model = Parcel
        fields = ["sequence", "tracking_number", "weight_g", "dimensions_cm"]


class EventOut(serializers.ModelSerializer):
    class Meta:
        model = TrackingEvent
        fields = ["status", "code", "description", "location", "reason", "occurred_at"]


class ShipmentOut(serializers.ModelSerializer):
    order = serializers.IntegerField(source="order_id")
    warehouse = serializers.CharField(source="warehouse.code")
    parcels = ParcelOut(many=True)
    events = EventOut(many=True)
    stale = serializers.SerializerMethodField()
    tracking_url = serializers.SerializerMethodField()

    class Meta:
        model = Shipment
        fields = [
            "id",
            "order",
            "warehouse",
            "courier",
            "service",
            "product_code",
            "status",
            "status_detail",
            "stale",
            "tracking_number",
            "tracking_url",
            "parcels",
            "events",
            "booked_at",
            "voided_at",
            "voided_with_courier",
            "created_at",
            "updated_at",
        ]

    def get_stale(self, shipment) -> bool:
        return bool(getattr(shipment, "is_stale", False))

    def get_tracking_url(self, shipment) -> str:
        if not shipment.tracking_number:
            return ""
        return couriers.get_courier(shipment.courier).tracking_url(shipment.tracking_number)


def _shipment_response(shipment_id: int, code: int = 200) -> Response:
    shipment = selectors.shipment_list().get(pk=shipment_id)
    return Response(ShipmentOut(shipment).data, status=code)


class _ShippingView:
    """Warehouse staff act; operations may read (DESIGN.md: "warehouse role; operations may read")."""

    def get_permissions(self):
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            return [roles(WAREHOUSE, OPERATIONS)()]
        return [roles(WAREHOUSE)()]


@extend_schema_field({"type": "string", "enum": list(couriers.COURIER_CODES)})
class _CourierField(serializers.CharField):
    """Any text reaches the service, which answers 400 ``unknown_courier`` naming the known ones."""


class OrderShip(_ShippingView, APIView):
    """Ship a packed order: 202 with the shipment (`booking` until the courier answers; in embedded mode
    already booked). Courier, service and parcels are optional: the courier rules and the packed parcel
    decide. An order already shipping answers with its shipment; nothing is booked twice."""

    parser_classes = [JSONParser]

    class ShipIn(serializers.Serializer):
        class ParcelIn(serializers.Serializer):
            weight_g = StrictIntegerField(min_value=1, max_value=70_000)
            dimensions_cm = serializers.ListField(
                child=StrictIntegerField(min_value=1, max_value=300), min_length=3, max_length=3, required=False
            )

        courier = _CourierField(max_length=32, required=False)
        service = serializers.ChoiceField(choices=ServiceLevel.choices, required=False)
        parcels = ParcelIn(many=True, required=False, min_length=1, max_length=20)

    @extend_schema(
        request=ShipIn,
        responses={
            202: ShipmentOut,
            **error_responses(
                400,
                *DETAIL_ERRORS,
                409,
                codes={
                    400: (UnknownCourier, InvalidParcels),
                    403: (WarehouseForbidden,),
                    409: (IllegalTransition, CourierNotConfigured, NoCourierRule),
                },
            ),
        },
    )
    def post(self, request, pk: int):
        data = self.ShipIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        shipment, _ = services.shipment_create(
            order_id=pk,
            actor=request.user,
            courier=values.get("courier"),
            service=values.get("service"),
            parcels=[dict(p) for p in values["parcels"]] if "parcels" in values else None,
        )
        return _shipment_response(shipment.pk, status.HTTP_202_ACCEPTED)


class ShipmentFilter(StrictFilterSet):
    order = django_filters.NumberFilter(field_name="order_id")
    courier = django_filters.ChoiceFilter(choices=[(c, c) for c in couriers.COURIER_CODES])
    status = django_filters.MultipleChoiceFilter(choices=ShipmentStatus.choices)
    tracking_number = django_filters.CharFilter()
    warehouse = django_filters.CharFilter(field_name="warehouse__code")
    stale = StrictBooleanFilter(field_name="is_stale")

    class Meta:
        model = Shipment
        fields = ["order", "courier", "status", "tracking_number", "warehouse"]


class _ShipmentRows(_ShippingView):
    serializer_class = ShipmentOut

    def get_queryset(self):
        rows = selectors.shipment_list()
        limited = staff_warehouse_ids(self.request.user)
        return rows.filter(warehouse_id__in=limited) if limited else rows


@extend_schema_view(get=extend_schema(responses={200: ShipmentOut, **error_responses(*LIST_ERRORS)}))
class ShipmentList(_ShipmentRows, generics.ListAPIView):
    """Shipments, newest first; filter by order, courier, status, tracking number, warehouse, `stale=true`."""

    filterset_class = ShipmentFilter


@extend_schema_view(get=extend_schema(responses={200: ShipmentOut, **error_responses(*DETAIL_ERRORS)}))
class ShipmentDetail(_ShipmentRows, generics.RetrieveAPIView):
    """One shipment with its parcels and tracking events."""


class ShipmentCancel(_ShippingView, APIView):
    """Void a shipment the courier has not picked up: the order is packed again and its stock commit
    reversed (ledger rows). DHL Express has no void call: recorded void here."""

    @extend_schema(
        request=None,
        responses={200: ShipmentOut, **error_responses(*DETAIL_ERRORS, 409, codes={409: (NotCancellable,)})},
    )
    def post(self, request, pk: int):
        services.shipment_cancel(shipment_id=pk, actor=request.user)
        return _shipment_response(pk)


class ZplRenderer(FileRenderer):
    media_type = "application/zpl"
    format = "zpl"
    charset = "utf-8"
    render_style = "binary"


class ShipmentLabelPdf(_ShippingView, DocumentView):
    """The 4 x 6 in label, one page per parcel; prints after the first are recorded and marked REPRINT."""

    @extend_schema(
        responses={
            (200, "application/pdf"): bytes,
            **error_responses(400, *DETAIL_ERRORS, 409, codes={409: (NotBooked,)}),
        }
    )
    def get(self, request, pk: int):
        pdf = services.shipment_label(shipment_id=pk, fmt="pdf", actor=request.user)
        return document_response(pdf, content_type="application/pdf", filename=f"label-{pk}.pdf")


class ShipmentLabelZpl(_ShippingView, DocumentView):
    """The label as ZPL II for 203 dpi thermal printers, one format per parcel."""

    renderer_classes = [JSONRenderer, ZplRenderer]

    @extend_schema(
        responses={
            (200, "application/zpl"): bytes,
            **error_responses(400, *DETAIL_ERRORS, 409, codes={409: (NotBooked,)}),
        }
    )
    def get(self, request, pk: int):
        zpl = services.shipment_label(shipment_id=pk, fmt="zpl", actor=request.user)
        return document_response(zpl, content_type="application/zpl; charset=utf-8", filename=f"label-{pk}.zpl")


class ShipmentInvoicePdf(_ShippingView, DocumentView):
    """The commercial invoice of an international shipment (HS 6406, origin, values); 404
    `not_international` for a domestic one."""

    @extend_schema(
        responses={
            (200, "application/pdf"): bytes,
            **error_responses(400, *DETAIL_ERRORS, 409, codes={404: (NotInternational,), 409: (NotBooked,)}),
        }
    )
    def get(self, request, pk: int):
        pdf = services.shipment_invoice(shipment_id=pk, actor=request.user)
        return document_response(pdf, content_type="application/pdf", filename=f"commercial-invoice-{pk}.pdf")


class LabelsBatch(_ShippingView, DocumentView):
    """One document with the labels of a wave (or of the given shipments) in pick order; reprints are
    recorded and marked REPRINT. `format`: `pdf` (default) or `zpl`."""

    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer, PdfRenderer, ZplRenderer]

    class BatchIn(serializers.Serializer):
        wave = StrictIntegerField(min_value=1, required=False)
        shipments = serializers.ListField(child=StrictIntegerField(min_value=1), required=False, max_length=500)
        format = serializers.ChoiceField(choices=["pdf", "zpl"], default="pdf")

        def validate(self, attrs):
            if ("wave" in attrs) == bool(attrs.get("shipments")):
                raise serializers.ValidationError("Give either a wave or a non-empty list of shipments.")
            return attrs

    @extend_schema(
        request=BatchIn,
        responses={
            (200, "application/pdf"): bytes,
            (200, "application/zpl"): bytes,
            **error_responses(400, *DETAIL_ERRORS, 409, codes={409: (NotBooked,)}),
        },
    )
    def post(self, request):
        data = self.BatchIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        fmt = values["format"]
        document = services.labels_batch(
            actor=request.user, fmt=fmt, wave_id=values.get("wave"), shipment_ids=values.get("shipments")
        )
        if fmt == "pdf":
            return document_response(document, content_type="application/pdf", filename="labels.pdf")
        return document_response(document, content_type="application/zpl; charset=utf-8", filename="labels.zpl")


class PushAccepted(serializers.Serializer):
    courier = serializers.CharField()
    events = serializers.IntegerField(help_text="Events in the push")
    new = serializers.IntegerField(help_text="Of which not seen before (a replay stores nothing)")
    matched = serializers.ListField(child=serializers.CharField(), help_text="Our tracking numbers among them")
    unmatched = serializers.ListField(
        child=serializers.CharField(), help_text="Numbers we do not know: kept for operations, not retried"
    )


class CourierWebhook(APIView):
    """Tracking pushed by a courier: UPS Track Alert (its `credential` header) and FedEx webhooks (`fdx-signature`,
    HMAC-SHA256 of the body). Events for numbers we do not know are kept and answered 200. Couriers that do not
    push get 404 `push_unsupported`."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [RawBodyParser]

    @extend_schema(
        request={"application/json": dict},
        responses={
            200: PushAccepted,
            **error_responses(
                400,
                401,
                404,
                codes={400: (PushMalformed,), 401: (PushUnverified,), 404: (PushUnsupported,)},
            ),
        },
    )
    def post(self, request, courier: str):
        result = services.tracking_push(courier=courier, headers=request.headers, body=webhook_body(request))
        return Response(PushAccepted(result.as_dict()).data, status=status.HTTP_200_OK)
