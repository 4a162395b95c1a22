from django.contrib import admin
from django.urls import include, path
from django_prometheus.exports import ExportToDjangoView
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularJSONAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)

from config.api import Healthz, Readyz
from fulfilment.urls import webhook_urlpatterns
from ops import views as ops_views
from shipping.urls import webhook_urlpatterns as courier_webhook_urlpatterns

handler400 = "config.api.handler400"
handler403 = "config.api.handler403"
handler404 = "config.api.handler404"
handler500 = "config.api.handler500"

urlpatterns = [
    path("", ops_views.home, name="home"),
    path("ops/", include("ops.urls")),
    path("healthz", Healthz.as_view(), name="healthz"),
    path("readyz", Readyz.as_view(), name="readyz"),
    path("metrics", ExportToDjangoView, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularJSONAPIView.as_view(), name="schema"),
    path("api/schema.yaml", SpectacularAPIView.as_view(), name="schema-yaml"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("api/", include("inventory.urls")),
    path("api/", include("fulfilment.urls")),
    path("api/", include("outbox.urls")),
    path("api/", include("shipping.urls")),
    *webhook_urlpatterns,
    *courier_webhook_urlpatterns,
]
