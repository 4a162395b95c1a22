"""Documents over the API: PDFs (and later ZPL) answered as bytes, errors still JSON.

A document view returns an ``HttpResponse`` with the document itself; its renderers exist so
a client that sends ``Accept: application/pdf`` is served rather than refused with a 406. When
the view raises, the error is rendered as the usual JSON body whatever the client accepted.
"""

from __future__ import annotations

from django.http import HttpResponse
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView


class PdfRenderer(BaseRenderer):
    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class DocumentView(APIView):
    """Base for views that answer with a document; subclasses return ``document_response(...)``."""

    renderer_classes = [JSONRenderer, PdfRenderer]

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response):  # an error: JSON, never "rendered" as a PDF
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


def document_response(content: bytes, *, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Content-Length"] = str(len(content))
    response["Cache-Control"] = "no-store"  # a pick list changes as the wave is worked
    return response
