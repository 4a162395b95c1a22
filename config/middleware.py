"""Django's redirecting middleware, answering in the error shape: a missing slash, plain HTTP."""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse
from django.middleware import common
from django.utils.http import escape_leading_slashes

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
