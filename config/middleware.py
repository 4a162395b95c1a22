"""Middleware of our own: Django's CommonMiddleware with a JSON answer for a missing slash."""

from __future__ import annotations

from django.http import JsonResponse
from django.middleware import common
from django.utils.http import escape_leading_slashes

# GET and HEAD may follow a 301 as they are; for anything else, 308 keeps the method and the
# body (RFC 9110 15.4.9), where a 301 lets clients retry a POST as a GET without its body.
SAFE_METHODS = ("GET", "HEAD")


class CommonMiddleware(common.CommonMiddleware):
    """APPEND_SLASH as Django does it, answered in the error shape, with a method-preserving 308.

    Django's own answer is an empty ``text/html`` 301 for every method, and in DEBUG a
    RuntimeError for POST; API clients get neither.
    """

    def process_response(self, request, response):
        if response.status_code == 404 and self.should_redirect_with_slash(request):
            location = escape_leading_slashes(request.get_full_path(force_append_slash=True))
            status = 301 if request.method in SAFE_METHODS else 308
            redirect = JsonResponse(
                {
                    "detail": f"This URL ends in a slash: {location}",
                    "code": "trailing_slash",
                    "extra": {"location": location},
                },
                status=status,
            )
            redirect["Location"] = location
            return super().process_response(request, redirect)
        return super().process_response(request, response)
