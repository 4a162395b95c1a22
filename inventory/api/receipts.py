"""Receipts over the API: a delivery of several lines, all or none."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings

from config.fields import (
    DETAIL_ERRORS,
    LIST_ERRORS,
    StrictFilterSet,
    StrictIntegerField,
    StrictIsoDateTimeFilter,
    error_responses,
)
from config.permissions import OPERATIONS, roles
from inventory import selectors, services
from inventory.api.stock import _BAD_BODY, _COMMAND_ERRORS, QUANTITY_MAX, STAFF_READERS, _StockCommand
from inventory.errors import (
    LineError,
    ReceiptConflict,
    ReceiptLinesInvalid,
    StockLimit,
    UnknownWarehouse,
)
from inventory.models import StockReceipt, StockReceiptLine

# --- Receipts --------------------------------------------------------------------


class ReceiptLineOut(serializers.ModelSerializer):
    sku = serializers.CharField(source="sku.code")
    bin = serializers.CharField(help_text="The bin the units went to; empty if none was named.")

    class Meta:
        model = StockReceiptLine
        fields = ["sku", "quantity", "bin"]


class ReceiptOut(serializers.ModelSerializer):
    warehouse = serializers.CharField(source="warehouse.code")
    actor = serializers.CharField(source="actor.username", allow_null=True, default=None)
    lines = ReceiptLineOut(many=True, read_only=True)

    class Meta:
        model = StockReceipt
        fields = ["id", "warehouse", "reference", "lines", "received_at", "actor"]


class ReceiptFilter(StrictFilterSet):
    warehouse = django_filters.CharFilter(field_name="warehouse__code")
    reference = django_filters.CharFilter()
    since = StrictIsoDateTimeFilter(field_name="received_at", lookup_expr="gte", label="Received at or after")
    until = StrictIsoDateTimeFilter(field_name="received_at", lookup_expr="lt", label="Received before")

    class Meta:
        model = StockReceipt
        fields = ["warehouse", "reference", "since", "until"]


def _receipt_response(receipt_id: int, status_code: int) -> Response:
    return Response(ReceiptOut(selectors.receipt_list().get(pk=receipt_id)).data, status=status_code)


def _line_errors(errors: dict) -> ReceiptLinesInvalid | None:
    """The serializer's errors as ReceiptLinesInvalid when they are all inside lines, else None."""
    lines = errors.get("lines")
    # DRF reports the bad items of a list as {index: errors}; a problem with the list itself
    # (not a list, empty, too long) comes under a string key instead.
    if set(errors) != {"lines"} or not isinstance(lines, dict) or not all(isinstance(i, int) for i in lines):
        return None  # the usual 400 naming the fields
    found = [
        LineError(index, None if field == api_settings.NON_FIELD_ERRORS_KEY else field, str(messages[0]))
        for index, line in sorted(lines.items())
        for field, messages in line.items()
    ]
    return ReceiptLinesInvalid(found) if found else None


class StockReceiptCreate(_StockCommand):
    """Book a delivery of several lines into one warehouse: all lines or none; fills backorders first-paid-first.

    ``reference`` (the supplier's) is the idempotency key per warehouse: the same body again
    answers 200 with the first receipt and books nothing; other lines under the same reference
    are a 409 ``receipt_conflict``. A bad line is a 400 ``invalid_receipt_line`` whose
    ``extra.line`` (the index in ``lines``, from 0) and ``extra.field`` name it, ``extra.lines``
    every bad line; nothing is booked.
    """

    # DESIGN.md: operations role; warehouse may read (the list and detail views below).
    permission_classes = [roles(OPERATIONS)]

    class StockReceiptIn(serializers.Serializer):
        class ReceiptLineIn(serializers.Serializer):
            sku = serializers.CharField(max_length=64)
            quantity = StrictIntegerField(min_value=1, max_value=QUANTITY_MAX)
            bin = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")

        warehouse = serializers.CharField(max_length=16)
        reference = serializers.CharField(max_length=100, help_text="The supplier's; one per warehouse.")
        lines = ReceiptLineIn(many=True, allow_empty=False, max_length=services.RECEIPT_LINES_MAX)

    @extend_schema(
        request=StockReceiptIn,
        responses={
            201: OpenApiResponse(ReceiptOut, description="Booked"),
            200: OpenApiResponse(ReceiptOut, description="This reference was booked before with the same lines"),
            **error_responses(
                *_COMMAND_ERRORS,
                codes={
                    400: (*_BAD_BODY, ReceiptLinesInvalid),
                    404: (UnknownWarehouse,),
                    409: (ReceiptConflict, StockLimit),
                },
            ),
        },
    )
    def post(self, request):
        data = self.StockReceiptIn(data=request.data)
        if not data.is_valid():
            raise _line_errors(data.errors) or ValidationError(data.errors)
        warehouse = selectors.warehouse_by_code(data.validated_data["warehouse"])
        if warehouse is None:
            raise UnknownWarehouse(warehouse=data.validated_data["warehouse"])
        receipt, created = services.stock_receipt_create(
            warehouse=warehouse,
            reference=data.validated_data["reference"],
            lines=[services.ReceiptLine(**line) for line in data.validated_data["lines"]],
            actor=request.user,
        )
        return _receipt_response(receipt.pk, status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@extend_schema_view(get=extend_schema(responses={200: ReceiptOut, **error_responses(*LIST_ERRORS)}))
class StockReceiptList(generics.ListAPIView):
    """Receipts, newest first, with their lines; filter by warehouse, reference, since and until (received_at)."""

    permission_classes = [STAFF_READERS]
    serializer_class = ReceiptOut
    queryset = selectors.receipt_list()
    filterset_class = ReceiptFilter


@extend_schema_view(get=extend_schema(responses={200: ReceiptOut, **error_responses(*DETAIL_ERRORS)}))
class StockReceiptDetail(generics.RetrieveAPIView):
    permission_classes = [STAFF_READERS]
    serializer_class = ReceiptOut
    queryset = selectors.receipt_list()
