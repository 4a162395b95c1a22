"""``POST /bench/bare``: the same server, settings and middleware as the webhook, but one INSERT."""

from __future__ import annotations

import json

from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bench.bareapp.models import BareDelivery
from fulfilment.api import RawBodyParser


class BareView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [RawBodyParser]

    def post(self, request: Request) -> Response:
        delivery = BareDelivery.objects.create(body=json.loads(request.body))
        return Response({"id": delivery.pk}, status=200)
