"""Inventory HTTP API, the catalogue and stock: thin views that parse, call a selector or service, and render."""

from __future__ import annotations

import django_filters
from django.db.models import F, Q
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import generics, serializers
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from config.exports import CSV_MEDIA_TYPE, FORMAT_PARAMETER, CsvColumn, CsvExportMixin
from config.fields import (
    DETAIL_ERRORS,
    LIST_ERRORS,
    LocalTimeField,
    QueryIntegerField,
    StrictBooleanFilter,
    StrictFilterSet,
    StrictIntegerField,
    StrictIsoDateTimeFilter,
    error_responses,
)
from config.pagination import Pagination
from config.permissions import OPERATIONS, STOREFRONT, WAREHOUSE, roles
from inventory import selectors, services
from inventory.errors import (
    BelowReserved,
    InvalidQuantity,
    NoteRequired,
    ReasonRequired,
    StockLimit,
    UnknownBin,
    UnknownProduct,
    UnknownReason,
    UnknownSku,
    UnknownWarehouse,
)
from inventory.models import (
    NOTE_MAX_LENGTH,
    AdjustmentReason,
    MovementKind,
    Product,
    Size,
    SizeSystem,
    Sku,
    StockLevel,
    StockMovement,
    Warehouse,
)

CATALOGUE_READERS = roles(STOREFRONT, WAREHOUSE, OPERATIONS)
STAFF_READERS = roles(WAREHOUSE, OPERATIONS)


# --- Output serializers ----------------------------------------------------------


class SizeOut(serializers.ModelSerializer):
    class Meta:
        model = Size
        fields = ["system", "label", "sort_order"]


class SizeWithEquivalentsOut(SizeOut):
    equivalents = SizeOut(many=True, read_only=True)

    class Meta(SizeOut.Meta):
        fields = [*SizeOut.Meta.fields, "equivalents"]


class SkuOut(serializers.ModelSerializer):
    product = serializers.CharField(source="product.code")
    product_name = serializers.CharField(source="product.name")
    size = SizeWithEquivalentsOut()

    class Meta:
        model = Sku
        fields = ["code", "product", "product_name", "size", "barcode", "hs_code", "weight_g", "is_active"]


class ProductSkuOut(serializers.ModelSerializer):
    size = SizeOut()

    class Meta:
        model = Sku
        fields = ["code", "size", "barcode", "weight_g", "is_active"]


class ProductOut(serializers.ModelSerializer):
    skus = ProductSkuOut(many=True, read_only=True)

    class Meta:
        model = Product
        fields = ["code", "name", "is_active", "skus"]


class ZoneOut(serializers.Serializer):
    zone = serializers.CharField()
    priority = serializers.IntegerField()


class WarehouseOut(serializers.ModelSerializer):
    zones = ZoneOut(many=True, read_only=True)
    express_cutoff = LocalTimeField(
        help_text="Warehouse local time after which express orders ship the next working day."
    )

    class Meta:
        model = Warehouse
        fields = [
            "code",
            "name",
            "country",
            "address_line1",
            "address_line2",
            "city",
            "postcode",
            "timezone",
            "express_cutoff",
            "is_active",
            "zones",
        ]


class StockLevelOut(serializers.ModelSerializer):
    sku = serializers.CharField(source="sku.code")
    product = serializers.CharField(source="sku.product.code")
    size = serializers.CharField(source="sku.size.label")
    size_system = serializers.CharField(source="sku.size.system")
    warehouse = serializers.CharField(source="warehouse.code")
    bin = serializers.CharField(source="bin.code", allow_null=True, default=None)
    available = serializers.IntegerField()

    class Meta:
        model = StockLevel
        fields = [
            "sku",
            "product",
            "size",
            "size_system",
            "warehouse",
            "bin",
            "on_hand",
            "reserved",
            "available",
            "reorder_point",
            "updated_at",
        ]


