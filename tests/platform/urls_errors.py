"""The real URLconf plus views that fail in the ways Django's handlers deal with (500, 403, 400)."""

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.urls import path

from config.urls import handler400, handler403, handler404, handler500, urlpatterns

__all__ = ("handler400", "handler403", "handler404", "handler500", "urlpatterns")


def boom(request):
    raise RuntimeError("an unexpected bug")


def forbidden(request):
    raise PermissionDenied("plain Django view refused")


def suspicious(request):
    raise SuspiciousOperation("something odd")


urlpatterns = [
    *urlpatterns,
    path("test-errors/boom", boom),
    path("test-errors/forbidden", forbidden),
    path("test-errors/suspicious", suspicious),
]
