"""Answers that are files (a PDF document, a CSV export), with errors that stay JSON.

A view answering with a file returns the ``HttpResponse`` (or ``StreamingHttpResponse``) itself;
the file renderers exist so a client sending ``Accept: application/pdf`` or ``?format=csv`` is
served rather than refused with a 406. When such a view raises, the error is rendered as the
usual JSON body whatever the client accepted (``ErrorsStayJson``).
"""

from __future__ import annotations

from django.http import HttpResponse
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView


class FileRenderer(BaseRenderer):
    """Selects a file answer; the view makes the file itself, so nothing is ever rendered here."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        raise NotImplementedError(f"{self.media_type} answers are made by their view")


class PdfRenderer(FileRenderer):
    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"


class ErrorsStayJson:
    """View mixin: a DRF ``Response`` (an error, or a JSON list) is JSON even on a file request."""

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response) and isinstance(getattr(request, "accepted_renderer", None), FileRenderer):
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class DocumentView(ErrorsStayJson, APIView):
    """Base for views that answer with a document; their handlers return ``document_response(...)``."""

    renderer_classes = [JSONRenderer, PdfRenderer]


def document_response(content: bytes, *, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Content-Length"] = str(len(content))
    response["Cache-Control"] = "no-store"  # a pick list changes as the wave is worked
    return response