class MovementOut(serializers.ModelSerializer):
    sku = serializers.CharField(source="sku.code")
    warehouse = serializers.CharField(source="warehouse.code")
    actor = serializers.CharField(source="actor.username", allow_null=True, default=None)

    class Meta:
        model = StockMovement
        fields = ["id", "kind", "quantity", "sku", "warehouse", "reference", "reason", "note", "actor", "created_at"]


# --- Filters ---------------------------------------------------------------------


class ProductFilter(StrictFilterSet):
    class Meta:
        model = Product
        fields = ["is_active"]


class SkuFilter(StrictFilterSet):
    product = django_filters.CharFilter(field_name="product__code")
    size = django_filters.CharFilter(field_name="size__label")
    size_system = django_filters.ChoiceFilter(field_name="size__system", choices=SizeSystem.choices)
    barcode = django_filters.CharFilter()

    class Meta:
        model = Sku
        fields = ["product", "size", "size_system", "barcode", "is_active"]


class StockFilter(StrictFilterSet):
    sku = django_filters.CharFilter(field_name="sku__code")
    product = django_filters.CharFilter(field_name="sku__product__code")
    size = django_filters.CharFilter(field_name="sku__size__label")
    size_system = django_filters.ChoiceFilter(field_name="sku__size__system", choices=SizeSystem.choices)
    warehouse = django_filters.CharFilter(field_name="warehouse__code")
    out_of_stock = StrictBooleanFilter(
        method="filter_out_of_stock", label="true: nothing available (available <= 0); false: some available"
    )
    below_reorder = StrictBooleanFilter(
        method="filter_below_reorder",
        label=(
            "true: a reorder point is set (> 0) and available is at or below it; "
            "false: the others (no reorder point, or available above it)"
        ),
    )

    class Meta:
        model = StockLevel
        fields = ["sku", "product", "size", "size_system", "warehouse", "out_of_stock", "below_reorder"]

    def filter_out_of_stock(self, queryset, name, value):
        return queryset.filter(**_OUT_OF_STOCK) if value else queryset.exclude(**_OUT_OF_STOCK)

    def filter_below_reorder(self, queryset, name, value):
        return queryset.filter(_BELOW_REORDER) if value else queryset.exclude(_BELOW_REORDER)


# available = on_hand - reserved, written so that PostgreSQL compares two columns of one row.
_OUT_OF_STOCK = {"on_hand__lte": F("reserved")}
# A reorder point of 0 is the default and means "none set": such a level is never below it
# (out_of_stock finds those at zero). The same rule as a low-stock alert: at or below the point.
_BELOW_REORDER = Q(reorder_point__gt=0, on_hand__lte=F("reserved") + F("reorder_point"))


class MovementFilter(StrictFilterSet):
    sku = django_filters.CharFilter(field_name="sku__code")
    warehouse = django_filters.CharFilter(field_name="warehouse__code")
    kind = django_filters.ChoiceFilter(choices=MovementKind.choices)
    reference = django_filters.CharFilter()
    reason = django_filters.ChoiceFilter(choices=AdjustmentReason.choices, label="An adjustment's reason code")
    since = StrictIsoDateTimeFilter(field_name="created_at", lookup_expr="gte", label="Booked at or after (ISO 8601)")
    until = StrictIsoDateTimeFilter(field_name="created_at", lookup_expr="lt", label="Booked before (ISO 8601)")

    class Meta:
        model = StockMovement
        fields = ["sku", "warehouse", "kind", "reason", "reference", "since", "until"]


# --- Read endpoints --------------------------------------------------------------


class _ByCode:
    """A detail view looked up by code; a code PostgreSQL text cannot hold (a NUL) is simply not there."""

    lookup_field = "code"

    def get_object(self):
        if "\x00" in self.kwargs[self.lookup_field]:
            raise Http404
        return super().get_object()


