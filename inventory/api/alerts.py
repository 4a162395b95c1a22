"""Stock alerts over the API (operations; warehouse may read): ``GET /api/stock/alerts/?status=open|closed``."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers

from config.fields import LIST_ERRORS, StrictFilterSet, error_responses
from inventory import selectors
from inventory.api.stock import STAFF_READERS
from inventory.models import AlertKind, StockAlert


class StockAlertOut(serializers.ModelSerializer):
    sku = serializers.CharField(source="sku.code")
    product = serializers.CharField(source="sku.product.code")
    size = serializers.CharField(source="sku.size.label")
    size_system = serializers.CharField(source="sku.size.system")
    warehouse = serializers.CharField(source="warehouse.code")
    status = serializers.ChoiceField(choices=["open", "closed"], help_text="open until the stock recovers.")
    days_of_cover = serializers.FloatField(allow_null=True, help_text="When it opened; null: no demand.")

    class Meta:
        model = StockAlert
        fields = [
            "id",
            "sku",
            "product",
            "size",
            "size_system",
            "warehouse",
            "kind",
            "status",
            "opened_at",
            "closed_at",
            "on_hand",
            "reserved",
            "available",
            "reorder_point",
            "daily_demand",
            "days_of_cover",
            "lead_time_days",
            "closed_available",
        ]


class StockAlertFilter(StrictFilterSet):
    status = django_filters.ChoiceFilter(
        choices=[("open", "open"), ("closed", "closed")],
        method="filter_status",
        label="open: not recovered yet; closed: recovered",
    )
    warehouse = django_filters.CharFilter(field_name="warehouse__code")
    sku = django_filters.CharFilter(field_name="sku__code")
    product = django_filters.CharFilter(field_name="sku__product__code")
    kind = django_filters.ChoiceFilter(choices=AlertKind.choices)

    class Meta:
        model = StockAlert
        fields = ["status", "warehouse", "sku", "product", "kind"]

    def filter_status(self, queryset, name, value):
        return queryset.filter(closed_at__isnull=value == "open")


@extend_schema_view(get=extend_schema(responses={200: StockAlertOut, **error_responses(*LIST_ERRORS)}))
class StockAlertList(generics.ListAPIView):
    """Low-stock and stock-out-risk alerts, newest first; filter status (open, closed), warehouse, sku, product, kind.

    ``low_stock``: available at or below the reorder point; ``stockout_risk``: the days of cover
    are fewer than the supplier lead time. An alert opens when its condition starts and closes
    when the stock recovers; the numbers are those seen when it opened.
    """

    permission_classes = [STAFF_READERS]
    serializer_class = StockAlertOut
    queryset = selectors.alert_list()
    filterset_class = StockAlertFilter
