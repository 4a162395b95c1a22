"""The real URLconf plus views that fail in the ways Django's handlers deal with (500, 403, 400)."""

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import UnreadablePostError
from django.urls import path

from config.urls import handler400, handler403, handler404, handler500, urlpatterns

__all__ = ("handler400", "handler403", "handler404", "handler500", "urlpatterns")


def boom(request):
    raise RuntimeError("an unexpected bug")


def forbidden(request):
    raise PermissionDenied("plain Django view refused")


def suspicious(request):
    raise SuspiciousOperation("something odd")


def body_timed_out(request):
    # What request.body raises when the server's read of the rest of the body times out.
    raise UnreadablePostError("timed out") from TimeoutError("timed out")


def body_cut_off(request):
    raise UnreadablePostError("connection reset") from ConnectionResetError(104, "Connection reset by peer")


urlpatterns = [
    *urlpatterns,
    path("test-errors/body-timed-out", body_timed_out),
    path("test-errors/body-cut-off", body_cut_off),
    path("test-errors/boom", boom),
    path("test-errors/forbidden", forbidden),
    path("test-errors/suspicious", suspicious),
]