@extend_schema_view(get=extend_schema(responses={200: ProductOut, **error_responses(*LIST_ERRORS)}))
class ProductList(generics.ListAPIView):
    """Products with their sizes, in natural size order."""

    permission_classes = [CATALOGUE_READERS]
    serializer_class = ProductOut
    queryset = selectors.product_list()
    filterset_class = ProductFilter


@extend_schema_view(get=extend_schema(responses={200: ProductOut, **error_responses(*DETAIL_ERRORS)}))
class ProductDetail(_ByCode, generics.RetrieveAPIView):
    permission_classes = [CATALOGUE_READERS]
    serializer_class = ProductOut
    queryset = selectors.product_list()


@extend_schema_view(get=extend_schema(responses={200: SkuOut, **error_responses(*LIST_ERRORS)}))
class SkuList(generics.ListAPIView):
    """SKUs (product x size) with size equivalents; filter by product, size, size_system, barcode."""

    permission_classes = [CATALOGUE_READERS]
    serializer_class = SkuOut
    queryset = selectors.sku_list()
    filterset_class = SkuFilter


@extend_schema_view(get=extend_schema(responses={200: SkuOut, **error_responses(*DETAIL_ERRORS)}))
class SkuDetail(_ByCode, generics.RetrieveAPIView):
    permission_classes = [CATALOGUE_READERS]
    serializer_class = SkuOut
    queryset = selectors.sku_list()


@extend_schema_view(get=extend_schema(responses={200: WarehouseOut, **error_responses(*LIST_ERRORS)}))
class WarehouseList(generics.ListAPIView):
    """Warehouses with the destination zones they serve, best priority first."""

    permission_classes = [STAFF_READERS]
    serializer_class = WarehouseOut
    queryset = selectors.warehouse_list()


@extend_schema_view(get=extend_schema(responses={200: WarehouseOut, **error_responses(*DETAIL_ERRORS)}))
class WarehouseDetail(_ByCode, generics.RetrieveAPIView):
    permission_classes = [STAFF_READERS]
    serializer_class = WarehouseOut
    queryset = selectors.warehouse_list()


def _list_with_csv(serializer):
    """A list's schema with its CSV answer; errors are JSON whatever the format."""
    return extend_schema(
        parameters=[FORMAT_PARAMETER],
        responses={
            (200, "application/json"): serializer,
            (200, CSV_MEDIA_TYPE): OpenApiResponse(
                OpenApiTypes.STR, description="A page of JSON, or with `?format=csv` every row as CSV"
            ),
            **{(status, "application/json"): answer for status, answer in error_responses(*LIST_ERRORS).items()},
        },
    )


@extend_schema_view(get=_list_with_csv(StockLevelOut))
class StockList(CsvExportMixin, generics.ListAPIView):
    """Stock per SKU x warehouse; filter by sku, product, size, size_system, warehouse, out_of_stock, below_reorder.

    ``?format=csv`` streams every matching level (warehouse and operations only: the storefront
    reads availability page by page and has no use for the export).
    """

    serializer_class = StockLevelOut
    queryset = selectors.stock_list()
    filterset_class = StockFilter
    csv_filename = "stock"
    csv_columns = (
        CsvColumn("sku", "sku__code"),
        CsvColumn("product", "sku__product__code"),
        CsvColumn("size", "sku__size__label"),
        CsvColumn("size_system", "sku__size__system"),
        CsvColumn("warehouse", "warehouse__code"),
        CsvColumn("bin", "bin__code"),
        CsvColumn("on_hand", "on_hand", "number"),
        CsvColumn("reserved", "reserved", "number"),
        CsvColumn("available", F("on_hand") - F("reserved"), "number"),
        CsvColumn("reorder_point", "reorder_point", "number"),
        CsvColumn("updated_at", "updated_at", "datetime"),
    )

    def get_permissions(self):
        return [(STAFF_READERS if self.wants_csv() else CATALOGUE_READERS)()]


