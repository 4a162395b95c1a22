"""Cross-cutting HTTP pieces: the error shape, health checks, and JSON for Django's own errors.

DRF renders errors raised in its views (``exception_handler``). Everything else Django
answers by itself, in ``django.core.handlers.exception.response_for_exception``, through
the URLconf's ``handler400/403/404/500`` and ``CSRF_FAILURE_VIEW``: those are here too, so
no answer of the service is an HTML page (DEBUG off).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import (
    DisallowedHost,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DatabaseError, connection
from django.http import Http404, JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.exceptions import DomainError

logger = logging.getLogger(__name__)


def _error(detail: str, code: str, extra: dict | None = None) -> dict:
    return {"detail": detail, "code": code, "extra": extra or {}}


def exception_handler(exc, context):
    """Render every error as ``{"detail", "code", "extra"}``; unknown errors stay 500s (logged by Django)."""
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))

    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        body = _error("Invalid input.", "invalid", {"fields": fields})
    else:
        detail = exc.detail
        code = detail.code if hasattr(detail, "code") else exc.default_code
        body = _error(str(detail), str(code))
    return Response(body, status=exc.status_code, headers=headers)


def error_response(detail: str, code: str, status: int, extra: dict | None = None) -> JsonResponse:
    """The error shape for answers made outside DRF (handlers, middleware, the WSGI wrapper)."""
    return JsonResponse(_error(detail, code, extra), status=status)


def handler400(request, exception=None):
    """Django's 400s: a body or a query it refused to parse, a bad Host, any SuspiciousOperation."""
    # Django sends RequestDataTooBig here as a 400; it is a 413 (RFC 9110 15.5.14), so clients
    # know that retrying the same body cannot work.
    if isinstance(exception, RequestDataTooBig):
        return error_response(
            "The request body is too large.",
            "request_too_large",
            413,
            {"max_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE},
        )
    if isinstance(exception, TooManyFieldsSent):
        return error_response(
            "Too many query or form fields.",
            "too_many_fields",
            400,
            {"max_fields": settings.DATA_UPLOAD_MAX_NUMBER_FIELDS},
        )
    if isinstance(exception, TooManyFilesSent):
        return error_response(
            "Too many files.", "too_many_files", 400, {"max_files": settings.DATA_UPLOAD_MAX_NUMBER_FILES}
        )
    if isinstance(exception, DisallowedHost):
        # The offending host is logged by Django's security logger, not echoed to the client.
        return error_response("The Host header names a host this service does not serve.", "disallowed_host", 400)
    return error_response("Bad request.", "bad_request", 400)


def handler403(request, exception=None):
    return error_response("You do not have permission to perform this action.", "permission_denied", 403)


def handler404(request, exception=None):
    return error_response("Not found.", "not_found", 404)


def handler500(request):
    return error_response("Internal server error.", "server_error", 500)


def csrf_failure(request, reason: str = ""):
    """``CSRF_FAILURE_VIEW``: a session-authenticated unsafe request without a valid CSRF token."""
    return error_response(f"CSRF Failed: {reason}", "csrf_failed", 403)


class Healthz(APIView):
    """The process is up (no dependencies checked)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: dict})
    def get(self, request):
        return Response({"status": "ok"})


def broker_check() -> tuple[bool, str]:
    """Is the Celery broker reachable? In-process mode has no broker to reach."""
    if settings.CELERY_TASK_ALWAYS_EAGER or not settings.REDIS_URL:
        return True, "in-process"
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.RedisError as exc:
        return False, f"unreachable: {exc.__class__.__name__}"
    return True, "ok"


def database_check() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return False, f"unreachable: {exc.__class__.__name__}"
    return True, "ok"


class Readyz(APIView):
    """The database and the broker are reachable; 503 otherwise, so a load balancer stops routing here."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: dict, 503: dict})
    def get(self, request):
        db_ok, db_state = database_check()
        broker_ok, broker_state = broker_check()
        ok = db_ok and broker_ok
        body = {"status": "ok" if ok else "unavailable", "database": db_state, "broker": broker_state}
        return Response(body, status=status.HTTP_200_OK if ok else status.HTTP_503_SERVICE_UNAVAILABLE)
