"""WSGI entry point: ``config.wsgi:application``.

Django reads a request body only as far as ``CONTENT_LENGTH`` says, so a chunked request
(``Transfer-Encoding: chunked``, no length; some storefront HTTP clients send webhooks that
way) reached the views as an empty body and failed its signature check. ``ChunkedBody``
reads the body the server already de-chunked (gunicorn's ``wsgi.input``), at most
``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes (``WEBHOOK_MAX_BODY_BYTES`` for webhooks), and hands Django
a body of known length.
"""

from __future__ import annotations

import io
import json
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

READ_SIZE = 64 * 1024


class ChunkedBody:
    """WSGI middleware: a chunked request body becomes a buffered one with a CONTENT_LENGTH; too large -> 413."""

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        coding = environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if "chunked" in coding and not environ.get("CONTENT_LENGTH"):
            from django.conf import settings

            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            if environ.get("PATH_INFO", "").startswith("/webhooks/"):
                limit = settings.WEBHOOK_MAX_BODY_BYTES  # a paid order with many lines (fulfilment.api.webhook_body)
            body = _read(environ["wsgi.input"], None if limit is None else limit + 1)
            if limit is not None and len(body) > limit:
                return _too_large(start_response, limit)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)


def _read(stream, limit: int | None) -> bytes:
    parts, size = [], 0
    while limit is None or size < limit:
        part = stream.read(READ_SIZE if limit is None else min(READ_SIZE, limit - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def _too_large(start_response, limit: int):
    body = json.dumps(
        {"detail": "The request body is too large.", "code": "request_too_large", "extra": {"max_bytes": limit}}
    ).encode()
    # The rest of the body stays unread; the server drains or closes the connection (WSGI
    # applications may not set Connection themselves).
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    start_response("413 Request Entity Too Large", headers)
    return [body]


application = ChunkedBody(get_wsgi_application())