@extend_schema_view(get=_list_with_csv(MovementOut))
class MovementList(CsvExportMixin, generics.ListAPIView):
    """The stock ledger, newest first; ``since`` (inclusive) and ``until`` (exclusive) bound the booking time.

    ``?format=csv`` streams the whole filtered ledger, a million rows in the memory of a few thousand.
    """

    permission_classes = [STAFF_READERS]
    serializer_class = MovementOut
    queryset = selectors.movement_list()
    filterset_class = MovementFilter
    csv_filename = "movements"
    csv_columns = (
        CsvColumn("id", "pk", "number"),
        CsvColumn("kind", "kind"),
        CsvColumn("quantity", "quantity", "number"),
        CsvColumn("sku", "sku__code"),
        CsvColumn("warehouse", "warehouse__code"),
        CsvColumn("reference", "reference"),
        CsvColumn("reason", "reason"),
        CsvColumn("note", "note"),
        CsvColumn("actor", "actor__username"),
        CsvColumn("created_at", "created_at", "datetime"),
    )


class GridCellOut(serializers.Serializer):
    sku = serializers.CharField()
    size = serializers.CharField()
    warehouse = serializers.CharField()
    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField()
    available = serializers.IntegerField()
    backordered = serializers.IntegerField(help_text="Units on backordered orders waiting in this warehouse.")
    days_of_cover = serializers.FloatField(
        allow_null=True, help_text="available / weighted daily demand, as GET /api/stock/cover/; null: no demand."
    )


class StockGridOut(serializers.Serializer):
    # The product by its code, as everywhere else in the API (a stock row's ``product``), and its name.
    product = serializers.CharField(source="product.code")
    product_name = serializers.CharField(source="product.name")
    sizes = serializers.ListField(child=serializers.CharField(), help_text="Size labels in natural order.")
    warehouses = serializers.ListField(child=serializers.CharField(), help_text="Active warehouses by code.")
    cells = GridCellOut(many=True, help_text="Every SKU x warehouse, warehouse by warehouse, each in size order.")


class StockGrid(APIView):
    """One product's stock by size x warehouse, for the heatmap: ``?product=CODE``.

    A cell for every SKU x active warehouse (zeros where no stock level exists yet), with the
    units backordered orders are waiting for there and the days of cover (``GET /api/stock/cover/``;
    null without demand).
    """

    permission_classes = [STAFF_READERS]

    class StockGridIn(serializers.Serializer):
        product = serializers.CharField(max_length=64, help_text="Product code.")

    @extend_schema(
        parameters=[StockGridIn],
        responses={
            200: StockGridOut,
            **error_responses(*LIST_ERRORS, codes={404: (UnknownProduct,)}),
        },
    )
    def get(self, request):
        query = self.StockGridIn(data=request.query_params)
        query.is_valid(raise_exception=True)
        code = query.validated_data["product"]
        product = selectors.product_by_code(code)
        if product is None:
            raise UnknownProduct(product=code)
        return Response(StockGridOut(selectors.stock_grid(product=product)).data)


class CoverOut(serializers.Serializer):
    sku = serializers.CharField()
    warehouse = serializers.CharField()
    available = serializers.IntegerField(source="cover.available")
    demand_7d = serializers.IntegerField(
        source="cover.demand.units_7d", help_text="Units reserved net of releases in the last 7 days."
    )
    demand_28d = serializers.IntegerField(source="cover.demand.units_28d", help_text="Likewise, 28 days.")
    demand_90d = serializers.IntegerField(source="cover.demand.units_90d", help_text="Likewise, 90 days.")
    daily_demand = serializers.FloatField(
        source="cover.daily_demand",
        help_text="Units per day: 0.5 x the 7-day rate + 0.3 x the 28-day + 0.2 x the 90-day (3 decimals).",
    )
    days_of_cover = serializers.FloatField(
        source="cover.days_of_cover",
        allow_null=True,
        help_text="available / daily_demand (1 decimal); null: no demand.",
    )
    stockout_date = serializers.DateField(
        source="cover.stockout_date", allow_null=True, help_text="Today + whole days of cover; null: no demand."
    )
    suggested_reorder = serializers.IntegerField(
        source="cover.suggested_reorder",
        help_text="Units to order now for STOCK_TARGET_COVER_DAYS of cover after the lead time (nothing on order).",
    )


