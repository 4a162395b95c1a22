"""Middleware of our own, answering in the error shape: a missing slash, plain HTTP, a body cut short."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import JsonResponse, UnreadablePostError
from django.middleware import common
from django.utils.http import escape_leading_slashes

from config.api import error_response

logger = logging.getLogger(__name__)

# GET and HEAD may follow a 301 as they are; for anything else, 308 keeps the method and the
# body (RFC 9110 15.4.9), where a 301 lets clients retry a POST as a GET without its body.
SAFE_METHODS = ("GET", "HEAD")


def json_redirect(request, location: str, *, detail: str, code: str) -> JsonResponse:
    """A redirect clients can read: ``Location`` plus the error shape naming the same URL."""
    status = 301 if request.method in SAFE_METHODS else 308
    response = JsonResponse(
        {"detail": f"{detail}: {location}", "code": code, "extra": {"location": location}}, status=status
    )
    response["Location"] = location
    return response


class HttpsRedirectMiddleware:
    """SecurityMiddleware's HTTPS redirect (SECURE_SSL_REDIRECT) in JSON, and method-preserving.

    Sits just outside Django's SecurityMiddleware rather than replacing it: ``check --deploy``
    looks for that class by name.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 301
            and settings.SECURE_SSL_REDIRECT
            and not request.is_secure()
            and response.get("Location", "").startswith("https://")
        ):
            return json_redirect(
                request, response["Location"], detail="This service is served over HTTPS", code="https_required"
            )
        return response


class CommonMiddleware(common.CommonMiddleware):
    """APPEND_SLASH as Django does it, answered in the error shape, with a method-preserving 308.

    Django's own answer is an empty ``text/html`` 301 for every method, and in DEBUG a
    RuntimeError for POST; API clients get neither.
    """

    def process_response(self, request, response):
        if response.status_code == 404 and self.should_redirect_with_slash(request):
            location = escape_leading_slashes(request.get_full_path(force_append_slash=True))
            redirect = json_redirect(request, location, detail="This URL ends in a slash", code="trailing_slash")
            return super().process_response(request, redirect)
        return super().process_response(request, response)


class UnreadableBodyMiddleware:
    """A body the client stopped sending (or cut off) is the client's error, not a 500.

    ``request.body`` raises UnreadablePostError when reading the rest of the body fails: the
    server's read timed out (config/gunicorn_worker.py bounds it) or the client went away.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, UnreadablePostError):
            return None
        if _caused_by(exception, TimeoutError):
            logger.info("Request body of %s %s not received in time", request.method, request.path)
            return error_response("The request body was not received in time.", "request_timeout", 408)
        logger.info("Request body of %s %s cut off: %s", request.method, request.path, exception)
        return error_response("The request body was cut off.", "incomplete_body", 400)


def _caused_by(exception: BaseException, kind: type[BaseException]) -> bool:
    # Django wraps the server's error once in HttpRequest.read() and again in .body.
    seen = 0
    while exception is not None and seen < 10:
        if isinstance(exception, kind):
            return True
        exception, seen = exception.__cause__, seen + 1
    return False
