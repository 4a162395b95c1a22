"""The service's URLs plus ``POST /bench/bare``, so both are served by the same process."""

from django.urls import include, path

from bench.bareapp.views import BareView
from config.urls import handler404, handler500

__all__ = ["handler404", "handler500", "urlpatterns"]

urlpatterns = [
    path("bench/bare", BareView.as_view(), name="bench-bare"),
    path("", include("config.urls")),
]