class StockCoverIn(serializers.Serializer):
    warehouse = serializers.CharField(max_length=16, required=False, help_text="Warehouse code.")
    product = serializers.CharField(max_length=64, required=False, help_text="Product code.")
    below_days = QueryIntegerField(
        min_value=1, max_value=36500, required=False, help_text="Only days of cover below this (1-36500)."
    )


class CoverPagination(Pagination):
    """Every page of cover computes every matching level (the order is by computed cover): one page
    of up to 10,000 rows answers "all SKUs" in one computation instead of one per page."""

    max_page_size = 10_000


@extend_schema_view(
    get=extend_schema(parameters=[StockCoverIn], responses={200: CoverOut, **error_responses(*LIST_ERRORS)})
)
class StockCover(generics.ListAPIView):
    """Days of cover per SKU x warehouse, least cover first (no demand last); filter warehouse, product, below_days.

    ``page_size`` goes up to 10,000 here: each page is cut from every matching level's cover, so
    reading all SKUs in one page costs one computation.

    Demand is what orders reserved net of releases over 7, 28 and 90 days (``inventory.forecast``
    has the formulas). ``below_days=N`` keeps the levels whose days of cover are below N (those
    with no demand have none and are left out).
    """

    permission_classes = [STAFF_READERS]
    serializer_class = CoverOut
    pagination_class = CoverPagination
    # Rows are computed (inventory.forecast), not a queryset; this names the model for the schema.
    queryset = StockLevel.objects.none()

    def list(self, request, *args, **kwargs):
        query = StockCoverIn(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = selectors.cover_list(**query.validated_data)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(CoverOut(page, many=True).data)


# --- Stock commands --------------------------------------------------------------


def _resolve(sku_code: str, warehouse_code: str) -> tuple[Sku, Warehouse]:
    sku = selectors.sku_by_code(sku_code)
    if sku is None:
        raise UnknownSku(sku=sku_code)
    warehouse = selectors.warehouse_by_code(warehouse_code)
    if warehouse is None:
        raise UnknownWarehouse(warehouse=warehouse_code)
    return sku, warehouse


def _level_response(sku: Sku, warehouse: Warehouse) -> Response:
    """The level a stock command changed, as the stock list shows it."""
    return Response(StockLevelOut(selectors.stock_list().get(sku=sku, warehouse=warehouse)).data)


# The most units one command may move: a typo (an extra zero or three) is refused, not booked.
QUANTITY_MAX = 1_000_000
_COMMAND_ERRORS = (400, 401, 403, 404, 409, 415)
_BAD_BODY = ("parse_error",)


@extend_schema_field(
    {
        "type": "integer",
        "minimum": -QUANTITY_MAX,
        "maximum": QUANTITY_MAX,
        "not": {"enum": [0]},
        "description": "Signed change of on-hand; 0 is refused (400 `invalid_quantity`).",
    }
)
class _DeltaField(StrictIntegerField):
    """Non-zero; the service refuses 0 (``invalid_quantity``), the schema says so."""


class _StockCommand(APIView):
    # Integers are JSON integers: a form body would bring every number as a string.
    parser_classes = [JSONParser]


class _StockCommandIn(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    warehouse = serializers.CharField(max_length=16)
    reference = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)


class StockReceive(_StockCommand):
    """Book received units into a warehouse (optionally into a bin); fills backorders."""

    permission_classes = [roles(WAREHOUSE, OPERATIONS)]

    class StockReceiveIn(_StockCommandIn):
        quantity = StrictIntegerField(min_value=1, max_value=QUANTITY_MAX)
        bin = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")

    @extend_schema(
        request=StockReceiveIn,
        responses={
            200: StockLevelOut,
            **error_responses(
                *_COMMAND_ERRORS,
                codes={
                    400: _BAD_BODY,
                    404: (UnknownSku, UnknownWarehouse, UnknownBin),
                    409: (StockLimit,),
                },
            ),
        },
    )
    def post(self, request):
        data = self.StockReceiveIn(data=request.data)
        data.is_valid(raise_exception=True)
        sku, warehouse = _resolve(data.validated_data["sku"], data.validated_data["warehouse"])
        bin_code = data.validated_data["bin"]
        bin = None
        if bin_code:
            bin = warehouse.bins.filter(code=bin_code).first()
            if bin is None:
                raise UnknownBin(bin=bin_code, warehouse=warehouse.code)
        services.stock_receive(
            sku=sku,
            warehouse=warehouse,
            quantity=data.validated_data["quantity"],
            actor=request.user,
            reference=data.validated_data["reference"],
            bin=bin,
        )
        return _level_response(sku, warehouse)


@extend_schema_field(
    {
        "type": "string",
        "enum": list(AdjustmentReason.values),
        "description": "Reason code; `other` needs a `note`. Another value: 400 `unknown_reason` with `extra.allowed`.",
    }
)
class _ReasonField(serializers.CharField):
    """Any text reaches the service, which refuses an unknown code naming the allowed ones (``unknown_reason``)."""


class StockAdjust(_StockCommand):
    """Correct on-hand by a signed delta with a reason code (damaged, lost, found, returned, short_pick, other)."""

    permission_classes = [roles(OPERATIONS)]

    class StockAdjustIn(_StockCommandIn):
        delta = _DeltaField(min_value=-QUANTITY_MAX, max_value=QUANTITY_MAX)
        reason = _ReasonField(max_length=64)
        note = serializers.CharField(max_length=NOTE_MAX_LENGTH, required=False, default="", allow_blank=True)

    @extend_schema(
        request=StockAdjustIn,
        responses={
            200: StockLevelOut,
            **error_responses(
                *_COMMAND_ERRORS,
                codes={
                    400: (*_BAD_BODY, InvalidQuantity, ReasonRequired, UnknownReason, NoteRequired),
                    404: (UnknownSku, UnknownWarehouse),
                    409: (BelowReserved, StockLimit),
                },
            ),
        },
    )
    def post(self, request):
        data = self.StockAdjustIn(data=request.data)
        data.is_valid(raise_exception=True)
        sku, warehouse = _resolve(data.validated_data["sku"], data.validated_data["warehouse"])
        services.stock_adjust(
            sku=sku,
            warehouse=warehouse,
            delta=data.validated_data["delta"],
            reason=data.validated_data["reason"],
            note=data.validated_data["note"],
            actor=request.user,
            reference=data.validated_data["reference"],
        )
        return _level_response(sku, warehouse)


class StockCount(_StockCommand):
    """Record a physical count: on-hand becomes the counted number (never below reserved)."""

    permission_classes = [roles(WAREHOUSE, OPERATIONS)]

    class StockCountIn(_StockCommandIn):
        counted = StrictIntegerField(min_value=0, max_value=QUANTITY_MAX)

    @extend_schema(
        request=StockCountIn,
        responses={
            200: StockLevelOut,
            **error_responses(
                *_COMMAND_ERRORS,
                codes={
                    400: _BAD_BODY,
                    404: (UnknownSku, UnknownWarehouse),
                    409: (BelowReserved, StockLimit),
                },
            ),
        },
    )
    def post(self, request):
        data = self.StockCountIn(data=request.data)
        data.is_valid(raise_exception=True)
        sku, warehouse = _resolve(data.validated_data["sku"], data.validated_data["warehouse"])
        services.stock_count(
            sku=sku,
            warehouse=warehouse,
            counted=data.validated_data["counted"],
            actor=request.user,
            reference=data.validated_data["reference"],
        )
        return _level_response(sku, warehouse)
